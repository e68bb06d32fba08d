package controller

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/skalds-go/skalds/controller/dispatch"
	"github.com/skalds-go/skalds/controller/monitor"
	"github.com/skalds-go/skalds/controller/store"
	"github.com/skalds-go/skalds/runtime/event"
	"github.com/skalds-go/skalds/runtime/liveness"
	"github.com/skalds-go/skalds/runtime/task"
)

// timedTasks records how long each call of the dispatcher to the store
// takes.
type timedTasks struct {
	dispatch.Tasks
	mu      sync.Mutex
	claims  []time.Duration
	pending []time.Duration
}

func (t *timedTasks) Pending(ctx context.Context) ([]store.Doc, error) {
	start := time.Now()
	docs, err := t.Tasks.Pending(ctx)
	t.mu.Lock()
	t.pending = append(t.pending, time.Since(start))
	t.mu.Unlock()
	return docs, err
}

func (t *timedTasks) Claim(ctx context.Context, e store.Expect, executor string, countAttempt bool) (*store.Doc, error) {
	start := time.Now()
	d, err := t.Tasks.Claim(ctx, e, executor, countAttempt)
	t.mu.Lock()
	t.claims = append(t.claims, time.Since(start))
	t.mu.Unlock()
	return d, err
}

// timedPublisher records how long the batch of task.assign events takes.
type timedPublisher struct {
	dispatch.Publisher
	took time.Duration
}

func (p *timedPublisher) PublishMany(ctx context.Context, topic string, events ...event.TaskEvent) error {
	start := time.Now()
	err := p.Publisher.PublishMany(ctx, topic, events...)
	p.took += time.Since(start)
	return err
}

func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, int(q*float64(len(s))))]
}

// BenchmarkDispatch measures one dispatch cycle that assigns
// SKALD_BENCH_TASKS Created tasks (default 10000) across
// SKALD_BENCH_NODES simulated nodes (default 100, registry entries written
// straight to Redis), on the embedded stack (FerretDB on SQLite behind the
// serializing proxy, kfake, miniredis or the local Redis). It reports the
// cycle's total time, the read of the candidates, the publication of the
// task.assign events and the per-assignment (claim) latency quantiles.
//
// On FerretDB v1 (SQLite) only a filter on _id alone is pushed down to an
// index; a claim's filter also names the expected status, executor and
// epoch, so each claim scans the whole collection (about 90 us per task
// document). A cycle is therefore quadratic in the backlog there: 1000
// tasks take about 100 s, 10000 would take hours. On MongoDB the _id
// index serves the same filter. Use SKALD_BENCH_TASKS to size the run:
//
//	go test ./integration/controller -run '^$' -bench Dispatch -benchtime 1x
func BenchmarkDispatch(b *testing.B) {
	nTasks, nNodes := envInt("SKALD_BENCH_TASKS", 10000), envInt("SKALD_BENCH_NODES", 100)
	e := newEnv(b)
	ctx := context.Background()
	now := strconv.FormatInt(time.Now().UnixMilli(), 10)
	if _, err := e.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i := range nNodes {
			id := fmt.Sprintf("bench-node-%03d", i)
			p.HSet(ctx, liveness.NodesKey, id, now)
			p.HSet(ctx, liveness.NodeModesKey, id, "node")
			p.RPush(ctx, liveness.NodeClassesKey(id), "Bench")
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	// The nodes never beat again: a long timeout keeps them online.
	mon := monitor.New(e.rdb, monitor.Options{Timeout: time.Hour})
	if _, err := mon.Refresh(ctx); err != nil {
		b.Fatal(err)
	}
	client, err := mongo.Connect(options.Client().ApplyURI(e.stack.MongoURI))
	if err != nil {
		b.Fatal(err)
	}
	defer client.Disconnect(ctx)
	coll := client.Database("skalds").Collection(task.Collection)
	pub := event.NewPublisher(event.Broker{Addr: e.stack.KafkaAddr})
	defer pub.Close()
	if err := event.EnsureTopics(ctx, event.Broker{Addr: e.stack.KafkaAddr}, event.Topics...); err != nil {
		b.Fatal(err)
	}

	for round := range b.N {
		b.StopTimer()
		if _, err := coll.DeleteMany(ctx, bson.D{}); err != nil {
			b.Fatal(err)
		}
		insertStart := time.Now()
		const batch = 1000
		for lo := 0; lo < nTasks; lo += batch {
			docs := make([]any, 0, batch)
			for i := lo; i < min(lo+batch, nTasks); i++ {
				d := store.Doc{Task: *task.New(fmt.Sprintf("bench-%d-%05d", round, i), "Bench", "bench", []byte(`{"n":1}`))}
				d.Priority = i % 10
				docs = append(docs, d)
			}
			if _, err := coll.InsertMany(ctx, docs); err != nil {
				b.Fatal(err)
			}
		}
		insertTook := time.Since(insertStart)
		tt := &timedTasks{Tasks: e.store}
		tp := &timedPublisher{Publisher: pub}
		d := dispatch.New(tt, tp, mon, dispatch.Options{})
		b.StartTimer()
		start := time.Now()
		res, err := d.Cycle(ctx)
		took := time.Since(start)
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		if res.Assigned != nTasks {
			b.Fatalf("assigned %d of %d tasks (%d conflicts)", res.Assigned, nTasks, res.Conflicts)
		}
		perNode := map[string]int{}
		for _, n := range res.Assignments {
			perNode[n]++
		}
		lo, hi := nTasks, 0
		for _, c := range perNode {
			lo, hi = min(lo, c), max(hi, c)
		}
		b.ReportMetric(took.Seconds(), "cycle-s")
		b.ReportMetric(float64(nTasks)/took.Seconds(), "assignments/s")
		b.ReportMetric(quantile(tt.pending, 0.5).Seconds(), "pending-read-s")
		b.ReportMetric(tp.took.Seconds(), "publish-s")
		b.ReportMetric(float64(quantile(tt.claims, 0.5).Microseconds())/1000, "claim-p50-ms")
		b.ReportMetric(float64(quantile(tt.claims, 0.99).Microseconds())/1000, "claim-p99-ms")
		b.ReportMetric(float64(quantile(tt.claims, 1).Microseconds())/1000, "claim-max-ms")
		b.Logf("%d tasks on %d nodes (%d..%d per node): insert %s, cycle %s = candidates read %s + %d claims (p50 %s, p99 %s) + publish %s",
			nTasks, len(perNode), lo, hi, insertTook.Round(time.Millisecond), took.Round(time.Millisecond),
			quantile(tt.pending, 0.5).Round(time.Millisecond), len(tt.claims),
			quantile(tt.claims, 0.5).Round(time.Microsecond), quantile(tt.claims, 0.99).Round(time.Microsecond), tp.took.Round(time.Millisecond))
		b.StartTimer()
	}
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}
