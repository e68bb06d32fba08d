package integration

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/skalds-go/skalds/runtime/config"
	"github.com/skalds-go/skalds/runtime/node"
	"github.com/skalds-go/skalds/runtime/task"
	"github.com/skalds-go/skalds/skaldtest"
)

// mongoRelay returns a relay to the stack's MongoDB and a tweak that points
// a node's MongoDB connection through it.
func (e *env) mongoRelay() (*skaldtest.Relay, func(*config.Config)) {
	e.t.Helper()
	u, err := url.Parse(e.stack.MongoURI)
	if err != nil {
		e.t.Fatal(err)
	}
	r := e.relay(u.Host)
	u.Host = r.Addr()
	uri := u.String()
	return r, func(c *config.Config) { c.MongoHost = uri }
}

// relay returns a relay to target (host:port), closed when the test ends.
func (e *env) relay(target string) *skaldtest.Relay {
	e.t.Helper()
	r, err := skaldtest.NewRelay(target)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(r.Close)
	return r
}

// eventFor matches an "event handled" record of node skaldID naming task id.
func eventFor(skaldID, id string) skaldtest.Match {
	return func(r skaldtest.Record) bool {
		if r.Msg != "event handled" || r.Attrs["skaldId"] != skaldID {
			return false
		}
		return strings.Contains(fmt.Sprint(r.Attrs["taskIds"]), id)
	}
}

// handled waits until node skaldID has handled an event naming task id.
func (e *env) handled(skaldID, id string) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(e.ctx, deadline)
	defer cancel()
	if _, err := e.logs.Await(ctx, eventFor(skaldID, id)); err != nil {
		e.t.Fatalf("awaiting the event for %s on %s: %v", id, skaldID, err)
	}
}

// TestReconnectStopsWhatWasReassignedMeanwhile cuts a node off from
// MongoDB while its worker runs and reassigns the task elsewhere without
// publishing any event. Once the link is back, the node's first read of
// its assignments stops the old copy: the reconnect alone explains it.
func TestReconnectStopsWhatWasReassignedMeanwhile(t *testing.T) {
	e := newEnv(t)
	p := &probe{}
	cls := newClass("Reconnect", p)
	relay, viaRelay := e.mongoRelay()
	// The periodic reconcile is what notices that MongoDB is out of reach;
	// from then on the node retries every second until it answers.
	a := e.startNode("a", node.Options{}, func(c *config.Config) {
		viaRelay(c)
		c.ReconcilePeriod = 2 * time.Second
	}, cls)
	id := e.id("reconnect")
	e.create(id, cls, params{})
	epoch := e.assign(id, a)
	e.running(id, a, epoch)
	e.await(0, "main running", "taskId", id)
	e.handled(a.n.ID(), id)

	mark := e.logs.Mark()
	relay.Cut()
	e.await(mark, "reconcile: cannot read this node's assignments from MongoDB; retrying every second", "skaldId", a.n.ID())

	// Reassign with the store only: no event is published.
	other := e.id("b")
	next, err := e.store.Assign(e.ctx, id, other)
	if err != nil {
		t.Fatal(err)
	}
	if next <= epoch {
		t.Fatalf("epoch %d after the reassignment, want more than %d", next, epoch)
	}
	if _, releases, _, _ := p.snapshot(); releases != 0 {
		t.Fatalf("%d releases while the node could not read MongoDB, want 0", releases)
	}
	if n := e.logs.CountFrom(mark, skaldtest.Msg("worker stopped; the task is no longer assigned here", "taskId", id)); n != 0 {
		t.Fatal("the worker stopped while the node could not read MongoDB")
	}

	restored := e.logs.Mark()
	relay.Restore()
	e.await(restored, "MongoDB answers again; converging on this node's tasks", "skaldId", a.n.ID())
	e.await(restored, "worker stopped; the task is no longer assigned here", "taskId", id, "epoch", epoch)
	if _, releases, _, _ := p.snapshot(); releases != 1 {
		t.Fatalf("%d releases after the reconnect, want 1", releases)
	}
	if n := e.logs.CountFrom(mark, eventFor(a.n.ID(), id)); n != 0 {
		t.Fatalf("%d events for the task reached the node after the cut, want 0", n)
	}
	tk, err := e.store.Get(e.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if tk.Executor == nil || *tk.Executor != other || tk.AssignmentEpoch != next {
		t.Fatalf("task after the reconnect: %s; want executor %s in epoch %d", describe(tk), other, next)
	}
	a.alive(t)
}

// TestLeaseStopsWorkersWhileCutOff gives a node a lease: cut off from
// MongoDB for longer than that, it stops its worker while still cut off,
// and starts it again once MongoDB answers and the task is still its own.
func TestLeaseStopsWorkersWhileCutOff(t *testing.T) {
	e := newEnv(t)
	p := &probe{}
	cls := newClass("Lease", p)
	relay, viaRelay := e.mongoRelay()
	a := e.startNode("a", node.Options{LeaseTimeout: 2 * time.Second}, func(c *config.Config) {
		viaRelay(c)
		c.ReconcilePeriod = time.Second
	}, cls)
	id := e.id("lease")
	e.create(id, cls, params{})
	epoch := e.assign(id, a)
	e.running(id, a, epoch)
	e.await(0, "main running", "taskId", id)

	mark := e.logs.Mark()
	relay.Cut()
	e.await(mark, "no contact with MongoDB for longer than the lease; stopping all workers until it answers again", "skaldId", a.n.ID())
	e.await(mark, "worker stopped: MongoDB was out of reach for longer than the lease; the task restarts once MongoDB answers, if it is still assigned here", "taskId", id, "epoch", epoch)
	if _, releases, _, _ := p.snapshot(); releases != 1 {
		t.Fatalf("%d releases after the lease ran out, want 1", releases)
	}
	if n := e.logs.CountFrom(mark, skaldtest.Msg("MongoDB answers again; converging on this node's tasks", "skaldId", a.n.ID())); n != 0 {
		t.Fatal("MongoDB answered while the relay was cut")
	}

	restored := e.logs.Mark()
	relay.Restore()
	e.await(restored, "MongoDB answers again; converging on this node's tasks", "skaldId", a.n.ID())
	e.await(restored, "main running", "taskId", id)
	if starts, _, most, _ := p.snapshot(); starts != 2 || most != 1 {
		t.Fatalf("%d workers started, %d at most at once; want 2 and 1", starts, most)
	}
	e.running(id, a, epoch)
	a.alive(t)
}

// TestLostRunningWriteIsWrittenAgain leaves a running worker's task
// Assigning in its epoch, as a Running write lost to a MongoDB cut or
// restart does (the node starts the worker anyway, see launch). The node,
// which hears no events here, must write Running again from its periodic
// reconcile, without a second worker, and keep what the worker wrote
// meanwhile.
func TestLostRunningWriteIsWrittenAgain(t *testing.T) {
	e := newEnv(t)
	p := &probe{}
	cls := newClass("LostRunning", p)
	a := e.startNode("a", node.Options{}, func(c *config.Config) {
		c.KafkaDisabled = true
		c.ReconcilePeriod = time.Second
	}, cls)
	id := e.id("lost")
	e.create(id, cls, params{Value: 1})
	epoch := e.assign(id, a)
	e.running(id, a, epoch)
	e.await(0, "main running", "taskId", id)

	mc, err := mongo.Connect(options.Client().ApplyURI(e.stack.MongoURI))
	if err != nil {
		t.Fatal(err)
	}
	defer mc.Disconnect(context.Background())
	coll := mc.Database(e.cfg.DBName).Collection(task.Collection)
	mark := e.logs.Mark()
	res, err := coll.UpdateOne(e.ctx, bson.D{{Key: "id", Value: id}, {Key: "assignmentEpoch", Value: epoch}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "lifecycleStatus", Value: task.Assigning}, {Key: "appliedAttachments", Value: bson.D{{Key: "value", Value: 1}}}}}})
	if err != nil || res.MatchedCount != 1 {
		t.Fatalf("setting the task back to Assigning: matched %v, %v", res, err)
	}
	e.await(mark, "the task is still Assigning although its worker runs here: its Running write was lost; writing it again",
		"skaldId", a.n.ID(), "taskId", id, "epoch", epoch)
	got := e.running(id, a, epoch)
	if got.AppliedAttachments == nil {
		t.Fatal("writing Running again dropped the applied attachments the worker wrote")
	}
	if starts, releases, _, _ := p.snapshot(); starts != 1 || releases != 0 {
		t.Fatalf("starts %d, releases %d; want 1, 0: the running worker must be kept, not restarted", starts, releases)
	}
	a.alive(t)
}

// TestStartedAgainOnlyWhileAssigning checks the write that repairs a lost
// Running write: it applies to a task still Assigning in the run's epoch,
// and is fenced once the task runs (it never clears what a worker wrote
// since) or moved to another epoch.
func TestStartedAgainOnlyWhileAssigning(t *testing.T) {
	e := newEnv(t)
	cls := newClass("StartedAgain", &probe{})
	tk := e.assignedTo(cls, "again", params{Value: 1}, "n1")
	id := tk.ID
	if err := e.store.StartedAgain(e.ctx, tk.Ref(), tk.AttachmentsVersion); err != nil {
		t.Fatalf("over Assigning: %v", err)
	}
	if err := e.store.Progress(e.ctx, tk.Ref(), []byte(`{"step":1}`)); err != nil {
		t.Fatal(err)
	}
	if err := e.store.StartedAgain(e.ctx, tk.Ref(), tk.AttachmentsVersion); !errors.Is(err, task.ErrFenced) {
		t.Fatalf("over Running: %v, want ErrFenced", err)
	}
	got := e.waitTask(id, "Running with its progress", func(t *task.Task) bool {
		return t.LifecycleStatus == task.Running && t.Progress != nil
	})
	if _, err := e.store.Assign(e.ctx, id, "n2"); err != nil {
		t.Fatal(err)
	}
	if err := e.store.StartedAgain(e.ctx, got.Ref(), got.AttachmentsVersion); !errors.Is(err, task.ErrFenced) {
		t.Fatalf("in an older epoch: %v, want ErrFenced", err)
	}
	e.waitTask(id, "Assigning on n2", func(t *task.Task) bool {
		return t.LifecycleStatus == task.Assigning && t.Executor != nil && *t.Executor == "n2"
	})
}
