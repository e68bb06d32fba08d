package integration

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/skalds-go/skalds/runtime/config"
	"github.com/skalds-go/skalds/runtime/event"
	"github.com/skalds-go/skalds/runtime/node"
	"github.com/skalds-go/skalds/runtime/task"
	"github.com/skalds-go/skalds/skaldtest"
)

// redisRelay returns a relay to the stack's Redis and a tweak that points
// a node's Redis connection through it.
func (e *env) redisRelay() (*skaldtest.Relay, func(*config.Config)) {
	e.t.Helper()
	r := e.relay(e.stack.RedisAddr)
	host, port, err := net.SplitHostPort(r.Addr())
	if err != nil {
		e.t.Fatal(err)
	}
	p, _ := strconv.Atoi(port)
	return r, func(c *config.Config) { c.RedisHost, c.RedisPort = host, p }
}

// TestLeaseLapseStopsWorkers cuts a node off from Redis: its heartbeats
// fail, and once none has succeeded for the liveness lease (halfway
// between the heartbeat period and the node timeout), the node stops its
// worker, writing nothing, before any controller would take it for
// offline. When a heartbeat gets through again, it starts the task again,
// still assigned to it.
func TestLeaseLapseStopsWorkers(t *testing.T) {
	e := newEnv(t)
	p := &probe{}
	cls := newClass("Leased", p)
	relay, viaRelay := e.redisRelay()
	const timeout = 5 * time.Second // lease 4 s
	a := e.startNode("a", node.Options{}, func(c *config.Config) {
		viaRelay(c)
		c.NodeTimeout = timeout
	}, cls)
	id := e.id("leased")
	e.create(id, cls, params{})
	epoch := e.assign(id, a)
	e.running(id, a, epoch)
	e.await(0, "main running", "taskId", id)

	mark := e.logs.Mark()
	cut := time.Now()
	relay.Cut()
	e.await(mark, lapsed, "skaldId", a.n.ID())
	e.await(mark, lapsedStop, "taskId", id, "epoch", epoch)
	took := time.Since(cut)
	if took >= timeout {
		t.Fatalf("the worker stopped %v after the cut, not before the node timeout %v", took, timeout)
	}
	t.Logf("the worker stopped %v after its node's Redis link was cut (lease 4s, node timeout %v)", took.Round(time.Millisecond), timeout)
	if _, releases, _, _ := p.snapshot(); releases != 1 {
		t.Fatalf("%d releases after the lease lapsed, want 1", releases)
	}
	if got := e.running(id, a, epoch); got.Error != "" {
		t.Fatalf("task %s; want it left as it was", describe(got))
	}

	restored := e.logs.Mark()
	relay.Restore()
	e.await(restored, "a heartbeat reached Redis again: the liveness lease holds; converging on the tasks still assigned here", "skaldId", a.n.ID())
	e.await(restored, "main running", "taskId", id)
	if starts, _, most, _ := p.snapshot(); starts != 2 || most != 1 {
		t.Fatalf("%d workers started, %d at most at once; want 2 and 1", starts, most)
	}
	a.alive(t)
}

// lapsed is the record of a node whose liveness lease lapsed, lapsedStop
// that of a worker it stopped for that.
const (
	lapsed     = "liveness lease lapsed: no heartbeat reached Redis for longer than the lease; stopping every worker until one does, since controllers move the tasks of a node they cannot hear"
	lapsedStop = "worker stopped: the liveness lease lapsed; the task stays assigned here and restarts once a heartbeat reaches Redis again"
)

// TestLapsedNodeRestartsAllItsTasks cuts a node with many tasks off from
// Redis until its liveness lease lapses, and lets it beat again while its
// workers are still stopping: all hold in their release hooks, and some
// overrun the stop grace, as workers do when their last writes queue
// behind a busy MongoDB. The node restarts every task, all still assigned
// to it, as soon as its worker has returned: within a fraction of the
// reconcile period (so no periodic reconcile did it), and in a few
// batched writes rather than one read and one write per task behind each
// other.
func TestLapsedNodeRestartsAllItsTasks(t *testing.T) {
	e := newEnv(t)
	hold, overrun := make(chan struct{}), make(chan struct{})
	p := &probe{holds: []chan struct{}{hold, overrun}}
	cls := newClass("Relapse", p)
	relay, viaRelay := e.redisRelay()
	mongo, uri := skaldtest.CommandRelayFor(t, e.stack.MongoURI)
	const (
		period = time.Minute
		grace  = 2 * time.Second
		count  = 40
	)
	a := e.startNode("a", node.Options{StopGrace: grace}, func(c *config.Config) {
		viaRelay(c)
		c.MongoHost = uri
		c.NodeTimeout = 5 * time.Second // lease 4 s
		c.ReconcilePeriod = period
	}, cls)
	ids := make([]string, count)
	overrunning := map[string]bool{}
	for i := range ids {
		ids[i] = e.id(fmt.Sprintf("relapse-%02d", i))
		m := params{Mode: "hold-release"}
		if i%8 == 0 {
			m.Value = 1 // holds past the stop grace
			overrunning[ids[i]] = true
		}
		e.create(ids[i], cls, m)
		e.assign(ids[i], a)
	}
	for _, id := range ids {
		e.running(id, a, 1)
		e.await(0, "main running", "taskId", id)
	}

	mark := e.logs.Mark()
	relay.Cut()
	e.await(mark, lapsed, "skaldId", a.n.ID())
	for _, id := range ids {
		e.await(mark, "released", "taskId", id)
	}
	mongo.ResetCommands()
	restored := e.logs.Mark()
	relay.Restore()
	e.await(restored, "a heartbeat reached Redis again: the liveness lease holds; converging on the tasks still assigned here", "skaldId", a.n.ID())
	// That reconcile found every worker still stopping, and left each
	// task to the reconcile that follows its worker's return.
	e.await(restored, "reconciled the tasks assigned here", "skaldId", a.n.ID(), "assigned", int64(count), "starting", int64(0))
	close(hold)
	for id := range overrunning {
		e.await(mark, "worker did not stop within the grace period", "taskId", id, "hook", "release")
	}
	close(overrun)
	returned := time.Now()
	for _, id := range ids {
		e.await(mark, lapsedStop, "taskId", id, "epoch", int64(1))
		e.await(restored, "main running", "taskId", id)
	}
	took := time.Since(returned)
	t.Logf("%d tasks running again %v after the last worker was let return (reconcile period %v); MongoDB commands since the lease held again: %v",
		count, took.Round(time.Millisecond), period, mongo.Commands())
	if took > period/4 {
		t.Errorf("the tasks ran again %v after their workers returned; want well within the reconcile period %v", took, period)
	}
	for _, id := range ids {
		if got := e.running(id, a, 1); got.Executor == nil || *got.Executor != a.n.ID() {
			t.Fatalf("task %s; want it still on %s", describe(got), a.n.ID())
		}
	}
	if n := e.logs.CountFrom(mark, skaldtest.Msg("worker stopped; the task is no longer assigned here")); n != 0 {
		t.Errorf("%d workers logged as stopped for a task no longer assigned here; the tasks stayed assigned", n)
	}
	stuck := e.logs.CountFrom(mark, skaldtest.Msg("worker did not stop within the grace period"))
	cmds := mongo.Commands()
	// One reconcile per task, as before batching, is count reconciles
	// and writes. The node gathers returns that trickle in while others
	// are still stopping (3 reconciles for 40 tasks here, loaded or not;
	// 11 to 21 in CI before it did), so a quarter leaves room for a slow
	// machine. FerretDB reads each task of a reconcile by its id (see
	// task.Store.GetMany): about one read per task, besides the listing
	// once the lease held again, and the workers held past the grace may
	// be read in two reconciles (46 reads seen in CI, 41 here), so reads
	// are bounded at two per task; the reconciles are what batching saves.
	batched := count / 4
	if writes := cmds["update"] - stuck; writes > batched {
		t.Errorf("%d tasks restarted in %d writes besides %d of stuck workers (%v); want a few batches", count, writes, stuck, cmds)
	}
	reconciles := e.logs.CountFrom(restored, func(r skaldtest.Record) bool {
		return r.Msg == "reconciled a batch of tasks" && r.Attrs["skaldId"] == a.n.ID()
	})
	if reconciles > batched {
		t.Errorf("%d tasks restarted in %d reconciles; want a few batches", count, reconciles)
	}
	if reads := cmds["find"]; reads > 2*count {
		t.Errorf("%d tasks restarted in %d reconciles after %d reads (%v); want at most two reads per task",
			count, reconciles, reads, cmds)
	}
	if starts, _, most, _ := p.snapshot(); starts != 2*count || most != count {
		t.Errorf("%d workers started, %d at most at once; want %d and %d", starts, most, 2*count, count)
	}
	a.alive(t)
}

// TestLapseDropsQueuedProgressWrites: the workers of a node report
// progress while MongoDB holds every write, more of them than the node
// lets write at once, when the node's liveness lease lapses. The workers
// whose progress write still waits for its turn end at once, without it:
// a stop that leaves nothing to write (the task's next start clears its
// progress) does not wait behind a busy MongoDB, nor does the restart that
// follows. Those whose write was under way end once it is through.
func TestLapseDropsQueuedProgressWrites(t *testing.T) {
	e := newEnv(t)
	p := &probe{}
	cls := newClass("Queued", p)
	relay, viaRelay := e.redisRelay()
	mongo, uri := skaldtest.CommandRelayFor(t, e.stack.MongoURI)
	const (
		count  = 12
		atOnce = 8 // the node's writes at once (see gated in runtime/node)
		queued = count - atOnce
	)
	a := e.startNode("a", node.Options{}, func(c *config.Config) {
		viaRelay(c)
		c.MongoHost = uri
		c.NodeTimeout = 5 * time.Second // lease 4 s
		c.ReconcilePeriod = time.Minute
	}, cls)
	ids := make([]string, count)
	for i := range ids {
		ids[i] = e.id(fmt.Sprintf("queued-%02d", i))
		e.create(ids[i], cls, params{Mode: "report", Value: i})
		e.assign(ids[i], a)
	}
	for _, id := range ids {
		e.running(id, a, 1)
		e.await(0, "main running", "taskId", id)
	}

	mongo.Hold("update")
	close(p.gate)
	<-mongo.Held()
	mark := e.logs.Mark()
	relay.Cut()
	e.await(mark, lapsed, "skaldId", a.n.ID())
	var ended int
	e.until(func(context.Context) bool {
		ended = e.logs.CountFrom(mark, skaldtest.Msg(lapsedStop))
		return ended >= queued
	}, func() string {
		return fmt.Sprintf("%d workers ended while MongoDB held the progress writes; want the %d whose write waited for its turn", ended, queued)
	})
	mongo.Release("update")
	restored := e.logs.Mark()
	relay.Restore()
	for _, id := range ids {
		e.await(mark, lapsedStop, "taskId", id)
		e.await(restored, "main running", "taskId", id)
	}
	if n := e.logs.CountFrom(mark, skaldtest.Msg("worker did not stop within the grace period")); n != 0 {
		t.Errorf("%d workers reported stuck; their hooks returned at once", n)
	}
	if n := e.logs.CountFrom(mark, skaldtest.Msg("storing the progress failed; the next report or the outcome of the worker carries it")); n != 0 {
		t.Errorf("%d progress writes logged as failed; a dropped one is not a failure", n)
	}
	a.alive(t)
}

// TestInconsistentLeaseIsRefused: a lease that is not below the node
// timeout (or not above the heartbeat period) is an error at start, naming
// both settings.
func TestInconsistentLeaseIsRefused(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct {
		timeout, lease time.Duration
		want           string
	}{
		{10 * time.Second, 12 * time.Second, "SKALD_LIVENESS_LEASE=12s must lie between the heartbeat period (3s) and MONITOR_HEARTBEAT_TIMEOUT (10s)"},
		{10 * time.Second, 2 * time.Second, "SKALD_LIVENESS_LEASE=2s must lie between"},
		{2 * time.Second, 0, "MONITOR_HEARTBEAT_TIMEOUT=2s is not above the heartbeat period (3s)"},
	} {
		cfg := e.cfg
		cfg.NodeTimeout, cfg.LivenessLease = c.timeout, c.lease
		_, err := node.New(cfg, node.Options{})
		if err == nil || !contains(err.Error(), c.want) {
			t.Errorf("timeout %v, lease %v: %v; want an error saying %q", c.timeout, c.lease, err, c.want)
		}
	}
}

// TestFencedWriteAloneStopsWorker: a node that hears no events (Kafka
// off) and reconciles rarely delivers an update; while the worker applies
// it, the task is moved elsewhere. The worker's next write, the applied
// version, is fenced, and that write alone stops the worker: no reconcile
// comes before.
func TestFencedWriteAloneStopsWorker(t *testing.T) {
	e := newEnv(t)
	p := &probe{}
	cls := newClass("FencedAlone", p)
	const period = 2 * time.Second
	a := e.startNode("a", node.Options{}, func(c *config.Config) {
		c.KafkaDisabled = true
		c.ReconcilePeriod = period
	}, cls)
	id := e.id("fenced-alone")
	e.create(id, cls, params{})
	epoch, err := e.store.Assign(e.ctx, id, a.n.ID())
	if err != nil {
		t.Fatal(err)
	}
	e.running(id, a, epoch)
	e.await(0, "main running", "taskId", id)

	p.onUpdate = func(params) {
		if _, err := e.store.Assign(context.Background(), id, "elsewhere"); err != nil {
			t.Error(err)
		}
	}
	mark := e.logs.Mark()
	if _, err := e.store.SetAttachments(e.ctx, id, cls.Encode(params{Value: 1})); err != nil {
		t.Fatal(err)
	}
	fenced := e.await(mark, "the task was reassigned (its write was fenced); stopping the worker", "taskId", id)
	if fenced.Attrs["while"] != "recording the applied attachments version" {
		t.Fatalf("fenced while %v; want while recording the applied attachments version", fenced.Attrs["while"])
	}
	e.stoppedForElsewhere(mark, id, p)
}

// TestEventPreemptsAStartBatch starts a node whose assignments are read
// but whose Running writes are held back at its MongoDB link, as behind a
// busy server: the node is in the middle of starting a batch. A task of
// the batch is moved elsewhere and task.assign published; the node stops
// that task's start at once, without waiting for the batch, and never
// starts its worker; the others start once the writes go through.
func TestEventPreemptsAStartBatch(t *testing.T) {
	e := newEnv(t)
	p := &probe{}
	cls := newClass("Preempted", p)
	relay, uri := skaldtest.CommandRelayFor(t, e.stack.MongoURI)
	nodeID := e.id("a")
	ids := []string{e.id("batch-1"), e.id("batch-2"), e.id("batch-3")}
	for _, id := range ids {
		e.create(id, cls, params{})
		if _, err := e.store.Assign(e.ctx, id, nodeID); err != nil {
			t.Fatal(err)
		}
	}
	relay.Hold("update")
	t.Cleanup(func() { relay.Release("update") })
	mark := e.logs.Mark()
	a := e.launchNode("a", node.Options{}, func(c *config.Config) { c.MongoHost = uri }, cls)
	select {
	case <-relay.Held():
	case <-time.After(deadline):
		t.Fatal("the node wrote nothing")
	}

	moved := ids[1]
	if _, err := e.store.Assign(e.ctx, moved, "elsewhere"); err != nil {
		t.Fatal(err)
	}
	if err := e.pub.Publish(e.ctx, event.TopicAssign, event.NewTaskEvent(moved)); err != nil {
		t.Fatal(err)
	}
	e.await(mark, "stopping the worker ahead of the reconcile under way: the task moved on", "taskId", moved, "reason", "reassigned")

	relay.Release("update")
	e.ready(a, mark)
	for _, id := range []string{ids[0], ids[2]} {
		e.await(mark, "main running", "taskId", id)
	}
	if n := e.logs.CountFrom(mark, skaldtest.Msg("worker started", "taskId", moved)); n != 0 {
		t.Fatalf("the moved task's worker started %d times on the old node", n)
	}
	got, err := e.store.Get(e.ctx, moved)
	if err != nil {
		t.Fatal(err)
	}
	if *got.Executor != "elsewhere" || got.LifecycleStatus != task.Assigning {
		t.Fatalf("moved task %s; want it left Assigning to elsewhere", describe(got))
	}
}
