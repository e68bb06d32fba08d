package node

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/skalds-go/skalds/runtime/task"
)

// reconcileAll converges on every task assigned here and every task
// running here, from one query for the assignments and one for the running
// tasks that are no longer among them.
func (n *Node) reconcileAll(ctx context.Context) {
	n.recMu.Lock()
	defer n.recMu.Unlock()
	if ctx.Err() != nil {
		return
	}
	n.retryCancels(ctx)
	tasks, err := n.store.ListByExecutor(ctx, n.cfg.SkaldID)
	if err != nil {
		if ctx.Err() == nil {
			n.log.Error("reconcile: cannot read this node's assignments from MongoDB; retrying every second", "err", err)
			n.outage = true
			n.checkLease()
		}
		return
	}
	if n.outage {
		n.log.Info("MongoDB answers again; converging on this node's tasks", "assigned", len(tasks))
		n.outage = false
	}
	n.lastSync = time.Now()
	n.leased = false

	listed := make(map[string]bool, len(tasks))
	for _, t := range tasks {
		listed[t.ID] = true
	}
	var gone []string
	for _, r := range n.runs() {
		if !listed[r.id] {
			gone = append(gone, r.id)
		}
	}
	for _, id := range n.unwrittenIDs() {
		if !listed[id] && n.lookup(id) == nil {
			gone = append(gone, id)
		}
	}
	// Running tasks that are no longer listed were cancelled, finished,
	// reassigned or deleted: read them to learn which; so are those whose
	// outcome is still to be written (see retryOutcome).
	others, err := n.store.GetMany(ctx, gone)
	if err != nil && ctx.Err() == nil {
		n.log.Error("reconcile: reading tasks that are no longer assigned here", "err", err)
		gone = nil
	}
	byPriority(tasks)
	var starts []*run
	for i := range tasks {
		starts = n.converge(ctx, tasks[i].ID, &tasks[i], starts)
	}
	byID := make(map[string]*task.Task, len(others))
	for i := range others {
		byID[others[i].ID] = &others[i]
	}
	for _, id := range gone {
		starts = n.converge(ctx, id, byID[id], starts)
	}
	n.launch(ctx, starts)
	n.log.Debug("reconciled the tasks assigned here", "assigned", len(tasks), "starting", len(starts))
}

// byPriority sorts tasks most important first, so that a limit refuses
// the least important.
func byPriority(tasks []task.Task) {
	sort.SliceStable(tasks, func(i, j int) bool {
		if tasks[i].Priority != tasks[j].Priority {
			return tasks[i].Priority > tasks[j].Priority
		}
		return tasks[i].CreateDateTime < tasks[j].CreateDateTime
	})
}

// reconcileIDs reads the given tasks and converges on each. Tasks in
// known were read just now by the caller and are not read again; an id of
// ids that the caller read and found missing is absent from known and read
// again (a deleted task is rare, a second read cheap).
//
// A batch that a listing of this node's assignments serves more cheaply
// than a read of its ids (see listCheaper) is served so (see readBig);
// the node then converges on all of them, as reconcileAll does: a burst of
// assignments starts at once instead of batch by batch, and the events
// still to come find their tasks running.
func (n *Node) reconcileIDs(ctx context.Context, ids []string, known ...task.Task) error {
	n.recMu.Lock()
	defer n.recMu.Unlock()
	if ctx.Err() != nil || len(ids) == 0 {
		return nil
	}
	var tasks []task.Task
	var err error
	big := n.listCheaper(len(ids))
	if big {
		tasks, err = n.readBig(ctx, ids)
	} else {
		tasks, err = n.readUnknown(ctx, ids, known)
	}
	if err != nil {
		return fmt.Errorf("reconciling %d tasks (the periodic reconcile retries): %w", len(ids), err)
	}
	if big {
		byPriority(tasks)
	}
	byID := make(map[string]*task.Task, len(tasks))
	for i := range tasks {
		byID[tasks[i].ID] = &tasks[i]
	}
	order := ids
	if big {
		order = make([]string, 0, len(tasks)+len(ids))
		for i := range tasks {
			order = append(order, tasks[i].ID)
		}
		for _, id := range ids {
			if byID[id] == nil {
				order = append(order, id) // not found: deleted, if it runs here
			}
		}
	}
	var starts []*run
	seen := make(map[string]bool, len(order))
	for _, id := range order {
		if seen[id] {
			continue
		}
		seen[id] = true
		starts = n.converge(ctx, id, byID[id], starts)
	}
	n.launch(ctx, starts)
	n.log.Debug("reconciled a batch of tasks", "tasks", len(ids), "listed", big, "starting", len(starts))
	return nil
}

// readUnknown returns known and the tasks of ids that are not in known,
// read in one query.
func (n *Node) readUnknown(ctx context.Context, ids []string, known []task.Task) ([]task.Task, error) {
	have := make(map[string]bool, len(known))
	for _, t := range known {
		have[t.ID] = true
	}
	var unknown []string
	for _, id := range ids {
		if !have[id] {
			unknown = append(unknown, id)
		}
	}
	tasks, err := n.store.GetMany(ctx, unknown)
	return append(known, tasks...), err
}

// bigBatch is the size from which a batch of events may be served by
// listing this node's assignments instead of asking for each id (see
// listCheaper).
const bigBatch = 64

// listCheaper says whether a batch of ids is served more cheaply by a
// listing of this node's assignments than by a read of its ids. A
// listing reads about as many tasks as run here; a read of ids, one index
// hit per id. A burst of events comes in batches (the consumer's queue
// holds 1,000 events), and when every big batch was served by a listing,
// a node that already ran the burst's tasks read all of them again for
// each batch: the reads grew with the batches times the tasks (ten
// listings of 10,000 tasks for a burst of 10,000 events). A batch now
// lists only while it names at least half as many tasks as run here, so
// that a listing costs at most about twice what its ids would, and a
// burst's reads grow with its events: its first big batch lists and
// starts every task assigned here, and the later ones, naming tasks that
// run by then, read their ids.
func (n *Node) listCheaper(ids int) bool {
	if ids <= bigBatch {
		return false
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return 2*ids >= len(n.running)
}

// readBig reads the tasks of ids that matter here: those assigned here,
// and those running here (which may have been reassigned or cancelled).
// The others are not this node's business.
func (n *Node) readBig(ctx context.Context, ids []string) ([]task.Task, error) {
	tasks, err := n.store.ListByExecutor(ctx, n.cfg.SkaldID)
	if err != nil {
		return nil, err
	}
	listed := make(map[string]bool, len(tasks))
	for _, t := range tasks {
		listed[t.ID] = true
	}
	var other []string
	for _, id := range ids {
		if !listed[id] && n.lookup(id) != nil {
			other = append(other, id)
		}
	}
	more, err := n.store.GetMany(ctx, other)
	if err != nil {
		return nil, err
	}
	return append(tasks, more...), nil
}

// converge makes what runs here agree with t, the task as just read (nil
// when it does not exist). A task to start is registered and appended to
// starts, for the caller to launch with the others. The caller holds
// recMu.
func (n *Node) converge(ctx context.Context, id string, t *task.Task, starts []*run) []*run {
	if ctx.Err() != nil {
		return starts
	}
	if o := n.unwrittenOf(id); o != nil && n.retryOutcome(ctx, o, t) {
		return starts
	}
	want, reason := n.wants(t)
	var parent trace.SpanContext
	if n.tracer != nil {
		parent = eventTrace(ctx, id)
	}
	if r := n.lookup(id); r != nil {
		switch {
		case r.stopping():
			// Its end triggers another reconcile of the task; starting a
			// second copy before would run the task twice here.
			n.restuck(ctx, r, t)
		case n.lapsed.Load():
			n.stop(r, stopLapsed)
		case !want:
			n.traceStop(r, parent)
			n.stop(r, reason)
		case r.epoch != t.AssignmentEpoch:
			n.traceStop(r, parent)
			n.stop(r, stopReassigned)
		case r.behind(t):
			n.update(r, t, parent)
		}
		if want && r.epoch == t.AssignmentEpoch && r.launched.Load() && !r.stopping() {
			switch t.LifecycleStatus {
			case task.Assigning:
				n.reportAgain(ctx, r, t)
			case task.Running:
				n.resettle(ctx, r, t)
			}
		}
		return starts
	}
	if !want || n.lapsed.Load() {
		// Lapsed: the renewal of the lease converges again.
		return starts
	}
	if why := n.full(t.ClassName); why != "" {
		n.refuse(ctx, t, why)
		return starts
	}
	return append(starts, n.start(t, parent))
}

// reportAgain writes Running for r, whose worker runs although t, read
// just now, is still Assigning in r's epoch: the worker started only once
// its Running write landed, so another writer set the task back without a
// new epoch. Nothing else would ever write Running for it: a reconcile finds the worker
// registered and starts nothing, and the worker's progress writes apply
// only while the task is Running. A fenced write means the task is no
// longer Assigning in r's epoch: the first write landed after all (t may
// come from a read made before it, see cancelBare), or the task moved,
// which the next reconcile acts on. The caller holds recMu.
func (n *Node) reportAgain(ctx context.Context, r *run, t *task.Task) {
	if n.store == nil {
		return
	}
	version := max(r.startVersion, t.AppliedAttachmentsVersion)
	r.log.Warn("the task is still Assigning although its worker runs here: its Running write was lost; writing it again",
		"attachmentsVersion", version)
	if err := n.store.StartedAgain(ctx, r.ref, version); err != nil && !errors.Is(err, task.ErrFenced) && ctx.Err() == nil {
		r.log.Warn("reporting Running again (the next reconcile retries)", "err", err)
	}
}

// resettle writes again what r's worker did with its newest update, when
// that write failed and t, read just now, still lacks it: the version it
// applied, which a client waiting for it polls for, and the rejection of
// a newer one. Nothing else would write them: the worker settles each
// version once. The caller holds recMu.
func (n *Node) resettle(ctx context.Context, r *run, t *task.Task) {
	if !r.settleMu.TryLock() {
		// The worker's own write is under way, and may wait long on a
		// busy MongoDB: the reconcile, which every task of the node waits
		// for, does not. A write that fails is left to the next one.
		return
	}
	defer r.settleMu.Unlock()
	if !r.unsettled {
		return
	}
	lacksApplied := t.AppliedAttachmentsVersion < r.appliedVersion
	lacksRejection := r.rejection != nil && (t.AttachmentsRejection == nil || t.AttachmentsRejection.Version < r.rejection.Version)
	if !lacksApplied && !lacksRejection {
		r.unsettled = false // the write landed after all; only its reply was lost
		return
	}
	r.mu.Lock()
	running := r.running
	r.mu.Unlock()
	var err error
	if lacksApplied {
		// Applied clears any rejection: the newer one is written after it.
		err = n.w.Applied(ctx, r.ref, r.appliedVersion, running)
	}
	if err == nil && r.rejection != nil {
		err = n.w.Reject(ctx, r.ref, *r.rejection, running)
	}
	switch {
	case err == nil:
		r.unsettled = false
		r.log.Info("recorded again what the worker did with its attachments, which a lost write had left out",
			"appliedAttachmentsVersion", r.appliedVersion, "rejected", r.rejection != nil)
	case errors.Is(err, task.ErrFenced):
		r.unsettled = false
		n.writeFailed(r, "recording the applied attachments again", err)
	case ctx.Err() == nil:
		r.log.Warn("recording the applied attachments again failed; the next reconcile retries", "err", err)
	}
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
	return true, stopNone
}

// full says why a task of class cannot start now, or "" when it can.
// Stopping workers still count: they hold what they hold until they return.
func (n *Node) full(class string) string {
	n.mu.Lock()
	defer n.mu.Unlock()
	if max := n.opts.MaxTasks; max > 0 && len(n.running) >= max {
		return fmt.Sprintf("node %s already runs %d tasks, its limit (MaxTasks)", n.cfg.SkaldID, max)
	}
	if k := n.limits[class]; k > 0 && n.perClass[class] >= k {
		return fmt.Sprintf("node %s already runs %d %s tasks, the limit for that class", n.cfg.SkaldID, k, class)
	}
	return ""
}

// refuse hands t back with the reason, so that the refusal is visible on
// the task and a controller can place it elsewhere.
func (n *Node) refuse(ctx context.Context, t *task.Task, why string) {
	log := n.log.With("taskId", t.ID, "className", t.ClassName, "epoch", t.AssignmentEpoch)
	err := n.store.Refuse(ctx, t.Ref(), task.Refusal{SkaldID: n.cfg.SkaldID, Reason: why})
	switch {
	case err == nil:
		log.Warn("assignment refused; the task is handed back", "reason", why)
	case errors.Is(err, task.ErrFenced):
		log.Info("assignment refused, but the task was reassigned or cancelled meanwhile", "reason", why)
	default:
		// The task stays assigned here, not running: the next reconcile
		// finds it so and refuses it again.
		log.Warn("recording the refusal failed; the next reconcile refuses the task again", "reason", why, "err", err)
	}
}

// checkLease stops every worker once MongoDB has been unreadable for
// longer than the lease: another node may have been given the tasks. The
// caller holds recMu.
func (n *Node) checkLease() {
	lease := n.opts.LeaseTimeout
	if lease <= 0 || n.leased || n.lastSync.IsZero() || time.Since(n.lastSync) < lease {
		return
	}
	n.leased = true
	rs := n.runs()
	n.log.Error("no contact with MongoDB for longer than the lease; stopping all workers until it answers again",
		"lease", lease, "workers", len(rs))
	for _, r := range rs {
		n.stop(r, stopLease)
	}
}

// endedTasks collects the tasks whose workers returned after a stop, for
// reconcileEnded. A lapse of the liveness lease stops every worker at
// once, and they return close together (or, those whose last writes queue
// behind a busy MongoDB, one by one); a reconcile of each on its own, one
// read and one Running write per task behind recMu, left most of a large
// node's tasks without a worker for many seconds after the lease held
// again, and kept the periodic reconcile queued behind them.
type endedTasks struct {
	mu       sync.Mutex
	ids      []string
	stopping int           // stopped workers that have not returned yet
	kick     chan struct{} // holds one wake-up for reconcileEnded
}

// The returns of stopped workers are gathered (see gather) until none has
// come for endedQuiet while others are still stopping, and for at most
// endedGather. On a loaded machine the returns of a lapse trickle in over
// hundreds of milliseconds; reconciling each trickle on its own made one
// read and one write for every few tasks. A worker stopped on its own (a
// //skald:restart) waits for nothing.
const (
	endedQuiet  = 25 * time.Millisecond
	endedGather = 250 * time.Millisecond
)

func newEndedTasks() *endedTasks { return &endedTasks{kick: make(chan struct{}, 1)} }

// expect counts a stopped worker whose return add will report.
func (e *endedTasks) expect() {
	e.mu.Lock()
	e.stopping++
	e.mu.Unlock()
}

// add queues id, whose worker returned, and wakes reconcileEnded.
func (e *endedTasks) add(id string) {
	e.mu.Lock()
	e.ids = append(e.ids, id)
	e.stopping--
	e.mu.Unlock()
	select {
	case e.kick <- struct{}{}:
	default: // a wake-up is pending; it takes id along
	}
}

// gather waits, while other stopped workers have yet to return, until
// none has returned for endedQuiet, or endedGather has passed, or ctx
// ends.
func (e *endedTasks) gather(ctx context.Context) {
	limit := time.NewTimer(endedGather)
	defer limit.Stop()
	quiet := time.NewTimer(endedQuiet)
	defer quiet.Stop()
	for e.waiting() {
		select {
		case <-e.kick: // another returned: its id is queued
			quiet.Reset(endedQuiet)
		case <-quiet.C:
			return
		case <-limit.C:
			return
		case <-ctx.Done():
			return
		}
	}
}

func (e *endedTasks) waiting() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.stopping > 0
}

// take returns the queued ids and empties the queue.
func (e *endedTasks) take() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	ids := e.ids
	e.ids = nil
	return ids
}

// reconcileEnded reconciles the tasks of workers that returned after a
// stop, until ctx ends: all those that returned while the previous
// reconcile waited or ran, or while gather waited for them, together, in
// one read and one Running write per start chunk (see launch). A
// reconcile that fails leaves them to the periodic one.
func (n *Node) reconcileEnded(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-n.ended.kick:
		}
		n.ended.gather(ctx)
		ids := n.ended.take()
		if err := n.reconcileIDs(ctx, ids); err != nil && ctx.Err() == nil {
			n.log.Warn("reconcile after workers stopped", "tasks", len(ids), "err", err)
		}
	}
}
