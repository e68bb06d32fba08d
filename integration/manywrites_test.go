package integration

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/skalds-go/skalds/embedded"
	"github.com/skalds-go/skalds/runtime/task"
	"github.com/skalds-go/skalds/skaldtest"
)

// TestWritesOfManyTasks: the writes of many tasks at once (a node
// reporting a burst Running, handing its tasks back, a dispatcher claiming
// tasks for a node) each change exactly the tasks that are still as read,
// on FerretDB's SQLite backend (one statement for a list of keys there)
// and on its PostgreSQL backend (one statement per task, in one command
// with more statements than FerretDB's PostgreSQL pool has connections).
func TestWritesOfManyTasks(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgresql"} {
		t.Run(backend, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
			defer cancel()
			manyWrites(ctx, t, startBackend(ctx, t, backend))
		})
	}
}

// startBackend starts an embedded MongoDB on FerretDB's backend ("sqlite"
// or "postgresql", in a fresh database of the server at
// SKALD_BENCH_POSTGRESQL_URL or embedded.DefaultPostgreSQLURL) and returns
// its URI.
func startBackend(ctx context.Context, t *testing.T, backend string) string {
	t.Helper()
	var opts embedded.MongoOptions
	if backend == "postgresql" {
		opts.PostgreSQLURL, opts.PostgreSQLTempDB = os.Getenv("SKALD_BENCH_POSTGRESQL_URL"), true
		if opts.PostgreSQLURL == "" {
			opts.PostgreSQLURL = embedded.DefaultPostgreSQLURL
		}
		if err := embedded.PostgreSQLAvailable(ctx, opts.PostgreSQLURL, 2*time.Second); err != nil {
			skaldtest.Absent(t, "PostgreSQL", err.Error())
		}
	}
	m, err := embedded.StartMongo(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	return m.URI()
}

// TestGetManyCancelled: a read of many tasks whose context ends returns
// the context's error, never the tasks read so far as if the others were
// missing (a reconcile takes a missing task for a deleted one). FerretDB
// reads a list id by id, several at a time, and the end of the context
// may come between two of them.
func TestGetManyCancelled(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgresql"} {
		t.Run(backend, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			store, err := task.Open(ctx, startBackend(ctx, t, backend), "skalds")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = store.Close(context.Background()) })
			var ids []string
			for i := range 8 {
				d := task.New(fmt.Sprintf("many-%d", i), "Many", "test", []byte(`{}`))
				if err := store.Create(ctx, d); err != nil {
					t.Fatal(err)
				}
				ids = append(ids, d.ID)
			}
			if got, err := store.GetMany(ctx, ids); err != nil || len(got) != len(ids) {
				t.Fatalf("GetMany: %d tasks, %v; want %d", len(got), err, len(ids))
			}
			cancelled, stop := context.WithCancel(ctx)
			stop()
			for range 20 {
				if got, err := store.GetMany(cancelled, ids); !errors.Is(err, context.Canceled) {
					t.Fatalf("GetMany with its context cancelled: %d tasks, %v; want context.Canceled", len(got), err)
				}
			}
		})
	}
}

func manyWrites(ctx context.Context, t *testing.T, uri string) {
	store, err := task.Open(ctx, uri, "skalds")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close(context.Background()) })
	mc, err := mongo.Connect(options.Client().ApplyURI(uri))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mc.Disconnect(context.Background()) })

	const n = 120
	reqs := make([]task.ClaimRequest, n)
	for i := range n {
		d := task.New(fmt.Sprintf("many-%03d", i), "Many", "test", []byte(`{}`))
		if err := store.Create(ctx, d); err != nil {
			t.Fatal(err)
		}
		reqs[i] = task.ClaimRequest{Expect: task.ExpectOf(d), CountAttempt: true}
	}
	// One task moved on since it was read: its claim must not match.
	if _, err := store.Assign(ctx, "many-007", "elsewhere"); err != nil {
		t.Fatal(err)
	}
	claimed, err := store.ClaimAll(ctx, "many-node", reqs)
	if err != nil {
		t.Fatal(err)
	}
	refs := make([]task.Ref, 0, n)
	for i, c := range claimed {
		switch {
		case i == 7 && c != nil:
			t.Errorf("many-007, assigned elsewhere since it was read, claimed: %+v", c)
		case i != 7 && (c == nil || c.AssignmentEpoch != 1 || c.Executor == nil || *c.Executor != "many-node" || c.LifecycleStatus != task.Assigning):
			t.Errorf("claim %d: %+v; want many-node, Assigning, epoch 1", i, c)
		case c != nil:
			refs = append(refs, c.Ref())
		}
	}

	matched, err := store.StartedFrom(ctx, "many-node", task.Assigning, refs, 1)
	if err != nil || matched != int64(len(refs)) {
		t.Fatalf("reporting %d tasks Running: %d matched, %v", len(refs), matched, err)
	}
	back, err := store.HandBackAll(ctx, "many-node", refs)
	if err != nil || back != int64(len(refs)) {
		t.Fatalf("handing %d tasks back: %d matched, %v", len(refs), back, err)
	}
	for _, r := range refs {
		if got, err := store.Get(ctx, r.ID); err != nil || got.LifecycleStatus != task.Created || got.Executor != nil {
			t.Fatalf("%s after the hand-back: %+v %v", r.ID, got, err)
		}
	}
	if got, err := store.Get(ctx, "many-007"); err != nil || got.Executor == nil || *got.Executor != "elsewhere" {
		t.Fatalf("many-007 after the writes of the others: %+v %v", got, err)
	}

	// A statement that fails (an attempt counter that is not a number,
	// which $inc refuses) fails the write, and the claims that went
	// through all the same are still reported, as stored.
	reqs = reqs[:0]
	for _, id := range []string{"odd-1", "odd-2", "odd-3"} {
		d := task.New(id, "Many", "test", []byte(`{}`))
		if err := store.Create(ctx, d); err != nil {
			t.Fatal(err)
		}
		reqs = append(reqs, task.ClaimRequest{Expect: task.ExpectOf(d), CountAttempt: true})
	}
	if _, err := mc.Database("skalds").Collection(task.Collection).UpdateOne(ctx,
		bson.D{{Key: "_id", Value: "odd-2"}}, bson.D{{Key: "$set", Value: bson.D{{Key: "attempts", Value: "many"}}}}); err != nil {
		t.Fatal(err)
	}
	claimed, err = store.ClaimAll(ctx, "odd-node", reqs)
	if err == nil || claimed[0] == nil || claimed[1] != nil {
		t.Fatalf("claims with a failing statement in the middle: %v, %v; want an error, the first claimed, the second not", claimed, err)
	}
	for i, r := range reqs {
		got, gerr := store.Get(ctx, r.Expect.ID)
		stored := gerr == nil && got.Executor != nil && *got.Executor == "odd-node" && got.AssignmentEpoch == 1
		if stored != (claimed[i] != nil) {
			t.Errorf("%s: reported claimed %v, stored %+v %v", r.Expect.ID, claimed[i] != nil, got, gerr)
		}
	}
}
