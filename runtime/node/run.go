package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/skalds-go/skalds/internal/inflight"
	"github.com/skalds-go/skalds/internal/runner"
	"github.com/skalds-go/skalds/internal/telemetry"
	"github.com/skalds-go/skalds/runtime/codec"
	"github.com/skalds-go/skalds/runtime/liveness"
	"github.com/skalds-go/skalds/runtime/task"
)

// stopReason is why a node stops a worker; it decides what the node
// writes afterwards.
type stopReason int

const (
	stopNone       stopReason = iota
	stopCancelled             // the task was cancelled: write Cancelled
	stopReassigned            // the task is no longer ours: write nothing
	stopDeleted               // the task is gone: write nothing
	stopFenced                // a write of ours was fenced: write nothing
	stopLease                 // MongoDB was out of reach too long: write nothing
	stopLapsed                // the liveness lease lapsed: write nothing, restart when it holds again
	stopFailed                // an update hook panicked or failed the task: write Failed
	stopRestart               // a restart field changed: start again with the new attachments
	stopShutdown              // the node is stopping: see Options.OnShutdown
)

var stopNames = [...]string{stopNone: "none", stopCancelled: "cancelled", stopReassigned: "reassigned", stopDeleted: "deleted",
	stopFenced: "fenced", stopLease: "lease", stopLapsed: "lapsed", stopFailed: "failed", stopRestart: "restart", stopShutdown: "shutdown"}

// String names the reason in logs.
func (s stopReason) String() string { return stopNames[s] }

// leavesNothing says whether a worker stopped for s leaves nothing to
// write about its run: the task is someone else's now, or it stays
// assigned here and its next start here clears its progress.
func (s stopReason) leavesNothing() bool {
	switch s {
	case stopReassigned, stopDeleted, stopFenced, stopLease, stopLapsed, stopRestart:
		return true
	}
	return false
}

// writer is the part of task.Store a worker writes through.
type writer interface {
	Applied(ctx context.Context, ref task.Ref, version int64, applied task.Attachments) error
	Reject(ctx context.Context, ref task.Ref, r task.Rejection, running task.Attachments) error
	Report(ctx context.Context, ref task.Ref, status task.Status, failure string, out ...task.Outcome) error
	Fail(ctx context.Context, ref task.Ref, f task.Failure, out ...task.Outcome) error
	StoreProgress(ctx context.Context, ref task.Ref, progress task.Converted) error
	HandBack(ctx context.Context, ref task.Ref) error
	MarkStuck(ctx context.Context, ref task.Ref, note string) error
	CancelRunning(ctx context.Context, ref task.Ref) error
}

// noWrites is the writer of a single_process Skald, whose task is not in
// MongoDB (as in Python Skalds).
type noWrites struct{}

func (noWrites) Applied(context.Context, task.Ref, int64, task.Attachments) error         { return nil }
func (noWrites) Reject(context.Context, task.Ref, task.Rejection, task.Attachments) error { return nil }
func (noWrites) Report(context.Context, task.Ref, task.Status, string, ...task.Outcome) error {
	return nil
}
func (noWrites) Fail(context.Context, task.Ref, task.Failure, ...task.Outcome) error { return nil }
func (noWrites) StoreProgress(context.Context, task.Ref, task.Converted) error       { return nil }
func (noWrites) HandBack(context.Context, task.Ref) error                            { return nil }
func (noWrites) MarkStuck(context.Context, task.Ref, string) error                   { return nil }
func (noWrites) CancelRunning(context.Context, task.Ref) error                       { return nil }

// run is one running task.
type run struct {
	id, class string
	ref       task.Ref
	epoch     int64
	log       *slog.Logger
	closeLog  func()
	ctx       context.Context // the worker's, carrying its logger; cancelled when it stops
	// progress is what the worker's progress writes wait with: cancelled
	// once it is told to stop for a reason that leaves nothing to write
	// (see stopReason.leavesNothing), so that a write still waiting for
	// the gate (see gated) does not hold up its end, and with it the
	// task's restart. Made at the first write (see progressContext), under
	// mu: a worker that reports no progress holds none.
	progress     context.Context
	dropProgress context.CancelFunc
	w            *runner.Run
	returned     chan struct{} // closed once the worker's hooks have returned (see hooksReturned)
	returnedOnce sync.Once
	done         chan struct{} // closed after release ran and the outcome was written
	// launched is set once launch is about to start the worker (or to
	// drop it): before, a stop has no hook to wait for (see awaitStop).
	launched atomic.Bool
	// progressLost says that the last progress write failed: the stored
	// progress is older than the worker's, and the terminal write must
	// carry the newest even though it was passed on.
	progressLost atomic.Bool

	mu      sync.Mutex
	reason  stopReason // first reason wins
	failure error      // with stopFailed
	stopAt  time.Time
	// stuckNote is the note of a stuck worker (see awaitStop) whose
	// write failed, for the reconciles to write again; "" otherwise.
	stuckNote string

	// startRaw and startVersion are the attachments the run starts with,
	// startStatus the task's status when it was read.
	startRaw     []byte
	startVersion int64
	startStatus  task.Status
	restart      bool // the run replaces one stopped for a //skald:restart field
	restartTrace trace.SpanContext

	// seen and seenRaw are the newest attachments the node has looked at
	// for this run, queued or not. Only reconcile touches them.
	seen    int64
	seenRaw []byte

	// offered are the attachments handed to the worker and not yet
	// applied or rejected, by version, nil until the first update (most
	// workers never get one); running are those the worker runs with.
	// Both are guarded by mu: the reconcile offers, the worker's update
	// loop applies and rejects.
	offered map[int64]offer
	running []byte

	// settleMu orders the writes of what the worker did with its updates
	// (see applied, reject) and their repair (see resettle), so that a
	// repair never writes an older state over a newer one. Under it:
	// appliedVersion is the newest version the worker runs with,
	// rejection the newest it refused since (nil if none), and unsettled
	// says that the last of those writes failed, to be made again.
	settleMu       sync.Mutex
	appliedVersion int64
	rejection      *task.Rejection
	unsettled      bool

	// status is the outcome, for RunSingle; set before done is closed.
	status task.Status
	text   string
}

// offer is attachments handed to a worker, and when the node first
// offered their version.
type offer struct {
	raw []byte
	at  time.Time
}

// behind reports whether t has attachments r has not looked at yet: a newer
// version, or (from writers that do not bump the version, such as Python
// tooling) different content under the same version. An older version,
// from a stale read, is never behind.
func (r *run) behind(t *task.Task) bool {
	return t.AttachmentsVersion > r.seen ||
		t.AttachmentsVersion == r.seen && !bytes.Equal(t.Attachments, r.seenRaw)
}

// requestStop records why r must stop and cancels its context. Only the
// first request counts; it reports whether this was it.
func (r *run) requestStop(why stopReason, failure error) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.reason != stopNone {
		return false
	}
	r.reason, r.failure, r.stopAt = why, failure, time.Now()
	if why.leavesNothing() && r.dropProgress != nil {
		r.dropProgress()
	}
	r.w.Stop()
	return true
}

// progressContext returns r.progress, made now if this is the first
// progress write, and cancelled already if r was told to stop for a
// reason that leaves nothing to write.
func (r *run) progressContext() context.Context {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.progress == nil {
		r.progress, r.dropProgress = context.WithCancel(context.WithoutCancel(r.ctx))
		if r.reason.leavesNothing() {
			r.dropProgress()
		}
	}
	return r.progress
}

// hooksReturned closes r.returned, once: when the worker's last hook has
// returned, before its last progress write and its outcome are written,
// which may queue behind a busy MongoDB for longer than the stop grace
// without the worker being stuck (see awaitStop).
func (r *run) hooksReturned() { r.returnedOnce.Do(func() { close(r.returned) }) }

// hook is the hook r's worker is in, or "start" before it reached init.
func (r *run) hook() string {
	if h := r.w.Hook(); h != "" {
		return h
	}
	return "start"
}

func (r *run) stopping() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reason != stopNone
}

func (r *run) outcome() (stopReason, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reason, r.failure
}

// start registers a run for t, which from now on counts against the
// limits and keeps a second copy from starting; launch starts it.
func (n *Node) start(t *task.Task, parent trace.SpanContext) *run {
	log, closeLog := n.logs.taskLogger(n.log, t.ID)
	log = log.With("taskId", t.ID, "className", t.ClassName, "epoch", t.AssignmentEpoch)
	if n.tlogs != nil {
		// The copy in Redis is keyed by the task: its records carry the
		// node and the epoch, which tell the runs of a task apart.
		kept := n.tlogs.Handler(t.ID, level(n.cfg.LogLevel)).WithAttrs([]slog.Attr{
			slog.String("skaldId", n.cfg.SkaldID), slog.Int64("epoch", t.AssignmentEpoch)})
		log = slog.New(slog.NewMultiHandler(log.Handler(), kept))
	}
	r := &run{
		id: t.ID, class: t.ClassName, ref: t.Ref(), epoch: t.AssignmentEpoch, log: log, closeLog: closeLog,
		returned: make(chan struct{}), done: make(chan struct{}),
		seen: t.AttachmentsVersion, seenRaw: t.Attachments,
	}
	r.w = runner.New(log, n.grace, runner.Observer{
		HookDone: func(hook string, took time.Duration, err error) { n.metrics.hookDone(r.class, hook, took, err) },
		Applied:  func(v int64) { n.applied(r, v) },
		Rejected: func(v int64, err error) { n.reject(r, v, err) },
		Restart: func(v int64) {
			// The reconcile that follows the stop starts a new instance
			// with the task's attachments as they are now, and records
			// them as applied once it runs.
			r.log.Info("a field marked //skald:restart changed; restarting the worker", "attachmentsVersion", v)
			n.stop(r, stopRestart)
		},
		Fatal: func(v int64, err error) {
			n.reject(r, v, err)
			kind, _ := runner.Classify(err)
			r.log.Error("update hook failed the task", "attachmentsVersion", v, "errorKind", kind, "err", err)
			r.requestStop(stopFailed, err)
		},
		Progress: func(progress task.Converted) {
			ctx := r.progressContext()
			err := n.w.StoreProgress(ctx, r.ref, progress)
			r.progressLost.Store(err != nil && ctx.Err() == nil)
			if err != nil && !errors.Is(err, task.ErrFenced) && ctx.Err() == nil {
				// Fenced: the task ended or moved meanwhile; the terminal
				// write or the reconcile deals with that, not a report.
				// Dropped: see run.progress.
				r.log.Warn("storing the progress failed; the next report or the outcome of the worker carries it", "err", err)
			}
		},
		ProgressEvery: n.opts.ProgressInterval,
		Returned:      r.hooksReturned,
	})
	r.ctx = r.w.Context()
	n.mu.Lock()
	n.running[t.ID] = r
	n.perClass[t.ClassName]++
	restartTrace, restart := n.restarting[t.ID]
	r.restart, r.restartTrace = restart, restartTrace
	delete(n.restarting, t.ID)
	n.mu.Unlock()
	if n.tracer != nil {
		if !parent.IsValid() {
			parent = restartTrace
		}
		r.w.Trace(runner.Tracing{Tracer: n.tracer, Start: parent, Version: t.AttachmentsVersion, Attrs: []attribute.KeyValue{
			telemetry.TaskID.String(t.ID), telemetry.Class.String(t.ClassName),
			telemetry.Epoch.Int64(t.AssignmentEpoch), telemetry.Node.String(n.cfg.SkaldID)}})
	}
	r.startRaw, r.startVersion, r.startStatus = t.Attachments, t.AttachmentsVersion, t.LifecycleStatus
	r.running, r.appliedVersion = t.Attachments, t.AttachmentsVersion
	return r
}

// launch reports the registered runs Running, in one write per chunk of
// runs that share an epoch, an attachments version and the status they
// were read in (see startChunks), up to Options.WritesInFlight writes at
// once, and starts the goroutines of each chunk's runs as soon as that
// chunk's write landed, so that the first workers of a large burst do not
// wait for the writes of the last. The chunks' writes begin in the order
// of runs (most important first). The goroutine decodes the attachments
// and runs the init hook, so that a slow init does not hold up other
// tasks. launch returns once every chunk is written and its workers
// started or dropped.
//
// A run that was told to stop meanwhile (an event preempted it, see
// preempt, or the liveness lease lapsed) is dropped instead, and so are
// the rest of its chunk's runs if the lease lapsed: the write of a chunk
// may wait long behind a busy MongoDB.
func (n *Node) launch(ctx context.Context, runs []*run) {
	chunks := startChunks(runs, n.opts.WritesInFlight)
	inflight.Each(len(chunks), n.opts.WritesInFlight, func(i int) {
		n.launchChunk(ctx, chunks[i])
	})
}

// launchChunk reports one chunk of runs Running and starts the workers
// whose write landed.
func (n *Node) launchChunk(ctx context.Context, chunk []*run) {
	chunk = n.dropStopped(chunk)
	failed := n.reportStarted(ctx, chunk)
	for _, r := range chunk {
		if err := failed[r]; errors.Is(err, task.ErrFenced) {
			r.log.Warn("the task was reassigned or cancelled before its worker started; not starting it")
			n.drop(r)
			continue
		} else if err != nil {
			r.log.Warn("could not report the task Running; not starting its worker: the next reconcile tries again", "err", err)
			n.drop(r)
			if r.restart {
				// The next start is still the restart: its history entry
				// and its trace say so.
				n.mu.Lock()
				n.restarting[r.id] = r.restartTrace
				n.mu.Unlock()
			}
			continue
		}
		r.launched.Store(true)
		if n.lapsed.Load() {
			r.requestStop(stopLapsed, nil)
		}
		if r.stopping() {
			r.log.Info("the worker was told to stop before it started; not starting it")
			n.drop(r)
			continue
		}
		// Logged before the goroutine starts, so that the record precedes
		// the "event handled" of the event that started the worker.
		r.log.Info("worker started", "attachmentsVersion", r.startVersion)
		go n.work(r, r.startRaw)
	}
}

// dropStopped drops the runs of chunk that were told to stop before their
// start was written, or all of them while the lease has lapsed, and
// returns the others.
func (n *Node) dropStopped(chunk []*run) []*run {
	keep := chunk[:0]
	for _, r := range chunk {
		if n.lapsed.Load() {
			r.requestStop(stopLapsed, nil)
		}
		if r.stopping() {
			n.drop(r)
			continue
		}
		keep = append(keep, r)
	}
	return keep
}

// drop unregisters r, whose worker never started, and closes its
// channels as a worker's end would, for whoever waits on them (see stop).
func (n *Node) drop(r *run) {
	n.forget(r)
	r.closeLog()
	r.hooksReturned()
	close(r.done)
}

// startChunks splits runs, in their order, into the groups that one write
// can report Running: same epoch, attachments version and status as read,
// with a known _id. A group is cut into chunks of equal size that keep
// the inFlight writes busy to the end (see inflight.ChunkSize). A run
// without _id is a chunk of its own, and so is a restart, whose history
// entry differs.
func startChunks(runs []*run, inFlight int) [][]*run {
	type group struct {
		epoch, version int64
		status         task.Status
	}
	// slots are the chunks in the order of their first run: a run of its
	// own, or a group (one or more chunks), found in groups by its slot.
	var slots [][]*run
	groups := map[group]int{} // the slot of a group
	for _, r := range runs {
		if r.ref.Key == nil || r.restart {
			slots = append(slots, []*run{r})
			continue
		}
		g := group{r.ref.Epoch, r.startVersion, r.startStatus}
		i, ok := groups[g]
		if !ok {
			i = len(slots)
			groups[g] = i
			slots = append(slots, nil)
		}
		slots[i] = append(slots[i], r)
	}
	isGroup := make(map[int]bool, len(groups))
	for _, i := range groups {
		isGroup[i] = true
	}
	chunks := make([][]*run, 0, len(slots))
	for i, members := range slots {
		if !isGroup[i] {
			chunks = append(chunks, members)
			continue
		}
		for size := inflight.ChunkSize(len(members), inFlight); len(members) > 0; {
			k := min(size, len(members))
			chunks = append(chunks, members[:k:k])
			members = members[k:]
		}
	}
	return chunks
}

// reportStarted writes Running for a chunk of runs (see startChunks) and
// returns those whose write did not land, with why: task.ErrFenced, or
// the error of a write that failed otherwise (MongoDB unreachable). Those
// workers must not start. A controller that reads the task meanwhile moves
// it only if nobody wrote it since (task.ExpectUnwritten), so the Running
// write is what tells it that a worker runs here: a worker started without
// it could run beside the task's next owner until a reconcile noticed.
func (n *Node) reportStarted(ctx context.Context, runs []*run) map[*run]error {
	failed := map[*run]error{}
	if n.store == nil || len(runs) == 0 {
		return failed
	}
	single := runs
	if len(runs) > 1 {
		refs := make([]task.Ref, len(runs))
		for i, r := range runs {
			refs[i] = r.ref
		}
		matched, err := n.store.StartedFrom(ctx, n.cfg.SkaldID, runs[0].startStatus, refs, runs[0].startVersion)
		switch {
		case err != nil:
			for _, r := range runs {
				failed[r] = err
			}
			return failed
		case matched == int64(len(runs)):
			single = nil
		}
		// Otherwise some were failed, or changed since they were read:
		// one write each tells which.
	}
	for _, r := range single {
		if r.stopping() {
			continue // preempted while the writes before it waited
		}
		started := n.store.Started
		if r.restart {
			started = n.store.Restarted
		}
		if err := started(ctx, r.ref, r.startVersion); err != nil {
			failed[r] = err
		}
	}
	return failed
}

// update queues t's newer attachments for the worker, replacing an older
// queued version: a worker needs the newest, not each step. parent is the
// trace context of the event that brought them, if any.
func (n *Node) update(r *run, t *task.Task, parent trace.SpanContext) {
	r.seen, r.seenRaw = t.AttachmentsVersion, t.Attachments
	r.mu.Lock()
	// A writer that does not bump the version offers new content under
	// the same one; the worker is given the newest, and so is this map.
	if r.offered == nil {
		r.offered = make(map[int64]offer)
	}
	o, ok := r.offered[t.AttachmentsVersion]
	if !ok {
		o.at = time.Now()
	}
	o.raw = t.Attachments
	r.offered[t.AttachmentsVersion] = o
	r.mu.Unlock()
	r.w.OfferFrom(parent, t.AttachmentsVersion, t.Attachments)
}

// settle forgets the offers up to version, which the worker has applied
// or rejected, and returns the attachments it runs with afterwards and
// when version was offered (zero if unknown).
func (r *run) settle(version int64, applied bool) ([]byte, time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	o, ok := r.offered[version]
	if ok && applied {
		r.running = o.raw
	}
	for v := range r.offered {
		if v <= version {
			delete(r.offered, v)
		}
	}
	return r.running, o.at
}

// applied records that the worker's update hook accepted version, and the
// attachments it now runs with: what the typed client checks immutable
// fields against.
func (n *Node) applied(r *run, version int64) {
	running, offered := r.settle(version, true)
	n.metrics.update(r.class, true, offered)
	r.settleMu.Lock()
	r.appliedVersion, r.rejection = version, nil
	err := n.w.Applied(context.WithoutCancel(r.ctx), r.ref, version, running)
	r.unsettled = err != nil && !errors.Is(err, task.ErrFenced)
	r.settleMu.Unlock()
	if err != nil {
		n.writeFailed(r, "recording the applied attachments version", err)
	}
	r.log.Info("attachments applied", "attachmentsVersion", version)
}

func (n *Node) reject(r *run, version int64, err error) {
	rej := task.Rejection{Version: version, Message: err.Error()}
	var fe codec.Errors
	if errors.As(err, &fe) {
		for _, e := range fe {
			rej.Fields = append(rej.Fields, task.FieldError{Path: e.Path, Message: e.Msg})
		}
	}
	running, _ := r.settle(version, false)
	n.metrics.update(r.class, false, time.Time{})
	r.settleMu.Lock()
	r.rejection = &rej
	werr := n.w.Reject(context.WithoutCancel(r.ctx), r.ref, rej, running)
	// A rejection that landed leaves unsettled an applied version whose
	// write failed before it: resettle writes that version, then this
	// rejection again.
	r.unsettled = (r.unsettled || werr != nil) && !errors.Is(werr, task.ErrFenced)
	r.settleMu.Unlock()
	if werr != nil {
		n.writeFailed(r, "recording the rejection", werr)
	}
	r.log.Warn("attachments update rejected; the worker keeps its current attachments",
		"attachmentsVersion", version, "err", err)
}

// writeFailed handles a failed write about r. A fenced write means the
// task was reassigned: the worker stops at once instead of waiting for the
// next reconcile to notice. Another failure is left to the reconcile,
// which writes again what MongoDB lacks (see resettle).
func (n *Node) writeFailed(r *run, what string, err error) {
	if errors.Is(err, task.ErrFenced) {
		if r.requestStop(stopFenced, nil) {
			r.log.Warn("the task was reassigned (its write was fenced); stopping the worker", "while", what)
		}
		return
	}
	r.log.Warn(what+" failed; the next reconcile writes it again", "err", err)
}

// stop asks r to stop for why and returns at once. When the worker has
// returned, the task is reconciled again (see reconcileEnded): it may have
// been assigned here anew meanwhile, or still be after a lapse of the
// lease, and only now may a new copy start.
func (n *Node) stop(r *run, why stopReason) {
	if !r.requestStop(why, nil) {
		return
	}
	n.ended.expect()
	go func() {
		if !n.awaitStop(r) {
			<-r.done
		}
		n.ended.add(r.id) // reconcileEnded ignores it once the node stops
	}()
}

// awaitStop waits for a stopping worker for the stop grace and reports it
// as stuck if its hooks do not return by then. It reports whether they
// returned; if so, it also waits for the outcome to be written, however
// long that takes. The grace covers the hooks only: with many workers
// stopping at once, their writes queue for MongoDB and may take longer
// than the grace without any worker being stuck.
func (n *Node) awaitStop(r *run) bool {
	if !r.launched.Load() {
		// Stopped before its start was written (see preempt): launch
		// drops it once the write it waits for is done.
		<-r.done
		return true
	}
	t := time.NewTimer(n.grace)
	defer t.Stop()
	select {
	case <-r.returned:
		<-r.done
		return true
	case <-t.C:
	}
	hook := r.hook()
	note := fmt.Sprintf("the %s hook ignored its cancelled context for %s; the node cannot confirm that the worker stopped", hook, n.grace)
	n.metrics.fail(r.class, failStuck)
	r.log.Error("worker did not stop within the grace period", "hook", hook, "grace", n.grace, "stuck", note)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.w.MarkStuck(ctx, r.ref, note); err != nil && !errors.Is(err, task.ErrFenced) {
		r.mu.Lock()
		r.stuckNote = note
		r.mu.Unlock()
		r.log.Warn("recording the stuck worker failed; the next reconcile records it", "err", err)
	}
	return false
}

// restuck writes again the note of r's stuck worker, whose write failed,
// while t, read just now in r's epoch, lacks it: the worker holds on
// until its hook returns, and the note is what tells the operator why.
// The caller holds recMu.
func (n *Node) restuck(ctx context.Context, r *run, t *task.Task) {
	r.mu.Lock()
	note := r.stuckNote
	r.mu.Unlock()
	if note == "" {
		return
	}
	if t != nil && t.AssignmentEpoch == r.epoch && t.Stuck == "" {
		err := n.w.MarkStuck(ctx, r.ref, note)
		if err != nil && !errors.Is(err, task.ErrFenced) {
			if ctx.Err() == nil {
				r.log.Warn("recording the stuck worker failed again; the next reconcile retries", "err", err)
			}
			return
		}
		if err == nil {
			r.log.Info("recorded the stuck worker after all")
		}
	}
	r.mu.Lock()
	r.stuckNote = ""
	r.mu.Unlock()
}

// work runs a worker: init, then before, main and after in order, with
// updates delivered meanwhile; then release, whatever happened; then the
// outcome is written.
func (n *Node) work(r *run, attachments []byte) {
	defer close(r.done)
	err := n.begin(r, attachments)
	if err != nil {
		r.hooksReturned()
		r.log.Error("task failed to start", "err", err)
		n.finish(r, err)
		return
	}
	if err := n.reg.TaskStarted(context.WithoutCancel(r.ctx), r.id); err != nil {
		r.log.Warn("task heartbeat", "err", err)
	}
	err, rerr := r.w.Run()
	if rerr != nil {
		r.log.Error("release failed", "err", rerr)
	}
	r.hooksReturned() // done by Run through its observer; again so that no path leaves it open
	n.finish(r, err)
}

// begin decodes the attachments and runs the init hook.
func (n *Node) begin(r *run, attachments []byte) error {
	cls, ok := n.classes[r.class]
	if !ok {
		return fmt.Errorf("worker class %q is not registered on node %s; register it or assign the task to a node that has it", r.class, n.cfg.SkaldID)
	}
	return r.w.Begin(cls, attachments)
}

// finish writes what became of the task, then logs it, so that a reader
// of the log finds the task document already updated.
func (n *Node) finish(r *run, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	defer r.closeLog()

	// Until its outcome is written, the task still reads Running here:
	// ending keeps the reconciles from starting it again meanwhile, and
	// endedWith lets them once it is written, fenced, or none is due. An
	// outcome whose write failed stays for them to write again.
	n.ending(r)
	kept := false
	defer func() {
		if !kept {
			n.endedWith(r)
		}
	}()

	reason, failure := r.outcome()
	if reason != stopNone && err != nil && !errors.Is(err, context.Canceled) && reason != stopFailed {
		r.log.Warn("worker returned an error while stopping", "err", err)
	}
	var (
		status task.Status
		code   int
		text   string
		cause  error // what failed the task
	)
	switch reason {
	case stopNone:
		if err != nil {
			status, code, text, cause = task.Failed, liveness.Failed, err.Error(), err
		} else {
			status, code = task.Finished, liveness.Finished
		}
	case stopFailed:
		status, code, text, cause = task.Failed, liveness.Failed, failure.Error(), failure
	case stopCancelled:
		status, code = task.Cancelled, liveness.Cancelled
	case stopShutdown:
		switch n.opts.OnShutdown {
		case CancelTasks:
			status, code = task.Cancelled, liveness.Cancelled
		case KeepAssigned:
			r.log.Info("worker stopped; the task stays assigned to this node for its restart")
			return
		default:
			err := n.w.HandBack(ctx, r.ref)
			if err == nil {
				r.log.Info("worker stopped; task handed back for another node")
				return
			}
			if !errors.Is(err, task.ErrFenced) {
				r.log.Warn("handing the task back", "err", err)
				return
			}
			// Fenced: reassigned, or cancelled while the node was stopping.
			// In the second case the epoch is still ours and the cancel is
			// what to confirm.
			status, code = task.Cancelled, liveness.Cancelled
		}
	case stopRestart:
		n.mu.Lock()
		n.restarting[r.id] = r.w.RestartTrace()
		n.mu.Unlock()
		r.log.Info("worker stopped for a restart with new attachments")
		return
	case stopLapsed:
		r.log.Info("worker stopped: the liveness lease lapsed; the task stays assigned here and restarts once a heartbeat reaches Redis again")
		return
	case stopLease:
		r.log.Info("worker stopped: MongoDB was out of reach for longer than the lease; the task restarts once MongoDB answers, if it is still assigned here")
		return
	default:
		r.log.Info("worker stopped; the task is no longer assigned here")
		return
	}
	r.status, r.text = status, text
	var kind task.FailureKind
	// What the worker produced goes with its status, in the same write.
	progress, result := r.w.Outputs()
	out := task.Outcome{Progress: r.w.Unwritten(), Result: result}
	if out.Progress == nil && r.progressLost.Load() {
		out.Progress = progress // passed on, but its write failed
	}
	if reason == stopFailed {
		// The update that failed the worker was refused too; a client
		// waits for that refusal, and no reconcile writes it again once
		// the worker ended (see resettle).
		r.settleMu.Lock()
		if r.unsettled {
			out.Rejection = r.rejection
		}
		r.settleMu.Unlock()
	}
	write := func(ctx context.Context) error { return n.w.Report(ctx, r.ref, status, text, out) }
	if cause != nil {
		var after time.Duration
		kind, after = runner.Classify(cause)
		n.metrics.fail(r.class, string(kind))
		f := task.Failure{Text: text, Kind: kind}
		if kind == task.FailedRetryLater {
			f.RetryAt = time.Now().Add(after).UnixMilli()
		}
		write = func(ctx context.Context) error { return n.w.Fail(ctx, r.ref, f, out) }
	}
	o := &outcome{r: r, write: write, status: status, code: code, text: text}
	if err := write(ctx); err != nil {
		if errors.Is(err, task.ErrFenced) {
			// Someone else owns the task now: its heartbeat keys are theirs.
			r.log.Info("worker ended after the task was reassigned; its outcome is not recorded", "outcome", status)
			return
		}
		// The terminal heartbeat waits too: Redis must not say the task
		// ended while MongoDB says it runs.
		n.keepUnwritten(o)
		kept = true
		r.log.Warn("could not record the worker's outcome; the task is not started again here, and the next reconcile writes it again",
			"outcome", status, "err", err)
	} else {
		n.terminalBeat(ctx, o)
	}
	if status == task.Failed {
		r.log.Error("worker failed", "errorKind", kind, "err", text)
		return
	}
	r.log.Info("worker " + strings.ToLower(string(status)))
}

// forget drops r from the running set, unless a newer run took its place.
func (n *Node) forget(r *run) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.forgetLocked(r)
}

// forgetLocked is forget for a caller that holds n.mu.
func (n *Node) forgetLocked(r *run) {
	if n.running[r.id] == r {
		delete(n.running, r.id)
		if n.perClass[r.class]--; n.perClass[r.class] <= 0 {
			delete(n.perClass, r.class)
		}
	}
}

// gated lets a few writes at a time through to MongoDB. Ten thousand
// workers starting at once would otherwise each take a pooled connection
// and queue in the driver, where a checkout gives up after its timeout;
// queued here, they wait as long as it takes, and reads (the reconciles)
// still find a free connection.
type gated struct {
	w   writer
	sem chan struct{}
	hb  *handBacks // batches hand-backs, through the same gate
}

func newGated(store *task.Store, executor string, inFlight int) gated {
	g := gated{w: store, sem: make(chan struct{}, 8)}
	g.hb = &handBacks{store: store, executor: executor, gate: g.do, inFlight: inFlight}
	return g
}

func (g gated) do(ctx context.Context, f func() error) error {
	select {
	case g.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-g.sem }()
	return f()
}

func (g gated) Applied(ctx context.Context, ref task.Ref, version int64, applied task.Attachments) error {
	return g.do(ctx, func() error { return g.w.Applied(ctx, ref, version, applied) })
}

func (g gated) Reject(ctx context.Context, ref task.Ref, r task.Rejection, running task.Attachments) error {
	return g.do(ctx, func() error { return g.w.Reject(ctx, ref, r, running) })
}

func (g gated) Report(ctx context.Context, ref task.Ref, status task.Status, failure string, out ...task.Outcome) error {
	return g.do(ctx, func() error { return g.w.Report(ctx, ref, status, failure, out...) })
}

// Progress gives up waiting for the gate when ctx ends, but a write under
// way goes on regardless: cut short, it might still reach MongoDB, later
// than whatever follows the worker's end.
func (g gated) StoreProgress(ctx context.Context, ref task.Ref, progress task.Converted) error {
	return g.do(ctx, func() error { return g.w.StoreProgress(context.WithoutCancel(ctx), ref, progress) })
}

func (g gated) Fail(ctx context.Context, ref task.Ref, f task.Failure, out ...task.Outcome) error {
	return g.do(ctx, func() error { return g.w.Fail(ctx, ref, f, out...) })
}

// HandBack is not gated as a whole: the callers that wait for a batch to
// be written must not hold the gate meanwhile, or the batch could never
// grow past its size.
func (g gated) HandBack(ctx context.Context, ref task.Ref) error {
	return g.hb.handBack(ctx, ref)
}

func (g gated) MarkStuck(ctx context.Context, ref task.Ref, note string) error {
	return g.do(ctx, func() error { return g.w.MarkStuck(ctx, ref, note) })
}

func (g gated) CancelRunning(ctx context.Context, ref task.Ref) error {
	return g.do(ctx, func() error { return g.w.CancelRunning(ctx, ref) })
}
