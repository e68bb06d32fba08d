package controller

import (
	"context"
	"fmt"
	"os"
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
	"github.com/skalds-go/skalds/embedded"
	"github.com/skalds-go/skalds/integration/internal/benchfloor"
	"github.com/skalds-go/skalds/runtime/event"
	"github.com/skalds-go/skalds/runtime/liveness"
	"github.com/skalds-go/skalds/runtime/task"
	"github.com/skalds-go/skalds/skaldtest"
)

// timedTasks records how long each call of the dispatcher to the store
// takes.
type timedTasks struct {
	dispatch.Tasks
	mu      sync.Mutex
	claims  []time.Duration // of each node's batch of claims
	pending []time.Duration
}

func (t *timedTasks) Pending(ctx context.Context) ([]task.Task, error) {
	start := time.Now()
	docs, err := t.Tasks.Pending(ctx)
	t.mu.Lock()
	t.pending = append(t.pending, time.Since(start))
	t.mu.Unlock()
	return docs, err
}

func (t *timedTasks) ClaimAll(ctx context.Context, executor string, reqs []task.ClaimRequest) ([]*task.Task, error) {
	start := time.Now()
	d, err := t.Tasks.ClaimAll(ctx, executor, reqs)
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

// BenchmarkDispatch measures the dispatch cycles that assign
// SKALD_BENCH_TASKS Created tasks (default 10000) across
// SKALD_BENCH_NODES simulated nodes (default 100, registry entries written
// straight to Redis), on the embedded stack (FerretDB behind the
// serializing proxy, kfake, miniredis or the local Redis). It reports the
// total time, the reads of the candidates, the publication of the
// task.assign events and the per-assignment (claim) latency quantiles.
// Cycles run back to back until every task is assigned, since a cycle may
// stop at a cap of claims (SKALD_BENCH_MAX_CLAIMS sets it; default
// dispatch.DefaultMaxClaimsPerCycle). It then measures the server's floor
// for the same reads and writes (see reportDispatchFloor) and reports the
// ratio to it, x-floor.
//
// FerretDB keeps its data in SQLite unless SKALD_BENCH_MONGO=postgres,
// which gives the run a fresh database on the PostgreSQL server at
// SKALD_BENCH_POSTGRESQL_URL (default embedded.DefaultPostgreSQLURL),
// dropped at its end. On SQLite only a filter on _id alone is pushed down
// to an index; a claim's filter also names the expected status, executor
// and epoch, so each claim reads the whole collection into Go (about 90 us
// per task document), and a cycle is quadratic in the backlog: 1000 tasks
// take about 100 s, 10000 would take hours. On PostgreSQL the equalities
// of a claim's filter are evaluated in SQL, so a claim costs a scan in
// PostgreSQL (microseconds per document) rather than in Go. On MongoDB the
// _id index serves the same filter. Use SKALD_BENCH_TASKS to size the run:
//
//	go test ./integration/controller -run '^$' -bench Dispatch -benchtime 1x
//	SKALD_BENCH_MONGO=postgres go test ./integration/controller -run '^$' -bench Dispatch -benchtime 1x
func BenchmarkDispatch(b *testing.B) {
	nTasks, nNodes := envInt("SKALD_BENCH_TASKS", 10000), envInt("SKALD_BENCH_NODES", 100)
	// The batches of claims of a cycle sent at once, in the run and its
	// concurrent floor.
	inFlight := envInt("SKALD_BENCH_WRITES_IN_FLIGHT", dispatch.DefaultWritesInFlight)
	e := benchEnv(b)
	ctx := context.Background()
	seedNodes(b, e, nNodes)
	mon := benchMonitor(b, e)
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
		seedTasks(b, coll, round, nTasks)
		insertTook := time.Since(insertStart)
		tt := &timedTasks{Tasks: e.store}
		tp := &timedPublisher{Publisher: pub}
		d := dispatch.New(tt, tp, mon, dispatch.Options{MaxClaimsPerCycle: envInt("SKALD_BENCH_MAX_CLAIMS", 0), WritesInFlight: inFlight})
		// A dispatcher may bound the claims of one cycle; the cycles that
		// follow at once take the rest of the backlog.
		b.StartTimer()
		start := time.Now()
		assignments := map[string]string{}
		cycles := 0
		for len(assignments) < nTasks {
			res, err := d.Cycle(ctx)
			if err != nil {
				b.Fatal(err)
			}
			cycles++
			if res.Assigned == 0 {
				b.Fatalf("cycle %d assigned nothing; %d of %d tasks assigned (%d conflicts)", cycles, len(assignments), nTasks, res.Conflicts)
			}
			for id, n := range res.Assignments {
				assignments[id] = n
			}
		}
		took := time.Since(start)
		b.StopTimer()
		perNode := map[string]int{}
		for _, n := range assignments {
			perNode[n]++
		}
		lo, hi := nTasks, 0
		for _, c := range perNode {
			lo, hi = min(lo, c), max(hi, c)
		}
		b.ReportMetric(took.Seconds(), "total-s")
		b.ReportMetric(float64(cycles), "cycles")
		b.ReportMetric(float64(nTasks)/took.Seconds(), "assignments/s")
		b.ReportMetric(skaldtest.Quantile(tt.pending, 0.5).Seconds(), "pending-read-s")
		b.ReportMetric(tp.took.Seconds(), "publish-s")
		b.ReportMetric(float64(len(tt.claims)), "claim-batches")
		b.ReportMetric(float64(skaldtest.Quantile(tt.claims, 0.5).Microseconds())/1000, "batch-p50-ms")
		b.ReportMetric(float64(skaldtest.Quantile(tt.claims, 0.99).Microseconds())/1000, "batch-p99-ms")
		b.ReportMetric(float64(skaldtest.Quantile(tt.claims, 1).Microseconds())/1000, "batch-max-ms")
		b.Logf("%d tasks on %d nodes (%d..%d per node): insert %s, %d cycles in %s = candidates reads (p50 %s) + %d batches of claims, one per node and cycle (p50 %s, p99 %s) + publish %s",
			nTasks, len(perNode), lo, hi, insertTook.Round(time.Millisecond), cycles, took.Round(time.Millisecond),
			skaldtest.Quantile(tt.pending, 0.5).Round(time.Millisecond), len(tt.claims),
			skaldtest.Quantile(tt.claims, 0.5).Round(time.Microsecond), skaldtest.Quantile(tt.claims, 0.99).Round(time.Microsecond), tp.took.Round(time.Millisecond))
		reportDispatchFloor(b, coll, took, len(tt.pending), tt.claims, nTasks, inFlight)
		b.StartTimer()
	}
}

// reportDispatchFloor measures what the server takes, at the least, for
// the reads and writes of a dispatch of nTasks that took took, with reads
// reads of the candidates (capped cycles share one) and the batches of
// claims timed in claims, and reports the ratio to it: those reads, and
// per batch one update command of as many statements as the run's batches
// held on average, each filtered by its _id, id, status, executor and
// epoch as a claim is, and one read back of the documents it marked, by
// their token. The raw driver sends them to a copy of the tasks
// collection as the dispatch left it (the tasks assigned), on the same
// server. 20 batches and 2 candidate reads are timed and scaled to the
// run's counts; 2 updates of 100 statements more tell what fewer, larger
// batches would cost. That serial floor is the server's, whatever the
// client does; the concurrent floor is of the same batches sent
// inFlight at once, as the dispatcher sends them (5 rounds timed),
// and x-floor-concurrent the ratio to it.
func reportDispatchFloor(b *testing.B, coll *mongo.Collection, took time.Duration, reads int, claims []time.Duration, nTasks, inFlight int) {
	b.Helper()
	ctx := context.Background()
	copyStart := time.Now()
	s, err := benchfloor.Copy(ctx, coll)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Drop(context.Background())
	copied := time.Since(copyStart)
	var pending, writes, readBacks []time.Duration
	for range 2 {
		d, n, err := s.Find(ctx, bson.D{
			{Key: "mode", Value: bson.D{{Key: "$in", Value: bson.A{task.Passive, nil}}}},
			{Key: "lifecycleStatus", Value: bson.D{{Key: "$in", Value: bson.A{task.Created, task.Assigning, task.Running, task.Failed}}}},
		}, options.Find().SetProjection(bson.D{{Key: "history", Value: 0}}))
		if err != nil || n != nTasks {
			b.Fatalf("floor: the candidates' read found %d of %d tasks: %v", n, nTasks, err)
		}
		pending = append(pending, d)
	}
	claimMatch := []string{"id", "lifecycleStatus", "executor", "assignmentEpoch"}
	size := max(1, (nTasks+len(claims)/2)/max(len(claims), 1)) // statements per batch, on average
	for i := range 21 {
		token := fmt.Sprintf("floor-%d", i)
		d, err := s.Update(ctx, size, claimMatch, bson.D{{Key: "claimToken", Value: token}})
		if err != nil {
			b.Fatal(err)
		}
		r, n, err := s.Find(ctx, bson.D{{Key: "claimToken", Value: token}}, options.Find().SetProjection(bson.D{{Key: "history", Value: 0}}))
		if err != nil || n != size {
			b.Fatalf("floor: the read back of a batch found %d of %d tasks: %v", n, size, err)
		}
		if i > 0 { // the first warms the server's plans and the pool up
			writes, readBacks = append(writes, d), append(readBacks, r)
		}
	}
	// Larger batches, and what one read back of a larger batch costs,
	// beside the reads of small ones above: the part of a batch's cost
	// that is per command.
	var large, largeRead time.Duration
	for i := range 2 {
		token := fmt.Sprintf("floor-large-%d", i)
		d, err := s.Update(ctx, 100, claimMatch, bson.D{{Key: "claimToken", Value: token}})
		if err != nil {
			b.Fatal(err)
		}
		large += d
		if i == 0 {
			r, n, err := s.Find(ctx, bson.D{{Key: "claimToken", Value: token}}, options.Find().SetProjection(bson.D{{Key: "history", Value: 0}}))
			if want := min(100, s.Len()); err != nil || n != want {
				b.Fatalf("floor: the read back of %d claims found %d: %v", want, n, err)
			}
			largeRead = r
		}
	}
	// The same batches as the dispatcher sends them: inFlight at
	// once, each an update and its read back.
	var rounds []time.Duration
	for r := range 6 {
		ups := make([]*benchfloor.Update, inFlight)
		for i := range ups {
			if ups[i], err = s.Prepare(size, claimMatch, bson.D{{Key: "claimToken", Value: fmt.Sprintf("floor-together-%d-%d", r, i)}}); err != nil {
				b.Fatal(err)
			}
		}
		d, err := benchfloor.Together(inFlight, func(i int) error {
			if _, err := ups[i].Send(ctx); err != nil {
				return err
			}
			_, n, err := s.Find(ctx, bson.D{{Key: "claimToken", Value: fmt.Sprintf("floor-together-%d-%d", r, i)}}, options.Find().SetProjection(bson.D{{Key: "history", Value: 0}}))
			if err == nil && n != size {
				err = fmt.Errorf("floor: the read back of a batch found %d of %d tasks", n, size)
			}
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
		if r > 0 { // the first warms the server's plans and the pool up
			rounds = append(rounds, d)
		}
	}
	batch := benchfloor.Mean(writes) + benchfloor.Mean(readBacks)
	reading := time.Duration(reads) * benchfloor.Mean(pending)
	floor := reading + time.Duration(len(claims))*batch
	concurrent := reading + time.Duration(len(claims))*benchfloor.Mean(rounds)/time.Duration(inFlight)
	b.ReportMetric(concurrent.Seconds(), "floor-concurrent-s")
	b.ReportMetric(took.Seconds()/concurrent.Seconds(), "x-floor-concurrent")
	perStatement := float64(benchfloor.Mean(writes).Microseconds()) / 1000 / float64(size)
	perLarge := float64(large.Microseconds()) / 1000 / 200
	b.ReportMetric(floor.Seconds(), "floor-s")
	b.ReportMetric(took.Seconds()/floor.Seconds(), "x-floor")
	// Quantiles of the batch alone: the ratio of the typical batch.
	batch50 := skaldtest.Quantile(writes, 0.5) + skaldtest.Quantile(readBacks, 0.5)
	b.ReportMetric(float64(batch50.Microseconds())/1000, "floor-batch-p50-ms")
	b.ReportMetric(float64(skaldtest.Quantile(claims, 0.5))/float64(batch50), "x-batch-floor-p50")
	b.ReportMetric(perStatement, "floor-ms/claim")
	b.ReportMetric(perLarge, "floor-ms/claim-at-100")
	b.Logf("floor %s = %d reads of the candidates (mean %s) + %d batches (mean %s = update of %d statements %s + read back %s; p50 %s); %.2f ms a statement in updates of %d, %.2f ms in updates of 100, whose read back took %s (copy of the collection %s)",
		floor.Round(time.Millisecond), reads, benchfloor.Mean(pending).Round(time.Microsecond), len(claims), batch.Round(time.Microsecond),
		size, benchfloor.Mean(writes).Round(time.Microsecond), benchfloor.Mean(readBacks).Round(time.Microsecond), batch50.Round(time.Microsecond),
		perStatement, size, perLarge, largeRead.Round(time.Microsecond), copied.Round(time.Millisecond))
	b.Logf("concurrent floor %s = the reads of the candidates + %d batches, %d at once (mean of %d at once %s)",
		concurrent.Round(time.Millisecond), len(claims), inFlight, inFlight, benchfloor.Mean(rounds).Round(time.Microsecond))
}

// benchEnv is newEnv on the MongoDB backend that SKALD_BENCH_MONGO names.
func benchEnv(b *testing.B) *env {
	b.Helper()
	opts := embedded.Options{KafkaAddr: skaldtest.KafkaAddr(b)}
	switch backend := os.Getenv("SKALD_BENCH_MONGO"); backend {
	case "", "sqlite":
		return newEnv(b)
	case "postgres", "postgresql":
		opts.PostgreSQLURL = os.Getenv("SKALD_BENCH_POSTGRESQL_URL")
		if opts.PostgreSQLURL == "" {
			opts.PostgreSQLURL = embedded.DefaultPostgreSQLURL
		}
		opts.PostgreSQLTempDB = true
	default:
		b.Fatalf("SKALD_BENCH_MONGO=%q: want sqlite or postgres", backend)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	b.Cleanup(cancel)
	e := &env{t: b, ctx: ctx, log: testLogger(), uid: randomID()}
	var err error
	if e.stack, err = embedded.Start(ctx, opts); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = e.stack.Close() })
	if e.infra, err = skaldtest.Config(e.stack.KafkaAddr, e.stack.MongoURI, e.stack.RedisAddr); err != nil {
		b.Fatal(err)
	}
	e.rdb = redis.NewClient(&redis.Options{Addr: e.stack.RedisAddr})
	b.Cleanup(func() { _ = e.rdb.Close() })
	if e.store, err = task.Open(ctx, e.stack.MongoURI, "skalds"); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = e.store.Close(context.Background()) })
	return e
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// seedNodes registers n online node-mode nodes that run class Bench,
// straight in Redis.
func seedNodes(b *testing.B, e *env, n int) {
	ctx := context.Background()
	now := strconv.FormatInt(time.Now().UnixMilli(), 10)
	if _, err := e.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i := range n {
			id := fmt.Sprintf("bench-node-%03d", i)
			p.HSet(ctx, liveness.NodesKey, id, now)
			p.HSet(ctx, liveness.NodeModesKey, id, "node")
			p.RPush(ctx, liveness.NodeClassesKey(id), "Bench")
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
}

// benchMonitor returns a refreshed monitor whose nodes stay online: the
// seeded nodes never beat again, and its timeout is an hour.
func benchMonitor(b *testing.B, e *env) *monitor.Monitor {
	mon := monitor.New(e.rdb, monitor.Options{Timeout: time.Hour})
	if _, err := mon.Refresh(context.Background()); err != nil {
		b.Fatal(err)
	}
	return mon
}

// seedTasks inserts n Created tasks of class Bench with mixed priorities.
func seedTasks(b *testing.B, coll *mongo.Collection, round, n int) {
	const batch = 1000
	for lo := 0; lo < n; lo += batch {
		docs := make([]any, 0, batch)
		for i := lo; i < min(lo+batch, n); i++ {
			d := task.New(fmt.Sprintf("bench-%d-%05d", round, i), "Bench", "bench", []byte(`{"n":1}`))
			d.Priority = i % 10
			docs = append(docs, d)
		}
		if _, err := coll.InsertMany(context.Background(), docs); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTwoDispatchers runs two dispatchers, each with its own monitor,
// at once over SKALD_BENCH_TASKS Created tasks (default 1000) and 10
// nodes, until every task is assigned, and fails if any task was assigned
// twice (by the claims each reports, and by the epochs in MongoDB). It
// reports the total time and the claims each lost to the other. Sized for
// SKALD_BENCH_MONGO=postgres; on SQLite 1000 tasks take minutes.
func BenchmarkTwoDispatchers(b *testing.B) {
	nTasks := envInt("SKALD_BENCH_TASKS", 1000)
	e := benchEnv(b)
	ctx := context.Background()
	seedNodes(b, e, 10)
	client, err := mongo.Connect(options.Client().ApplyURI(e.stack.MongoURI))
	if err != nil {
		b.Fatal(err)
	}
	defer client.Disconnect(ctx)
	coll := client.Database("skalds").Collection(task.Collection)
	for round := range b.N {
		b.StopTimer()
		if _, err := coll.DeleteMany(ctx, bson.D{}); err != nil {
			b.Fatal(err)
		}
		seedTasks(b, coll, round, nTasks)
		ds := [2]*dispatch.Dispatcher{}
		for i := range ds {
			ds[i] = dispatch.New(e.store, nil, benchMonitor(b, e), dispatch.Options{Strategy: dispatch.Random, Seed: uint64(i + 1)})
		}
		var (
			mu        sync.Mutex
			assigned  = map[string]string{}
			conflicts int
			wg        sync.WaitGroup
		)
		b.StartTimer()
		start := time.Now()
		for _, d := range ds {
			wg.Go(func() {
				for {
					mu.Lock()
					done := len(assigned) >= nTasks
					mu.Unlock()
					if done {
						return
					}
					res, err := d.Cycle(ctx)
					if err != nil {
						b.Error(err)
						return
					}
					mu.Lock()
					conflicts += res.Conflicts
					for id, n := range res.Assignments {
						if prev, dup := assigned[id]; dup {
							b.Errorf("task %s assigned twice: to %s and to %s", id, prev, n)
						}
						assigned[id] = n
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		took := time.Since(start)
		b.StopTimer()
		if n, err := coll.CountDocuments(ctx, bson.D{{Key: "assignmentEpoch", Value: bson.D{{Key: "$ne", Value: 1}}}}); err != nil || n != 0 {
			b.Fatalf("%d tasks with an epoch other than 1 (%v): some were claimed twice", n, err)
		}
		b.ReportMetric(took.Seconds(), "total-s")
		b.ReportMetric(float64(conflicts), "lost-claims")
		b.Logf("%d tasks assigned once each by two dispatchers in %s; %d claims lost to the other", len(assigned), took.Round(time.Millisecond), conflicts)
		b.StartTimer()
	}
}
