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
//     mode that registered the task's class and has room, by the strategy.
//     Room is judged against the limits the node publishes with its beat
//     (liveness.NodeCapacityKey: MaxTasks and per-class limits) and
//     Options.MaxTasksPerNode, so a node is only given what it will
//     accept; a refusal (a node that hands a task back as over its limit)
//     remains the fallback when the registry lags behind;
//   - moves tasks whose node went offline (executor set, status Assigning,
//     Running or Created) to another such node, or hands them back as
//     Created when no node can take them, on two conditions that keep a
//     node that comes back at that moment from running a second copy:
//     the registry snapshot that shows the node offline began after the
//     tasks were read, and nobody wrote the task since it was read (see
//     task.ExpectUnwritten), so that of the move and the node's Running
//     write, the second one loses;
//     a task whose worker still beats after its node went silent (a
//     Python Skald's orphaned worker) stays until the heartbeat stops;
//   - retries Failed tasks after an exponential backoff while their attempt
//     counter is below the limit; past it they stay Failed with their error.
//     A task whose worker returned skald.Terminal (errorKind terminal) is
//     never retried; one that returned skald.RetryLater is retried no
//     sooner than its retryAt.
//
// A cycle writes at most Options.MaxClaimsPerCycle assignments, the most
// urgent first; when it stops there, the next cycle starts at once, on a
// fresh registry snapshot and on the tasks as the last read and this
// dispatcher's own claims left them (see pending), so a large backlog is
// worked through in bounded steps that still see new nodes, failovers and
// higher-priority tasks promptly. The claims a cycle gives one node are one
// write and one read (see task.Store.ClaimAll), so the round trips of a
// cycle grow with the nodes, not with the tasks.
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
	"sync/atomic"
	"time"

	"github.com/skalds-go/skalds/controller/metrics"
	"github.com/skalds-go/skalds/controller/monitor"
	"github.com/skalds-go/skalds/internal/inflight"
	"github.com/skalds-go/skalds/runtime/backoff"
	"github.com/skalds-go/skalds/runtime/event"
	"github.com/skalds-go/skalds/runtime/liveness"
	"github.com/skalds-go/skalds/runtime/task"
)

// Tasks is what the dispatcher needs of the task store.
type Tasks interface {
	Pending(ctx context.Context) ([]task.Task, error)
	ClaimAll(ctx context.Context, executor string, reqs []task.ClaimRequest) ([]*task.Task, error)
	Release(ctx context.Context, e task.Expect, resetAttempts bool) (*task.Task, error)
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
	// Assigning and Running ones); zero means no cap. It applies on top of
	// the limits each node publishes, which the dispatcher also respects.
	MaxTasksPerNode int
	// MaxClaimsPerCycle bounds the writes (claims and hand-backs) of one
	// cycle, so that a cycle over a large backlog ends in bounded time and
	// the next one sees a fresh registry and fresh priorities. Zero means
	// 500.
	MaxClaimsPerCycle int
	// WritesInFlight is the most writes of a cycle (one per node given
	// tasks, one per hand-back) sent at once. MongoDB (and FerretDB, for
	// writes to different documents) serves them side by side, so a cycle
	// over a hundred nodes does not wait for a hundred round trips in
	// turn. Zero means DefaultWritesInFlight; 1 sends them one after the
	// other.
	WritesInFlight int
	// MaxAttempts is how many runs a task gets before a failure is final;
	// zero means 3, and 1 disables retries.
	MaxAttempts int
	// Backoff is the wait before a retry, jittered per task so that tasks
	// that failed together are not retried together; a zero First means
	// 2 s, a zero Max 5 min.
	Backoff backoff.Policy
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

	last atomic.Pointer[CycleStatus] // the last cycle that ran, for LastCycle

	mu      sync.Mutex // one cycle at a time
	choose  *chooser
	absent  map[string]time.Time // executors not in the registry, since when
	unplace map[string]bool      // classes reported as unplaceable, to log once
	// assigned is what MongoDB assigned to each node at the last cycle,
	// and leaving what has left that set since, by node and task id: see
	// holdings.
	assigned map[string]map[string]string
	leaving  map[string]map[string]leavingTask
	// nodesSeen and loadSeen are the usable nodes and their load as the
	// last plan counted them, for CycleStatus.
	nodesSeen, loadSeen int
	// backlog is the pending tasks as a capped cycle left them (its
	// claims written in), which the cycle that follows at once works on
	// instead of reading them all again; see pending. backlogAt is when
	// that cycle ended, backlogRead when they were read.
	backlog     []task.Task
	backlogAt   time.Time
	backlogRead time.Time
	// stale is set while a cycle plans on a registry snapshot that began
	// before its tasks were read: it moves no task then (see fresh).
	stale bool
	// reread is set by Kick: a new task is not in the backlog.
	reread atomic.Bool
	// beating are the tasks of gone nodes whose workers still beat, as of
	// the last plan: each is logged once while it stays so. orphans are
	// those whose heartbeat this cycle read as alive (see readOrphans).
	beating, orphans map[string]bool
}

// leavingTask is a task that MongoDB no longer assigns to a node (it was
// cancelled, finished, failed or handed back) but whose worker may still run
// there.
type leavingTask struct {
	class string
	since time.Time // when the dispatcher first saw it gone from MongoDB
}

// maxLeaving bounds how long a leaving task counts against its node when
// the node's list says nothing newer; a worker that really takes longer to
// stop stays in that list and is counted through it.
const maxLeaving = time.Minute

// DefaultMaxClaimsPerCycle is the default of Options.MaxClaimsPerCycle:
// at a few milliseconds per conditional write, a cycle stays within a few
// seconds.
const DefaultMaxClaimsPerCycle = 500

// DefaultWritesInFlight is the default of Options.WritesInFlight. A
// cycle's writes are small (a cap of 500 claims over 100 nodes is 5 claims
// a write), so each costs mostly its round trips, which overlap well: on
// FerretDB's PostgreSQL backend on 2 cores, 10,000 tasks over 100 nodes
// were dispatched at 680 claims/s one write at a time, 960-1,230 with 4
// at once and 1,270-1,280 with 8.
const DefaultWritesInFlight = 8

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
	if opts.MaxClaimsPerCycle <= 0 {
		opts.MaxClaimsPerCycle = DefaultMaxClaimsPerCycle
	}
	if opts.WritesInFlight <= 0 {
		opts.WritesInFlight = DefaultWritesInFlight
	}
	if opts.Backoff.First <= 0 {
		opts.Backoff.First = 2 * time.Second
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
		log:      opts.Logger.With("component", "dispatcher"),
		kick:     make(chan struct{}, 1),
		choose:   newChooser(opts.Strategy, opts.Seed),
		absent:   map[string]time.Time{},
		unplace:  map[string]bool{},
		beating:  map[string]bool{},
		assigned: map[string]map[string]string{},
		leaving:  map[string]map[string]leavingTask{},
	}
}

// Strategy is the strategy in use.
func (d *Dispatcher) Strategy() Strategy { return d.opts.Strategy }

// Interval is the time between cycles.
func (d *Dispatcher) Interval() time.Duration { return d.opts.Interval }

// MaxClaimsPerCycle is the cap on the writes of one cycle.
func (d *Dispatcher) MaxClaimsPerCycle() int { return d.opts.MaxClaimsPerCycle }

// CycleStatus is what the last cycle did, for status reports.
type CycleStatus struct {
	At       time.Time     // when it ended
	Took     time.Duration // how long it ran
	Result   Result        // what it wrote (without Assignments)
	Err      string        // why it failed, if it did
	Nodes    int           // online nodes in node mode that it could use
	NodeLoad int           // tasks those nodes held, as the cycle counted them
}

// LastCycle returns the status of the last cycle, or nil before the first.
func (d *Dispatcher) LastCycle() *CycleStatus { return d.last.Load() }

// Kick asks for a cycle now, for example after a task was created through
// the API, instead of at the next tick.
func (d *Dispatcher) Kick() {
	d.reread.Store(true)
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// Run runs cycles every Interval, and on Kick, until ctx ends. A cycle
// that stopped at MaxClaimsPerCycle is followed by the next at once.
func (d *Dispatcher) Run(ctx context.Context) {
	t := time.NewTicker(d.opts.Interval)
	defer t.Stop()
	for {
		res, err := d.Cycle(ctx)
		if err != nil && ctx.Err() == nil {
			d.log.Error("dispatch cycle", "err", err)
		}
		// Straight on only while cycles get somewhere: a cycle whose
		// writes all fail waits for the tick like any other.
		if res.Capped && ctx.Err() == nil && res.Assigned+res.Moved+res.Released+res.Retried > 0 {
			continue
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
	// Capped is set when the cycle stopped at MaxClaimsPerCycle with more
	// to do.
	Capped bool
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
	doc  *task.Task
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
	start := time.Now()
	st := &CycleStatus{}
	defer func() {
		st.At, st.Took, st.Result = time.Now(), time.Since(start), res
		st.Result.Assignments = nil
		d.last.Store(st)
	}()
	docs, readAt, err := d.pending(ctx)
	if err != nil {
		st.Err = err.Error()
		return res, err
	}
	snap, d.stale = d.fresh(ctx, snap, docs, readAt)
	d.orphans = d.readOrphans(ctx, docs, snap)
	actions, capped := d.plan(time.Now(), docs, snap)
	res.Capped = capped
	defer func() {
		// Only a backlog whose every write went through is kept: a
		// conflict or an error means another writer was there.
		d.backlog = nil
		if capped && res.Conflicts == 0 && res.Assigned+res.Moved+res.Released+res.Retried == len(actions) {
			d.backlog, d.backlogAt, d.backlogRead = docs, time.Now(), readAt
		}
	}()
	st.Nodes, st.NodeLoad = d.nodesSeen, d.loadSeen
	if capped {
		d.log.Info("dispatch cycle reached its cap; the rest follows in the next cycle", "maxClaims", d.opts.MaxClaimsPerCycle)
	}
	var events []event.TaskEvent
	for _, a := range d.writeAll(ctx, batches(actions), &res) {
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

// pending returns the tasks to plan a cycle on: read from the store, or
// the backlog of the capped cycle just before, with that cycle's claims
// written into it. Reading every pending task is one scan of the
// collection on FerretDB; a backlog worked through in capped cycles costs
// one read instead of one per cycle. The backlog is read afresh an
// Interval after the end of the cycle that left it (timed from its end,
// since a cycle over a large backlog on a slow server may itself take
// longer than an Interval: timed from its start, every cycle would read
// everything again), backlogMaxAge Intervals after it was read, after a
// Kick (a new task), and after any cycle that was not capped or met
// another writer.
func (d *Dispatcher) pending(ctx context.Context) (docs []task.Task, readAt time.Time, err error) {
	reread := d.reread.Swap(false)
	if d.backlog != nil && !reread && time.Since(d.backlogAt) < d.opts.Interval &&
		time.Since(d.backlogRead) < backlogMaxAge*d.opts.Interval {
		return d.backlog, d.backlogRead, nil
	}
	d.backlog = nil
	readAt = time.Now()
	docs, err = d.tasks.Pending(ctx)
	return docs, readAt, err
}

// backlogMaxAge bounds, in Intervals, how long a backlog is worked on
// without reading the tasks again: what nodes wrote meanwhile (a task
// that finished or failed) shows up within that time.
const backlogMaxAge = 10

// changer is what tells the dispatcher of a new registry snapshot, when
// its Nodes has it (*monitor.Monitor does).
type changer interface {
	Changed() <-chan struct{}
}

// waitFresh bounds the wait for a registry snapshot newer than the tasks.
const waitFresh = 5 * time.Second

// fresh returns a registry snapshot that began after readAt, the read of
// docs, when docs hold a task whose executor snap does not show online: a
// move (or hand-back) of such a task must not rest on a registry read
// older than the task read. Otherwise a node that came back in between,
// beat, and then wrote Running, would be taken for dead by a snapshot from
// before its beat, and lose its task to a second copy. It waits for the
// monitor's next refresh for that, at most waitFresh. stale reports that
// it got none: the cycle then moves nothing, and assigns as usual.
func (d *Dispatcher) fresh(ctx context.Context, snap *monitor.Snapshot, docs []task.Task, readAt time.Time) (_ *monitor.Snapshot, stale bool) {
	if snap.Began.After(readAt) || !d.anyAway(docs, snap) {
		return snap, false
	}
	ch, ok := d.nodes.(changer)
	if !ok {
		return snap, true
	}
	timeout := time.NewTimer(waitFresh)
	defer timeout.Stop()
	for {
		// Changed is taken before the snapshot is read again, so that a
		// refresh in between is not missed.
		changed := ch.Changed()
		if s := d.nodes.Snapshot(); s != nil && s.Began.After(readAt) {
			return s, false
		}
		select {
		case <-changed:
		case <-timeout.C:
			d.log.Warn("no registry snapshot newer than the tasks read; moving no task of an offline node this cycle", "waited", waitFresh)
			return snap, true
		case <-ctx.Done():
			return snap, true
		}
	}
}

// anyAway reports whether a task of docs is away (see away): one that a
// cycle may move.
func (d *Dispatcher) anyAway(docs []task.Task, snap *monitor.Snapshot) bool {
	for i := range docs {
		if away(&docs[i], snap) {
			return true
		}
	}
	return false
}

// away reports whether t is held (not Failed) by an executor that is not
// an online node of snap.
func away(t *task.Task, snap *monitor.Snapshot) bool {
	if t.Executor == nil || t.LifecycleStatus == task.Failed {
		return false
	}
	n := snap.Node(*t.Executor)
	return n == nil || !n.Online || n.Mode != "node"
}

// batches groups actions into the writes of a cycle: the claims for one
// node (assignments, moves and retries) in one batch, in the order of
// actions, and each release on its own. The round trips of a cycle so
// grow with the nodes it gives tasks to, not with the tasks.
func batches(actions []action) [][]action {
	var out [][]action
	byNode := map[string]int{} // node: its batch in out
	for _, a := range actions {
		if a.kind == release {
			out = append(out, []action{a})
			continue
		}
		i, ok := byNode[a.node]
		if !ok {
			i = len(out)
			byNode[a.node] = i
			out = append(out, nil)
		}
		out[i] = append(out[i], a)
	}
	return out
}

// writeAll carries out the batches of a cycle, Options.WritesInFlight
// writes at once, begun in the order of batches, and returns the actions
// that took effect, in that order. Each batch's result is counted, logged
// and measured (see settle) on the caller's goroutine, in the order of
// batches, as soon as it and those before it are written: res, the
// metrics and the log see what one write after the other would show. A
// batch not yet begun when ctx ends is not written.
func (d *Dispatcher) writeAll(ctx context.Context, batches [][]action, res *Result) []action {
	type sent struct {
		written []*task.Task
		err     error
		ok      bool // the write was begun
		done    chan struct{}
	}
	out := make([]sent, len(batches))
	for i := range out {
		out[i].done = make(chan struct{})
	}
	go inflight.Each(len(batches), d.opts.WritesInFlight, func(i int) {
		defer close(out[i].done)
		if ctx.Err() == nil {
			out[i].written, out[i].err = d.send(ctx, batches[i])
			out[i].ok = true
		}
	})
	var done []action
	for i, batch := range batches {
		<-out[i].done
		if out[i].ok {
			done = append(done, d.settle(batch, out[i].written, out[i].err, res)...)
		}
	}
	return done
}

// send writes a batch of actions as conditional writes: the claims for
// one node in one write, or one release. It returns the tasks as written,
// nil for those that changed since they were read; it touches nothing of
// d but what never changes during a cycle, so that several run at once.
func (d *Dispatcher) send(ctx context.Context, batch []action) ([]*task.Task, error) {
	var written []*task.Task
	var err error
	if batch[0].kind == release {
		var t *task.Task
		t, err = d.tasks.Release(ctx, d.expect(batch[0]), false)
		written = []*task.Task{t}
	} else {
		reqs := make([]task.ClaimRequest, len(batch))
		for i, a := range batch {
			reqs[i] = task.ClaimRequest{Expect: d.expect(a), CountAttempt: a.kind != move}
		}
		written, err = d.tasks.ClaimAll(ctx, batch[0].node, reqs)
	}
	if errors.Is(err, task.ErrConflict) {
		written, err = []*task.Task{nil}, nil
	}
	return written, err
}

// settle counts, logs and measures in res and the metrics what the write
// of batch did (see send), and returns the actions that took effect; a
// task that changed meanwhile is left to the next cycle.
func (d *Dispatcher) settle(batch []action, written []*task.Task, err error, res *Result) []action {
	if err != nil {
		d.log.Error("writing assignments; the tasks are read again in the next cycle", "tasks", len(batch), "taskId", batch[0].doc.ID, "err", err)
	}
	var done []action
	for i, a := range batch {
		switch {
		case i >= len(written) || written[i] == nil && err != nil:
			// Not known to be claimed: the next cycle reads it again.
			continue
		case written[i] == nil:
			res.Conflicts++
			d.opts.Metrics.Conflict()
			d.log.Debug("task changed before it could be claimed; leaving it to the next cycle", "taskId", a.doc.ID)
			continue
		}
		d.wrote(a, written[i], res)
		done = append(done, a)
	}
	return done
}

// expect is the state that the write of a requires of its task.
func (d *Dispatcher) expect(a action) task.Expect {
	e := task.ExpectOf(a.doc)
	switch a.kind {
	case retry:
		e.Backoff = d.opts.Backoff.DelayFor(a.doc.ID, max(a.doc.Attempts, 1))
	case move, release:
		// The task's node is taken for dead; if it wrote the task since
		// it was read, it is not.
		e = task.ExpectUnwritten(a.doc)
	}
	return e
}

// wrote counts, logs and measures action a, whose write took effect and
// left the task as written.
func (d *Dispatcher) wrote(a action, written *task.Task, res *Result) {
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
		log.Info("failed task retried", "skaldId", a.node, "attempt", a.doc.Attempts+1, "maxAttempts", d.opts.MaxAttempts, "lastError", a.doc.Error, "errorKind", a.doc.ErrorKind)
	case release:
		res.Released++
		log.Warn("task of an offline node handed back; no node can take it now", "from", deref(a.doc.Executor))
	}
	// The task as written replaces the one read, for a backlog that the
	// next cycle reuses.
	*a.doc = *written
}

// plan decides the actions of one cycle from the tasks and the registry,
// at most MaxClaimsPerCycle of them; capped reports that it stopped there
// with tasks left unexamined. It writes nothing, so it can be tested
// without servers. It triages the tasks (what needs a node, by urgency),
// then places them on the nodes with room.
func (d *Dispatcher) plan(now time.Time, docs []task.Task, snap *monitor.Snapshot) (out []action, capped bool) {
	online := map[string]*monitor.Node{}
	for _, n := range snap.Nodes {
		if n.Online && n.Mode == "node" {
			online[n.ID] = n
		}
	}
	held := d.holdings(now, docs, online)
	d.nodesSeen, d.loadSeen = len(online), 0
	for id := range online {
		d.loadSeen += held[id].total()
	}
	todo := d.triage(now, docs, snap, online)
	return d.place(now, todo, online, held)
}

// triage returns what the tasks need, most urgent first (highest
// priority, then oldest): a node for a Created task, another node for the
// task of a node that is gone, a new run for a Failed task whose backoff
// has passed.
func (d *Dispatcher) triage(now time.Time, docs []task.Task, snap *monitor.Snapshot, online map[string]*monitor.Node) []action {
	d.trackAbsent(now, docs, snap)
	beating := map[string]bool{}
	defer func() { d.beating = beating }()
	var todo []action
	for i := range docs {
		t := &docs[i]
		var gone bool
		var lost time.Time
		if t.LifecycleStatus != task.Failed && t.Executor != nil {
			gone, lost = d.dead(now, *t.Executor, snap, online)
		}
		switch {
		case t.LifecycleStatus == task.Created && t.Executor == nil:
			todo = append(todo, action{kind: assign, doc: t})
		case gone && d.stillBeats(snap, t):
			beating[t.ID] = true
			d.noteBeating(t)
		case gone && d.stale:
			// Maybe back since: see fresh.
		case gone:
			todo = append(todo, action{kind: move, doc: t, lost: lost})
		case t.LifecycleStatus == task.Failed && t.Attempts < d.opts.MaxAttempts && t.ErrorKind.Retryable():
			failedAt := time.UnixMilli(t.UpdateDateTime)
			// A worker that asked to be retried later is not retried
			// sooner, nor sooner than the backoff.
			if now.Sub(failedAt) >= d.opts.Backoff.DelayFor(t.ID, max(t.Attempts, 1)) && now.UnixMilli() >= t.RetryAt {
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
	return todo
}

// stillBeats reports whether the worker of t, whose executor is gone,
// still keeps its heartbeat alive. Its node went silent but the worker did
// not: a Python Skald's worker processes outlive a node process that was
// killed. Moving the task would run it twice, so it stays until the
// heartbeat stops (a Go node's beats stop with the node, and expire 8 s
// after the last).
func (d *Dispatcher) stillBeats(snap *monitor.Snapshot, t *task.Task) bool {
	if d.orphans[t.ID] {
		return true
	}
	b, ok := snap.Beats[t.ID]
	return ok && t.Executor != nil && b.Node == *t.Executor && b.Alive()
}

// beatReader is what the dispatcher reads task heartbeats with, when its
// Nodes has it (*monitor.Monitor does).
type beatReader interface {
	Beats(ctx context.Context, ids []string) ([]liveness.Beat, error)
}

// readOrphans reads, in one round trip, the heartbeats of the tasks whose
// executor is not an online node, and returns those that still beat. The
// snapshot has the beats of the tasks nodes list, but a node killed right
// after it started a task may not have listed it yet. Any live beat counts:
// the task is assigned to that executor, so no other node runs it.
func (d *Dispatcher) readOrphans(ctx context.Context, docs []task.Task, snap *monitor.Snapshot) map[string]bool {
	br, ok := d.nodes.(beatReader)
	if !ok {
		return nil
	}
	var ids []string
	for i := range docs {
		if away(&docs[i], snap) {
			ids = append(ids, docs[i].ID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	beats, err := br.Beats(ctx, ids)
	if err != nil {
		d.log.Warn("reading the heartbeats of tasks of offline nodes; judging by the registry snapshot alone", "tasks", len(ids), "err", err)
		return nil
	}
	out := map[string]bool{}
	for _, b := range beats {
		if b.Alive() {
			out[b.TaskID] = true
		}
	}
	return out
}

// noteBeating logs that a task of a gone node is not moved because its
// worker still beats, unless the last plan found it so already.
func (d *Dispatcher) noteBeating(t *task.Task) {
	if d.beating[t.ID] {
		return
	}
	d.log.Warn("task of an offline node not moved: its worker still beats, so it still runs; it moves once the heartbeat stops",
		"taskId", t.ID, "from", deref(t.Executor))
}

// trackAbsent forgets the executors missing from the registry that are
// back, or that no task names any more. Those still missing count as
// offline only after a grace (see dead), measured on this controller's
// clock.
func (d *Dispatcher) trackAbsent(now time.Time, docs []task.Task, snap *monitor.Snapshot) {
	executors := map[string]bool{}
	for i := range docs {
		if ex := docs[i].Executor; ex != nil {
			executors[*ex] = true
		}
	}
	for ex := range d.absent {
		if snap.Node(ex) != nil || !executors[ex] {
			delete(d.absent, ex)
		}
	}
}

// dead reports whether the executor ex is gone, and since when.
func (d *Dispatcher) dead(now time.Time, ex string, snap *monitor.Snapshot, online map[string]*monitor.Node) (bool, time.Time) {
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

// place gives each action of todo, in order, a node that runs its class
// and has room, by the strategy, counting each placement against the
// node's holding; it stops at MaxClaimsPerCycle (capped). The task of a
// node that is gone, which no node can take now, is released instead;
// other tasks without a node wait for the next cycle.
func (d *Dispatcher) place(now time.Time, todo []action, online map[string]*monitor.Node, held holdingMap) (out []action, capped bool) {
	ids := make([]string, 0, len(online))
	for id := range online {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	full := map[string]bool{} // classes whose able nodes are all at capacity
	for _, a := range todo {
		if len(out) >= d.opts.MaxClaimsPerCycle {
			return out, true
		}
		t := a.doc
		cs, able := d.candidates(now, t, ids, online, held)
		if len(cs) == 0 {
			switch {
			case a.kind == move:
				// Nobody can run it now: make it visibly waiting instead of
				// Running on a dead node.
				a.kind = release
				out = append(out, a)
			case able:
				if !full[t.ClassName] {
					full[t.ClassName] = true
					d.log.Debug("every node that runs this class is at capacity; its tasks wait", "className", t.ClassName)
				}
			case !d.unplace[t.ClassName]:
				d.unplace[t.ClassName] = true
				d.log.Warn("no online node can take tasks of this class now; they wait", "className", t.ClassName)
			}
			continue
		}
		delete(d.unplace, t.ClassName)
		c := cs[d.choose.choose(cs)]
		if a.kind == move && t.Executor != nil {
			held[*t.Executor].remove(t.ID)
		}
		held.at(c.id).add(t.ID, t.ClassName)
		a.node = c.id
		out = append(out, a)
	}
	return out, false
}

// candidates returns the online nodes (ids, sorted) that can take t now:
// they run its class, have room, and have not just refused it. able
// reports whether any node runs the class at all.
func (d *Dispatcher) candidates(now time.Time, t *task.Task, ids []string, online map[string]*monitor.Node, held holdingMap) (cs []candidate, able bool) {
	for _, id := range ids {
		n := online[id]
		if !n.Supports(t.ClassName) {
			continue
		}
		able = true
		if !d.hasRoom(n, held[id], t.ClassName) {
			continue
		}
		if r := t.Refusal; r != nil && r.SkaldID == id && r.Epoch == t.AssignmentEpoch &&
			now.Sub(time.UnixMilli(r.At)) < d.opts.RefusalCooldown {
			continue
		}
		cs = append(cs, candidate{id: id, load: held[id].total()})
	}
	return cs, able
}

// hasRoom reports whether node n, which holds h, can take one more task of
// class: under its own published limits and under MaxTasksPerNode.
func (d *Dispatcher) hasRoom(n *monitor.Node, h *holding, class string) bool {
	limit := n.Capacity.MaxTasks
	if m := d.opts.MaxTasksPerNode; m > 0 && (limit == 0 || m < limit) {
		limit = m
	}
	if limit > 0 && h.total() >= limit {
		return false
	}
	if k := n.Capacity.Classes[class]; k > 0 && h.ofClass(class) >= k {
		return false
	}
	return true
}

// holding is the set of tasks one node holds, by id, with counts per
// class.
type holding struct {
	ids      map[string]string // task id: class name
	perClass map[string]int
}

func (h *holding) total() int {
	if h == nil {
		return 0
	}
	return len(h.ids)
}

func (h *holding) ofClass(class string) int {
	if h == nil {
		return 0
	}
	return h.perClass[class]
}

func (h *holding) add(id, class string) {
	if _, ok := h.ids[id]; ok {
		return
	}
	h.ids[id] = class
	h.perClass[class]++
}

func (h *holding) remove(id string) {
	if h == nil {
		return
	}
	if class, ok := h.ids[id]; ok {
		delete(h.ids, id)
		h.perClass[class]--
	}
}

type holdingMap map[string]*holding

func (m holdingMap) at(node string) *holding {
	h := m[node]
	if h == nil {
		h = &holding{ids: map[string]string{}, perClass: map[string]int{}}
		m[node] = h
	}
	return h
}

// holdings returns what each node holds, as its own limit check will
// count it: the union of
//
//   - what MongoDB assigns to it, which is ahead of the node's list by up
//     to one beat;
//   - what the online node lists as running, which still includes a
//     worker that is stopping until the node's next beat;
//   - what MongoDB assigned to it until recently (a task cancelled,
//     finished or handed back) while no beat since says it stopped: a
//     worker told to stop by MongoDB may run on for a moment, and a list
//     written before it started does not show it.
//
// Counting less than the node would make it refuse the assignment, which
// keeps the task away from that node for the refusal cool-down; counting
// more delays a freed slot by at most one beat.
func (d *Dispatcher) holdings(now time.Time, docs []task.Task, online map[string]*monitor.Node) holdingMap {
	m := holdingMap{}
	assigned := map[string]map[string]string{}
	for i := range docs {
		t := &docs[i]
		if t.Executor != nil && t.LifecycleStatus != task.Failed {
			m.at(*t.Executor).add(t.ID, t.ClassName)
			if assigned[*t.Executor] == nil {
				assigned[*t.Executor] = map[string]string{}
			}
			assigned[*t.Executor][t.ID] = t.ClassName
		}
	}
	for node, ids := range d.assigned {
		for id, class := range ids {
			if _, still := assigned[node][id]; still {
				continue
			}
			if d.leaving[node] == nil {
				d.leaving[node] = map[string]leavingTask{}
			}
			if _, known := d.leaving[node][id]; !known {
				d.leaving[node][id] = leavingTask{class: class, since: now}
			}
		}
	}
	d.assigned = assigned
	for node, ids := range d.leaving {
		n := online[node]
		for id, lt := range ids {
			_, back := assigned[node][id]
			if n == nil || back || now.Sub(lt.since) > maxLeaving || (n.TasksChanged.After(lt.since) && !lists(n, id)) {
				delete(ids, id)
				continue
			}
			m.at(node).add(id, lt.class)
		}
		if len(ids) == 0 {
			delete(d.leaving, node)
		}
	}
	for id, n := range online {
		for _, t := range n.Tasks {
			m.at(id).add(t.ID, t.ClassName)
		}
	}
	return m
}

// lists reports whether node n lists task id as running.
func lists(n *monitor.Node, id string) bool {
	for _, t := range n.Tasks {
		if t.ID == id {
			return true
		}
	}
	return false
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
