package controller

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/skalds-go/skalds/controller/dispatch"
	"github.com/skalds-go/skalds/controller/monitor"
	"github.com/skalds-go/skalds/runtime/task"
	"github.com/skalds-go/skalds/skaldtest"
)

// barrierTasks holds the first k claim writes until k of them are under
// way together: a dispatcher that sends its writes one after the other
// never gets past the first, and the test fails at its deadline. It
// records the most writes under way at once.
type barrierTasks struct {
	dispatch.Tasks
	k    int
	full chan struct{} // closed when the first k writes are under way

	mu             sync.Mutex
	now, peak, all int
	timedOut       bool
}

func (b *barrierTasks) ClaimAll(ctx context.Context, executor string, reqs []task.ClaimRequest) ([]*task.Task, error) {
	b.mu.Lock()
	b.now++
	b.all++
	b.peak = max(b.peak, b.now)
	first := b.all <= b.k
	if b.all == b.k {
		close(b.full)
	}
	b.mu.Unlock()
	if first {
		select {
		case <-b.full:
		case <-time.After(deadline):
			b.mu.Lock()
			b.timedOut = true
			b.mu.Unlock()
		}
	}
	out, err := b.Tasks.ClaimAll(ctx, executor, reqs)
	b.mu.Lock()
	b.now--
	b.mu.Unlock()
	return out, err
}

// TestDispatchWritesInFlight: a cycle sends the claims of its nodes
// WritesInFlight at a time, never more, and counts and logs what each
// claimed as one write after the other would: every task claimed once, the
// records of one node's claims together.
func TestDispatchWritesInFlight(t *testing.T) {
	e := newEnv(t)
	const nodes, perNode, inFlight = 6, 2, 3
	for i := range nodes {
		if err := e.writeNode(fmt.Sprintf("wf-node-%d", i), "node", time.Now(), "WF"); err != nil {
			t.Fatal(err)
		}
	}
	for i := range nodes * perNode {
		e.create(fmt.Sprintf("wf-%02d", i), "WF", 0)
	}
	mon := monitor.New(e.rdb, monitor.Options{Timeout: time.Hour})
	if _, err := mon.Refresh(e.ctx); err != nil {
		t.Fatal(err)
	}
	logs := skaldtest.NewLogs(nil)
	bt := &barrierTasks{Tasks: e.store, k: inFlight, full: make(chan struct{})}
	d := dispatch.New(bt, nil, mon, dispatch.Options{WritesInFlight: inFlight, Interval: time.Minute, Logger: slog.New(logs)})
	res, err := d.Cycle(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if bt.timedOut || bt.peak != inFlight || bt.all != nodes {
		t.Errorf("%d claim writes, at most %d at once (first %d held together: timed out %v); want %d writes, %d at once",
			bt.all, bt.peak, inFlight, bt.timedOut, nodes, inFlight)
	}
	if res.Assigned != nodes*perNode || res.Conflicts != 0 || len(res.Assignments) != nodes*perNode {
		t.Fatalf("cycle: %+v; want %d tasks assigned", res, nodes*perNode)
	}
	// The records of each node's claims are together, as each write is
	// settled whole, and they agree with the result and the documents.
	var order []string
	logged := map[string]string{}
	logs.Count(func(r skaldtest.Record) bool {
		if r.Msg == "task assigned" {
			node, id := fmt.Sprint(r.Attrs["skaldId"]), fmt.Sprint(r.Attrs["taskId"])
			logged[id] = node
			if len(order) == 0 || order[len(order)-1] != node {
				order = append(order, node)
			}
		}
		return false
	})
	if len(order) != nodes {
		t.Errorf("the claims were logged by node in the order %v; want each node's together, %d nodes", order, nodes)
	}
	perNodeGot := map[string]int{}
	for id, node := range res.Assignments {
		if logged[id] != node {
			t.Errorf("%s: assigned to %s, logged for %q", id, node, logged[id])
		}
		if got := e.assignedTo(id); deref(got.Executor) != node {
			t.Errorf("%s: assigned to %s, stored %s", id, node, describe(got))
		}
		perNodeGot[node]++
	}
	for node, c := range perNodeGot {
		if c != perNode {
			t.Errorf("%s got %d tasks; want %d (%v)", node, c, perNode, perNodeGot)
		}
	}
}
