package dispatch

import (
	"fmt"
	"testing"
	"time"

	"github.com/skalds-go/skalds/controller/monitor"
	"github.com/skalds-go/skalds/runtime/backoff"
	"github.com/skalds-go/skalds/runtime/liveness"
	"github.com/skalds-go/skalds/runtime/task"
)

func TestParseStrategy(t *testing.T) {
	for in, want := range map[string]Strategy{"": LeastTasks, "least_tasks": LeastTasks, "ROUND_ROBIN": RoundRobin, " random ": Random} {
		got, err := ParseStrategy(in)
		if err != nil || got != want {
			t.Errorf("ParseStrategy(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ParseStrategy("FASTEST"); err == nil {
		t.Error("an unknown strategy was accepted")
	}
}

func TestLeastTasksPicksSmallestLoadThenSmallestID(t *testing.T) {
	c := newChooser(LeastTasks, 1)
	cs := []candidate{{"c", 2}, {"b", 1}, {"a", 1}, {"d", 5}}
	if got := cs[c.choose(cs)].id; got != "a" {
		t.Fatalf("chose %s, want a", got)
	}
}

func TestRoundRobinRotatesAcrossCallsAndMembershipChanges(t *testing.T) {
	c := newChooser(RoundRobin, 1)
	cs := []candidate{{"n3", 0}, {"n1", 9}, {"n2", 0}}
	var got []string
	for range 4 {
		got = append(got, cs[c.choose(cs)].id)
	}
	if fmt.Sprint(got) != "[n1 n2 n3 n1]" {
		t.Fatalf("rotation %v", got)
	}
	// n2 leaves: the turn after n1 goes to the next id, n3.
	cs = []candidate{{"n1", 0}, {"n3", 0}}
	if id := cs[c.choose(cs)].id; id != "n3" {
		t.Fatalf("after n1 without n2 chose %s, want n3", id)
	}
}

func TestRandomStaysInRangeAndSpreads(t *testing.T) {
	c := newChooser(Random, 42)
	cs := []candidate{{"a", 0}, {"b", 0}, {"c", 0}}
	seen := map[string]int{}
	for range 300 {
		seen[cs[c.choose(cs)].id]++
	}
	for _, id := range []string{"a", "b", "c"} {
		if seen[id] < 50 {
			t.Fatalf("random choice is lopsided: %v", seen)
		}
	}
}

func ptr(s string) *string { return &s }

func doc(id, class string, status task.Status, executor *string, prio int) task.Task {
	var d task.Task
	d.ID, d.ClassName, d.LifecycleStatus, d.Executor, d.Priority, d.Mode = id, class, status, executor, prio, task.Passive
	d.CreateDateTime = 1
	return d
}

func snap(nodes ...*monitor.Node) *monitor.Snapshot {
	return &monitor.Snapshot{Nodes: nodes}
}

func node(id string, online bool, classes ...string) *monitor.Node {
	return &monitor.Node{Entry: liveness.Entry{ID: id, Mode: "node", Classes: classes}, Online: online}
}

func TestPlanMatchesClassPriorityAndCapacity(t *testing.T) {
	d := New(nil, nil, nil, Options{MaxTasksPerNode: 1})
	docs := []task.Task{
		doc("low", "A", task.Created, nil, 1),
		doc("high", "A", task.Created, nil, 9),
		doc("b", "B", task.Created, nil, 5),
		doc("nobody", "Z", task.Created, nil, 5),
	}
	acts, _ := d.plan(time.Now(), docs, snap(node("n1", true, "A"), node("n2", true, "A", "B"), node("off", false, "A", "B", "Z")))
	got := map[string]string{}
	for _, a := range acts {
		got[a.doc.ID] = a.node
	}
	// high goes first to n1 (least tasks, smallest id), b to n2; low finds
	// both nodes full; nobody's class has no online node.
	if fmt.Sprint(got) != "map[b:n2 high:n1]" {
		t.Fatalf("plan %v", got)
	}
}

// planned prints a plan as task id -> "kind node", sorted by id.
func planned(acts []action) string {
	got := map[string]string{}
	for _, a := range acts {
		got[a.doc.ID] = fmt.Sprintf("%d %s", a.kind, a.node)
	}
	return fmt.Sprint(got)
}

func TestPlanMovesTasksOfOfflineNodesAndReleasesWhenNobodyCan(t *testing.T) {
	d := New(nil, nil, nil, Options{OfflineGrace: time.Minute})
	now := time.Now()
	docs := []task.Task{
		doc("run", "A", task.Running, ptr("dead"), 0),
		doc("stuck", "Z", task.Assigning, ptr("dead"), 0),
		doc("ghost", "A", task.Running, ptr("absent"), 0),
		doc("fine", "A", task.Running, ptr("live"), 0),
	}
	s := snap(node("dead", false, "A", "Z"), node("live", true, "A"))
	acts, _ := d.plan(now, docs, s)
	if got := planned(acts); got != fmt.Sprintf("map[run:%d live stuck:%d ]", move, release) {
		t.Fatalf("plan %v", got)
	}
	// The absent executor is moved once its grace has passed.
	acts, _ = d.plan(now.Add(2*time.Minute), docs[2:3], s)
	if len(acts) != 1 || acts[0].kind != move || acts[0].node != "live" {
		t.Fatalf("absent executor after the grace: %+v", acts)
	}
}

// A worker that outlives its node (a Python Skald's worker process after
// its node was killed) keeps its heartbeat alive: its task is not moved
// while it beats, since that would run it twice, and moves once it stops.
func TestPlanKeepsATaskWhoseWorkerOutlivedItsNode(t *testing.T) {
	d := New(nil, nil, nil, Options{})
	now := time.Now()
	docs := []task.Task{
		doc("orphan", "A", task.Running, ptr("dead"), 0),
		doc("quiet", "A", task.Running, ptr("dead"), 0),
		doc("ended", "A", task.Running, ptr("dead"), 0),
	}
	s := snap(node("dead", false, "A"), node("live", true, "A"))
	s.Beats = map[string]monitor.TaskBeat{
		"orphan": {Beat: liveness.Beat{TaskID: "orphan", Heartbeat: 42, Present: true}, Node: "dead"},
		"quiet":  {Beat: liveness.Beat{TaskID: "quiet"}, Node: "dead"},                                               // expired
		"ended":  {Beat: liveness.Beat{TaskID: "ended", Heartbeat: liveness.Cancelled, Present: true}, Node: "dead"}, // terminal
	}
	acts, _ := d.plan(now, docs, s)
	if got := planned(acts); got != fmt.Sprintf("map[ended:%d live quiet:%d live]", move, move) {
		t.Fatalf("plan %v; want quiet and ended moved, orphan kept", got)
	}
	// The heartbeat stops: the task moves.
	s.Beats["orphan"] = monitor.TaskBeat{Beat: liveness.Beat{TaskID: "orphan"}, Node: "dead"}
	acts, _ = d.plan(now, docs[:1], s)
	if len(acts) != 1 || acts[0].kind != move || acts[0].node != "live" {
		t.Fatalf("after the heartbeat stopped: %+v", acts)
	}
}

func TestPlanRetriesWithBackoffThenGivesUp(t *testing.T) {
	d := New(nil, nil, nil, Options{MaxAttempts: 3, Backoff: backoff.Policy{First: 10 * time.Second, Max: time.Hour}})
	failed := func(attempts int, ago time.Duration, now time.Time) task.Task {
		x := doc(fmt.Sprint("f", attempts, ago), "A", task.Failed, ptr("n1"), 0)
		x.Attempts = attempts
		x.UpdateDateTime = now.Add(-ago).UnixMilli()
		return x
	}
	now := time.Now()
	s := snap(node("n1", true, "A"))
	cases := []struct {
		attempts int
		ago      time.Duration
		want     bool
	}{
		{1, 5 * time.Second, false}, // backoff 10 s not over
		{1, 11 * time.Second, true},
		{2, 11 * time.Second, false}, // backoff 20 s
		{2, 21 * time.Second, true},
		{3, time.Hour, false}, // out of attempts: stays Failed
	}
	for _, c := range cases {
		acts, _ := d.plan(now, []task.Task{failed(c.attempts, c.ago, now)}, s)
		if got := len(acts) == 1 && acts[0].kind == retry; got != c.want {
			t.Errorf("attempts %d failed %v ago: retried=%v, want %v", c.attempts, c.ago, got, c.want)
		}
	}
}

func TestPlanHonoursTerminalAndRetryLater(t *testing.T) {
	d := New(nil, nil, nil, Options{MaxAttempts: 3, Backoff: backoff.Policy{First: 10 * time.Second, Max: time.Hour}})
	now := time.Now()
	s := snap(node("n1", true, "A"))
	failed := func(kind task.FailureKind, retryAt time.Time) task.Task {
		x := doc(fmt.Sprint(kind, retryAt.Unix()), "A", task.Failed, ptr("n1"), 0)
		x.Attempts, x.ErrorKind = 1, kind
		x.UpdateDateTime = now.Add(-time.Minute).UnixMilli() // past the 10 s backoff
		if !retryAt.IsZero() {
			x.RetryAt = retryAt.UnixMilli()
		}
		return x
	}
	cases := []struct {
		name string
		doc  task.Task
		want bool
	}{
		{"plain error past its backoff", failed(task.FailedError, time.Time{}), true},
		{"panic past its backoff", failed(task.FailedPanic, time.Time{}), true},
		{"terminal, whatever the attempts left", failed(task.FailedTerminal, time.Time{}), false},
		{"retry later, before its time", failed(task.FailedRetryLater, now.Add(time.Minute)), false},
		{"retry later, its time come", failed(task.FailedRetryLater, now.Add(-time.Second)), true},
	}
	for _, c := range cases {
		acts, _ := d.plan(now, []task.Task{c.doc}, s)
		if got := len(acts) == 1 && acts[0].kind == retry; got != c.want {
			t.Errorf("%s: retried=%v, want %v", c.name, got, c.want)
		}
	}
	// A retry-later delay shorter than the backoff does not shorten it.
	x := failed(task.FailedRetryLater, now.Add(-time.Second))
	x.UpdateDateTime = now.Add(-2 * time.Second).UnixMilli()
	if acts, _ := d.plan(now, []task.Task{x}, s); len(acts) != 0 {
		t.Errorf("retried 2 s after a failure with a 10 s backoff: %+v", acts)
	}
}

func TestPlanSkipsTheNodeThatRefusedRecently(t *testing.T) {
	d := New(nil, nil, nil, Options{RefusalCooldown: time.Minute})
	now := time.Now()
	x := doc("t", "A", task.Created, nil, 0)
	x.AssignmentEpoch = 4
	x.Refusal = &task.Refusal{SkaldID: "n1", Epoch: 4, At: now.UnixMilli()}
	acts, _ := d.plan(now, []task.Task{x}, snap(node("n1", true, "A"), node("n2", true, "A")))
	if len(acts) != 1 || acts[0].node != "n2" {
		t.Fatalf("plan %+v", acts)
	}
}

func placed(acts []action) map[string]string {
	got := map[string]string{}
	for _, a := range acts {
		got[a.doc.ID] = a.node
	}
	return got
}

func TestPlanRespectsThePublishedCapacityOfNodes(t *testing.T) {
	d := New(nil, nil, nil, Options{})
	one := node("one", true, "A", "B")
	one.Capacity = liveness.Capacity{MaxTasks: 1}
	perClass := node("perclass", true, "A", "B")
	perClass.Capacity = liveness.Capacity{Classes: map[string]int{"A": 1}}
	// perclass already runs an A task (from its own list, not yet in
	// MongoDB's view of it); one holds nothing yet.
	perClass.Tasks = []liveness.TaskRef{{ID: "old", ClassName: "A"}}
	docs := []task.Task{
		doc("a1", "A", task.Created, nil, 9),
		doc("a2", "A", task.Created, nil, 8),
		doc("b1", "B", task.Created, nil, 7),
		doc("b2", "B", task.Created, nil, 6),
	}
	acts, capped := d.plan(time.Now(), docs, snap(one, perClass))
	// a1 fills one; a2 finds one full and perclass at its A limit, so it
	// waits; the B tasks may only go to perclass, which has no B limit.
	if got := fmt.Sprint(placed(acts)); got != "map[a1:one b1:perclass b2:perclass]" || capped {
		t.Fatalf("plan %s capped=%v", got, capped)
	}
}

func TestPlanCountsMongoAssignmentsAndNodeListsOnce(t *testing.T) {
	d := New(nil, nil, nil, Options{})
	n := node("n", true, "A")
	n.Capacity = liveness.Capacity{MaxTasks: 2}
	// "run" is both assigned in MongoDB and in the node's list: one task,
	// not two, so the node has room for one more.
	n.Tasks = []liveness.TaskRef{{ID: "run", ClassName: "A"}}
	docs := []task.Task{
		doc("run", "A", task.Running, ptr("n"), 0),
		doc("new1", "A", task.Created, nil, 5),
		doc("new2", "A", task.Created, nil, 1),
	}
	acts, _ := d.plan(time.Now(), docs, snap(n))
	if got := fmt.Sprint(placed(acts)); got != "map[new1:n]" {
		t.Fatalf("plan %s", got)
	}
}

func TestPlanTakesTheSmallerOfTheNodeLimitAndTheControllerCap(t *testing.T) {
	d := New(nil, nil, nil, Options{MaxTasksPerNode: 3})
	n := node("n", true, "A")
	n.Capacity = liveness.Capacity{MaxTasks: 10}
	var docs []task.Task
	for i := range 5 {
		docs = append(docs, doc(fmt.Sprint("t", i), "A", task.Created, nil, 0))
	}
	acts, _ := d.plan(time.Now(), docs, snap(n))
	if len(acts) != 3 {
		t.Fatalf("%d assignments, want 3", len(acts))
	}
}

func TestPlanStopsAtTheClaimCapWithTheMostUrgentFirst(t *testing.T) {
	d := New(nil, nil, nil, Options{MaxClaimsPerCycle: 3})
	var docs []task.Task
	for i := range 10 {
		docs = append(docs, doc(fmt.Sprint("t", i), "A", task.Created, nil, i))
	}
	// A task that cannot be placed does not use up the cap.
	docs = append(docs, doc("z", "Z", task.Created, nil, 100))
	s := snap(node("n1", true, "A"), node("n2", true, "A"))
	acts, capped := d.plan(time.Now(), docs, s)
	if !capped {
		t.Fatal("a plan of 3 out of 10 was not reported as capped")
	}
	var ids []string
	for _, a := range acts {
		ids = append(ids, a.doc.ID)
	}
	if fmt.Sprint(ids) != "[t9 t8 t7]" {
		t.Fatalf("planned %v, want the three highest priorities", ids)
	}
	// Exactly at the cap with nothing left over is not capped.
	acts, capped = d.plan(time.Now(), docs[7:], s)
	if len(acts) != 3 || capped {
		t.Fatalf("%d actions, capped=%v; want 3, false", len(acts), capped)
	}
	// The default applies when unset.
	if got := New(nil, nil, nil, Options{}).opts.MaxClaimsPerCycle; got != DefaultMaxClaimsPerCycle {
		t.Fatalf("default cap %d", got)
	}
}

func TestPlanCountsATaskThatLeftMongoDBUntilTheNodeSaysItStopped(t *testing.T) {
	d := New(nil, nil, nil, Options{})
	n := node("n", true, "A")
	n.Capacity = liveness.Capacity{MaxTasks: 1}
	t0 := time.Now()
	n.TasksChanged = t0.Add(-time.Second) // a beat from before "old" started
	old := doc("old", "A", task.Running, ptr("n"), 0)
	if acts, _ := d.plan(t0, []task.Task{old}, snap(n)); len(acts) != 0 {
		t.Fatalf("plan %+v", acts)
	}
	// "old" is cancelled: MongoDB no longer assigns it, but the node's
	// list predates it, so its worker may still run: "next" waits.
	next := doc("next", "A", task.Created, nil, 0)
	t1 := t0.Add(100 * time.Millisecond)
	if acts, _ := d.plan(t1, []task.Task{next}, snap(n)); len(acts) != 0 {
		t.Fatalf("assigned while the old worker may still run: %+v", placed(acts))
	}
	// A beat after that which still lists it: still waiting.
	n.TasksChanged = t1.Add(time.Second)
	n.Tasks = []liveness.TaskRef{{ID: "old", ClassName: "A"}}
	if acts, _ := d.plan(t1.Add(2*time.Second), []task.Task{next}, snap(n)); len(acts) != 0 {
		t.Fatalf("assigned while the node lists the old worker: %+v", placed(acts))
	}
	// A later beat without it: the slot is free.
	n.TasksChanged = t1.Add(3 * time.Second)
	n.Tasks = nil
	acts, _ := d.plan(t1.Add(3*time.Second), []task.Task{next}, snap(n))
	if got := fmt.Sprint(placed(acts)); got != "map[next:n]" {
		t.Fatalf("plan %s", got)
	}
}

func TestPlanForgetsALeavingTaskAfterTheBound(t *testing.T) {
	d := New(nil, nil, nil, Options{})
	n := node("n", true, "A")
	n.Capacity = liveness.Capacity{MaxTasks: 1}
	t0 := time.Now()
	d.plan(t0, []task.Task{doc("old", "A", task.Running, ptr("n"), 0)}, snap(n))
	next := []task.Task{doc("next", "A", task.Created, nil, 0)}
	if acts, _ := d.plan(t0.Add(time.Second), next, snap(n)); len(acts) != 0 {
		t.Fatalf("plan %+v", placed(acts))
	}
	acts, _ := d.plan(t0.Add(time.Second+maxLeaving+time.Millisecond), next, snap(n))
	if len(acts) != 1 {
		t.Fatalf("a leaving task still counts after %v", maxLeaving)
	}
}
