package integration

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/skalds-go/skalds/runtime/backoff"
	"github.com/skalds-go/skalds/runtime/config"
	"github.com/skalds-go/skalds/runtime/event"
	"github.com/skalds-go/skalds/runtime/node"
	"github.com/skalds-go/skalds/runtime/skald"
	"github.com/skalds-go/skalds/runtime/task"
	"github.com/skalds-go/skalds/skaldtest"
)

// The writes a node makes about a running task, each failed on its way to
// MongoDB (the relay breaks the link in the middle of the command, which
// never reaches the server), as a cut or a server restart does. Each test
// checks that the node does not act on a write that did not land and that
// its reconciles write it again once MongoDB takes writes.

// failingNode starts a node whose MongoDB link goes through a command
// relay, reconciling every second, and without Kafka unless events: its
// reconciles alone must repair what failed.
func (e *env) failingNode(name string, events bool, cls ...skald.Worker) (*runningNode, *skaldtest.Relay) {
	e.t.Helper()
	return e.failingNodeWith(name, node.Options{}, events, cls...)
}

// failingNodeWith is failingNode with opts.
func (e *env) failingNodeWith(name string, opts node.Options, events bool, cls ...skald.Worker) (*runningNode, *skaldtest.Relay) {
	e.t.Helper()
	mongo, uri := skaldtest.CommandRelayFor(e.t, e.stack.MongoURI)
	rn := e.startNode(name, opts, func(c *config.Config) {
		c.MongoHost = uri
		c.KafkaDisabled = !events
		c.ReconcilePeriod = time.Second
	}, cls...)
	return rn, mongo
}

// runOn creates a task of cls named name with m, assigns it to rn and
// waits until its main runs; it returns the task's id and epoch.
func (e *env) runOn(rn *runningNode, cls *skald.Class[params], name string, m params) (string, int64) {
	e.t.Helper()
	id := e.id(name)
	e.create(id, cls, m)
	epoch := e.assign(id, rn)
	e.running(id, rn, epoch)
	e.await(0, "main running", "taskId", id)
	return id, epoch
}

// assignedTo creates a task of cls named name with m and assigns it to
// executor through the store alone (no node runs it, no event is sent);
// it returns the task as assigned.
func (e *env) assignedTo(cls *skald.Class[params], name string, m params, executor string) *task.Task {
	e.t.Helper()
	id := e.id(name)
	e.create(id, cls, m)
	if _, err := e.store.Assign(e.ctx, id, executor); err != nil {
		e.t.Fatal(err)
	}
	tk, err := e.store.Get(e.ctx, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return tk
}

// appliedLost runs a task of cls on rn and makes the write of the
// version its worker applies next (value 2) fail, and every update after
// it until mongo releases them; it returns the task's id and that
// version.
func (e *env) appliedLost(rn *runningNode, mongo *skaldtest.Relay, cls *skald.Class[params]) (string, int64) {
	e.t.Helper()
	id, _ := e.runOn(rn, cls, "applied", params{Value: 1})
	mark := e.logs.Mark()
	mongo.Fail("update")
	applied, err := e.store.SetAttachments(e.ctx, id, cls.Encode(params{Value: 2}))
	if err != nil {
		e.t.Fatal(err)
	}
	e.await(mark, "attachments applied", "taskId", id, "attachmentsVersion", applied.AttachmentsVersion)
	e.await(mark, "recording the applied attachments version failed; the next reconcile writes it again", "taskId", id)
	return id, applied.AttachmentsVersion
}

// appliedAndRejected waits until task id records the applied version
// (whose attachments are those of value 2, see appliedLost) and the
// rejection of the version refused.
func (e *env) appliedAndRejected(id string, applied, refused int64) {
	e.t.Helper()
	got := e.waitTask(id, "the applied version and the rejection on record", func(t *task.Task) bool {
		return t.AppliedAttachmentsVersion == applied &&
			t.AttachmentsRejection != nil && t.AttachmentsRejection.Version == refused
	})
	if running, err := decodeParams(got.AppliedAttachments); err != nil || running.Value != 2 {
		e.t.Fatalf("appliedAttachments %s (%v), want those of value 2, which the worker runs with", got.AppliedAttachments, err)
	}
}

// TestFailedOutcomeIsWrittenAgain fails the Finished write of a worker
// that returned. The task still reads Running here, and a reconcile that
// took it for a task to start would run it a second time and lose the
// outcome: the node must instead keep the outcome, start nothing, write it
// again from its reconciles once MongoDB takes writes, and only then
// write the terminal heartbeat.
func TestFailedOutcomeIsWrittenAgain(t *testing.T) {
	e := newEnv(t)
	p := &probe{}
	cls := newClass("LostOutcome", p)
	a, mongo := e.failingNode("a", false, cls)
	id, epoch := e.runOn(a, cls, "outcome", params{Mode: "stuck"})

	mark := e.logs.Mark()
	mongo.Fail("update")
	close(p.gate) // main returns: Finished
	e.await(mark, "could not record the worker's outcome; the task is not started again here, and the next reconcile writes it again",
		"taskId", id, "outcome", task.Finished)
	e.await(mark, "recording the worker's outcome again failed; the next reconcile retries", "taskId", id)
	if hb := e.heartbeat(id); hb == "200" {
		t.Fatalf("task heartbeat %s while MongoDB says the task runs", hb)
	}
	restored := e.logs.Mark()
	mongo.Release("update")
	e.await(restored, "the worker's outcome is recorded after all", "taskId", id, "outcome", task.Finished)
	e.waitTask(id, "Finished", func(t *task.Task) bool { return t.LifecycleStatus == task.Finished && t.AssignmentEpoch == epoch })
	e.awaitHeartbeat(id, "200")
	if starts, releases, _, _ := p.snapshot(); starts != 1 || releases != 1 {
		t.Fatalf("starts %d, releases %d; want 1 and 1: a finished task must not run again", starts, releases)
	}
	if n := e.logs.CountFrom(mark, skaldtest.Msg("worker started", "taskId", id)); n != 0 {
		t.Fatalf("the worker was started %d times more after its outcome failed to be written", n)
	}
	a.alive(t)
}

// TestFailedAppliedIsWrittenAgain fails the writes that record what a
// worker did with two updates: it applied the first and refused the
// second. A client waiting for either polls MongoDB for them, and the
// worker settles each version once: the node's reconciles must write
// both again once MongoDB takes writes, the applied version first, so
// that the rejection of the newer one is what stays.
func TestFailedAppliedIsWrittenAgain(t *testing.T) {
	e := newEnv(t)
	p := &probe{}
	cls := newClass("LostApplied", p)
	a, mongo := e.failingNode("a", false, cls)
	mark := e.logs.Mark()
	id, applied := e.appliedLost(a, mongo, cls)
	refused, err := e.store.SetAttachments(e.ctx, id, cls.Encode(params{Mode: "refuse", Value: 3}))
	if err != nil {
		t.Fatal(err)
	}
	e.await(mark, "attachments update rejected; the worker keeps its current attachments", "taskId", id, "attachmentsVersion", refused.AttachmentsVersion)
	e.await(mark, "recording the rejection failed; the next reconcile writes it again", "taskId", id)
	if tk, err := e.store.Get(e.ctx, id); err != nil || tk.AppliedAttachmentsVersion >= applied || tk.AttachmentsRejection != nil {
		t.Fatalf("while MongoDB takes no writes: %s, %v; want neither the applied version nor the rejection", describe(tk), err)
	}

	restored := e.logs.Mark()
	mongo.Release("update")
	e.await(restored, "recorded again what the worker did with its attachments, which a lost write had left out", "taskId", id)
	e.appliedAndRejected(id, applied, refused.AttachmentsVersion)
	if starts, _, _, updates := p.snapshot(); starts != 1 || len(updates) != 1 {
		t.Fatalf("starts %d, updates %v; want 1 start and the one update applied", starts, updates)
	}
	a.alive(t)
}

// TestRejectionDoesNotSettleAFailedApplied fails the write of an applied
// version and lets the rejection of the next one land: the rejection does
// not say that the worker runs the applied version, and a client waiting
// for it polls appliedAttachmentsVersion, so the node's reconciles must
// still write that version (and the rejection again after it, since
// Applied clears it).
func TestRejectionDoesNotSettleAFailedApplied(t *testing.T) {
	e := newEnv(t)
	p := &probe{}
	refusing, refuse := make(chan struct{}), make(chan struct{})
	p.onUpdate = func(in params) {
		if in.Mode == "refuse" {
			close(refusing)
			<-refuse
		}
	}
	cls := newClass("AppliedThenRejected", p)
	a, mongo := e.failingNode("a", false, cls)
	mark := e.logs.Mark()
	id, applied := e.appliedLost(a, mongo, cls)
	refused, err := e.store.SetAttachments(e.ctx, id, cls.Encode(params{Mode: "refuse", Value: 3}))
	if err != nil {
		t.Fatal(err)
	}
	<-refusing
	// Once a reconcile failed to write the applied version again, the next
	// comes a second later: the rejection, written as soon as the worker
	// refuses, lands well before it.
	retried := e.logs.Mark()
	e.await(retried, "recording the applied attachments again failed; the next reconcile retries", "taskId", id)
	mongo.Release("update")
	close(refuse)
	e.await(mark, "attachments update rejected; the worker keeps its current attachments", "taskId", id, "attachmentsVersion", refused.AttachmentsVersion)
	e.appliedAndRejected(id, applied, refused.AttachmentsVersion)
	a.alive(t)
}

// TestSlowAppliedHoldsNoReconcile holds the write of an applied version
// in MongoDB: the node's reconciles must go on meanwhile (here: stop
// another task, cancelled), not wait for that write to check whether it
// needs making again.
func TestSlowAppliedHoldsNoReconcile(t *testing.T) {
	e := newEnv(t)
	p := &probe{}
	cls := newClass("SlowApplied", p)
	a, mongo := e.failingNode("a", false, cls)
	slow, _ := e.runOn(a, cls, "slow", params{Value: 1})
	other, _ := e.runOn(a, cls, "other", params{Value: 1})

	mark := e.logs.Mark()
	mongo.Hold("update")
	defer mongo.Release("update")
	if _, err := e.store.SetAttachments(e.ctx, slow, cls.Encode(params{Value: 2})); err != nil {
		t.Fatal(err)
	}
	e.await(mark, "updated", "taskId", slow, "value", 2)
	<-mongo.Held() // the applied version's write
	if err := e.client.Cancel(e.ctx, other); err != nil {
		t.Fatal(err)
	}
	e.await(mark, "released", "taskId", other)
	if tk, err := e.store.Get(e.ctx, slow); err != nil || tk.AppliedAttachmentsVersion >= 2 {
		t.Fatalf("%s, %v: the applied version landed while MongoDB held it", describe(tk), err)
	}
	mongo.Release("update")
	e.waitTask(slow, "the applied version on record", func(t *task.Task) bool { return t.AppliedAttachmentsVersion == 2 })
	a.alive(t)
}

// TestFailedBareCancelIsWrittenAgain fails the write of a bare task.cancel
// (Python tooling publishes it without writing MongoDB), so the event,
// already consumed, is all there is of the cancel. The worker must run on
// meanwhile (MongoDB does not say Cancelled), and the node's reconciles
// must record the cancel once MongoDB takes writes, and then stop the
// worker with its release.
func TestFailedBareCancelIsWrittenAgain(t *testing.T) {
	e := newEnv(t)
	p := &probe{}
	cls := newClass("LostCancel", p)
	a, mongo := e.failingNode("a", true, cls)
	id, epoch := e.runOn(a, cls, "cancel", params{})
	e.handled(a.n.ID(), id)

	mark := e.logs.Mark()
	mongo.Fail("update")
	if err := e.pub.Publish(e.ctx, event.TopicCancel, event.NewTaskEvent(id)); err != nil {
		t.Fatal(err)
	}
	e.await(mark, "task.cancel: recording Cancelled failed; the next reconcile records it", "taskId", id)
	e.await(mark, "task.cancel: recording Cancelled failed again; the next reconcile retries", "taskId", id)
	if _, releases, _, _ := p.snapshot(); releases != 0 {
		t.Fatalf("%d releases while the cancel is not on record, want 0", releases)
	}
	restored := e.logs.Mark()
	mongo.Release("update")
	e.await(restored, "task.cancel: recorded Cancelled after all; stopping the worker", "taskId", id, "epoch", epoch)
	e.await(restored, "worker cancelled", "taskId", id)
	e.waitTask(id, "Cancelled", func(t *task.Task) bool { return t.LifecycleStatus == task.Cancelled && t.AssignmentEpoch == epoch })
	e.awaitHeartbeat(id, "-2")
	if starts, releases, _, _ := p.snapshot(); starts != 1 || releases != 1 {
		t.Fatalf("starts %d, releases %d; want 1 and 1", starts, releases)
	}
	a.alive(t)
}

// TestNoStartOrCancelOverEnded: a node's start, written after a read of
// the task Running made just before its worker's outcome landed, a bare
// cancel written again after a failure, and a hand-back at shutdown each
// leave a task that ended in their epoch as it is.
func TestNoStartOrCancelOverEnded(t *testing.T) {
	e := newEnv(t)
	cls := newClass("OverEnded", &probe{})
	tk := e.assignedTo(cls, "ended", params{}, "n1")
	id := tk.ID
	if err := e.store.Started(e.ctx, tk.Ref(), tk.AttachmentsVersion); err != nil {
		t.Fatal(err)
	}
	if err := e.store.Report(e.ctx, tk.Ref(), task.Finished, ""); err != nil {
		t.Fatal(err)
	}
	for what, write := range map[string]func() error{
		"start":       func() error { return e.store.Started(e.ctx, tk.Ref(), tk.AttachmentsVersion) },
		"restart":     func() error { return e.store.Restarted(e.ctx, tk.Ref(), tk.AttachmentsVersion) },
		"bare cancel": func() error { return e.store.CancelRunning(e.ctx, tk.Ref()) },
		"hand-back":   func() error { return e.store.HandBack(e.ctx, tk.Ref()) },
		"hand-back of many": func() error {
			n, err := e.store.HandBackAll(e.ctx, "n1", []task.Ref{tk.Ref()})
			if err == nil && n == 0 {
				err = task.ErrFenced
			}
			return err
		},
	} {
		if err := write(); !errors.Is(err, task.ErrFenced) {
			t.Fatalf("a %s over Finished: %v, want ErrFenced", what, err)
		}
	}
	e.waitTask(id, "still Finished", func(t *task.Task) bool { return t.LifecycleStatus == task.Finished })
}

// TestFailedProgressGoesWithTheOutcome fails the write of a worker's last
// progress report. The terminal write carries only progress that was never
// passed on, so without more the stored progress would stay the older one
// for good: it must carry the newest when its write failed.
func TestFailedProgressGoesWithTheOutcome(t *testing.T) {
	e := newEnv(t)
	p := &probe{}
	cls := newClass("LostProgress", p)
	a, mongo := e.failingNode("a", false, cls)
	id, epoch := e.runOn(a, cls, "progress", params{Mode: "report", Value: 7})

	mark := e.logs.Mark()
	mongo.Fail("update")
	close(p.gate) // main reports {"value":7}
	e.await(mark, "storing the progress failed; the next report or the outcome of the worker carries it", "taskId", id)
	mongo.Release("update")
	if err := e.store.SetStatus(e.ctx, id, task.Cancelled); err != nil {
		t.Fatal(err)
	}
	e.await(mark, "worker cancelled", "taskId", id)
	got := e.waitTask(id, "Cancelled with the worker's outcome", func(t *task.Task) bool {
		return t.LifecycleStatus == task.Cancelled && t.AssignmentEpoch == epoch
	})
	if string(got.Progress) != `{"value":7}` {
		t.Fatalf("stored progress %s after the worker ended, want its last report {\"value\":7}", got.Progress)
	}
	a.alive(t)
}

// TestFailedRestartIsStillARestart fails the Running write of a worker
// started again for a //skald:restart field. The node starts it once the
// write lands, from a later reconcile, and that start is still recorded
// as the restart it is.
func TestFailedRestartIsStillARestart(t *testing.T) {
	e := newEnv(t)
	p := &probe{}
	cls := withPolicies(newClass(e.id("LostRestart"), p))
	a, mongo := e.failingNode("a", false, cls)
	id, epoch := e.runOn(a, cls, "restart", params{Mode: "wait", Value: 1})

	mark := e.logs.Mark()
	mongo.Fail("update")
	version, err := newTyped(e, cls).Update(e.ctx, id, params{Mode: "other", Value: 1})
	if err != nil {
		t.Fatal(err)
	}
	e.await(mark, "worker stopped for a restart with new attachments", "taskId", id)
	e.await(mark, "could not report the task Running; not starting its worker: the next reconcile tries again", "taskId", id)
	mongo.Release("update")
	e.await(mark, "main running", "taskId", id, "mode", "other")
	e.waitTask(id, "the restart applied", func(tk *task.Task) bool {
		return tk.AppliedAttachmentsVersion == version && tk.LifecycleStatus == task.Running && tk.AssignmentEpoch == epoch
	})
	h, err := e.store.History(e.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if last := h.Entries[len(h.Entries)-1]; last.Event != task.EventRestarted || last.Version != version {
		t.Fatalf("last history entry %+v; want restarted at version %d", last, version)
	}
	if starts, releases, maxActive, _ := p.snapshot(); starts != 2 || releases != 1 || maxActive != 1 {
		t.Fatalf("starts %d releases %d maxActive %d; want 2, 1, 1", starts, releases, maxActive)
	}
	a.alive(t)
}

// TestFailedStuckNoteIsWrittenAgain fails the write that marks a worker
// stuck (its hook ignores its cancelled context beyond the grace). The
// node's reconciles must write the note again while the worker holds on.
func TestFailedStuckNoteIsWrittenAgain(t *testing.T) {
	e := newEnv(t)
	p := &probe{}
	cls := newClass("LostStuck", p)
	a, mongo := e.failingNodeWith("a", node.Options{StopGrace: 300 * time.Millisecond}, false, cls)
	id, epoch := e.runOn(a, cls, "stuck", params{Mode: "stuck"})

	mark := e.logs.Mark()
	mongo.Fail("update")
	if err := e.store.SetStatus(e.ctx, id, task.Cancelled); err != nil {
		t.Fatal(err)
	}
	e.await(mark, "recording the stuck worker failed; the next reconcile records it", "taskId", id)
	mongo.Release("update")
	e.await(mark, "recorded the stuck worker after all", "taskId", id)
	got := e.waitTask(id, "marked stuck", func(t *task.Task) bool { return t.Stuck != "" })
	if got.AssignmentEpoch != epoch || !contains(got.Stuck, "ignored its cancelled context") {
		t.Fatalf("task %s; want the stuck note in epoch %d", describe(got), epoch)
	}
	close(p.gate)
	e.await(mark, "worker cancelled", "taskId", id)
	a.alive(t)
}

// TestFailedEdgeClaimIsRetried fails the insert of an edge node's YAML
// task at start, after the node reached MongoDB. The node must retry the
// claim with backoff instead of exiting, and run the task once it lands.
func TestFailedEdgeClaimIsRetried(t *testing.T) {
	e := newEnv(t)
	p := &probe{}
	cls := newClass("EdgeClaim", p)
	id := e.id("edge")
	path := writeYAML(t, "TaskWorkers:\n  "+id+":\n    className: EdgeClaim\n    attachments: {mode: wait, value: 1}\n")
	mongo, uri := skaldtest.CommandRelayFor(t, e.stack.MongoURI)
	mongo.Fail("insert")
	mark := e.logs.Mark()
	a := e.launchNode("edge", node.Options{StartRetry: backoff.Policy{First: 50 * time.Millisecond, Max: 200 * time.Millisecond}}, func(c *config.Config) {
		c.Mode = config.ModeEdge
		c.YAMLFile = path
		c.MongoHost = uri
	}, cls)
	e.await(mark, "claiming the edge task failed; retrying until MongoDB takes the write", "taskId", id, "attempt", int64(2))
	a.alive(t)
	mongo.Release("insert")
	e.ready(a, mark)
	e.running(id, a, 1)
	e.await(mark, "main running", "taskId", id)
}

// TestEdgeClaimThatCannotBeStoredExits: a YAML task whose attachments
// MongoDB cannot store (a key that starts with $, which a lenient class
// lets through) is not a failed write to retry: the node exits with an
// error that names it, as before it retried claims.
func TestEdgeClaimThatCannotBeStoredExits(t *testing.T) {
	e := newEnv(t)
	cls := newClass("EdgeUnstorable", &probe{})
	cls.Decode = func([]byte) (params, error) { return params{}, nil } // takes any attachments
	id := e.id("unstorable")
	path := writeYAML(t, "TaskWorkers:\n  "+id+":\n    className: EdgeUnstorable\n    attachments: {$where: '1'}\n")
	cfg := e.cfg
	cfg.Mode, cfg.YAMLFile, cfg.SkaldID = config.ModeEdge, path, e.id("edge")
	n, err := node.New(cfg, node.Options{Logger: discard(), StartRetry: backoff.Policy{First: 50 * time.Millisecond, Max: 200 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	n.Register(cls)
	ctx, cancel := context.WithTimeout(e.ctx, 10*time.Second)
	defer cancel()
	err = n.Run(ctx)
	if err == nil || ctx.Err() != nil || !contains(err.Error(), id) || !contains(err.Error(), "$where") {
		t.Fatalf("Run: %v (context: %v); want an exit that names the task and the key", err, ctx.Err())
	}
}

// TestFailedRefusalIsMadeAgain fails the write that hands back a task
// given to a node at its limit. The task stays assigned there, not
// running, and the next reconcile refuses it again.
func TestFailedRefusalIsMadeAgain(t *testing.T) {
	e := newEnv(t)
	cls := newClass("LostRefusal", &probe{})
	a, mongo := e.failingNodeWith("a", node.Options{MaxTasks: 1}, false, cls)
	e.runOn(a, cls, "first", params{})

	mark := e.logs.Mark()
	mongo.Fail("update")
	second := e.id("second")
	e.create(second, cls, params{})
	e.assign(second, a)
	e.await(mark, "recording the refusal failed; the next reconcile refuses the task again", "taskId", second)
	if n := e.logs.CountFrom(mark, skaldtest.Msg("assignment refused; the task is handed back", "taskId", second)); n != 0 {
		t.Fatal("the node said it handed the task back while the write failed")
	}
	mongo.Release("update")
	e.await(mark, "assignment refused; the task is handed back", "taskId", second)
	got := e.waitTask(second, "refused", func(t *task.Task) bool { return t.Refusal != nil })
	if got.LifecycleStatus != task.Created || got.Executor != nil || got.Refusal.SkaldID != a.n.ID() {
		t.Fatalf("refused task: %s", describe(got))
	}
	a.alive(t)
}

// TestFailedRejectionGoesWithTheFailure fails the writes of an update
// hook that panicked: the rejection of its version and the Failed
// outcome. Once the worker ended, no reconcile writes the rejection on its
// own; the outcome written again must carry it, or a client waiting for
// that version never learns it was refused.
func TestFailedRejectionGoesWithTheFailure(t *testing.T) {
	e := newEnv(t)
	p := &probe{}
	cls := newClass("LostFatal", p)
	a, mongo := e.failingNode("a", false, cls)
	id, epoch := e.runOn(a, cls, "fatal", params{Value: 1})

	mark := e.logs.Mark()
	mongo.Fail("update")
	bad, err := e.store.SetAttachments(e.ctx, id, cls.Encode(params{Mode: "panic", Value: 2}))
	if err != nil {
		t.Fatal(err)
	}
	e.await(mark, "recording the rejection failed; the next reconcile writes it again", "taskId", id)
	e.await(mark, "could not record the worker's outcome; the task is not started again here, and the next reconcile writes it again",
		"taskId", id, "outcome", task.Failed)
	mongo.Release("update")
	got := e.waitTask(id, "Failed", func(t *task.Task) bool { return t.LifecycleStatus == task.Failed && t.AssignmentEpoch == epoch })
	if r := got.AttachmentsRejection; r == nil || r.Version != bad.AttachmentsVersion || !contains(r.Message, "update exploded") {
		t.Fatalf("rejection %+v; want that of version %d, with the panic", r, bad.AttachmentsVersion)
	}
	a.alive(t)
}
