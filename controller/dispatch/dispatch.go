// Package dispatch assigns Passive tasks to nodes. It is the controller's
// only writer of assignments, and it is safe to run several copies (two
// controllers for availability): every assignment is a conditional claim on
// the state the dispatcher read, so of two dispatchers that chose the same
// task, exactly one claim succeeds.
//
// A cycle reads the registry snapshot and the pending tasks, then, by
// priority (highest first, oldest first among equals):
//
//   - assigns Created tasks without an executor to an online node in node
//     mode that registered the task's class and has room, by the strategy;
//   - moves tasks whose node went offline (executor set, status Assigning,
//     Running or Created) to another such node, conditional on their
//     epoch, or hands them back as Created when no node can take them;
//   - retries Failed tasks after an exponential backoff while their attempt
//     counter is below the limit; past it they stay Failed with their error.
//
// Each successful claim is followed by a task.assign event. If publishing
// fails, the node still finds the task at its next reconcile, since MongoDB
// holds the assignment.
package dispatch

import (
	"context"
	"errors"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/skalds-go/skalds/controller/metrics"
	"github.com/skalds-go/skalds/controller/monitor"
	"github.com/skalds-go/skalds/controller/store"
	"github.com/skalds-go/skalds/runtime/event"
	"github.com/skalds-go/skalds/runtime/task"
)

// Tasks is what the dispatcher needs of the task store.
type Tasks interface {
	Pending(ctx context.Context) ([]store.Doc, error)
	Claim(ctx context.Context, e store.Expect, executor string, countAttempt bool) (*store.Doc, error)
	Release(ctx context.Context, e store.Expect, resetAttempts bool) (*store.Doc, error)
}

// Publisher sends task events; *event.Publisher is one. A nil Publisher
// sends nothing, and nodes pick assignments up at their next reconcile.
type Publisher interface {
	PublishMany(ctx context.Context, topic string, events ...event.TaskEvent) error
}

// Nodes gives the registry snapshot; *monitor.Monitor is one.
type Nodes interface {
	Snapshot() *monitor.Snapshot
}

// Options configures a Dispatcher.
type Options struct {
	// Interval between cycles; zero means 2 s. Kick starts one at once.
	Interval time.Duration
	// Strategy picks among able nodes; empty means LEAST_TASKS.
	Strategy Strategy
	// MaxTasksPerNode caps the tasks assigned to one node (Created,
	// Assigning and Running ones); zero means no cap. Nodes with their own
	// limits refuse what they cannot take, and the dispatcher places a
	// refused task elsewhere.
	MaxTasksPerNode int
	// MaxAttempts is how many runs a task gets before a failure is final;
	// zero means 3, and 1 disables retries.
	MaxAttempts int
	// Backoff is the wait before a retry; a zero Base means 2 s, a zero Max
	// 5 min.
	Backoff Backoff
	// OfflineGrace is how long an executor that is absent from the registry
	// altogether (as opposed to present and stale) must stay absent before
	// its tasks are moved: a node that was just started, or restarted in
	// place, has not written its first beat yet. Zero means 10 s.
	OfflineGrace time.Duration
	// RefusalCooldown keeps a task away from a node that refused it for
	// that long; zero means 30 s.
	RefusalCooldown time.Duration
	// Seed seeds the RANDOM strategy; zero seeds from the clock.
	Seed   uint64
	Logger *slog.Logger
	// Metrics, when set, counts assignments and records dispatch and
	// failover latencies.
	Metrics *metrics.Metrics
}

// Dispatcher assigns tasks to nodes.
type Dispatcher struct {
	tasks Tasks
	pub   Publisher
	nodes Nodes
	opts  Options
	log   *slog.Logger
	kick  chan struct{}

	mu      sync.Mutex // one cycle at a time
	choose  *chooser
	absent  map[string]time.Time // executors not in the registry, since when
	unplace map[string]bool      // classes reported as unplaceable, to log once
}

// New returns a dispatcher.
func New(tasks Tasks, pub Publisher, nodes Nodes, opts Options) *Dispatcher {
	if opts.Interval <= 0 {
		opts.Interval = 2 * time.Second
	}
	if opts.Strategy == "" {
		opts.Strategy = LeastTasks
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = 3
	}
	if opts.Backoff.Base <= 0 {
		opts.Backoff.Base = 2 * time.Second
	}
	if opts.Backoff.Max <= 0 {
		opts.Backoff.Max = 5 * time.Minute
	}
	if opts.OfflineGrace <= 0 {
		opts.OfflineGrace = 10 * time.Second
	}
	if opts.RefusalCooldown <= 0 {
		opts.RefusalCooldown = 30 * time.Second
	}
	if opts.Seed == 0 {
		opts.Seed = uint64(time.Now().UnixNano())
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Dispatcher{
		tasks: tasks, pub: pub, nodes: nodes, opts: opts,
		log:     opts.Logger.With("component", "dispatcher"),
		kick:    make(chan struct{}, 1),
		choose:  newChooser(opts.Strategy, opts.Seed),
		absent:  map[string]time.Time{},
		unplace: map[string]bool{},
	}
}

// Strategy is the strategy in use.
func (d *Dispatcher) Strategy() Strategy { return d.opts.Strategy }

// Kick asks for a cycle now, for example after a task was created through
// the API, instead of at the next tick.
func (d *Dispatcher) Kick() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// Run runs cycles every Interval, and on Kick, until ctx ends.
func (d *Dispatcher) Run(ctx context.Context) {
	t := time.NewTicker(d.opts.Interval)
	defer t.Stop()
	for {
		if _, err := d.Cycle(ctx); err != nil && ctx.Err() == nil {
			d.log.Error("dispatch cycle", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-d.kick:
		}
	}
}

// Result counts what one cycle did.
type Result struct {
	Assigned  int // Created tasks given to a node
	Moved     int // tasks of an offline node given to another
	Released  int // tasks of an offline node handed back as Created
	Retried   int // Failed tasks given another run
	Conflicts int // claims lost to a concurrent writer
	// Assignments maps task id to node, for the claims that succeeded.
	Assignments map[string]string
}

// kind is what an action does.
type kind int

const (
	assign kind = iota
	move
	release
	retry
)

type action struct {
	kind kind
	doc  *store.Doc
	node string // for assign, move, retry
	// lost is when the executor of a move or release was last seen alive:
	// its last activity change, or when it was first found missing.
	lost time.Time
}

var kindNames = map[kind]string{assign: metrics.KindAssign, move: metrics.KindMove, retry: metrics.KindRetry, release: metrics.KindRelease}

// Cycle runs one dispatch pass. It does nothing before the monitor has
// read the registry once: no snapshot is not the same as no nodes.
func (d *Dispatcher) Cycle(ctx context.Context) (Result, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	res := Result{Assignments: map[string]string{}}
	snap := d.nodes.Snapshot()
	if snap == nil {
		return res, nil
	}
	docs, err := d.tasks.Pending(ctx)
	if err != nil {
		return res, err
	}
	actions := d.plan(time.Now(), docs, snap)
	var events []event.TaskEvent
	for _, a := range actions {
		if ctx.Err() != nil {
			break
		}
		e := store.ExpectOf(a.doc)
		var err error
		switch a.kind {
		case release:
			_, err = d.tasks.Release(ctx, e, false)
		default:
			_, err = d.tasks.Claim(ctx, e, a.node, a.kind != move)
		}
		if errors.Is(err, store.ErrConflict) {
			res.Conflicts++
			d.opts.Metrics.Conflict()
			d.log.Debug("task changed before it could be claimed; leaving it to the next cycle", "taskId", a.doc.ID)
			continue
		}
		if err != nil {
			d.log.Error("writing an assignment", "taskId", a.doc.ID, "err", err)
			continue
		}
		log := d.log.With("taskId", a.doc.ID, "className", a.doc.ClassName, "priority", a.doc.Priority)
		d.opts.Metrics.Assigned(kindNames[a.kind])
		now := time.Now()
		switch {
		case a.kind == assign && a.doc.Attempts == 0 && a.doc.CreateDateTime > 0:
			d.opts.Metrics.Dispatched(now.Sub(time.UnixMilli(a.doc.CreateDateTime)))
		case a.kind == move && !a.lost.IsZero():
			d.opts.Metrics.FailedOver(now.Sub(a.lost))
		}
		switch a.kind {
		case assign:
			res.Assigned++
			log.Info("task assigned", "skaldId", a.node, "strategy", d.opts.Strategy)
		case move:
			res.Moved++
			log.Warn("task moved off an offline node", "from", deref(a.doc.Executor), "skaldId", a.node)
		case retry:
			res.Retried++
			log.Info("failed task retried", "skaldId", a.node, "attempt", a.doc.Attempts+1, "maxAttempts", d.opts.MaxAttempts, "lastError", a.doc.Error)
		case release:
			res.Released++
			log.Warn("task of an offline node handed back; no node can take it now", "from", deref(a.doc.Executor))
		}
		if a.kind != release {
			res.Assignments[a.doc.ID] = a.node
			events = append(events, event.NewTaskEvent(a.doc.ID))
		}
	}
	if len(events) > 0 && d.pub != nil {
		if err := d.pub.PublishMany(ctx, event.TopicAssign, events...); err != nil && ctx.Err() == nil {
			d.log.Warn("publishing task.assign; the nodes pick the tasks up at their next reconcile", "tasks", len(events), "err", err)
		}
	}
	return res, nil
}

// plan decides the actions of one cycle from the tasks and the registry.
// It writes nothing, so it can be tested without servers.
func (d *Dispatcher) plan(now time.Time, docs []store.Doc, snap *monitor.Snapshot) []action {
	online := map[string]*monitor.Node{}
	inRegistry := map[string]bool{}
	for _, n := range snap.Nodes {
		inRegistry[n.ID] = true
		if n.Online && n.Mode == "node" {
			online[n.ID] = n
		}
	}
	// Executors missing from the registry count as offline only after a
	// grace, measured on this controller's clock.
	executors := map[string]bool{}
	for i := range docs {
		if ex := docs[i].Executor; ex != nil {
			executors[*ex] = true
		}
	}
	for ex := range d.absent {
		if inRegistry[ex] || !executors[ex] {
			delete(d.absent, ex)
		}
	}
	// dead reports whether the executor ex is gone, and since when.
	dead := func(ex string) (bool, time.Time) {
		if _, ok := online[ex]; ok {
			return false, time.Time{}
		}
		if n := snap.Node(ex); n != nil {
			// Present: offline, or an edge node (which never runs Passive
			// tasks, so whatever it holds is stranded).
			return !n.Online || n.Mode != "node", n.LastChange
		}
		since, ok := d.absent[ex]
		if !ok {
			d.absent[ex] = now
			return false, time.Time{}
		}
		return now.Sub(since) >= d.opts.OfflineGrace, since
	}

	// Load: what MongoDB assigns to each node, which is ahead of the
	// node's own list in Redis by up to one sync period.
	load := map[string]int{}
	for i := range docs {
		t := &docs[i]
		if t.Executor != nil && t.LifecycleStatus != task.Failed {
			load[*t.Executor]++
		}
	}

	var todo []action
	for i := range docs {
		t := &docs[i]
		var gone bool
		var lost time.Time
		if t.LifecycleStatus != task.Failed && t.Executor != nil {
			gone, lost = dead(*t.Executor)
		}
		switch {
		case t.LifecycleStatus == task.Created && t.Executor == nil:
			todo = append(todo, action{kind: assign, doc: t})
		case gone:
			todo = append(todo, action{kind: move, doc: t, lost: lost})
		case t.LifecycleStatus == task.Failed && t.Attempts < d.opts.MaxAttempts:
			failedAt := time.UnixMilli(t.UpdateDateTime)
			if now.Sub(failedAt) >= d.opts.Backoff.Delay(max(t.Attempts, 1)) {
				todo = append(todo, action{kind: retry, doc: t})
			}
		}
	}
	sort.SliceStable(todo, func(i, j int) bool {
		a, b := todo[i].doc, todo[j].doc
		if a.Priority != b.Priority {
			return a.Priority > b.Priority
		}
		if a.CreateDateTime != b.CreateDateTime {
			return a.CreateDateTime < b.CreateDateTime
		}
		return a.ID < b.ID
	})

	ids := make([]string, 0, len(online))
	for id := range online {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	out := todo[:0]
	for _, a := range todo {
		t := a.doc
		var cs []candidate
		for _, id := range ids {
			n := online[id]
			if !n.Supports(t.ClassName) {
				continue
			}
			if d.opts.MaxTasksPerNode > 0 && load[id] >= d.opts.MaxTasksPerNode {
				continue
			}
			if r := t.Refusal; r != nil && r.SkaldID == id && r.Epoch == t.AssignmentEpoch &&
				now.Sub(time.UnixMilli(r.At)) < d.opts.RefusalCooldown {
				continue
			}
			cs = append(cs, candidate{id: id, load: load[id]})
		}
		if len(cs) == 0 {
			if a.kind == move {
				// Nobody can run it now: make it visibly waiting instead of
				// Running on a dead node.
				a.kind = release
				out = append(out, a)
			} else if !d.unplace[t.ClassName] {
				d.unplace[t.ClassName] = true
				d.log.Warn("no online node can take tasks of this class now; they wait", "className", t.ClassName)
			}
			continue
		}
		delete(d.unplace, t.ClassName)
		c := cs[d.choose.choose(cs)]
		if a.kind == move && t.Executor != nil {
			load[*t.Executor]--
		}
		load[c.id]++
		a.node = c.id
		out = append(out, a)
	}
	return out
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
