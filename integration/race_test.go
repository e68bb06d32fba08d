package integration

import (
	"context"
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
	e.await(mark, "liveness lease lapsed: no heartbeat reached Redis for longer than the lease; stopping every worker until one does, since controllers move the tasks of a node they cannot hear",
		"skaldId", a.n.ID())
	e.await(mark, "worker stopped; the task is no longer assigned here", "taskId", id, "epoch", epoch)
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
