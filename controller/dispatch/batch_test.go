package dispatch

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/skalds-go/skalds/controller/monitor"
	"github.com/skalds-go/skalds/runtime/task"
)

func TestBatchesGroupTheClaimsOfANodeAndKeepReleasesApart(t *testing.T) {
	docs := []task.Task{
		doc("t1", "C", task.Created, nil, 0), doc("t2", "C", task.Created, nil, 0),
		doc("t3", "C", task.Running, ptr("gone"), 0), doc("t4", "C", task.Failed, nil, 0),
		doc("t5", "C", task.Running, ptr("gone"), 0),
	}
	acts := []action{
		{kind: assign, doc: &docs[0], node: "a"}, {kind: assign, doc: &docs[1], node: "b"},
		{kind: release, doc: &docs[2]}, {kind: retry, doc: &docs[3], node: "a"},
		{kind: move, doc: &docs[4], node: "b"},
	}
	var got []string
	for _, b := range batches(acts) {
		s := ""
		for _, a := range b {
			s += a.doc.ID + "@" + a.node + " "
		}
		got = append(got, s)
	}
	want := []string{"t1@a t4@a ", "t2@b t5@b ", "t3@ "}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Fatalf("batches %q; want %q", got, want)
	}
}

// slowTasks is a store whose claims take longer than an Interval, and
// which counts the reads of the pending tasks.
type slowTasks struct {
	Tasks
	pending []task.Task
	slow    time.Duration
	reads   int
}

func (s *slowTasks) Pending(context.Context) ([]task.Task, error) {
	s.reads++
	return append([]task.Task(nil), s.pending...), nil
}

func (s *slowTasks) ClaimAll(_ context.Context, executor string, reqs []task.ClaimRequest) ([]*task.Task, error) {
	time.Sleep(s.slow) // a slow server, not a wait for another goroutine
	out := make([]*task.Task, len(reqs))
	for i, r := range reqs {
		t := doc(r.Expect.ID, "C", task.Assigning, &executor, 0)
		t.AssignmentEpoch = r.Expect.Epoch + 1
		out[i] = &t
	}
	return out, nil
}

type fixedNodes struct{ snap *monitor.Snapshot }

func (f fixedNodes) Snapshot() *monitor.Snapshot { return f.snap }

// TestBacklogOutlivesASlowCycle: the backlog a capped cycle leaves is
// worked on by the cycle that follows at once, however long the capped
// one took, but not beyond backlogMaxAge Intervals after it was read.
func TestBacklogOutlivesASlowCycle(t *testing.T) {
	const interval = 20 * time.Millisecond
	tasks := &slowTasks{slow: 2 * interval}
	for _, id := range []string{"t1", "t2", "t3"} {
		tasks.pending = append(tasks.pending, doc(id, "C", task.Created, nil, 0))
	}
	d := New(tasks, nil, fixedNodes{snap(node("a", true, "C"))}, Options{Interval: interval, MaxClaimsPerCycle: 1})
	for i := range 3 {
		res, err := d.Cycle(t.Context())
		if err != nil || res.Assigned != 1 {
			t.Fatalf("cycle %d: %+v %v; want one assignment", i+1, res, err)
		}
	}
	if tasks.reads != 1 {
		t.Errorf("three capped cycles, each longer than an Interval, read the pending tasks %d times; want once", tasks.reads)
	}

	tasks.reads = 0
	d.backlog, d.backlogAt, d.backlogRead = tasks.pending, time.Now(), time.Now().Add(-backlogMaxAge*interval)
	if _, _, err := d.pending(t.Context()); err != nil || tasks.reads != 1 {
		t.Errorf("a backlog read backlogMaxAge Intervals ago: %d reads (%v); want it read again", tasks.reads, err)
	}
}

// partialTasks claims the first task of each batch and fails on the rest.
type partialTasks struct{ slowTasks }

func (p *partialTasks) ClaimAll(ctx context.Context, executor string, reqs []task.ClaimRequest) ([]*task.Task, error) {
	out, _ := p.slowTasks.ClaimAll(ctx, executor, reqs)
	for i := 1; i < len(out); i++ {
		out[i] = nil
	}
	return out, errors.New("claiming: a statement failed")
}

// TestAFailedWriteKeepsTheClaimsThatWentThrough: of a batch whose write
// failed in part, the claims that took effect are counted and announced,
// and the others are neither, nor taken for conflicts.
func TestAFailedWriteKeepsTheClaimsThatWentThrough(t *testing.T) {
	tasks := &partialTasks{}
	for _, id := range []string{"t1", "t2", "t3"} {
		tasks.pending = append(tasks.pending, doc(id, "C", task.Created, nil, 0))
	}
	d := New(tasks, nil, fixedNodes{snap(node("a", true, "C"))}, Options{})
	res, err := d.Cycle(t.Context())
	if err != nil || res.Assigned != 1 || res.Conflicts != 0 || len(res.Assignments) != 1 || res.Assignments["t1"] != "a" {
		t.Fatalf("cycle: %+v %v; want t1 assigned to a, nothing else, no conflict", res, err)
	}
}
