package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"time"

	"github.com/skalds-go/skalds/runtime/codec"
	"github.com/skalds-go/skalds/runtime/liveness"
	"github.com/skalds-go/skalds/runtime/skald"
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
	stopShutdown              // the node is stopping: hand the task back
)

// run is one running task.
type run struct {
	id, class string
	epoch     int64
	inst      *skald.Instance
	log       *slog.Logger

	cancel  context.CancelFunc
	done    chan struct{}   // closed after release ran and the outcome was written
	updates chan pendingUpd // capacity 1: only the newest pending update matters
	reason  stopReason      // set before cancel, read after done

	// seen and seenRaw are the newest attachments the node has looked at
	// for this run, applied or rejected. Only reconcile touches them.
	seen    int64
	seenRaw []byte
}

type pendingUpd struct {
	version int64
	apply   func(context.Context) error
}

// start decodes t's attachments and runs a worker for it. A task that
// cannot start (unknown class, bad attachments, failing init) is Failed
// with the reason, so that it does not sit Assigning forever.
func (n *Node) start(ctx context.Context, t *task.Task) {
	log := n.log.With("taskId", t.ID, "className", t.ClassName, "epoch", t.AssignmentEpoch)
	cls, ok := n.classes[t.ClassName]
	if !ok {
		n.fail(t, log, fmt.Errorf("worker class %q is not registered on node %s", t.ClassName, n.cfg.SkaldID))
		return
	}
	inst, err := cls.Start(t.Attachments)
	if err != nil {
		n.fail(t, log, fmt.Errorf("cannot start: %w", err))
		return
	}
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r := &run{
		id: t.ID, class: t.ClassName, epoch: t.AssignmentEpoch, inst: inst, log: log,
		cancel: cancel, done: make(chan struct{}), updates: make(chan pendingUpd, 1),
		seen: t.AttachmentsVersion, seenRaw: t.Attachments,
	}
	n.mu.Lock()
	n.running[t.ID] = r
	n.mu.Unlock()

	if err := n.reg.TaskStarted(ctx, t.ID); err != nil {
		log.Warn("task heartbeat", "err", err)
	}
	if err := n.store.Report(ctx, t.ID, r.epoch, task.Running, ""); err != nil {
		log.Warn("reporting Running", "err", err)
	}
	if err := n.store.Applied(ctx, t.ID, r.epoch, t.AttachmentsVersion); err != nil {
		log.Warn("recording the applied attachments version", "err", err)
	}
	log.Info("worker started", "attachmentsVersion", t.AttachmentsVersion)
	go n.work(skald.WithLogger(wctx, log), r)
}

// update checks t's newer attachments and queues them for the worker. A
// rejected update leaves the worker on its current attachments.
func (n *Node) update(ctx context.Context, r *run, t *task.Task) {
	r.seen, r.seenRaw = t.AttachmentsVersion, t.Attachments
	apply, err := r.inst.Prepare(t.Attachments)
	if err != nil {
		n.reject(ctx, r, t.AttachmentsVersion, err)
		return
	}
	u := pendingUpd{version: t.AttachmentsVersion, apply: apply}
	for {
		select {
		case r.updates <- u:
			return
		default:
			select { // drop the older pending update: the newer one supersedes it
			case <-r.updates:
			default:
			}
		}
	}
}

func (n *Node) reject(ctx context.Context, r *run, version int64, err error) {
	rej := task.Rejection{Version: version, Message: err.Error()}
	var fe codec.Errors
	if errors.As(err, &fe) {
		for _, e := range fe {
			rej.Fields = append(rej.Fields, task.FieldError{Path: e.Path, Message: e.Msg})
		}
	}
	if err := n.store.Reject(context.WithoutCancel(ctx), r.id, r.epoch, rej); err != nil {
		r.log.Warn("recording the rejection", "err", err)
	}
	r.log.Warn("attachments update rejected; the worker keeps its current attachments",
		"attachmentsVersion", version, "err", err)
}

// stop cancels a worker and waits for its release hook, up to the grace.
func (n *Node) stop(r *run, why stopReason) {
	r.reason = why
	r.cancel()
	select {
	case <-r.done:
	case <-time.After(n.grace):
		r.log.Error("worker did not stop within the grace period; its main hook ignores its context",
			"grace", n.grace)
	}
	n.forget(r)
}

// work runs a worker's hooks in order, delivers its updates, and writes
// the outcome.
func (n *Node) work(ctx context.Context, r *run) {
	defer close(r.done)
	updatesDone := make(chan struct{})
	go func() {
		defer close(updatesDone)
		n.deliver(ctx, r)
	}()

	err := call(ctx, "before", r.inst.Before)
	if err == nil {
		err = call(ctx, "main", r.inst.Main)
	}
	if err == nil {
		err = call(ctx, "after", r.inst.After)
	}
	stopped := ctx.Err() != nil
	// Release always runs, with a context that is not cancelled, so that
	// it can still close what it opened.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), n.grace)
	if rerr := call(rctx, "release", r.inst.Release); rerr != nil {
		r.log.Error("release failed", "err", rerr)
	}
	cancel()
	r.cancel()
	<-updatesDone
	n.finish(r, err, stopped)
}

// deliver applies queued updates one at a time until the worker stops.
func (n *Node) deliver(ctx context.Context, r *run) {
	for {
		select {
		case <-ctx.Done():
			return
		case u := <-r.updates:
			if err := call(ctx, "update", u.apply); err != nil {
				if ctx.Err() == nil {
					n.reject(ctx, r, u.version, err)
				}
				continue
			}
			if err := n.store.Applied(context.WithoutCancel(ctx), r.id, r.epoch, u.version); err != nil {
				r.log.Warn("recording the applied attachments version", "err", err)
			}
			r.log.Info("attachments applied", "attachmentsVersion", u.version)
		}
	}
}

// finish writes what became of the task, then logs it, so that a reader
// of the log finds the task document already updated.
func (n *Node) finish(r *run, err error, stopped bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	defer n.forget(r)
	var (
		status task.Status
		code   int
		text   string
	)
	switch {
	case err != nil && !(stopped && errors.Is(err, context.Canceled)):
		status, code, text = task.Failed, liveness.Failed, err.Error()
	case !stopped:
		status, code = task.Finished, liveness.Finished
	case r.reason == stopCancelled:
		status, code = task.Cancelled, liveness.Cancelled
	case r.reason == stopShutdown:
		if err := n.store.HandBack(ctx, r.id, r.epoch); err != nil {
			r.log.Warn("handing the task back", "err", err)
		}
		r.log.Info("worker stopped; task handed back for another node")
		return
	default:
		r.log.Info("worker stopped; the task is no longer assigned here")
		return
	}
	if err := n.reg.TaskEnded(ctx, r.id, code, text); err != nil {
		r.log.Warn("writing the terminal heartbeat", "err", err)
	}
	if err := n.store.Report(ctx, r.id, r.epoch, status, text); err != nil {
		r.log.Warn("reporting "+string(status), "err", err)
	}
	if status == task.Failed {
		r.log.Error("worker failed", "err", err)
		return
	}
	r.log.Info("worker " + strings.ToLower(string(status)))
}

// forget drops r from the running set, unless a newer run took its place.
func (n *Node) forget(r *run) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.running[r.id] == r {
		delete(n.running, r.id)
	}
}

// fail records a task that could not start.
func (n *Node) fail(t *task.Task, log *slog.Logger, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	log.Error("task failed to start", "err", err)
	if err := n.reg.TaskEnded(ctx, t.ID, liveness.Failed, err.Error()); err != nil {
		log.Warn("writing the terminal heartbeat", "err", err)
	}
	if err := n.store.Report(ctx, t.ID, t.AssignmentEpoch, task.Failed, err.Error()); err != nil {
		log.Warn("reporting Failed", "err", err)
	}
}

// call runs one hook, turning a returned error or a panic into a
// *skald.HookError. A nil hook is a no-op.
func call(ctx context.Context, hook string, f func(context.Context) error) (err error) {
	if f == nil {
		return nil
	}
	defer func() {
		if p := recover(); p != nil {
			err = &skald.HookError{Hook: hook, Err: fmt.Errorf("panic: %v\n%s", p, debug.Stack())}
		}
	}()
	if err := f(ctx); err != nil {
		return &skald.HookError{Hook: hook, Err: err}
	}
	return nil
}
