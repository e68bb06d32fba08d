package controller

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/skalds-go/skalds/controller/dispatch"
	"github.com/skalds-go/skalds/controller/monitor"
	"github.com/skalds-go/skalds/runtime/task"
	"github.com/skalds-go/skalds/skaldtest"
)

// TestDispatchCycleRoundTrips counts the MongoDB commands of dispatch
// cycles on the wire: a backlog worked through in capped cycles is read
// once, and each cycle claims the tasks it gives one node in one write
// and reads back which it got in one read, however many they are.
func TestDispatchCycleRoundTrips(t *testing.T) {
	e := newEnv(t)
	nodes := []string{"rt-node-a", "rt-node-b"}
	for _, id := range nodes {
		if err := e.writeNode(id, "node", time.Now(), "RT"); err != nil {
			t.Fatal(err)
		}
	}
	const n, perCycle = 8, 4
	for i := range n {
		e.create(fmt.Sprintf("rt-%d", i), "RT", 0)
	}
	relay, uri := skaldtest.CommandRelayFor(t, e.stack.MongoURI)
	store, err := task.Open(e.ctx, uri, "skalds")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close(context.Background()) })
	mon := monitor.New(e.rdb, monitor.Options{Timeout: time.Hour})
	if _, err := mon.Refresh(e.ctx); err != nil {
		t.Fatal(err)
	}
	d := dispatch.New(store, nil, mon, dispatch.Options{MaxClaimsPerCycle: perCycle, Interval: time.Minute, Logger: e.log})

	relay.ResetCommands()
	cycles, assigned := 0, 0
	for {
		res, err := d.Cycle(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		cycles++
		assigned += res.Assigned
		if !res.Capped || cycles > n {
			break
		}
	}
	got := relay.Commands()
	// Per cycle, one write and one read back per node; one read of the
	// backlog in all.
	batches := cycles * len(nodes)
	if assigned != n || cycles != n/perCycle || got["find"] != 1+batches || got["update"] != batches || len(got) != 2 {
		t.Errorf("%d tasks over %d nodes in %d cycles of at most %d claims: %d assigned, commands %v; want %d find and %d update",
			n, len(nodes), cycles, perCycle, assigned, got, 1+batches, batches)
	}
	perNode := map[string]int{}
	for i := range n {
		d := e.assignedTo(fmt.Sprintf("rt-%d", i))
		if d.AssignmentEpoch != 1 || d.Executor == nil {
			t.Errorf("rt-%d: %s", i, describe(d))
			continue
		}
		perNode[*d.Executor]++
	}
	if perNode[nodes[0]] != n/2 || perNode[nodes[1]] != n/2 {
		t.Errorf("tasks per node %v; want %d on each of %v", perNode, n/2, nodes)
	}

	// A new task: Kick makes the next cycle read again, and find it.
	e.create("rt-new", "RT", 0)
	d.Kick()
	relay.ResetCommands()
	if res, err := d.Cycle(e.ctx); err != nil || res.Assigned != 1 {
		t.Fatalf("the cycle after Kick: %+v %v", res, err)
	}
	if got := relay.Commands(); got["find"] != 2 || got["update"] != 1 || len(got) != 2 {
		t.Errorf("the cycle after Kick sent %v; want a find of the pending tasks, one update and a find of what it claimed", got)
	}
}
