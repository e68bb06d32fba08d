package node

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/skalds-go/skalds/runtime/task"
)

// outcome is the end of a worker whose terminal write (Finished, Failed,
// Cancelled) is being made, or failed (MongoDB cut, restarting or timing
// out). Until it lands, the task reads Running or Assigning in the
// worker's epoch: a reconcile that took that for a task to run would
// start it again, and the worker's outcome would be lost. So the node
// keeps it from the worker's end on, starts nothing for the task in that
// epoch, and its reconciles write it again until it lands or is fenced.
type outcome struct {
	r *run
	// write makes the terminal write; nil while the worker's end is still
	// being written for the first time (see finish).
	write  func(context.Context) error
	status task.Status
	code   int // the terminal heartbeat, written once the outcome is
	text   string
}

// ending takes r out of the running set and records that its end is being
// written, in one step: no reconcile can find the task neither running nor
// ending and start it again before its outcome is written.
func (n *Node) ending(r *run) {
	n.beatMu.Lock() // no heartbeat of r can follow its terminal one
	defer n.beatMu.Unlock()
	n.mu.Lock()
	defer n.mu.Unlock()
	n.forgetLocked(r)
	if n.unwritten[r.id] == nil {
		n.unwritten[r.id] = &outcome{r: r}
	}
}

// endedWith forgets the outcome of r: written, fenced, or none to write.
func (n *Node) endedWith(r *run) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if o := n.unwritten[r.id]; o != nil && o.r == r {
		delete(n.unwritten, r.id)
	}
}

// keepUnwritten records that the first terminal write of r failed: the
// reconciles write it again (see retryOutcome).
func (n *Node) keepUnwritten(o *outcome) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.unwritten[o.r.id] = o
}

// unwrittenOf returns the outcome of task id that is still to be written,
// or nil.
func (n *Node) unwrittenOf(id string) *outcome {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.unwritten[id]
}

// unwrittenIDs returns the tasks whose outcome failed to be written.
func (n *Node) unwrittenIDs() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	var ids []string
	for id, o := range n.unwritten {
		if o.write != nil {
			ids = append(ids, id)
		}
	}
	return ids
}

// retryOutcome deals with the unwritten outcome o of the task t, as just
// read (nil when deleted), and reports whether the reconcile must leave
// the task alone: its worker's end is still being written, or was just
// now. A task moved to another epoch, or deleted, is someone else's: the
// outcome is dropped and the task converges as any other. A terminal task
// was ended by the write after all (its reply was lost) or by someone
// else; only a confirmation of a cancel is written over Cancelled, as the
// first write would have been. The caller holds recMu.
func (n *Node) retryOutcome(ctx context.Context, o *outcome, t *task.Task) bool {
	r := o.r
	if o.write == nil {
		return true // the worker's end is being written: it reconciles again after
	}
	if t == nil || t.AssignmentEpoch != r.epoch {
		n.endedWith(r)
		r.log.Warn("the task moved on before the worker's outcome could be recorded; it is not recorded", "outcome", o.status)
		return false
	}
	if t.LifecycleStatus.Terminal() && (o.status != task.Cancelled || t.LifecycleStatus != task.Cancelled) {
		n.endedWith(r)
		if t.LifecycleStatus == o.status {
			n.terminalBeat(ctx, o)
		}
		r.log.Info("the worker's outcome is on record", "outcome", o.status, "status", t.LifecycleStatus)
		return true
	}
	err := o.write(ctx)
	switch {
	case err == nil:
		n.endedWith(r)
		r.log.Info("the worker's outcome is recorded after all", "outcome", o.status)
		n.terminalBeat(ctx, o)
	case errors.Is(err, task.ErrFenced):
		n.endedWith(r)
		r.log.Info("worker ended after the task was reassigned; its outcome is not recorded", "outcome", o.status)
	case ctx.Err() == nil:
		r.log.Warn("recording the worker's outcome again failed; the next reconcile retries", "outcome", o.status, "err", err)
	}
	return true
}

// terminalBeat writes the heartbeat code of o's outcome, once it is in
// MongoDB: Redis mirrors the task document, never runs ahead of it.
func (n *Node) terminalBeat(ctx context.Context, o *outcome) {
	if err := n.reg.TaskEnded(ctx, o.r.id, o.code, o.text); err != nil {
		o.r.log.Warn("writing the terminal heartbeat", "err", err)
	}
}

// flushOutcomes tries once more, when the node stops, to write the
// outcomes that failed; those that fail again are lost, and their tasks,
// which still read Running here, run again on their next owner.
func (n *Node) flushOutcomes() {
	for _, id := range n.unwrittenIDs() {
		o := n.unwrittenOf(id)
		if o == nil || o.write == nil {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := o.write(ctx)
		if err == nil {
			n.terminalBeat(ctx, o)
		}
		cancel()
		n.endedWith(o.r)
		if err != nil && !errors.Is(err, task.ErrFenced) {
			o.r.log.Error("the node stops without having recorded the worker's outcome; the task runs again on its next owner",
				"outcome", strings.ToLower(string(o.status)), "err", err)
		}
	}
}
