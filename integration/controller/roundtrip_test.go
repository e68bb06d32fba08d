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
// once, and each assignment is one conditional write.
func TestDispatchCycleRoundTrips(t *testing.T) {
	e := newEnv(t)
	if err := e.writeNode("rt-node", "node", time.Now(), "RT"); err != nil {
		t.Fatal(err)
	}
	const n = 5
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
	d := dispatch.New(store, nil, mon, dispatch.Options{MaxClaimsPerCycle: 2, Interval: time.Minute, Logger: e.log})

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
	if assigned != n || cycles != 3 || got["find"] != 1 || got["findAndModify"] != n || len(got) != 2 {
		t.Errorf("%d tasks in %d cycles of at most 2 claims: %d assigned, commands %v; want one find and %d findAndModify",
			n, cycles, assigned, got, n)
	}
	for i := range n {
		if d := e.assignedTo(fmt.Sprintf("rt-%d", i)); deref(d.Executor) != "rt-node" || d.AssignmentEpoch != 1 {
			t.Errorf("rt-%d: %s", i, describe(d))
		}
	}

	// A new task: Kick makes the next cycle read again, and find it.
	e.create("rt-new", "RT", 0)
	d.Kick()
	relay.ResetCommands()
	if res, err := d.Cycle(e.ctx); err != nil || res.Assigned != 1 {
		t.Fatalf("the cycle after Kick: %+v %v", res, err)
	}
	if got := relay.Commands(); got["find"] != 1 || got["findAndModify"] != 1 {
		t.Errorf("the cycle after Kick sent %v; want one find and one findAndModify", got)
	}
}
