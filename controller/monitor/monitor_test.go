package monitor

import (
	"log/slog"
	"reflect"
	"testing"
	"time"

	"github.com/skalds-go/skalds/runtime/liveness"
	"github.com/skalds-go/skalds/skaldtest"
)

func TestCountsOfASnapshot(t *testing.T) {
	tasks := func(ids ...string) []liveness.TaskRef {
		out := make([]liveness.TaskRef, len(ids))
		for i, id := range ids {
			out[i] = liveness.TaskRef{ID: id, ClassName: "A"}
		}
		return out
	}
	node := func(id, mode string, online bool, maxTasks int, ts []liveness.TaskRef) *Node {
		return &Node{Entry: liveness.Entry{ID: id, Mode: mode, Tasks: ts, Capacity: liveness.Capacity{MaxTasks: maxTasks}}, Online: online}
	}
	live := func(id string, hb int) TaskBeat {
		return TaskBeat{Beat: liveness.Beat{TaskID: id, Heartbeat: hb, Present: true}}
	}
	snap := &Snapshot{
		Nodes: []*Node{
			node("a", "node", true, 2, tasks("t1", "t2", "t3")), // over its limit: uses its 2 slots
			node("b", "node", true, 4, nil),
			node("c", "node", false, 8, tasks("t4")), // offline: listed, not running
			node("d", "edge", true, 0, tasks("t5")),
			node("e", "edge", false, 0, nil),
		},
		Beats: map[string]TaskBeat{"t1": live("t1", 10), "t2": live("t2", liveness.Finished), "t5": live("t5", 0)},
	}
	got := snap.Counts()
	want := Counts{
		Total: 5, Online: 3, Nodes: 3, Edges: 2, OnlineNodes: 2, OnlineEdges: 1,
		Busy: 2, BusyNodes: 1, Listed: 5, Running: 4, Slots: 6, SlotsUsed: 2, AliveTasks: 2,
	}
	perNode := got.PerNode
	got.PerNode = nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Counts() =\n%+v, want\n%+v", got, want)
	}
	if len(perNode) != 3 || perNode["a"] != 3 || perNode["b"] != 0 || perNode["d"] != 1 {
		t.Errorf("PerNode = %v, want the online nodes only: a 3, b 0, d 1", perNode)
	}
	var none *Snapshot
	if c := none.Counts(); c.Total != 0 || c.PerNode == nil {
		t.Errorf("a nil snapshot counts %+v, want nothing (and a usable PerNode)", c)
	}
}

// TestALeaseNotBelowTheTimeoutIsReported: a node that publishes a
// liveness lease not below the controller's node timeout (it was given
// another MONITOR_HEARTBEAT_TIMEOUT) is logged as an error, once; a node
// whose lease is below it is not.
func TestALeaseNotBelowTheTimeoutIsReported(t *testing.T) {
	logs := skaldtest.NewLogs(nil)
	m := New(nil, Options{Timeout: 6 * time.Second, Logger: slog.New(logs)})
	now := time.Now()
	entry := func(id string, lease time.Duration) liveness.Entry {
		return liveness.Entry{ID: id, Mode: "node", Stamp: "1", LastActivity: now.UnixMilli(), Capacity: liveness.Capacity{Lease: lease}}
	}
	entries := []liveness.Entry{entry("long", 6500*time.Millisecond), entry("short", 4500*time.Millisecond), entry("none", 0)}
	for range 2 {
		m.judge(now, entries)
	}
	msg := "a node's liveness lease is not below this controller's node timeout: its workers may still run when their tasks move to other nodes; give nodes and controllers the same MONITOR_HEARTBEAT_TIMEOUT"
	if n := logs.Count(skaldtest.Msg(msg)); n != 1 {
		t.Fatalf("%d reports, want 1", n)
	}
	if n := logs.Count(skaldtest.Msg(msg, "skaldId", "long")); n != 1 {
		t.Fatal("the report does not name the node")
	}
}
