package controller

import (
	"context"
	"errors"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/skalds-go/skalds/controller/dispatch"
	"github.com/skalds-go/skalds/controller/monitor"
	"github.com/skalds-go/skalds/runtime/liveness"
	"github.com/skalds-go/skalds/runtime/task"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// interleaved is the dispatcher's task store with a write slipped in
// between its read of the pending tasks and its claims: what a node that
// comes back at that moment does.
type interleaved struct {
	*task.Store
	between func()
}

func (s *interleaved) Pending(ctx context.Context) ([]task.Task, error) {
	docs, err := s.Store.Pending(ctx)
	if s.between != nil {
		s.between()
		s.between = nil
	}
	return docs, err
}

// registry is a registry snapshot written by the test: node "old" offline,
// and the nodes of online, online. Each snapshot begins when it is taken,
// unless frozen, when it began at the time frozen says: a monitor that
// cannot read Redis.
type registry struct {
	mu      sync.Mutex
	online  []string
	class   string
	frozen  time.Time
	changed chan struct{}
}

func (r *registry) Snapshot() *monitor.Snapshot {
	r.mu.Lock()
	defer r.mu.Unlock()
	began := time.Now()
	if !r.frozen.IsZero() {
		began = r.frozen
	}
	s := &monitor.Snapshot{At: began, Began: began,
		Nodes: []*monitor.Node{{Entry: liveness.Entry{ID: "old", Mode: "node", Classes: []string{r.class}}}}}
	for _, id := range r.online {
		s.Nodes = append(s.Nodes, &monitor.Node{Entry: liveness.Entry{ID: id, Mode: "node", Classes: []string{r.class}}, Online: true})
	}
	sort.Slice(s.Nodes, func(i, j int) bool { return s.Nodes[i].ID < s.Nodes[j].ID })
	return s
}

func (r *registry) Changed() <-chan struct{} { return r.changed }

// runningOn creates a task and makes it Running on node "old", as the
// node's start writes it; it returns the task as a dispatcher reads it.
func (e *env) runningOn(id, class string) *task.Task {
	e.t.Helper()
	t := task.New(id, class, "test", []byte(`{}`))
	if err := e.store.Create(e.ctx, t); err != nil {
		e.t.Fatal(err)
	}
	claimed, err := e.store.Claim(e.ctx, task.ExpectOf(t), "old", true)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.store.Started(e.ctx, claimed.Ref(), claimed.AttachmentsVersion); err != nil {
		e.t.Fatal(err)
	}
	got, err := e.store.Get(e.ctx, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return got
}

// done takes task id out of the dispatcher's sight.
func (e *env) done(id string) {
	e.t.Helper()
	if err := e.store.SetStatus(e.ctx, id, task.Cancelled); err != nil {
		e.t.Fatal(err)
	}
}

// startAgain is the Running write of node "old" restarted: the task read
// as it is assigned to it, and reported Running in one write, as the
// node's start does. It returns how many tasks the write matched.
func (e *env) startAgain(id string) int64 {
	e.t.Helper()
	mine, err := e.store.ListByExecutor(e.ctx, "old")
	if err != nil {
		e.t.Fatal(err)
	}
	for _, t := range mine {
		if t.ID != id {
			continue
		}
		n, err := e.store.StartedFrom(e.ctx, "old", t.LifecycleStatus, []task.Ref{t.Ref()}, t.AttachmentsVersion)
		if err != nil {
			e.t.Fatal(err)
		}
		return n
	}
	return 0
}

// TestRestartRaceTheSecondWriteLoses interleaves, with the task store
// against the embedded servers, a controller's failover of a node it takes
// for dead and that node's Running write as it comes back: whichever write
// comes second loses, so that never two copies run. The move was once
// conditional on the status, the executor and the epoch only, which the
// node's write leaves as they were: both copies ran.
func TestRestartRaceTheSecondWriteLoses(t *testing.T) {
	const class = "Raced"
	e := newEnv(t)
	reg := &registry{class: class, online: []string{"new"}, changed: make(chan struct{})}

	t.Run("node writes after the controller read: the move loses", func(t *testing.T) {
		for _, withNode := range []bool{true, false} {
			id := e.uid + "-after-read"
			if !withNode {
				// No node can take it: the controller would hand it back.
				id += "-release"
				reg.mu.Lock()
				reg.online = nil
				reg.mu.Unlock()
			}
			before := e.runningOn(id, class)
			store := &interleaved{Store: e.store}
			store.between = func() {
				if n := e.startAgain(id); n != 1 {
					t.Errorf("the node's Running write matched %d tasks, want 1", n)
				}
			}
			d := dispatch.New(store, nil, reg, dispatch.Options{})
			res, err := d.Cycle(e.ctx)
			if err != nil {
				t.Fatal(err)
			}
			if res.Moved+res.Released != 0 || res.Conflicts != 1 {
				t.Fatalf("cycle %+v; want no move or hand-back and one conflict", res)
			}
			after, err := e.store.Get(e.ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if deref(after.Executor) != "old" || after.AssignmentEpoch != before.AssignmentEpoch || after.LifecycleStatus != task.Running {
				t.Fatalf("task on %q, epoch %d, %s; want it left Running on old at epoch %d",
					deref(after.Executor), after.AssignmentEpoch, after.LifecycleStatus, before.AssignmentEpoch)
			}
			reg.mu.Lock()
			reg.online = []string{"new"}
			reg.mu.Unlock()
			e.done(id)
		}
	})

	t.Run("controller moves first: the node's write is fenced", func(t *testing.T) {
		id := e.uid + "-move-first"
		before := e.runningOn(id, class)
		d := dispatch.New(e.store, nil, reg, dispatch.Options{})
		res, err := d.Cycle(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if res.Moved != 1 || res.Assignments[id] != "new" {
			t.Fatalf("cycle %+v; want the task moved to new", res)
		}
		if n := e.startAgain(id); n != 0 {
			t.Fatalf("the old node's Running write matched %d tasks after the move, want 0", n)
		}
		err = e.store.Started(e.ctx, before.Ref(), before.AttachmentsVersion)
		if !errors.Is(err, task.ErrFenced) {
			t.Fatalf("the old node's fenced write: %v, want ErrFenced", err)
		}
		e.done(id)
	})

	t.Run("a task as Python tooling writes it, without epoch or write count, still moves", func(t *testing.T) {
		id := e.uid + "-python"
		client, err := mongo.Connect(options.Client().ApplyURI(e.stack.MongoURI))
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = client.Disconnect(context.Background()) }()
		now := task.NowMillis()
		if _, err := client.Database("skalds").Collection(task.Collection).InsertOne(e.ctx, bson.D{
			{Key: "id", Value: id}, {Key: "className", Value: class}, {Key: "source", Value: "TestingScript"},
			{Key: "executor", Value: "old"}, {Key: "mode", Value: "Passive"}, {Key: "lifecycleStatus", Value: "Running"},
			{Key: "priority", Value: 0}, {Key: "createDateTime", Value: now}, {Key: "updateDateTime", Value: now},
			{Key: "attachments", Value: bson.D{}},
		}); err != nil {
			t.Fatal(err)
		}
		res, err := dispatch.New(e.store, nil, reg, dispatch.Options{}).Cycle(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if res.Moved != 1 || res.Assignments[id] != "new" {
			t.Fatalf("cycle %+v; want the task moved to new", res)
		}
		e.done(id)
	})

	t.Run("a registry read older than the task read moves nothing", func(t *testing.T) {
		id := e.uid + "-stale"
		before := e.runningOn(id, class)
		reg.mu.Lock()
		reg.frozen = time.Now().Add(-time.Second)
		reg.mu.Unlock()
		defer func() {
			reg.mu.Lock()
			reg.frozen = time.Time{}
			reg.mu.Unlock()
		}()
		// The node may have beaten after that registry read, then
		// written Running, all before the controller read the task: only
		// a registry read after the task read can tell.
		d := dispatch.New(e.store, nil, reg, dispatch.Options{})
		ctx, cancel := context.WithTimeout(e.ctx, 200*time.Millisecond)
		defer cancel()
		res, err := d.Cycle(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if res.Moved+res.Released != 0 {
			t.Fatalf("cycle %+v; want nothing moved on a stale registry", res)
		}
		after, err := e.store.Get(e.ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if deref(after.Executor) != "old" || after.AssignmentEpoch != before.AssignmentEpoch {
			t.Fatalf("task on %q at epoch %d; want it left on old", deref(after.Executor), after.AssignmentEpoch)
		}
	})
}
