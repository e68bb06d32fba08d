package controller

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	ctl "github.com/skalds-go/skalds/controller"
	"github.com/skalds-go/skalds/controller/api/client"
	"github.com/skalds-go/skalds/controller/api/wire"
	"github.com/skalds-go/skalds/controller/dispatch"
	"github.com/skalds-go/skalds/controller/monitor"
	"github.com/skalds-go/skalds/runtime/node"
	"github.com/skalds-go/skalds/runtime/task"
)

func TestDispatchGoesToAnOnlineNodeModeNodeOfTheClass(t *testing.T) {
	e := newEnv(t)
	e.fakeNode("n-a", "node", "A")
	e.fakeNode("n-b", "node", "B")
	e.fakeNode("edge-ab", "edge", "A", "B")
	if err := e.writeNode("stale-ab", "node", time.Now().Add(-time.Minute), "A", "B"); err != nil {
		t.Fatal(err)
	}
	e.create("ta", "A", 0)
	e.create("tb", "B", 0)
	e.create("tz", "Z", 0)
	e.startController(nil)

	if got := deref(e.assignedTo("ta").Executor); got != "n-a" {
		t.Errorf("task of class A went to %s, want n-a", got)
	}
	d := e.assignedTo("tb")
	if got := deref(d.Executor); got != "n-b" {
		t.Errorf("task of class B went to %s, want n-b", got)
	}
	if d.AssignmentEpoch != 1 || d.Attempts != 1 || d.AssignedDateTime == 0 {
		t.Errorf("claim wrote epoch %d attempts %d assignedDateTime %d; want 1, 1, set", d.AssignmentEpoch, d.Attempts, d.AssignedDateTime)
	}
	// A node of class Z shows up: the waiting task is placed at once.
	e.fakeNode("n-z", "node", "Z")
	if got := deref(e.assignedTo("tz").Executor); got != "n-z" {
		t.Errorf("task of class Z went to %s, want n-z", got)
	}
}

func TestDispatchedTaskRunsOnARealNode(t *testing.T) {
	e := newEnv(t)
	rn := e.startNode("real-1", node.Options{}, newClass("Real"))
	e.startController(realNodes)
	e.create("real-task", "Real", 0)
	d := e.waitTask("real-task", "Running on real-1", func(d *task.Task) bool {
		return d.LifecycleStatus == task.Running && deref(d.Executor) == rn.n.ID()
	})
	if d.AssignmentEpoch != 1 {
		t.Errorf("epoch %d, want 1", d.AssignmentEpoch)
	}
}

func TestLeastTasksPrefersTheLessLoadedNode(t *testing.T) {
	e := newEnv(t)
	e.fakeNode("n1", "node", "A")
	e.fakeNode("n2", "node", "A")
	// n1 already holds two tasks.
	for i := range 2 {
		id := fmt.Sprintf("busy-%d", i)
		e.create(id, "A", 0)
		ex := "n1"
		d, err := e.store.Get(e.ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.store.Claim(e.ctx, task.ExpectOf(d), ex, true); err != nil {
			t.Fatal(err)
		}
	}
	e.create("t1", "A", 9)
	e.create("t2", "A", 5)
	e.create("t3", "A", 1)
	e.startController(func(c *ctl.Config) { c.Strategy = dispatch.LeastTasks })
	want := map[string]string{"t1": "n2", "t2": "n2", "t3": "n1"}
	for id, node := range want {
		if got := deref(e.assignedTo(id).Executor); got != node {
			t.Errorf("%s went to %s, want %s", id, got, node)
		}
	}
}

func TestRoundRobinRotatesOverTheNodes(t *testing.T) {
	e := newEnv(t)
	for _, id := range []string{"r1", "r2", "r3"} {
		e.fakeNode(id, "node", "A")
	}
	for i := range 6 {
		e.create(fmt.Sprintf("t%d", i), "A", 10-i) // t0 first
	}
	e.startController(func(c *ctl.Config) { c.Strategy = dispatch.RoundRobin })
	for i := range 6 {
		want := fmt.Sprintf("r%d", i%3+1)
		if got := deref(e.assignedTo(fmt.Sprintf("t%d", i)).Executor); got != want {
			t.Errorf("t%d went to %s, want %s", i, got, want)
		}
	}
}

func TestTwoDispatchersNeverAssignATaskTwice(t *testing.T) {
	e := newEnv(t)
	for _, id := range []string{"d1", "d2", "d3"} {
		e.fakeNode(id, "node", "A")
	}
	const n = 50
	for i := range n {
		e.create(fmt.Sprintf("t%02d", i), "A", i%4)
	}
	var ds [2]*dispatch.Dispatcher
	for i := range ds {
		m := monitor.New(e.rdb, monitor.Options{Timeout: 5 * time.Second})
		if _, err := m.Refresh(e.ctx); err != nil {
			t.Fatal(err)
		}
		ds[i] = dispatch.New(e.store, nil, m, dispatch.Options{Strategy: dispatch.Random, Seed: uint64(i + 1)})
	}
	assigned := map[string]string{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	var conflicts int
	start := make(chan struct{})
	for _, d := range ds {
		wg.Go(func() {
			<-start
			for range 3 {
				res, err := d.Cycle(context.Background())
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				conflicts += res.Conflicts
				for id, node := range res.Assignments {
					if prev, dup := assigned[id]; dup {
						t.Errorf("task %s assigned twice: to %s and %s", id, prev, node)
					}
					assigned[id] = node
				}
				mu.Unlock()
			}
		})
	}
	close(start)
	wg.Wait()
	if len(assigned) != n {
		t.Fatalf("%d tasks assigned, want %d", len(assigned), n)
	}
	for id, node := range assigned {
		d, err := e.store.Get(e.ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if d.AssignmentEpoch != 1 || d.Attempts != 1 || deref(d.Executor) != node || d.LifecycleStatus != task.Assigning {
			t.Errorf("%s: %s; want epoch 1, attempts 1 on %s", id, describe(d), node)
		}
	}
	t.Logf("claims lost to the other dispatcher: %d", conflicts)
}

func TestFailoverMovesTasksOfAnOfflineNode(t *testing.T) {
	e := newEnv(t)
	n1 := e.fakeNode("f1", "node", "A")
	e.create("ft", "A", 0)
	e.create("fz", "Z", 0) // only f1 can run it
	e.fakeNode("fz-only", "node")
	if err := e.writeNode("f1", "node", time.Now(), "A", "Z"); err != nil {
		t.Fatal(err)
	}
	e.startController(nil)
	d := e.assignedTo("ft")
	if deref(d.Executor) != "f1" {
		t.Fatalf("ft went to %s before f2 existed", deref(d.Executor))
	}
	z := e.assignedTo("fz")
	e.setStatus("ft", task.Running, "")

	e.fakeNode("f2", "node", "A")
	n1.stopBeating()
	moved := e.waitTask("ft", "moved to f2", func(x *task.Task) bool { return deref(x.Executor) == "f2" })
	if moved.AssignmentEpoch != d.AssignmentEpoch+1 || moved.LifecycleStatus != task.Assigning || moved.Attempts != d.Attempts {
		t.Errorf("moved task: %s; want epoch %d, Assigning, attempts unchanged (%d)", describe(moved), d.AssignmentEpoch+1, d.Attempts)
	}
	// Nobody else runs Z: the task is handed back, visibly waiting.
	back := e.waitTask("fz", "handed back", func(x *task.Task) bool { return x.LifecycleStatus == task.Created && x.Executor == nil })
	if back.AssignmentEpoch != z.AssignmentEpoch+1 {
		t.Errorf("handed-back task epoch %d, want %d", back.AssignmentEpoch, z.AssignmentEpoch+1)
	}
}

func TestFailoverToARealNodeAfterTheFirstOneStops(t *testing.T) {
	e := newEnv(t)
	cls := newClass("Moving")
	a := e.startNode("node-a", node.Options{OnShutdown: node.KeepAssigned}, cls)
	e.startController(realNodes)
	e.create("mv", "Moving", 0)
	e.waitTask("mv", "Running on node-a", func(d *task.Task) bool {
		return d.LifecycleStatus == task.Running && deref(d.Executor) == "node-a"
	})
	b := e.startNode("node-b", node.Options{}, cls)
	// node-a stops and keeps its assignment, as a crashed node would; it
	// leaves the registry, and after the grace its task moves.
	a.stop()
	d := e.waitTask("mv", "Running on node-b", func(d *task.Task) bool {
		return d.LifecycleStatus == task.Running && deref(d.Executor) == b.n.ID()
	})
	if d.AssignmentEpoch != 2 {
		t.Errorf("epoch %d after failover, want 2", d.AssignmentEpoch)
	}
}

func TestFailedTaskIsRetriedWithBackoffThenGivenUp(t *testing.T) {
	e := newEnv(t)
	e.startNode("retry-node", node.Options{}, newClass("Flaky"))
	e.startController(func(c *ctl.Config) {
		realNodes(c)
		c.MaxAttempts = 3
		c.RetryBackoff = 300 * time.Millisecond
		c.RetryBackoffMax = 10 * time.Second
	})
	d := newDoc("flaky", "Flaky", `{"mode":"fail"}`)
	if err := e.store.Create(e.ctx, d); err != nil {
		t.Fatal(err)
	}
	var failedAt time.Time
	for attempt := 1; attempt <= 3; attempt++ {
		f := e.waitTask("flaky", fmt.Sprintf("attempt %d Failed", attempt), func(x *task.Task) bool {
			return x.Attempts == attempt && x.LifecycleStatus == task.Failed
		})
		if f.Error == "" || f.AssignmentEpoch != int64(attempt) {
			t.Fatalf("attempt %d: %s", attempt, describe(f))
		}
		if attempt > 1 {
			// The retry waited for the backoff after the previous failure:
			// 300 ms after the first, 600 ms after the second.
			wait := time.Duration(300<<(attempt-2)) * time.Millisecond
			if gap := time.UnixMilli(f.AssignedDateTime).Sub(failedAt); gap < wait-50*time.Millisecond {
				t.Errorf("attempt %d started %v after the failure, want at least %v", attempt, gap, wait)
			}
		}
		failedAt = time.UnixMilli(f.UpdateDateTime)
	}
	// Out of attempts: well past the next backoff (1.2 s) it is still
	// Failed, with its error, and was not assigned again.
	timer := time.NewTimer(2 * time.Second)
	<-timer.C
	f, err := e.store.Get(e.ctx, "flaky")
	if err != nil {
		t.Fatal(err)
	}
	if f.LifecycleStatus != task.Failed || f.Attempts != 3 || f.AssignmentEpoch != 3 || f.Error == "" {
		t.Errorf("after the last attempt: %s; want Failed, attempts 3, epoch 3, with the error", describe(f))
	}
}

func TestTerminalAndRetryLaterFailuresAreHonoured(t *testing.T) {
	e := newEnv(t)
	e.startNode("kinds-node", node.Options{}, newClass("Kinds"))
	c := e.startController(func(c *ctl.Config) {
		realNodes(c)
		c.MaxAttempts = 3
		c.RetryBackoff = 100 * time.Millisecond
		c.RetryBackoffMax = time.Second
	})
	for id, mode := range map[string]string{"final": "terminal", "later": "later"} {
		if err := e.store.Create(e.ctx, newDoc(id, "Kinds", `{"mode":"`+mode+`"}`)); err != nil {
			t.Fatal(err)
		}
	}
	// The retry-later task fails, asking for 1.5 s: the retry waits for
	// it, although the backoff (100 ms) is long over by then.
	first := e.waitTask("later", "first attempt Failed", func(x *task.Task) bool {
		return x.Attempts == 1 && x.LifecycleStatus == task.Failed
	})
	if first.ErrorKind != task.FailedRetryLater || first.RetryAt == 0 || !strings.Contains(first.Error, "peer busy") {
		t.Fatalf("after a retry-later failure: %s, kind %q, retryAt %d", describe(first), first.ErrorKind, first.RetryAt)
	}
	second := e.waitTask("later", "second attempt assigned", func(x *task.Task) bool { return x.Attempts == 2 })
	if second.AssignedDateTime < first.RetryAt {
		t.Errorf("retried at %d, before the retryAt %d the worker asked for", second.AssignedDateTime, first.RetryAt)
	}
	// The terminal task failed once and was never assigned again, while
	// the other task went through two attempts with the same controller.
	final, err := e.store.Get(e.ctx, "final")
	if err != nil {
		t.Fatal(err)
	}
	if final.LifecycleStatus != task.Failed || final.ErrorKind != task.FailedTerminal || final.Attempts != 1 || final.AssignmentEpoch != 1 {
		t.Errorf("terminal task: %s, kind %q; want Failed once, never retried", describe(final), final.ErrorKind)
	}
	var got wire.Task
	if code := c.call(t, "GET", "/api/tasks/final", "", nil, &got); code != 200 || got.ErrorKind != task.FailedTerminal {
		t.Errorf("GET /api/tasks/final: %d, errorKind %q; want 200, terminal", code, got.ErrorKind)
	}
}

func TestHistoryRecordsEachTransition(t *testing.T) {
	e := newEnv(t)
	n := e.startNode("hist-node", node.Options{}, newClass("Hist"))
	c := e.startController(func(c *ctl.Config) {
		realNodes(c)
		c.MaxAttempts = 2
		c.RetryBackoff = 100 * time.Millisecond
	})
	if err := e.store.Create(e.ctx, newDoc("hist", "Hist", `{"mode":"fail"}`)); err != nil {
		t.Fatal(err)
	}
	e.waitTask("hist", "second attempt Failed", func(x *task.Task) bool {
		return x.Attempts == 2 && x.LifecycleStatus == task.Failed
	})
	h, err := e.store.History(e.ctx, "hist")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, x := range h.Entries {
		got = append(got, fmt.Sprint(x.Event, "@", x.Epoch))
	}
	want := "[created@0 assigned@1 started@1 failed@1 retried@2 started@2 failed@2]"
	if fmt.Sprint(got) != want || h.Total != 7 || h.Dropped() != 0 {
		t.Fatalf("history %v (total %d), want %s", got, h.Total, want)
	}
	for _, x := range h.Entries {
		switch x.Event {
		case task.EventAssigned, task.EventRetried, task.EventStarted, task.EventFailed:
			if x.Node != n.n.ID() {
				t.Errorf("%s entry names node %q, want %q", x.Event, x.Node, n.n.ID())
			}
		}
		if x.At == 0 {
			t.Errorf("%s entry has no time", x.Event)
		}
	}
	if s := h.Entries[2]; s.Version != 1 {
		t.Errorf("started entry at attachments version %d, want 1", s.Version)
	}
	if f := h.Entries[3]; f.ErrorKind != task.FailedError || !strings.Contains(f.Message, "main failed on purpose") {
		t.Errorf("failed entry %+v, want kind error with the hook's error", f)
	}
	if r := h.Entries[4]; r.BackoffMs <= 0 {
		t.Errorf("retried entry %+v, want its backoff", r)
	}

	// The same, through the API and its Go client.
	api, err := client.New(c.url, "")
	if err != nil {
		t.Fatal(err)
	}
	got2, err := api.TaskHistory(e.ctx, "hist")
	if err != nil {
		t.Fatal(err)
	}
	if got2.TaskID != "hist" || got2.Total != 7 || got2.Dropped != 0 || len(got2.Entries) != 7 || got2.Entries[3].Message != h.Entries[3].Message {
		t.Errorf("GET /api/tasks/hist/history: %+v; want the store's 7 entries", got2)
	}
	if _, err := api.TaskHistory(e.ctx, "no-such-task"); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("history of a missing task: %v, want not found", err)
	}
}

func TestHistoryIsBounded(t *testing.T) {
	e := newEnv(t)
	if err := e.store.Create(e.ctx, newDoc("long", "Long", `{}`)); err != nil {
		t.Fatal(err)
	}
	e.store.KeepHistory(3)
	t.Cleanup(func() { e.store.KeepHistory(0) })
	statuses := []task.Status{task.Paused, task.Created, task.Paused, task.Created, task.Paused}
	for _, s := range statuses {
		if err := e.store.SetStatus(e.ctx, "long", s); err != nil {
			t.Fatal(err)
		}
	}
	h, err := e.store.History(e.ctx, "long")
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Entries) != 3 || h.Total != 6 || h.Dropped() != 3 {
		t.Fatalf("%d entries, total %d, dropped %d; want the 3 newest of 6, 3 dropped", len(h.Entries), h.Total, h.Dropped())
	}
	for i, x := range h.Entries {
		if x.Event != task.EventStatus || x.Status != statuses[len(statuses)-3+i] {
			t.Errorf("entry %d: %+v, want status %s", i, x, statuses[len(statuses)-3+i])
		}
	}

	// A node's writes (which do not read the task back) keep it within
	// the limit and the trim interval (half the limit): 3 + 1 here.
	e.store.KeepHistory(4)
	ref := task.Ref{ID: "long", Key: "long"}
	for i := range 20 {
		if err := e.store.MarkStuck(e.ctx, ref, fmt.Sprint("stuck ", i)); err != nil {
			t.Fatal(err)
		}
		if h, err = e.store.History(e.ctx, "long"); err != nil {
			t.Fatal(err)
		}
		if len(h.Entries) > 4+2 {
			t.Fatalf("after %d writes: %d entries, want at most 6", i+1, len(h.Entries))
		}
	}
	if last := h.Entries[len(h.Entries)-1]; h.Total != 26 || last.Message != "stuck 19" {
		t.Errorf("total %d, last %+v; want 26, the newest write", h.Total, last)
	}
}
