package integration

import (
	"context"
	"errors"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/skalds-go/skalds/runtime/client"
	"github.com/skalds-go/skalds/runtime/config"
	"github.com/skalds-go/skalds/runtime/event"
	"github.com/skalds-go/skalds/runtime/node"
	"github.com/skalds-go/skalds/runtime/task"
	"github.com/skalds-go/skalds/skaldtest"
)

func TestDuplicateAssignStartsOneWorker(t *testing.T) {
	e := newEnv(t)
	p := &probe{}
	cls := newClass("Dup", p)
	a := e.startNode("a", node.Options{}, nil, cls)
	id := e.id("dup")
	e.create(id, cls, params{})
	epoch := e.assign(id, a)
	e.running(id, a, epoch)
	e.await(0, "main running", "taskId", id)

	const extra = 5
	evs := make([]event.TaskEvent, extra)
	for i := range evs {
		evs[i] = event.NewTaskEvent(id)
	}
	if err := e.pub.PublishMany(e.ctx, event.TopicAssign, evs...); err != nil {
		t.Fatal(err)
	}
	// Every event is handled (the first by the assign above).
	for i := range 1 + extra {
		for e.logs.Count(skaldtest.Msg("event handled", "topic", event.TopicAssign, "skaldId", a.n.ID())) <= i {
			e.await(e.logs.Mark(), "event handled")
		}
	}
	if starts, _, most, _ := p.snapshot(); starts != 1 || most != 1 {
		t.Fatalf("%d workers started, %d at most at once; want 1 and 1", starts, most)
	}
	if n := e.logs.Count(skaldtest.Msg("worker started", "taskId", id)); n != 1 {
		t.Fatalf("%d workers started, want 1", n)
	}
}

func TestStaleEpochIsIgnored(t *testing.T) {
	e := newEnv(t)
	p := &probe{}
	cls := newClass("Stale", p)
	a := e.startNode("a", node.Options{}, nil, cls)
	id := e.id("stale")
	e.create(id, cls, params{})
	first := e.assign(id, a)
	tk := e.running(id, a, first)

	// A write for an epoch that is not the task's is refused.
	stale := tk.Ref()
	stale.Epoch = first - 1
	if err := e.store.Report(e.ctx, stale, task.Failed, "from the past"); !errors.Is(err, task.ErrFenced) {
		t.Fatalf("a write for epoch %d: got %v, want ErrFenced", stale.Epoch, err)
	}

	// Assigning again (a new epoch, same node) replaces the worker: the old
	// copy stops first and writes nothing.
	mark := e.logs.Mark()
	second := e.assign(id, a)
	e.await(mark, "worker stopped; the task is no longer assigned here", "taskId", id, "epoch", first)
	e.await(mark, "main running", "taskId", id, "epoch", second)
	got := e.running(id, a, second)
	if got.Error != "" {
		t.Fatalf("error %q after reassignment", got.Error)
	}
	if starts, _, most, _ := p.snapshot(); starts != 2 || most != 1 {
		t.Fatalf("%d starts with %d at once; want 2 starts, one at a time", starts, most)
	}

	// A replayed assign event for the old epoch changes nothing.
	mark = e.logs.Mark()
	if err := e.pub.Publish(e.ctx, event.TopicAssign, event.NewTaskEvent(id)); err != nil {
		t.Fatal(err)
	}
	e.await(mark, "event handled", "skaldId", a.n.ID())
	if n := e.logs.Count(skaldtest.Msg("worker started", "taskId", id)); n != 2 {
		t.Fatalf("%d workers started, want 2", n)
	}
}

func TestReorderedAndDuplicatedEventsEndAtLatest(t *testing.T) {
	e := newEnv(t)
	p := &probe{}
	cls := newClass("Reorder", p)
	a := e.startNode("a", node.Options{}, nil, cls)
	id := e.id("reorder")
	e.create(id, cls, params{Value: 0})
	e.running(id, a, e.assign(id, a))

	// Write several versions without events, then deliver a shuffled,
	// duplicated mix of events about them.
	var last int64
	for v := 1; v <= 5; v++ {
		ver, err := e.store.SetAttachments(e.ctx, id, cls.Encode(params{Value: v}))
		if err != nil {
			t.Fatal(err)
		}
		last = ver.AttachmentsVersion
	}
	topics := []string{event.TopicUpdateAttachment, event.TopicUpdateAttachment, event.TopicAssign, event.TopicUpdateAttachment}
	rand.Shuffle(len(topics), func(i, j int) { topics[i], topics[j] = topics[j], topics[i] })
	for _, topic := range topics {
		if err := e.pub.Publish(e.ctx, topic, event.NewTaskEvent(id)); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.client.WaitApplied(e.ctx, id, last, 0); err != nil {
		t.Fatal(err)
	}
	_, _, _, ups := p.snapshot()
	if len(ups) == 0 || ups[len(ups)-1].Value != 5 {
		t.Fatalf("updates applied %v; want the last to be value 5", ups)
	}
	for i := 1; i < len(ups); i++ {
		if ups[i].Value <= ups[i-1].Value {
			t.Fatalf("updates applied out of order: %v", ups)
		}
	}
	// Replaying every event again applies nothing more.
	mark := e.logs.Mark()
	for _, topic := range topics {
		if err := e.pub.Publish(e.ctx, topic, event.NewTaskEvent(id)); err != nil {
			t.Fatal(err)
		}
	}
	for e.logs.CountFrom(mark, skaldtest.Msg("event handled", "skaldId", a.n.ID())) < len(topics) {
		e.await(e.logs.Mark(), "event handled")
	}
	if _, _, _, again := p.snapshot(); len(again) != len(ups) {
		t.Fatalf("replayed events applied %d more updates", len(again)-len(ups))
	}
}

func TestWaitAppliedReportsRejection(t *testing.T) {
	e := newEnv(t)
	cls := newClass("Reject", &probe{})
	a := e.startNode("a", node.Options{}, nil, cls)
	id := e.id("reject")
	e.create(id, cls, params{})
	e.running(id, a, e.assign(id, a))

	typed := client.NewTyped(e.client, cls)
	v, err := e.client.SetAttachments(e.ctx, id, []byte(`{"mode":"","value":1,"colour":"red"}`))
	if err != nil {
		t.Fatal(err)
	}
	var rej *client.RejectedError
	if err := typed.WaitApplied(e.ctx, id, v); !errors.As(err, &rej) {
		t.Fatalf("WaitApplied: got %v, want a *client.RejectedError", err)
	}
	if rej.Version != v || len(rej.Fields) != 1 || rej.Fields[0].Path != "$.colour" {
		t.Fatalf("rejection %+v; want version %d naming $.colour", rej.Rejection, v)
	}
	// A hook that returns an error rejects too, and the worker keeps going.
	v, err = typed.Update(e.ctx, id, params{Mode: "refuse"})
	if err != nil {
		t.Fatal(err)
	}
	if err := typed.WaitApplied(e.ctx, id, v); !errors.As(err, &rej) || !contains(rej.Message, "refuses") {
		t.Fatalf("WaitApplied: got %v, want the hook's refusal", err)
	}
	v, err = typed.Update(e.ctx, id, params{Value: 7})
	if err != nil {
		t.Fatal(err)
	}
	if err := typed.WaitApplied(e.ctx, id, v); err != nil {
		t.Fatal(err)
	}
}

func TestRestartedNodeResumesItsTask(t *testing.T) {
	e := newEnv(t)
	p := &probe{}
	cls := newClass("Resume", p)
	opts := node.Options{OnShutdown: node.KeepAssigned}
	a := e.startNode("a", opts, nil, cls)
	id := e.id("resume")
	e.create(id, cls, params{Value: 3})
	epoch := e.assign(id, a)
	e.running(id, a, epoch)
	// Running is written before the worker starts: wait for main, or a
	// stop that comes first leaves it out and counts no start.
	e.await(0, "main running", "taskId", id, "value", 3)
	if err := a.stop(); err != nil {
		t.Fatal(err)
	}
	if got := e.running(id, a, epoch); got.Executor == nil {
		t.Fatal("the task lost its executor")
	}
	mark := e.logs.Mark()
	e.startNode("a", opts, nil, cls)
	e.await(mark, "worker started", "taskId", id, "epoch", epoch)
	e.await(mark, "main running", "taskId", id, "value", 3)
	if starts, releases, most, _ := p.snapshot(); starts != 2 || releases != 1 || most != 1 {
		t.Fatalf("starts %d, releases %d, at once %d; want 2, 1, 1", starts, releases, most)
	}
}

func TestOldNodeStopsItsCopyAfterReassignment(t *testing.T) {
	e := newEnv(t)
	p := &probe{}
	cls := newClass("Old", p)
	// Node a hears no events: like a node cut off from Kafka, it learns
	// only from its reconciles.
	a := e.startNode("a", node.Options{}, func(c *config.Config) {
		c.KafkaDisabled = true
		c.ReconcilePeriod = time.Second
	}, cls)
	b := e.startNode("b", node.Options{}, nil, cls)
	id := e.id("old")
	e.create(id, cls, params{})
	first := e.assign(id, a)
	e.running(id, a, first)

	mark := e.logs.Mark()
	second := e.assign(id, b)
	e.await(mark, "worker stopped; the task is no longer assigned here", "skaldId", a.n.ID(), "taskId", id, "epoch", first)
	got := e.running(id, b, second)
	if got.Error != "" {
		t.Fatalf("error %q", got.Error)
	}
	a.alive(t)
}

func TestFencedWriteStopsWorker(t *testing.T) {
	e := newEnv(t)
	p := &probe{}
	cls := newClass("Fenced", p)
	a := e.startNode("a", node.Options{}, nil, cls)
	id := e.id("fenced")
	e.create(id, cls, params{})
	e.running(id, a, e.assign(id, a))
	e.await(0, "main running", "taskId", id)

	// While the worker applies an update, the task is reassigned behind
	// the node's back (no event): the worker's next write is fenced, and
	// that alone stops it.
	p.onUpdate = func(params) {
		if _, err := e.store.Assign(context.Background(), id, "elsewhere"); err != nil {
			t.Error(err)
		}
	}
	mark := e.logs.Mark()
	if _, err := e.client.SetAttachments(e.ctx, id, cls.Encode(params{Value: 1})); err != nil {
		t.Fatal(err)
	}
	// Either the fenced write stops the worker, or, when the broker
	// delivers the update event again (at least once, as a real broker may
	// after a group rejoin), the reconcile it triggers sees the reassignment
	// first; either way the worker stops and writes nothing.
	e.stoppedForElsewhere(mark, id, p)
}

// stoppedForElsewhere waits until the worker of id stops as no longer
// assigned here, and checks that its release ran once and that it left
// the task as the reassignment to "elsewhere" made it: Assigning, with
// the attachments version 1 that the first worker applied.
func (e *env) stoppedForElsewhere(mark int, id string, p *probe) {
	e.t.Helper()
	e.await(mark, "worker stopped; the task is no longer assigned here", "taskId", id)
	if _, releases, _, _ := p.snapshot(); releases != 1 {
		e.t.Fatalf("release ran %d times, want 1", releases)
	}
	got, err := e.store.Get(e.ctx, id)
	if err != nil {
		e.t.Fatal(err)
	}
	if *got.Executor != "elsewhere" || got.LifecycleStatus != task.Assigning || got.AppliedAttachmentsVersion != 1 {
		e.t.Fatalf("task %s; want it left Assigning to elsewhere, untouched by the fenced worker", describe(got))
	}
}

func TestPanicsAreRecovered(t *testing.T) {
	e := newEnv(t)
	p := &probe{}
	cls := newClass("Panicky", p)
	a := e.startNode("a", node.Options{}, nil, cls)

	failed := func(id, text string) *task.Task {
		t.Helper()
		got := e.waitTask(id, "Failed", func(t *task.Task) bool { return t.LifecycleStatus == task.Failed })
		if !contains(got.Error, text) || !contains(got.Error, "goroutine") || got.ErrorKind != task.FailedPanic {
			t.Fatalf("task %s error %q, kind %q; want %q with a stack, kind panic", id, got.Error, got.ErrorKind, text)
		}
		e.awaitHeartbeat(id, "-1")
		return got
	}

	t.Run("main", func(t *testing.T) {
		id := e.id("panic-main")
		mark := e.logs.Mark()
		e.create(id, cls, params{Mode: "panic"})
		e.assign(id, a)
		failed(id, "main hook: panic: main exploded")
		e.await(mark, "released", "taskId", id)
	})
	t.Run("update", func(t *testing.T) {
		id := e.id("panic-update")
		mark := e.logs.Mark()
		e.create(id, cls, params{})
		e.running(id, a, e.assign(id, a))
		v, err := e.client.SetAttachments(e.ctx, id, cls.Encode(params{Mode: "panic"}))
		if err != nil {
			t.Fatal(err)
		}
		var rej *client.RejectedError
		if err := e.client.WaitApplied(e.ctx, id, v, 0); !errors.As(err, &rej) {
			t.Fatalf("WaitApplied: got %v, want the panicking update rejected", err)
		}
		failed(id, "update hook: panic: update exploded")
		e.await(mark, "released", "taskId", id)
	})
	t.Run("init", func(t *testing.T) {
		id := e.id("panic-init")
		e.create(id, cls, params{Mode: "panic-init"})
		e.assign(id, a)
		failed(id, "init hook: panic: init exploded")
	})
	t.Run("release", func(t *testing.T) {
		id := e.id("panic-release")
		mark := e.logs.Mark()
		e.create(id, cls, params{Mode: "panic-release"})
		e.running(id, a, e.assign(id, a))
		if err := e.client.Cancel(e.ctx, id); err != nil {
			t.Fatal(err)
		}
		r := e.await(mark, "release failed", "taskId", id)
		if !contains(errText(r), "release exploded") {
			t.Fatalf("release failure logged as %q", errText(r))
		}
		e.await(mark, "worker cancelled", "taskId", id)
	})
	// The node is still there and still runs tasks.
	a.alive(t)
	id := e.id("after-panics")
	e.create(id, cls, params{Mode: "finish"})
	e.assign(id, a)
	e.waitTask(id, "Finished", func(t *task.Task) bool { return t.LifecycleStatus == task.Finished })
	e.awaitHeartbeat(id, "200")
}

func TestCancelRunsRelease(t *testing.T) {
	e := newEnv(t)
	p := &probe{}
	cls := newClass("Cancel", p)
	a := e.startNode("a", node.Options{}, nil, cls)
	id := e.id("cancel")
	e.create(id, cls, params{})
	e.running(id, a, e.assign(id, a))
	mark := e.logs.Mark()
	if err := e.client.Cancel(e.ctx, id); err != nil {
		t.Fatal(err)
	}
	e.await(mark, "released", "taskId", id)
	e.await(mark, "worker cancelled", "taskId", id)
	got := e.waitTask(id, "Cancelled", func(t *task.Task) bool { return t.LifecycleStatus == task.Cancelled })
	if got.Error != "" {
		t.Fatalf("error %q on a cancelled task", got.Error)
	}
	e.awaitHeartbeat(id, "-2")
	// Cancel is terminal: an assign event for it starts nothing.
	if err := e.pub.Publish(e.ctx, event.TopicAssign, event.NewTaskEvent(id)); err != nil {
		t.Fatal(err)
	}
	e.await(mark, "event handled", "topic", event.TopicAssign)
	if starts, releases, _, _ := p.snapshot(); starts != 1 || releases != 1 {
		t.Fatalf("starts %d, releases %d; want 1 and 1", starts, releases)
	}
}

func TestNewAssignmentClearsTerminalHeartbeat(t *testing.T) {
	e := newEnv(t)
	cls := newClass("Heartbeat", &probe{})
	a := e.startNode("a", node.Options{}, nil, cls)
	id := e.id("heartbeat")
	// A previous attempt left a failure behind.
	if err := e.rdb.Set(e.ctx, "task:"+id+":heartbeat", -1, time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	if err := e.rdb.Set(e.ctx, "task:"+id+":exception", "old failure", time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	e.create(id, cls, params{})
	mark := e.logs.Mark()
	e.assign(id, a)
	e.await(mark, "main running", "taskId", id)
	hb, err := strconv.Atoi(e.heartbeat(id))
	if err != nil || hb < 0 || hb >= 200 {
		t.Fatalf("heartbeat %d (%v) after the start; want a live value in 0..199", hb, err)
	}
	if ex, _ := e.rdb.Get(e.ctx, "task:"+id+":exception").Result(); ex != "" {
		t.Fatalf("exception %q after the start; want it cleared", ex)
	}
}

func TestDrain(t *testing.T) {
	e := newEnv(t)
	p := &probe{}
	cls := newClass("Drain", p)
	t.Run("hands tasks back", func(t *testing.T) {
		a := e.startNode("a", node.Options{}, nil, cls)
		ids := []string{e.id("drain-1"), e.id("drain-2")}
		for _, id := range ids {
			e.create(id, cls, params{})
			e.running(id, a, e.assign(id, a))
		}
		if err := a.stop(); err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			got, err := e.store.Get(e.ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if got.LifecycleStatus != task.Created || got.Executor != nil {
				t.Fatalf("after the drain: %s; want Created without executor", describe(got))
			}
		}
		if _, releases, _, _ := p.snapshot(); releases != 2 {
			t.Fatalf("%d releases, want 2", releases)
		}
	})
	t.Run("cancels when asked", func(t *testing.T) {
		b := e.startNode("b", node.Options{OnShutdown: node.CancelTasks}, nil, cls)
		id := e.id("drain-cancel")
		e.create(id, cls, params{})
		e.running(id, b, e.assign(id, b))
		if err := b.stop(); err != nil {
			t.Fatal(err)
		}
		got, err := e.store.Get(e.ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if got.LifecycleStatus != task.Cancelled {
			t.Fatalf("after the drain: %s; want Cancelled", describe(got))
		}
	})
}

func TestLimitsRefuseVisibly(t *testing.T) {
	e := newEnv(t)
	one := newClass("LimitedOne", &probe{})
	other := newClass("LimitedOther", &probe{})
	a := e.startNode("a", node.Options{MaxTasks: 2, ClassLimits: map[string]int{one.Name: 1}}, nil, one, other)

	first, second := e.id("limit-1"), e.id("limit-2")
	e.create(first, one, params{})
	e.running(first, a, e.assign(first, a))
	e.create(second, one, params{})
	mark := e.logs.Mark()
	e.assign(second, a)
	r := e.await(mark, "assignment refused; the task is handed back", "taskId", second)
	if !contains(r.Attrs["reason"].(string), "limit for that class") {
		t.Fatalf("refusal reason %q", r.Attrs["reason"])
	}
	got := e.waitTask(second, "refused", func(t *task.Task) bool { return t.Refusal != nil })
	if got.LifecycleStatus != task.Created || got.Executor != nil || got.Refusal.SkaldID != a.n.ID() {
		t.Fatalf("refused task: %s", describe(got))
	}

	// The node-wide limit counts every class.
	third, fourth := e.id("limit-3"), e.id("limit-4")
	e.create(third, other, params{})
	e.running(third, a, e.assign(third, a))
	e.create(fourth, other, params{})
	e.assign(fourth, a)
	got = e.waitTask(fourth, "refused", func(t *task.Task) bool { return t.Refusal != nil })
	if !contains(got.Refusal.Reason, "MaxTasks") {
		t.Fatalf("refusal %+v; want the node limit named", got.Refusal)
	}

	// Once a slot is free, the refused task can be assigned again. The
	// client writes Cancelled itself; the slot is free when the node has
	// stopped the worker.
	mark = e.logs.Mark()
	if err := e.client.Cancel(e.ctx, first); err != nil {
		t.Fatal(err)
	}
	e.await(mark, "worker cancelled", "taskId", first)
	got = e.running(second, a, e.assign(second, a))
	if got.Refusal != nil {
		t.Fatalf("refusal %+v left on a running task", got.Refusal)
	}
}

func TestStuckMainIsReported(t *testing.T) {
	e := newEnv(t)
	p := &probe{}
	cls := newClass("Stuck", p)
	a := e.startNode("a", node.Options{StopGrace: 300 * time.Millisecond}, nil, cls)
	id := e.id("stuck")
	e.create(id, cls, params{Mode: "stuck"})
	e.running(id, a, e.assign(id, a))
	mark := e.logs.Mark()
	if err := e.client.Cancel(e.ctx, id); err != nil {
		t.Fatal(err)
	}
	r := e.await(mark, "worker did not stop within the grace period", "taskId", id)
	if r.Attrs["hook"] != "main" {
		t.Fatalf("stuck hook %v, want main", r.Attrs["hook"])
	}
	got := e.waitTask(id, "marked stuck", func(t *task.Task) bool { return t.Stuck != "" })
	if !contains(got.Stuck, "main hook ignored its cancelled context") {
		t.Fatalf("stuck %q", got.Stuck)
	}
	// When main finally returns, release runs and the cancel completes.
	close(p.gate)
	e.await(mark, "released", "taskId", id)
	e.await(mark, "worker cancelled", "taskId", id)
	a.alive(t)
}

func errText(r skaldtest.Record) string {
	if err, ok := r.Attrs["err"].(error); ok {
		return err.Error()
	}
	if s, ok := r.Attrs["err"].(string); ok {
		return s
	}
	return ""
}
