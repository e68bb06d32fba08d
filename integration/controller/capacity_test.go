package controller

import (
	"testing"
	"time"

	"github.com/skalds-go/skalds/runtime/liveness"
	"github.com/skalds-go/skalds/runtime/node"
	"github.com/skalds-go/skalds/runtime/task"
)

// TestDispatchRespectsTheCapacityNodesPublish checks that the controller
// places tasks by the limits nodes publish with their beat, so that no node
// ever has to refuse one: a full node's next task waits, goes to a node
// with room when one appears, and a freed slot is reused.
func TestDispatchRespectsTheCapacityNodesPublish(t *testing.T) {
	e := newEnv(t)
	cls := newClass("Capped")
	e.startNode("cap-1", node.Options{MaxTasks: 1}, cls)
	if got := e.rdb.HGetAll(e.ctx, liveness.NodeCapacityKey("cap-1")).Val(); got[liveness.CapacityMaxTasks] != "1" {
		t.Fatalf("cap-1 published capacity %v, want maxTasks 1", got)
	}
	c := e.startController(realNodes)
	running := func(id, on string) *task.Task {
		return e.waitTask(id, "Running on "+on, func(d *task.Task) bool {
			return d.LifecycleStatus == task.Running && deref(d.Executor) == on
		})
	}
	e.create("c1", "Capped", 9)
	running("c1", "cap-1")

	// cap-1 is full: c2 waits, unassigned and never refused, through many
	// dispatch cycles (100 ms each).
	e.create("c2", "Capped", 0)
	e.stillWaiting("c2", time.Second)

	// A node with room for one task of the class appears: c2 goes there.
	e.startNode("cap-2", node.Options{ClassLimits: map[string]int{"Capped": 1}}, cls)
	d := running("c2", "cap-2")
	if d.Refusal != nil || d.AssignmentEpoch != 1 {
		t.Errorf("c2: refusal %+v, epoch %d; want no refusal, epoch 1", d.Refusal, d.AssignmentEpoch)
	}

	// Both are full: c3 waits until c1 is cancelled and cap-1's slot is
	// free again.
	e.create("c3", "Capped", 0)
	e.stillWaiting("c3", 500*time.Millisecond)
	if code := c.call(t, "DELETE", "/api/tasks/c1", "", nil, nil); code != 200 {
		t.Fatalf("cancelling c1: %d", code)
	}
	d = running("c3", "cap-1")
	if d.Refusal != nil || d.AssignmentEpoch != 1 {
		t.Errorf("c3: refusal %+v, epoch %d; want no refusal, epoch 1", d.Refusal, d.AssignmentEpoch)
	}
}

// stillWaiting checks for the given time that the task stays Created,
// unassigned and unrefused.
func (e *env) stillWaiting(id string, d time.Duration) {
	e.t.Helper()
	end := time.Now().Add(d)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for time.Now().Before(end) {
		x, err := e.store.Get(e.ctx, id)
		if err != nil {
			e.t.Fatal(err)
		}
		if x.LifecycleStatus != task.Created || x.Executor != nil || x.Refusal != nil || x.AssignmentEpoch != 0 {
			e.t.Fatalf("task %s should wait for capacity: %s, refusal %+v", id, describe(x), x.Refusal)
		}
		<-tick.C
	}
}
