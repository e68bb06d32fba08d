package integration

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skalds-go/skalds/embedded"
	"github.com/skalds-go/skalds/runtime/client"
	"github.com/skalds-go/skalds/runtime/config"
	"github.com/skalds-go/skalds/runtime/node"
	"github.com/skalds-go/skalds/runtime/task"
	"github.com/skalds-go/skalds/skaldtest"
)

// TestRoundTripsPerOperation counts what each operation costs on the
// wire: the MongoDB commands of the client and of the node (each through
// its own counting relay) and the Kafka Produce requests the broker
// receives. An extra round trip on a hot path fails here. The minimum:
// the client writes once and publishes once; the node reads the task once
// and acknowledges with at most one write.
func TestRoundTripsPerOperation(t *testing.T) {
	// The embedded broker in every run, also with SKALDS_TEST_KAFKA: it is
	// the one whose requests the test can count.
	e := newEnvOn(t, embedded.Options{RedisAddr: skaldtest.RedisAddr(t)})
	cluster := e.stack.Kafka().Cluster()
	var produces atomic.Int64
	cluster.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		cluster.KeepControl()
		produces.Add(1)
		return nil, nil, false
	})
	clientRelay, clientURI := skaldtest.CommandRelayFor(t, e.stack.MongoURI)
	nodeRelay, nodeURI := skaldtest.CommandRelayFor(t, e.stack.MongoURI)

	cfg := e.cfg
	cfg.MongoHost = clientURI
	c, err := client.New(e.ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	p := &probe{}
	cls := newClass("RoundTrips", p)
	n := e.startNode("rt", node.Options{}, func(c *config.Config) {
		c.MongoHost = nodeURI
		c.ReconcilePeriod = time.Hour // no periodic read in the counts
	}, cls)
	id := e.id("rt")

	// expect checks the counts since the last call against want, after
	// the node logged done for the task.
	reset := func() {
		clientRelay.ResetCommands()
		nodeRelay.ResetCommands()
		produces.Store(0)
	}
	type counts struct {
		client   map[string]int
		produces int64
		node     map[string]int
	}
	// The node reads once per event it handles. On a loaded machine its
	// consumer group may rejoin and get an event again, or its
	// subscription fail and a full reconcile (two reads) follow: each is
	// logged, and allowed for.
	check := func(op string, mark int, got counts, wantClient map[string]int, wantProduces int64, nodeReads, nodeWrites int) {
		t.Helper()
		if !sameCounts(got.client, wantClient) || got.produces != wantProduces {
			t.Errorf("%s: the client sent %v and %d Produce requests; want %v and %d", op, got.client, got.produces, wantClient, wantProduces)
		}
		reads, writes := 0, 0
		for name, k := range got.node {
			switch name {
			case "find", "getMore", "aggregate", "count":
				reads += k
			default:
				writes += k
			}
		}
		if nodeReads > 0 {
			events := e.logs.CountFrom(mark, eventFor(n.n.ID(), id))
			resubscribed := e.logs.CountFrom(mark, skaldtest.Msg("event subscription failed; subscribing again"))
			if extra := events - 1 + 2*resubscribed; extra > 0 {
				t.Logf("%s: the node handled %d events and subscribed again %d times; %d more read(s) allowed", op, events, resubscribed, extra)
				nodeReads += extra
			}
		}
		if reads != nodeReads || writes > nodeWrites {
			t.Errorf("%s: the node sent %v; want %d read(s) and at most %d write(s)", op, got.node, nodeReads, nodeWrites)
		}
		t.Logf("%s: client %v + %d produce; node %v", op, got.client, got.produces, got.node)
	}
	// snapshot takes the counts once the node has handled the event of
	// the step begun at mark (logged after its worker's record).
	snapshot := func(mark int) counts {
		t.Helper()
		if mark >= 0 {
			ctx, cancel := context.WithTimeout(e.ctx, deadline)
			defer cancel()
			if _, err := e.logs.AwaitFrom(ctx, mark, eventFor(n.n.ID(), id)); err != nil {
				t.Fatalf("the node did not handle the event: %v", err)
			}
		}
		return counts{clientRelay.Commands(), produces.Load(), nodeRelay.Commands()}
	}

	reset()
	if err := c.Create(e.ctx, task.New(id, cls.Name, "integration", cls.Encode(params{Value: 1}))); err != nil {
		t.Fatal(err)
	}
	check("create", -1, snapshot(-1), map[string]int{"insert": 1}, 0, 0, 0)

	reset()
	mark := e.logs.Mark()
	if _, err := c.Assign(e.ctx, id, n.n.ID()); err != nil {
		t.Fatal(err)
	}
	e.await(mark, "worker started", "taskId", id)
	check("assign", mark, snapshot(mark), map[string]int{"findAndModify": 1}, 1, 1, 1)

	reset()
	mark = e.logs.Mark()
	if _, err := c.SetAttachments(e.ctx, id, cls.Encode(params{Value: 2})); err != nil {
		t.Fatal(err)
	}
	e.await(mark, "attachments applied", "taskId", id)
	check("hot update", mark, snapshot(mark), map[string]int{"findAndModify": 1}, 1, 1, 1)

	reset()
	mark = e.logs.Mark()
	if err := c.Cancel(e.ctx, id); err != nil {
		t.Fatal(err)
	}
	e.await(mark, "worker cancelled", "taskId", id)
	check("cancel", mark, snapshot(mark), map[string]int{"findAndModify": 1}, 1, 1, 1)
}

func sameCounts(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestShutdownHandsBackInBatches: a node that stops hands its tasks back
// in a few writes, not one per task.
func TestShutdownHandsBackInBatches(t *testing.T) {
	e := newEnv(t)
	relay, uri := skaldtest.CommandRelayFor(t, e.stack.MongoURI)
	p := &probe{}
	cls := newClass("HandBack", p)
	n := e.startNode("hb", node.Options{}, func(c *config.Config) {
		c.MongoHost = uri
		c.ReconcilePeriod = time.Hour
	}, cls)
	const count = 40
	ids := make([]string, count)
	for i := range ids {
		ids[i] = e.id(fmt.Sprintf("hb-%02d", i))
		e.create(ids[i], cls, params{Value: i})
		e.assign(ids[i], n)
	}
	for _, id := range ids {
		e.running(id, n, 1)
	}
	relay.ResetCommands()
	if err := n.stop(); err != nil {
		t.Fatal(err)
	}
	writes := relay.Commands()["update"]
	t.Logf("%d tasks handed back in %d writes (%v)", count, writes, relay.Commands())
	if writes == 0 || writes > count/4 {
		t.Errorf("%d tasks handed back in %d writes (%v); want a few batches", count, writes, relay.Commands())
	}
	for _, id := range ids {
		if got, err := e.store.Get(e.ctx, id); err != nil || got.LifecycleStatus != task.Created || got.Executor != nil {
			t.Errorf("%s after the shutdown: %s %v", id, describe(got), err)
		}
	}
}
