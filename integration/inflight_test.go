package integration

import (
	"context"
	"testing"
	"time"

	"github.com/skalds-go/skalds/runtime/config"
	"github.com/skalds-go/skalds/runtime/node"
	"github.com/skalds-go/skalds/runtime/task"
	"github.com/skalds-go/skalds/skaldtest"
)

// TestBurstWritesInFlight: a node that finds a burst of tasks assigned to
// it reports them Running in chunks, WritesInFlight writes under way at
// once, and starts no worker before its chunk's write landed; stopping, it
// hands them back in a few writes.
func TestBurstWritesInFlight(t *testing.T) {
	const n, inFlight = 200, 2 // chunks of 100: one write each
	e := newEnv(t)
	relay, uri := skaldtest.CommandRelayFor(t, e.stack.MongoURI)
	ic, cls := newIdleClass(n)
	ids := insertAssigned(t, e, e.id("burst"), n, cls)

	// Every update is held at the relay: the node's first reconcile must
	// have all its chunks' writes under way together, and no worker
	// running.
	relay.Hold("update")
	rn := e.launchNode("burst", node.Options{WritesInFlight: inFlight}, func(c *config.Config) {
		c.MongoHost = uri
		c.ReconcilePeriod = time.Hour
	}, cls)
	ctx, cancel := context.WithTimeout(e.ctx, deadline)
	defer cancel()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for relay.Commands()["update"] < inFlight {
		select {
		case <-ctx.Done():
			t.Fatalf("%d Running writes under way at once; want %d (%v)", relay.Commands()["update"], inFlight, relay.Commands())
		case <-tick.C:
		}
	}
	if running := ic.running.Load(); running != 0 {
		t.Errorf("%d workers running before their Running writes landed", running)
	}
	relay.Release("update")
	select {
	case <-ic.all:
	case <-ctx.Done():
		t.Fatalf("%d of %d workers running", ic.running.Load(), n)
	}
	if got := relay.Commands()["update"]; got != inFlight {
		t.Errorf("%d tasks reported Running in %d writes (%v); want %d", n, got, relay.Commands(), inFlight)
	}
	for _, id := range []string{ids[0], ids[n/2], ids[n-1]} {
		e.running(id, rn, 1)
	}

	relay.ResetCommands()
	if err := rn.stop(); err != nil {
		t.Fatal(err)
	}
	writes := relay.Commands()["update"]
	t.Logf("%d tasks handed back in %d writes (%v)", n, writes, relay.Commands())
	if writes == 0 || writes > 2*inFlight+1 {
		t.Errorf("%d tasks handed back in %d writes (%v); want a few batches", n, writes, relay.Commands())
	}
	docs, err := e.store.GetMany(e.ctx, ids)
	if err != nil || len(docs) != n {
		t.Fatalf("read %d of %d tasks: %v", len(docs), n, err)
	}
	for _, d := range docs {
		if d.LifecycleStatus != task.Created || d.Executor != nil {
			t.Errorf("%s after the shutdown: %s", d.ID, describe(&d))
			break
		}
	}
}
