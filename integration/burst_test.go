package integration

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/skalds-go/skalds/runtime/config"
	"github.com/skalds-go/skalds/runtime/event"
	"github.com/skalds-go/skalds/runtime/node"
	"github.com/skalds-go/skalds/skaldtest"
)

// TestBurstReadsGrowWithEvents: a burst of task.assign events for the
// tasks assigned to a node, more of them than the node handles in one
// batch, costs MongoDB reads that grow with the events, not with the
// batches times the node's tasks. The node lists its assignments at most
// once (which starts the whole burst at once); the later batches name
// tasks that run already, and each is read by its ids. Every find on the
// wire is classified by what the server reads for it: a listing, the
// node's tasks; a find by _id (or id), one document, or, for a list of
// ids on FerretDB, which matches a list by reading every document, the
// whole collection.
func TestBurstReadsGrowWithEvents(t *testing.T) {
	e := newEnv(t)
	relay, uri := skaldtest.CommandRelayFor(t, e.stack.MongoURI)
	relay.Record("find")
	const count, batch = 200, 80
	ic, cls := newIdleClass(count)
	n := e.startNode("burst", node.Options{BatchSize: batch}, func(c *config.Config) {
		c.MongoHost = uri
		c.ReconcilePeriod = time.Hour // no periodic listing in the counts
	}, cls)
	ids := insertAssigned(t, e, n.n.ID(), count, cls)
	events := make([]event.TaskEvent, count)
	for i, id := range ids {
		events[i] = event.NewTaskEvent(id)
	}
	relay.ResetCommands()
	mark := e.logs.Mark()
	if err := e.pub.PublishMany(e.ctx, event.TopicAssign, events...); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ic.all:
	case <-time.After(deadline):
		t.Fatalf("%d of %d tasks running", ic.running.Load(), count)
	}
	handled := func(r skaldtest.Record) bool { return r.Msg == "event handled" && r.Attrs["skaldId"] == n.n.ID() }
	e.until(func(context.Context) bool {
		return e.logs.CountFrom(mark, handled) >= count
	}, func() string {
		return fmt.Sprintf("the node handled %d of %d events", e.logs.CountFrom(mark, handled), count)
	})

	var listings, byID, lists, read int
	for _, body := range relay.Recorded("find") {
		filter, _ := body.Lookup("filter").DocumentOK()
		switch k := findKind(filter); k {
		case "listing":
			listings++
			read += count
		case "list":
			lists++
			read += count
		default:
			byID++
			read++
		}
	}
	batches := e.logs.CountFrom(mark, func(r skaldtest.Record) bool {
		return r.Msg == "reconciled a batch of tasks" && r.Attrs["skaldId"] == n.n.ID()
	})
	t.Logf("%d events in %d batches: %d listings, %d reads of a list of ids, %d reads by id; %d documents read (%v)",
		count, batches, listings, lists, byID, read, relay.Commands())
	if listings > 1 {
		t.Errorf("the burst listed the node's %d tasks %d times; want once at most", count, listings)
	}
	if read > 2*count {
		t.Errorf("the burst of %d events read %d documents; want at most %d", count, read, 2*count)
	}
}

// findKind classifies a find of the task store by its filter: "listing"
// (a node's assignments, by executor), "list" (a list of ids or _ids, with
// $in) or "one" (an equality on _id or id).
func findKind(filter bson.Raw) string {
	if _, err := filter.LookupErr("executor"); err == nil {
		return "listing"
	}
	for _, key := range []string{"_id", "id"} {
		if v, err := filter.LookupErr(key); err == nil {
			if d, ok := v.DocumentOK(); ok {
				if _, err := d.LookupErr("$in"); err == nil {
					return "list"
				}
			}
		}
	}
	return "one"
}
