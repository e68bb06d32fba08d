package monitor

import (
	"reflect"
	"testing"

	"github.com/skalds-go/skalds/runtime/liveness"
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
