// Package node runs worker classes as a node-mode Skald: it takes the tasks
// that MongoDB assigns to it, runs each in its own goroutine, delivers
// attachment changes to the running workers, and reports liveness to Redis.
//
// A node is level-triggered. Whatever it hears (a task.assign,
// task.update.attachment or task.cancel event, its own start, a periodic
// timer), it does the same thing: read the task from MongoDB and converge
// on it. Start what should run here, stop what should not, apply newer
// attachments. A lost, duplicated or reordered event can delay that but
// cannot change the outcome.
package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/skalds-go/skalds/runtime/config"
	"github.com/skalds-go/skalds/runtime/event"
	"github.com/skalds-go/skalds/runtime/liveness"
	"github.com/skalds-go/skalds/runtime/skald"
	"github.com/skalds-go/skalds/runtime/task"
)

// Options are the knobs of a node that have no Python environment variable.
type Options struct {
	// Logger receives the node's records and, with task attributes added,
	// its workers'. Nil means slog.Default().
	Logger *slog.Logger
	// StopGrace is how long a stopping worker may take to return from main
	// and release before it is reported as stuck. Zero means 10 s.
	StopGrace time.Duration
}

// Node is a node-mode Skald.
type Node struct {
	cfg     config.Config
	log     *slog.Logger
	grace   time.Duration
	classes map[string]skald.Worker

	store *task.Store
	reg   *liveness.Registry

	recMu   sync.Mutex // one reconcile at a time: events, timers and start-up all converge through it
	mu      sync.Mutex // guards running
	running map[string]*run
}

// New returns a node for cfg, after filling unset fields of cfg from the
// environment (config.Load). It connects to nothing until Run.
func New(cfg config.Config, opts Options) (*Node, error) {
	cfg, err := config.Load(cfg)
	if err != nil {
		return nil, err
	}
	if cfg.Mode != config.ModeNode {
		return nil, fmt.Errorf("node: SKALD_MODE is %q; this package runs mode %q", cfg.Mode, config.ModeNode)
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	grace := opts.StopGrace
	if grace <= 0 {
		grace = 10 * time.Second
	}
	return &Node{
		cfg:     cfg,
		log:     log.With("skaldId", cfg.SkaldID),
		grace:   grace,
		classes: map[string]skald.Worker{},
		running: map[string]*run{},
	}, nil
}

// ID is the node's SKALD_ID, the executor value of the tasks it runs.
func (n *Node) ID() string { return n.cfg.SkaldID }

// Register adds a worker class. It panics on a second class of one name,
// since that is a programming error, like registering an HTTP pattern
// twice. Register before Run.
func (n *Node) Register(w skald.Worker) {
	name := w.ClassName()
	if _, dup := n.classes[name]; dup {
		panic(fmt.Sprintf("node: worker class %q registered twice", name))
	}
	n.classes[name] = w
}

// Run connects to MongoDB, Redis and Kafka, converges on the tasks assigned
// to this node, and then follows events until ctx is cancelled. On
// cancellation it stops taking events, cancels its workers, waits for
// their release hooks (up to the stop grace), hands their tasks back
// unassigned so that another node can take them, and returns nil.
func (n *Node) Run(ctx context.Context) error {
	n.log.Info("starting node", "config", n.cfg.String(), "classes", n.classNames())
	store, err := task.Open(ctx, n.cfg.MongoHost, n.cfg.DBName)
	if err != nil {
		return err
	}
	defer store.Close(context.Background())
	n.store = store

	rdb := redis.NewClient(&redis.Options{Addr: n.cfg.RedisAddr(), Password: n.cfg.RedisPassword})
	defer rdb.Close()
	if err := rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis %s (check REDIS_HOST/REDIS_PORT): %w", n.cfg.RedisAddr(), err)
	}
	n.reg = liveness.New(rdb, n.cfg.RedisKeyTTL)

	broker := event.Broker{Addr: n.cfg.KafkaAddr(), Username: n.cfg.KafkaUsername, Password: n.cfg.KafkaPassword, Partitions: n.cfg.KafkaPartitions}
	if err := event.EnsureTopics(ctx, broker, event.Topics...); err != nil {
		return err
	}
	// Every node is its own consumer group, so every node sees every
	// event and each decides from MongoDB whether the task is its own.
	sub := event.Subscribe(broker, n.cfg.SkaldID, event.Topics, n.log)

	n.reconcileAll(ctx)
	n.beat(ctx)

	var wg sync.WaitGroup
	subErr := make(chan error, 1)
	wg.Go(func() { subErr <- sub.Run(ctx, n.handle) })
	wg.Go(func() { n.every(ctx, liveness.Period, n.beat) })
	wg.Go(func() { n.every(ctx, n.cfg.ReconcilePeriod, n.reconcileAll) })
	n.log.Info("node ready", "reconcilePeriod", n.cfg.ReconcilePeriod)

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-subErr:
	}
	n.shutdown()
	if err := sub.Close(); err != nil {
		n.log.Warn("leaving the consumer group", "err", err)
	}
	wg.Wait()
	if err := n.reg.RemoveNode(context.Background(), n.cfg.SkaldID); err != nil {
		n.log.Warn("removing the node from the registry", "err", err)
	}
	n.log.Info("node stopped")
	return runErr
}

// handle turns an event into reconciles of the tasks it names.
func (n *Node) handle(ctx context.Context, topic string, e event.TaskEvent) error {
	var errs []error
	for _, id := range e.TaskIDs {
		if err := n.reconcile(ctx, id); err != nil {
			errs = append(errs, err)
		}
	}
	n.log.Debug("event handled", "topic", topic, "taskIds", e.TaskIDs)
	return errors.Join(errs...)
}

// reconcileAll converges on every task assigned here and every task
// running here.
func (n *Node) reconcileAll(ctx context.Context) {
	ids := map[string]bool{}
	tasks, err := n.store.ListByExecutor(ctx, n.cfg.SkaldID)
	if err != nil {
		if ctx.Err() == nil {
			n.log.Error("reconcile: listing assigned tasks", "err", err)
		}
		return
	}
	for _, t := range tasks {
		ids[t.ID] = true
	}
	for _, id := range n.runningIDs() {
		ids[id] = true
	}
	for id := range ids {
		if err := n.reconcile(ctx, id); err != nil && ctx.Err() == nil {
			n.log.Error("reconcile", "taskId", id, "err", err)
		}
	}
}

// reconcile reads one task and converges on it.
func (n *Node) reconcile(ctx context.Context, id string) error {
	n.recMu.Lock()
	defer n.recMu.Unlock()
	if ctx.Err() != nil {
		return nil
	}
	t, err := n.store.Get(ctx, id)
	if err != nil && !errors.Is(err, task.ErrNotFound) {
		return err
	}
	r := n.lookup(id)
	want, reason := n.wants(t)
	if r != nil && (!want || r.epoch != t.AssignmentEpoch) {
		if want {
			reason = stopReassigned
		}
		n.stop(r, reason)
		r = nil
	}
	switch {
	case !want:
		return nil
	case r == nil:
		n.start(ctx, t)
	case r.behind(t):
		n.update(ctx, r, t)
	}
	return nil
}

// wants says whether t should run here, and if not, why a copy running
// here must stop.
func (n *Node) wants(t *task.Task) (bool, stopReason) {
	switch {
	case t == nil:
		return false, stopDeleted
	case t.Executor == nil || *t.Executor != n.cfg.SkaldID:
		return false, stopReassigned
	case t.LifecycleStatus == task.Cancelled:
		return false, stopCancelled
	case t.LifecycleStatus.Terminal() || t.LifecycleStatus == task.Paused:
		return false, stopReassigned
	}
	return true, 0
}

// behind reports whether t has attachments r has not looked at yet: a newer
// version, or (from writers that do not bump the version, such as Python
// tooling) different content under the same version.
func (r *run) behind(t *task.Task) bool {
	return t.AttachmentsVersion > r.seen ||
		t.AttachmentsVersion == r.seen && !bytes.Equal(t.Attachments, r.seenRaw)
}

func (n *Node) lookup(id string) *run {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.running[id]
}

func (n *Node) runningIDs() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	ids := make([]string, 0, len(n.running))
	for id := range n.running {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

func (n *Node) classNames() []string {
	names := make([]string, 0, len(n.classes))
	for name := range n.classes {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// beat publishes the node's liveness and its tasks' heartbeats.
func (n *Node) beat(ctx context.Context) {
	n.mu.Lock()
	refs := make([]liveness.TaskRef, 0, len(n.running))
	ids := make([]string, 0, len(n.running))
	for id, r := range n.running {
		refs = append(refs, liveness.TaskRef{ID: id, ClassName: r.class})
		ids = append(ids, id)
	}
	n.mu.Unlock()
	sort.Slice(refs, func(i, j int) bool { return refs[i].ID < refs[j].ID })
	if err := n.reg.NodeBeat(ctx, n.cfg.SkaldID, string(n.cfg.Mode), refs, n.classNames()); err != nil && ctx.Err() == nil {
		n.log.Warn("node heartbeat", "err", err)
	}
	if err := n.reg.TaskBeats(ctx, ids); err != nil && ctx.Err() == nil {
		n.log.Warn("task heartbeats", "err", err)
	}
}

func (n *Node) every(ctx context.Context, d time.Duration, f func(context.Context)) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			f(ctx)
		}
	}
}

// shutdown stops every worker and hands its task back.
func (n *Node) shutdown() {
	n.recMu.Lock()
	defer n.recMu.Unlock()
	var wg sync.WaitGroup
	for _, id := range n.runningIDs() {
		if r := n.lookup(id); r != nil {
			wg.Go(func() { n.stop(r, stopShutdown) })
		}
	}
	wg.Wait()
}
