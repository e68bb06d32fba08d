// Package node runs worker classes as a Skald in any of the three Python
// Skalds modes:
//
//   - node: it takes the tasks that MongoDB assigns to it (SKALD_MODE=node);
//   - edge: it runs the tasks declared in a YAML file, which it claims in
//     MongoDB as Active tasks of its own (SKALD_MODE=edge, see Edge files);
//   - single_process: it runs the first task of the YAML file in the
//     foreground and returns its outcome (SKALD_MODE=single_process, see
//     RunSingle and ExitCode).
//
// In node and edge mode each task runs in its own goroutine; the node
// delivers attachment changes to the running workers and reports liveness
// to Redis.
//
// A node is level-triggered. Whatever it hears (a task.assign,
// task.update.attachment or task.cancel event, its own start, a reconnect
// to MongoDB, a periodic timer), it does the same thing: read the task from
// MongoDB and converge on it. Start what should run here, stop what should
// not, apply newer attachments. A lost, duplicated or reordered event can
// delay that but cannot change the outcome.
//
// Every assignment carries an epoch, and every write a node makes about a
// task is conditional on the epoch it was given. A worker whose epoch has
// moved on (a write of it was fenced, or a reconcile saw a newer epoch or
// another executor) is stopped, and its outcome is not recorded. Together
// with the rule that a node waits for a stopping worker to return before it
// starts the same task again, this keeps one node from running two copies of
// a task, and keeps a node that was cut off from outliving its assignment
// by more than one reconcile after it can reach MongoDB again. A node that
// cannot get a heartbeat through to Redis for its liveness lease, a bound
// below the node timeout after which controllers move its tasks, stops its
// workers first (see Config.LivenessLease in runtime/config): the moved
// copies start only after the old ones were told to stop.
package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/skalds-go/skalds/internal/erased"
	"github.com/skalds-go/skalds/internal/runner"
	"github.com/skalds-go/skalds/internal/telemetry"
	"github.com/skalds-go/skalds/runtime/backoff"
	"github.com/skalds-go/skalds/runtime/config"
	"github.com/skalds-go/skalds/runtime/event"
	"github.com/skalds-go/skalds/runtime/liveness"
	"github.com/skalds-go/skalds/runtime/skald"
	"github.com/skalds-go/skalds/runtime/task"
)

// Shutdown says what a stopping node does with the tasks it runs.
type Shutdown int

const (
	// HandBack makes the tasks Created and unassigned, so that a
	// controller can give them to another node. This is the default: a
	// rolling restart moves tasks instead of cancelling them for good, as
	// Python Skalds did.
	HandBack Shutdown = iota
	// CancelTasks marks the tasks Cancelled, for deployments where a
	// stopping node means the work is no longer wanted.
	CancelTasks
	// KeepAssigned leaves the tasks assigned to this node, so that a node
	// restarted with the same SKALD_ID resumes them (a StatefulSet-style
	// restart in place).
	KeepAssigned
)

// Options are the knobs of a node that have no Python environment variable.
type Options struct {
	// Logger receives the node's records and, with task attributes added,
	// its workers'. Nil means a text logger on stderr at LOG_LEVEL, plus a
	// rotated file in LOG_PATH when that is set.
	Logger *slog.Logger
	// StopGrace is how long a stopping worker may take to return from its
	// hooks before it is reported as stuck, in the log and in the task's
	// stuck field. Zero means 10 s.
	StopGrace time.Duration
	// ProgressInterval is the least time between two writes of one
	// task's progress (skald.ReportProgress): reports in between are
	// coalesced, the newest wins, and the newest is always stored with
	// the terminal status. Zero means 1 s.
	ProgressInterval time.Duration
	// OnShutdown says what happens to the running tasks when Run's context
	// ends. The zero value is HandBack.
	OnShutdown Shutdown
	// MaxTasks is the most tasks the node runs at once; zero means no
	// limit. An assignment beyond it is refused: see ClassLimits.
	MaxTasks int
	// ClassLimits caps the concurrent tasks per worker class name, like
	// Python's register(Worker, limit=5); Limit sets one in code. An
	// assignment beyond a limit is refused visibly rather than queued: the
	// node logs it and hands the task back (Created, no executor) with a
	// refusal field naming the node and the limit, so that a controller can
	// place it elsewhere or later. Both limits are also published in Redis
	// (skalds:{id}:capacity) with every heartbeat, so that a controller
	// places tasks by them and refusals stay the exception.
	ClassLimits map[string]int
	// LeaseTimeout, when set, makes the node stop all its workers once it
	// has gone that long without reading its assignments from MongoDB, and
	// restart them when it can read them again. A controller that
	// reassigns a silent node's tasks only after longer than LeaseTimeout
	// then never has two copies of a task running, even across a network
	// partition. Zero (the default) keeps workers running through outages.
	LeaseTimeout time.Duration
	// BatchSize is the most events handled together; their tasks are read
	// in one query. Zero means 10,000: a batch of more than a few events
	// is served by one listing of this node's tasks, whatever its size, so
	// a burst of assignments read in fewer batches costs fewer listings.
	BatchSize int
	// MetricsAddr is where the node serves Prometheus metrics (GET
	// /metrics, names skalds_node_*); empty takes SKALD_METRICS_ADDR, and
	// when that is empty too no metrics are served. A port alone (":9464")
	// listens on loopback; a wider listener needs a host, such as
	// 0.0.0.0:9464, and is logged as such.
	MetricsAddr string
	// TaskLogs bounds the copy of each task's log records kept in Redis
	// (task:{id}:logs), where the controller's API reads them; see
	// liveness.LogLimits for the defaults. Unset, PerTask and Tasks come
	// from SKALD_TASK_LOG_RECORDS and SKALD_TASK_LOG_TASKS.
	TaskLogs liveness.LogLimits
	// NoTaskLogs keeps workers' records out of Redis: they go only to the
	// node's own log, as they always do. SKALD_TASK_LOG_RECORDS=0 does
	// the same.
	NoTaskLogs bool
	// StartRetry is the backoff between attempts to reach MongoDB, Redis
	// and Kafka at start; the zero value waits 1 s, doubling up to 30 s.
	StartRetry backoff.Policy
	// TracerProvider, when set, makes every hook a span (skalds.hook.init,
	// .before, .main, .after, .update, .release), child of the trace
	// context that the event which caused it carried in its headers: one
	// client call and the hooks it caused are one trace. Nil turns tracing
	// off: no spans, and record headers are not read.
	TracerProvider trace.TracerProvider
	// WritesInFlight is the most writes of many tasks the node sends at
	// once: a burst of starts is reported Running in chunks, several
	// chunks at a time, each chunk's workers starting as soon as its write
	// landed. MongoDB (and FerretDB, for writes to different documents)
	// serves them side by side. The hand-backs of a stopping node go the
	// same way. Zero means 4; 1 sends them one after the other.
	WritesInFlight int
}

// Node is a Skald: it runs tasks of the worker classes registered with it.
type Node struct {
	cfg     config.Config
	opts    Options
	log     *slog.Logger
	logs    *logFiles
	grace   time.Duration
	classes map[string]*erased.Class
	limits  map[string]int

	store *task.Store
	reg   *liveness.Registry
	tlogs *liveness.LogWriter // nil without Redis or with NoTaskLogs

	tracer    trace.Tracer // nil: tracing is off
	metrics   *nodeMetrics
	metricsAt atomic.Pointer[string] // where the metrics are served, once they are
	ended     *endedTasks            // tasks whose workers returned after a stop, to reconcile

	recMu    sync.Mutex // one reconcile at a time: events, timers and start-up all converge through it
	beatMu   sync.Mutex // orders task heartbeats before terminal heartbeats
	mu       sync.Mutex // guards running, perClass, restarting, unwritten and cancels
	running  map[string]*run
	perClass map[string]int // running (and stopping) workers per class
	// restarting holds the tasks whose worker stopped for a
	// //skald:restart field: their next start is recorded as a restart,
	// and its hooks are spans of the update's trace (the span context of
	// the update that asked for it, zero without tracing).
	restarting map[string]trace.SpanContext
	// unwritten holds the outcomes of ended workers that are not in
	// MongoDB yet (see outcome); guarded by mu.
	unwritten map[string]*outcome
	// cancels holds the bare cancels (see cancelBare) still to be
	// written, by task; guarded by mu.
	cancels map[string]task.Ref

	w writer // the task writes; a no-op in single_process mode

	started  time.Time // when Run began: older bare cancels are not honoured (see cancelBare)
	lastSync time.Time // last successful read of all assignments; under recMu
	outage   bool      // the last read of the assignments failed; under recMu
	leased   bool      // workers were stopped for an expired lease; under recMu

	// The liveness lease (see lease.go): zero when the node has none.
	lease    time.Duration
	leaseMu  sync.Mutex    // orders lapses and renewals
	lastBeat atomic.Int64  // when the last heartbeat that succeeded was sent, in Unix ns
	lapsed   atomic.Bool   // no heartbeat for the lease: nothing runs
	renew    chan struct{} // wakes the lease loop after a heartbeat
	ready    atomic.Bool   // the first reconcile is done
}

// New returns a node for cfg, after filling unset fields of cfg from the
// environment (config.Load). It connects to nothing until Run.
func New(cfg config.Config, opts Options) (*Node, error) {
	cfg, err := config.Load(cfg)
	if err != nil {
		return nil, err
	}
	if cfg.Mode == config.ModeSingleProcess && !strings.HasPrefix(cfg.SkaldID, "[SP]") {
		cfg.SkaldID = "[SP]" + cfg.SkaldID // Python's single_process prefix
	}
	if (cfg.Mode == config.ModeEdge || cfg.Mode == config.ModeSingleProcess) && cfg.YAMLFile == "" {
		return nil, fmt.Errorf("node: SKALD_MODE=%s needs YAML_FILE, the file that declares its TaskWorkers", cfg.Mode)
	}
	if err := taskLogLimits(&opts); err != nil {
		return nil, err
	}
	logs := &logFiles{cfg: cfg}
	log := opts.Logger
	if log == nil {
		log = logs.nodeLogger()
	}
	grace := opts.StopGrace
	if grace <= 0 {
		grace = 10 * time.Second
	}
	lease, err := livenessLease(cfg)
	if err != nil {
		return nil, err
	}
	limits := map[string]int{}
	for name, k := range opts.ClassLimits {
		limits[name] = k
	}
	n := &Node{
		cfg:      cfg,
		opts:     opts,
		log:      log.With("skaldId", cfg.SkaldID),
		logs:     logs,
		grace:    grace,
		classes:  map[string]*erased.Class{},
		limits:   limits,
		running:  map[string]*run{},
		perClass: map[string]int{},

		restarting: map[string]trace.SpanContext{},
		unwritten:  map[string]*outcome{},
		cancels:    map[string]task.Ref{},
		w:          noWrites{},
		lease:      lease,
		renew:      make(chan struct{}, 1),
		ended:      newEndedTasks(),
	}
	// Until a first heartbeat reaches Redis, a controller may take this
	// node (or the one it replaces under its id) for offline.
	n.lapsed.Store(lease > 0)
	n.metrics = newNodeMetrics(n)
	n.tracer = telemetry.Tracer(opts.TracerProvider)
	return n, nil
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
	n.classes[name] = runner.Of(w)
}

// Limit caps the tasks of class w that run at once on this node, like
// Python's register(Worker, limit=k); see Options.ClassLimits for what
// happens to an assignment beyond it. Taking the class rather than its
// name catches a misspelt class at compile time. Call it before Run.
func (n *Node) Limit(w skald.Worker, k int) {
	n.limits[w.ClassName()] = k
}

// Run connects to MongoDB, Redis and Kafka (the last two unless
// disabled), converges on the tasks assigned to this node (in edge mode
// after claiming those of its YAML file), and then follows events until
// ctx is cancelled. On cancellation it stops taking events, cancels its
// workers, waits for their release hooks (up to the stop grace), deals with
// their tasks as Options.OnShutdown says, and returns nil.
//
// In single_process mode Run is RunSingle.
func (n *Node) Run(ctx context.Context) error {
	if n.cfg.Mode == config.ModeSingleProcess {
		return n.RunSingle(ctx)
	}
	defer n.logs.close()
	n.started = time.Now()
	n.log.Info("starting node", "config", n.cfg.String(), "classes", n.classNames())
	var edge []edgeTask
	if n.cfg.Mode == config.ModeEdge {
		var err error
		if edge, err = n.loadYAML(); err != nil {
			return err
		}
	}
	broker, err := n.connect(ctx)
	if err != nil {
		return err
	}
	defer n.store.Close(context.Background())
	defer n.reg.Close()
	if addr := metricsAddr(n.opts.MetricsAddr); addr != "" {
		stop, err := n.serveMetrics(ctx, addr)
		if err != nil {
			return err
		}
		defer stop()
	}
	// The task log writer outlives the workers, so that the records of
	// their release hooks and outcomes are written too.
	logsCtx, stopLogs := context.WithCancel(context.WithoutCancel(ctx))
	logsDone := make(chan struct{})
	go func() { defer close(logsDone); n.tlogs.Run(logsCtx) }()
	defer func() { stopLogs(); <-logsDone }()
	if n.cfg.KafkaDisabled {
		n.log.Warn("running without Kafka: tasks are picked up by the reconcile every SKALD_RECONCILE_PERIOD", "reconcilePeriod", n.cfg.ReconcilePeriod)
	}
	if err := n.claimEdge(ctx, edge); err != nil {
		return err
	}

	if n.lease > 0 {
		n.log.Info("liveness lease: workers stop when no heartbeat reaches Redis for the lease, before controllers take the node for offline",
			"lease", n.lease, "nodeTimeout", n.cfg.NodeTimeout)
	} else if n.cfg.Mode == config.ModeNode && !n.cfg.RedisDisabled {
		n.log.Warn("the liveness lease is off: cut off from Redis, this node keeps running tasks that controllers move to other nodes")
	}
	if !n.cfg.KafkaDisabled {
		// Before the read of MongoDB, which covers every event produced
		// until now: the subscription need only read what comes after.
		if err := event.CommitEnds(ctx, broker, n.cfg.SkaldID, event.Topics...); err != nil && ctx.Err() == nil {
			n.log.Info("events: the consumer group resumes at its committed offsets, or at the oldest", "err", err)
		}
	}
	// The node beats before it reports any task Running: a controller
	// that reads the registry after this beat takes the node for online,
	// and one that read it before and moves a task anyway is fenced off
	// by that task's Running write (see task.ExpectUnwritten). Beats and
	// events go on while the first reconcile starts the tasks, however
	// long that takes.
	var wg sync.WaitGroup
	start := time.Now()
	ok := n.beat(ctx)
	wg.Go(func() { n.beatLoop(ctx, start, ok) })
	wg.Go(func() { n.leaseLoop(ctx) })
	wg.Go(func() { n.reconcileEnded(ctx) })
	if !n.cfg.KafkaDisabled {
		wg.Go(func() { n.follow(ctx, broker) })
	}
	n.reconcileAll(ctx)
	n.ready.Store(true)
	if !n.lapsed.Load() {
		n.beat(ctx) // lists the tasks just started
	}
	wg.Go(func() { n.reconcileLoop(ctx) })
	n.log.Info("node ready", "reconcilePeriod", n.cfg.ReconcilePeriod)

	<-ctx.Done()
	n.shutdown()
	wg.Wait()
	n.flushOutcomes()
	if err := n.reg.RemoveNode(context.Background(), n.cfg.SkaldID); err != nil {
		n.log.Warn("removing the node from the registry", "err", err)
	}
	n.log.Info("node stopped")
	return nil
}

// connect reaches MongoDB, Redis and Kafka (the last two unless
// disabled). A server that does not answer is logged by name, with the
// settings to check, and retried with backoff until it answers or ctx
// ends: nodes often start together with their servers, and exiting would
// only turn that into a restart loop.
func (n *Node) connect(ctx context.Context) (event.Broker, error) {
	var broker event.Broker
	deps := []backoff.Dependency{{Name: "mongo", Addr: config.MaskURI(n.cfg.MongoHost), Check: "MONGO_HOST",
		Connect: func(ctx context.Context) error {
			store, err := task.Open(ctx, n.cfg.MongoHost, n.cfg.DBName)
			if err == nil {
				store.SetNode(n.cfg.SkaldID)
				store.KeepHistory(n.cfg.TaskHistory)
				n.store, n.w = store, newGated(store, n.cfg.SkaldID, n.opts.WritesInFlight)
			}
			return err
		}}}
	if !n.cfg.RedisDisabled {
		rdb, err := liveness.Dial(n.cfg, n.log)
		if err != nil {
			return broker, err
		}
		deps = append(deps, backoff.Dependency{Name: "redis", Addr: n.cfg.RedisAddr(),
			Check:   liveness.Check(n.cfg) + ", or REDIS_HOST empty to run without Redis",
			Connect: func(ctx context.Context) error { return rdb.Ping(ctx).Err() }})
		n.reg = liveness.New(rdb, n.cfg.RedisKeyTTL)
		if !n.opts.NoTaskLogs {
			n.tlogs = n.reg.Logs(n.opts.TaskLogs, n.log)
		}
	}
	if !n.cfg.KafkaDisabled {
		var err error
		if broker, err = event.NewBroker(n.cfg); err != nil {
			return broker, err
		}
		broker.Logger = n.log
		broker.Trace = n.tracer != nil
		deps = append(deps, backoff.Dependency{Name: "kafka", Addr: n.cfg.KafkaAddr(), Check: event.Check(n.cfg),
			Connect: func(ctx context.Context) error { return event.EnsureTopics(ctx, broker, event.Topics...) }})
	}
	warnInsecure(n.log, n.cfg)
	if err := backoff.WaitFor(ctx, n.log, n.opts.StartRetry, deps...); err != nil {
		if n.store != nil {
			_ = n.store.Close(context.Background())
		}
		_ = n.reg.Close()
		return broker, fmt.Errorf("node %s: %w", n.cfg.SkaldID, err)
	}
	return broker, nil
}

// warnInsecure logs the links whose settings leave a password readable or
// a server unauthenticated on the network.
func warnInsecure(log *slog.Logger, cfg config.Config) {
	if !cfg.KafkaDisabled && cfg.KafkaSecurityProtocol == config.KafkaSASLPlaintext && cfg.KafkaSASLMechanism == config.SASLPlain {
		log.Warn("KAFKA_SECURITY_PROTOCOL=SASL_PLAINTEXT with PLAIN sends the Kafka password in clear; use SASL_SSL or a SCRAM mechanism")
	}
	if !cfg.KafkaDisabled && cfg.KafkaTLS.Enabled && cfg.KafkaTLS.InsecureSkipVerify {
		log.Warn("KAFKA_TLS_INSECURE_SKIP_VERIFY is set: the Kafka broker's certificate is not checked")
	}
	if !cfg.RedisDisabled && cfg.RedisTLS.Enabled && cfg.RedisTLS.InsecureSkipVerify {
		log.Warn("REDIS_TLS_INSECURE_SKIP_VERIFY is set: the Redis server's certificate is not checked")
	}
}

// follow consumes events until ctx ends. A subscription that fails is
// replaced after a pause, followed by a full reconcile, since events may
// have been missed meanwhile.
func (n *Node) follow(ctx context.Context, broker event.Broker) {
	size := n.opts.BatchSize
	if size <= 0 {
		size = 10000
	}
	retry := backoff.Policy{First: time.Second, Max: 30 * time.Second}
	for attempt := 1; ; attempt++ {
		// Every node is its own consumer group, so every node sees every
		// event and each decides from MongoDB whether the task is its own.
		sub := event.Subscribe(broker, n.cfg.SkaldID, event.Topics, n.log)
		err := sub.RunBatch(ctx, size, n.handle)
		if cerr := sub.Close(); cerr != nil && ctx.Err() == nil {
			n.log.Warn("leaving the consumer group", "err", cerr)
		}
		if ctx.Err() != nil {
			return
		}
		n.log.Error("event subscription failed; subscribing again", "err", err, "attempt", attempt)
		if retry.Sleep(ctx, attempt) != nil {
			return
		}
		n.reconcileAll(ctx)
	}
}

// handle turns a batch of events into one reconcile of the tasks they
// name, after recording the bare cancels among them (see cancelBare).
func (n *Node) handle(ctx context.Context, batch []event.Delivery) error {
	seen := map[string]bool{}
	var ids []string
	cancel := map[string]bool{}
	for _, d := range batch {
		for _, id := range d.Event.TaskIDs {
			if !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
			switch {
			case d.Topic == event.TopicCancel:
				cancel[id] = !d.Sent().Before(n.started)
			case d.Topic == event.TopicAssign:
				// An assignment after the cancel is the newer word: a task
				// cancelled, reset and assigned again must run.
				delete(cancel, id)
			}
		}
	}
	var known []task.Task
	if len(cancel) > 0 {
		known = n.cancelBare(ctx, cancel)
	}
	if n.tracer != nil {
		ctx = withEventTraces(ctx, batch)
	}
	if n.recMu.TryLock() {
		n.recMu.Unlock()
	} else {
		n.preempt(ctx, ids)
	}
	err := n.reconcileIDs(ctx, ids, known...)
	for _, d := range batch {
		n.log.Debug("event handled", "topic", d.Topic, "taskIds", d.Event.TaskIDs)
	}
	return err
}

// preempt stops, without waiting for the reconcile under way, the workers
// of ids that must not run here. A node busy starting a batch of tasks
// (its writes queued behind a busy MongoDB) reconciles the events that
// arrive meanwhile only after the batch, and the worker of a task moved
// to another node, to a newer epoch, or cancelled, would run on until
// then. It reads those of ids that run (or are about to start) here, and
// stops each whose task says so; whatever else the events ask for, the
// reconcile that follows does.
func (n *Node) preempt(ctx context.Context, ids []string) {
	var mine []string
	for _, id := range ids {
		if r := n.lookup(id); r != nil && !r.stopping() {
			mine = append(mine, id)
		}
	}
	if len(mine) == 0 {
		return
	}
	tasks, err := n.store.GetMany(ctx, mine)
	if err != nil {
		return // the reconcile reads them again
	}
	byID := make(map[string]*task.Task, len(tasks))
	for i := range tasks {
		byID[tasks[i].ID] = &tasks[i]
	}
	for _, id := range mine {
		r, t := n.lookup(id), byID[id]
		if r == nil {
			continue
		}
		want, why := n.wants(t)
		if want && t.AssignmentEpoch == r.epoch {
			continue
		}
		if want {
			why = stopReassigned
		}
		r.log.Info("stopping the worker ahead of the reconcile under way: the task moved on", "reason", why.String())
		n.stop(r, why)
	}
}

// cancelBare honours task.cancel events as Python Skalds nodes do: Python
// tools send one without writing MongoDB first, and the owner of the task
// stops it. MongoDB stays the source of truth: for each task of ids that is
// assigned here and has not ended, the node records Cancelled, on the
// condition that the assignment epoch is still the one it read; the
// reconcile that follows then stops the worker (release runs) as for any
// cancelled task. A task assigned elsewhere is left to its node.
//
// ids maps each task id to whether its cancel may be honoured: a cancel
// produced before this node started is not, because a node whose consumer
// group could not be moved to the topics' ends (see event.CommitEnds)
// reads older messages, and an old cancel replayed so must not end a task
// that was assigned again since. Python nodes, which read only messages
// produced after they joined, never see those either.
//
// It returns the tasks it read as they now are, so that the reconcile does
// not read them again; a task whose write was fenced is left out, to be
// read afresh.
func (n *Node) cancelBare(ctx context.Context, ids map[string]bool) (known []task.Task) {
	var read []string
	for id, honour := range ids {
		if honour {
			read = append(read, id)
		} else {
			n.log.Debug("task.cancel produced before this node started; only reconciling", "taskId", id)
		}
	}
	if len(read) == 0 {
		return nil
	}
	sort.Strings(read)
	tasks, err := n.store.GetMany(ctx, read)
	if err != nil {
		// The event is all there is of the cancel: the workers it names
		// here are cancelled in their epoch by the next reconcile.
		var kept []string
		for _, id := range read {
			if r := n.lookup(id); r != nil {
				n.keepCancel(r.ref)
				kept = append(kept, id)
			}
		}
		if ctx.Err() == nil {
			n.log.Error("task.cancel: reading the tasks to cancel failed; the next reconcile cancels those running here", "taskIds", read, "running", kept, "err", err)
		}
		return nil
	}
	for i := range tasks {
		t := &tasks[i]
		if t.Executor == nil || *t.Executor != n.cfg.SkaldID || t.LifecycleStatus.Terminal() {
			known = append(known, *t)
			continue
		}
		log := n.log.With("taskId", t.ID, "className", t.ClassName, "epoch", t.AssignmentEpoch)
		switch err := n.w.CancelRunning(ctx, t.Ref()); {
		case err == nil:
			log.Info("task.cancel: recorded Cancelled; stopping the worker")
			t.LifecycleStatus = task.Cancelled
			known = append(known, *t)
		case errors.Is(err, task.ErrFenced):
			// Not known any more: the reconcile reads it again.
			log.Info("task.cancel: the task was reassigned or ended meanwhile; not cancelling it")
		default:
			n.keepCancel(t.Ref())
			log.Warn("task.cancel: recording Cancelled failed; the next reconcile records it", "err", err)
		}
	}
	return known
}

// keepCancel records a bare cancel of the task of ref whose write failed
// or could not be made, for the reconciles to write (see retryCancels):
// the event, already consumed, is all there is of it.
func (n *Node) keepCancel(ref task.Ref) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.cancels[ref.ID] = ref
}

// retryCancels writes the bare cancels that failed, each in the epoch it
// was meant for, before the reconcile reads the tasks, which then stops
// the cancelled workers. A task reassigned or ended meanwhile is left as
// it is (ErrFenced). The caller holds recMu.
func (n *Node) retryCancels(ctx context.Context) {
	n.mu.Lock()
	refs := make([]task.Ref, 0, len(n.cancels))
	for _, ref := range n.cancels {
		refs = append(refs, ref)
	}
	n.mu.Unlock()
	for _, ref := range refs {
		log := n.log.With("taskId", ref.ID, "epoch", ref.Epoch)
		err := n.w.CancelRunning(ctx, ref)
		switch {
		case err == nil:
			log.Info("task.cancel: recorded Cancelled after all; stopping the worker")
		case errors.Is(err, task.ErrFenced):
			log.Info("task.cancel: the task was reassigned or ended meanwhile; not cancelling it")
		default:
			if ctx.Err() == nil {
				log.Warn("task.cancel: recording Cancelled failed again; the next reconcile retries", "err", err)
			}
			continue
		}
		n.mu.Lock()
		// The same epoch is the same cancel; Refs are not compared whole,
		// since an _id written by other tooling (a binary UUID, a
		// document) makes == panic.
		if kept, ok := n.cancels[ref.ID]; ok && kept.Epoch == ref.Epoch {
			delete(n.cancels, ref.ID)
		}
		n.mu.Unlock()
	}
}

// reconcileLoop reconciles every ReconcilePeriod, and every second while
// MongoDB cannot be read, so that a node that comes back from a partition
// converges (and stops what was reassigned meanwhile) at once.
func (n *Node) reconcileLoop(ctx context.Context) {
	for {
		wait := n.cfg.ReconcilePeriod
		if n.inOutage() {
			wait = min(wait, time.Second)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
			n.reconcileAll(ctx)
		}
	}
}

func (n *Node) inOutage() bool {
	n.recMu.Lock()
	defer n.recMu.Unlock()
	return n.outage
}

func (n *Node) lookup(id string) *run {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.running[id]
}

func (n *Node) runs() []*run {
	n.mu.Lock()
	defer n.mu.Unlock()
	rs := make([]*run, 0, len(n.running))
	for _, r := range n.running {
		rs = append(rs, r)
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i].id < rs[j].id })
	return rs
}

func (n *Node) classNames() []string {
	names := make([]string, 0, len(n.classes))
	for name := range n.classes {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// schemas returns the JSON Schemas of every registered class: of its
// attachments, its progress and its result, each nil when the class has
// none.
func (n *Node) schemas() map[string]liveness.ClassSchemas {
	out := make(map[string]liveness.ClassSchemas, len(n.classes))
	for name, w := range n.classes {
		out[name] = liveness.ClassSchemas{Attachments: w.Schema, Progress: w.ProgressSchema, Result: w.ResultSchema}
	}
	return out
}

// capacity returns the limits the node enforces (Options.MaxTasks,
// ClassLimits and Limit), published with every beat so that a controller
// places only what the node will accept rather than learning the limits
// from refusals, and the node's liveness lease, which a controller checks
// against its node timeout. The limits are set before Run and never change after, so
// reading them here needs no lock.
func (n *Node) capacity() liveness.Capacity {
	c := liveness.Capacity{MaxTasks: n.opts.MaxTasks, Lease: n.lease}
	for class, k := range n.limits {
		if k > 0 {
			if c.Classes == nil {
				c.Classes = make(map[string]int, len(n.limits))
			}
			c.Classes[class] = k
		}
	}
	return c
}

// beat publishes the node's liveness and its tasks' heartbeats. It holds
// beatMu while it writes the task heartbeats, so that a worker that ends
// meanwhile writes its terminal heartbeat after them, never before (a
// random beat landing after the terminal code would erase it).
func (n *Node) beat(ctx context.Context) bool {
	if n.reg == nil {
		return true
	}
	sent := time.Now()
	n.beatMu.Lock()
	n.mu.Lock()
	refs := make([]liveness.TaskRef, 0, len(n.running))
	ids := make([]string, 0, len(n.running))
	for id, r := range n.running {
		refs = append(refs, liveness.TaskRef{ID: id, ClassName: r.class})
		ids = append(ids, id)
	}
	n.mu.Unlock()
	err := n.reg.TaskBeats(ctx, ids)
	n.beatMu.Unlock()
	if err != nil && ctx.Err() == nil {
		n.log.Warn("task heartbeats", "err", err)
	}
	sort.Slice(refs, func(i, j int) bool { return refs[i].ID < refs[j].ID })
	if err := n.reg.NodeBeat(ctx, n.cfg.SkaldID, string(n.cfg.Mode), refs, n.classNames(), n.schemas(), n.capacity()); err != nil {
		if ctx.Err() == nil {
			n.log.Warn("node heartbeat", "err", err)
		}
		return false
	}
	n.renewed(ctx, sent)
	return true
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

// shutdown stops every worker, waits for them up to the grace, and deals
// with their tasks as Options.OnShutdown says. Holding recMu keeps events
// and timers from starting anything meanwhile.
func (n *Node) shutdown() {
	n.recMu.Lock()
	defer n.recMu.Unlock()
	var wg sync.WaitGroup
	for _, r := range n.runs() {
		r.requestStop(stopShutdown, nil)
		wg.Go(func() { n.awaitStop(r) })
	}
	wg.Wait()
}
