package integration

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/segmentio/kafka-go"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/skalds-go/skalds/embedded"
	"github.com/skalds-go/skalds/integration/internal/benchfloor"
	"github.com/skalds-go/skalds/internal/inflight"
	"github.com/skalds-go/skalds/runtime/client"
	"github.com/skalds-go/skalds/runtime/config"
	"github.com/skalds-go/skalds/runtime/event"
	"github.com/skalds-go/skalds/runtime/node"
	"github.com/skalds-go/skalds/runtime/skald"
	"github.com/skalds-go/skalds/runtime/task"
	"github.com/skalds-go/skalds/skaldtest"
)

// The benchmarks measure whole scenarios, once each; run them with
//
//	go test ./integration -run '^$' -bench . -benchtime 1x
//
// They report their figures as custom metrics. FerretDB keeps its data in
// SQLite unless SKALD_BENCH_MONGO=postgres, which gives each benchmark a
// fresh database on the PostgreSQL server at SKALD_BENCH_POSTGRESQL_URL
// (default embedded.DefaultPostgreSQLURL), dropped at its end. On SQLite
// FerretDB evaluates every filter but one on _id alone in Go, after reading
// the whole collection, so each conditional write costs time in proportion
// to the collection; on PostgreSQL equality filters run in SQL.

// sqliteBench reports whether the benchmarks run on FerretDB's SQLite
// backend (see benchEnv).
func sqliteBench() bool {
	backend := os.Getenv("SKALD_BENCH_MONGO")
	return backend == "" || backend == "sqlite"
}

// benchEnv is newEnv on the MongoDB backend that SKALD_BENCH_MONGO names.
func benchEnv(b *testing.B) *env {
	b.Helper()
	opts := embedded.Options{RedisAddr: skaldtest.RedisAddr(b), KafkaAddr: skaldtest.KafkaAddr(b)}
	if sqliteBench() {
		return newEnv(b)
	}
	switch backend := os.Getenv("SKALD_BENCH_MONGO"); backend {
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
	e := &env{t: b, ctx: ctx, logs: skaldtest.NewLogs(nil), uid: randomID()}
	var err error
	if e.stack, err = embedded.Start(ctx, opts); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = e.stack.Close() })
	if e.cfg, err = skaldtest.Config(e.stack.KafkaAddr, e.stack.MongoURI, e.stack.RedisAddr); err != nil {
		b.Fatal(err)
	}
	if e.client, err = client.New(ctx, e.cfg); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = e.client.Close() })
	e.store = e.client.Tasks()
	e.rdb = redis.NewClient(&redis.Options{Addr: e.stack.RedisAddr})
	b.Cleanup(func() { _ = e.rdb.Close() })
	e.pub = event.NewPublisher(event.Broker{Addr: e.stack.KafkaAddr})
	b.Cleanup(func() { _ = e.pub.Close() })
	return e
}

// idleClass is a worker class whose mains wait on their context, counting
// themselves, and whose update hooks report when they ran.
type idleClass struct {
	running atomic.Int64
	target  int64
	all     chan struct{}
	updated chan time.Time
}

func newIdleClass(target int) (*idleClass, *skald.Class[params]) {
	ic := &idleClass{target: int64(target), all: make(chan struct{}), updated: make(chan time.Time, 1)}
	return ic, &skald.Class[params]{
		Name:     "Idle",
		Decode:   decodeParams,
		Encode:   encodeParams,
		Validate: func(params) error { return nil },
		New: func() skald.Hooks[params] {
			return skald.Hooks[params]{
				Main: func(ctx context.Context) error {
					if ic.running.Add(1) == ic.target {
						close(ic.all)
					}
					<-ctx.Done()
					return nil
				},
				Update: func(context.Context, params) error {
					select {
					case ic.updated <- time.Now():
					default:
					}
					return nil
				},
			}
		},
	}
}

// insertAssigned writes n tasks already assigned to skaldID (epoch 1), in
// bulk, so that the benchmark times the node and not the set-up.
func insertAssigned(b testing.TB, e *env, skaldID string, n int, cls *skald.Class[params]) []string {
	b.Helper()
	mc, err := mongo.Connect(options.Client().ApplyURI(e.stack.MongoURI))
	if err != nil {
		b.Fatal(err)
	}
	defer mc.Disconnect(context.Background())
	coll := mc.Database(e.cfg.DBName).Collection(task.Collection)
	ids := make([]string, n)
	docs := make([]any, 0, 1000)
	for i := range n {
		ids[i] = fmt.Sprintf("idle-%05d-%s", i, e.uid)
		t := task.New(ids[i], cls.Name, "bench", cls.Encode(params{Value: i}))
		t.Executor, t.LifecycleStatus, t.AssignmentEpoch = &skaldID, task.Assigning, 1
		docs = append(docs, t)
		if len(docs) == cap(docs) || i == n-1 {
			if _, err := coll.InsertMany(e.ctx, docs); err != nil {
				b.Fatal(err)
			}
			docs = docs[:0]
		}
	}
	return ids
}

func heapInUse() (heap, stacks uint64) {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc, ms.StackInuse
}

// writeHeapProfile writes what is live now to path, for go tool pprof
// -sample_index=inuse_space: what the running tasks hold, by allocation site.
func writeHeapProfile(b *testing.B, path string) {
	b.Helper()
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := pprof.WriteHeapProfile(f); err != nil {
		b.Fatal(err)
	}
}

// bareMemory is the heap and the stack, per goroutine, of n goroutines
// that each hold their task's attachments decoded and wait: the least a
// worker can hold, measured in the same run as the workers, so that a
// worker's memory reads as a ratio that carries across machines and loads.
func bareMemory(b *testing.B, cls *skald.Class[params], n int) (heap, stack float64) {
	b.Helper()
	vals := make([]*params, n) // on the heap, as a worker's instance keeps them
	heapBefore, stackBefore := heapInUse()
	release := make(chan struct{})
	var started, ended sync.WaitGroup
	started.Add(n)
	ended.Add(n)
	for i := range n {
		go func() {
			defer ended.Done()
			p, err := cls.Decode(cls.Encode(params{Value: i})) // as insertAssigned writes them
			vals[i] = &p
			started.Done()
			if err != nil {
				b.Error(err)
				return
			}
			<-release
		}()
	}
	started.Wait()
	heapHeld, stackHeld := heapInUse()
	close(release)
	ended.Wait()
	return float64(heapHeld-heapBefore) / float64(n), float64(stackHeld-stackBefore) / float64(n)
}

// BenchmarkTenThousandTasks starts 10,000 idle tasks on one node from
// 10,000 task.assign events and reports how long until all mains run, and
// the heap and stack each idle task holds; then the server's floor for
// the same start (see reportStartFloor) and the ratios of the start and of
// a restart to it, x-floor and x-floor-restart, and to the floor of the
// same writes sent as several at once, x-floor-concurrent and
// x-floor-concurrent-restart.
//
// SKALD_BENCH_TASKS changes the count: on FerretDB every conditional write
// scans the whole collection, which makes 10,000 a matter of many minutes.
func BenchmarkTenThousandTasks(b *testing.B) {
	n := 10_000
	if v, err := strconv.Atoi(os.Getenv("SKALD_BENCH_TASKS")); err == nil && v > 0 {
		n = v
	}
	inFlight := inflight.Default // the node's default of Options.WritesInFlight
	if v, err := strconv.Atoi(os.Getenv("SKALD_BENCH_WRITES_IN_FLIGHT")); err == nil && v > 0 {
		inFlight = v
	}
	e := benchEnv(b)
	ic, cls := newIdleClass(n)
	quiet := func(c *config.Config) { c.ReconcilePeriod = time.Hour }
	opts := node.Options{OnShutdown: node.KeepAssigned, WritesInFlight: inFlight}
	rn := startQuietNode(b, e, "bench", opts, quiet, cls)
	ids := insertAssigned(b, e, rn.n.ID(), n, cls)

	events := make([]event.TaskEvent, n)
	for i, id := range ids {
		events[i] = event.NewTaskEvent(id)
	}
	t0 := time.Now()
	for chunk := range slices.Chunk(events, 1000) {
		if err := e.pub.PublishMany(e.ctx, event.TopicAssign, chunk...); err != nil {
			b.Fatal(err)
		}
	}
	published := time.Since(t0)
	select {
	case <-ic.all:
	case <-time.After(5 * time.Minute):
		b.Fatalf("%d of %d tasks running after 5 minutes", ic.running.Load(), n)
	}
	allRunning := time.Since(t0)
	// The Running status is written by the workers themselves, after main
	// began; wait for the last of those writes too.
	e.waitCount(b, rn.n.ID(), n)
	allReported := time.Since(t0)
	// Idle means the burst is over: its last events may still be in hand.
	rn.awaitHandled(b, n)
	handled := time.Since(t0)

	heapRunning, stackRunning := heapInUse()
	if path := os.Getenv("SKALD_BENCH_HEAPPROFILE"); path != "" {
		writeHeapProfile(b, path)
	}
	if err := rn.stop(); err != nil {
		b.Fatal(err)
	}
	heapStopped, stackStopped := heapInUse()
	bareHeap, bareStack := bareMemory(b, cls, n)
	b.ReportMetric(published.Seconds(), "s-publish")
	b.ReportMetric(allRunning.Seconds(), "s-all-mains-running")
	b.ReportMetric(allReported.Seconds(), "s-all-Running-in-mongo")
	b.ReportMetric(handled.Seconds(), "s-all-events-handled")
	heapTask := float64(heapRunning-heapStopped) / float64(n)
	stackTask := float64(stackRunning-stackStopped) / float64(n)
	b.ReportMetric(heapTask/1024, "KiB-heap/task")
	b.ReportMetric(stackTask/1024, "KiB-stack/task")
	b.ReportMetric(bareHeap/1024, "KiB-heap/bare-goroutine")
	b.ReportMetric(bareStack/1024, "KiB-stack/bare-goroutine")
	b.ReportMetric(heapTask/bareHeap, "x-heap-task/bare")
	b.ReportMetric((heapTask+stackTask)/(bareHeap+bareStack), "x-memory-task/bare")
	b.ReportMetric(float64(heapRunning)/(1<<20), "MiB-heap-total")
	var floor, concurrent time.Duration
	if sqliteBench() {
		// Its statements, by _id and other fields, each read the whole
		// collection on SQLite: minutes at 1,000 tasks, and the store sends
		// another shape there anyway (see reportStartFloor).
		b.Log("the floor is measured on PostgreSQL only (SKALD_BENCH_MONGO=postgres)")
	} else {
		floor, concurrent = reportStartFloor(b, e, rn.n.ID(), n, inFlight, allRunning)
	}

	// A restart finds the 10,000 assignments with one query. It keeps them
	// assigned when it stops, at the end: handing back is not measured.
	ic2, cls2 := newIdleClass(n)
	t1 := time.Now()
	startQuietNode(b, e, "bench", opts, quiet, cls2)
	select {
	case <-ic2.all:
	case <-time.After(5 * time.Minute):
		b.Fatalf("%d of %d tasks running after a restart", ic2.running.Load(), n)
	}
	restart := time.Since(t1)
	b.ReportMetric(restart.Seconds(), "s-restart-all-running")
	if floor > 0 {
		// A restart needs the same listing and a write of each task: the
		// same floor.
		b.ReportMetric(restart.Seconds()/floor.Seconds(), "x-floor-restart")
		b.ReportMetric(restart.Seconds()/concurrent.Seconds(), "x-floor-concurrent-restart")
	}
}

// reportStartFloor measures what the server takes, at the least, for a
// start of n tasks assigned to skaldID, reports the ratio of took to it,
// and returns it: one listing of the node's tasks, and n conditional
// statements in updates of inflight.MaxChunk (the largest start chunk),
// each filtered by its _id, epoch, executor and status, as the node's
// report of Running is, sent one after the other. The raw driver sends
// them to a copy of the tasks
// collection as it is now (the n tasks Running), on the same server. Two
// updates are timed, and their time per statement scaled to n, which
// keeps the measurement to a few seconds at 10,000 tasks besides the
// copy. That serial floor is the server's, whatever the client does; it
// also measures, and returns, the concurrent floor: the same statements
// in the node's chunks, inFlight updates at once, as the node sends
// them (x-floor-concurrent).
// On FerretDB's SQLite backend the store sends one statement for a list of
// _ids instead (see task.Store's fencedMany): there the floor is still of
// the statements by _id, and the ratio compares unlike writes.
func reportStartFloor(b *testing.B, e *env, skaldID string, n, inFlight int, took time.Duration) (floor, concurrent time.Duration) {
	b.Helper()
	mc, err := mongo.Connect(options.Client().ApplyURI(e.stack.MongoURI))
	if err != nil {
		b.Fatal(err)
	}
	defer mc.Disconnect(context.Background())
	copyStart := time.Now()
	s, err := benchfloor.Copy(e.ctx, mc.Database(e.cfg.DBName).Collection(task.Collection))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Drop(context.Background())
	copied := time.Since(copyStart)
	list, listed, err := s.Find(e.ctx, bson.D{
		{Key: "executor", Value: skaldID},
		{Key: "lifecycleStatus", Value: bson.D{{Key: "$in", Value: bson.A{task.Created, task.Assigning, task.Running}}}},
	}, options.Find().SetProjection(bson.D{{Key: "history", Value: 0}}))
	if err != nil || listed != n {
		b.Fatalf("floor: listing read %d of %d tasks: %v", listed, n, err)
	}
	size := min(inflight.MaxChunk, n)
	match := []string{"assignmentEpoch", "executor", "lifecycleStatus"}
	set := bson.D{{Key: "floorStatus", Value: string(task.Running)}, {Key: "floorVersion", Value: int64(0)}}
	var writes time.Duration
	for range 2 {
		d, err := s.Update(e.ctx, size, match, set)
		if err != nil {
			b.Fatal(err)
		}
		writes += d
	}
	perTask := writes / time.Duration(2*size)
	floor = list + perTask*time.Duration(n)

	// The same statements as the node sends them: updates of one of its
	// chunks each, inFlight of them at once; two such rounds.
	chunk := inflight.ChunkSize(n, inFlight)
	var together time.Duration
	for range 2 {
		ups := make([]*benchfloor.Update, inFlight)
		for i := range ups {
			if ups[i], err = s.Prepare(chunk, match, set); err != nil {
				b.Fatal(err)
			}
		}
		d, err := benchfloor.Together(inFlight, func(i int) error { _, err := ups[i].Send(e.ctx); return err })
		if err != nil {
			b.Fatal(err)
		}
		together += d
	}
	perTaskTogether := together / time.Duration(2*inFlight*chunk)
	concurrent = list + perTaskTogether*time.Duration(n)
	b.ReportMetric(ms(list), "ms-floor-listing")
	b.ReportMetric(ms(perTask), "ms-floor-write/task")
	b.ReportMetric(floor.Seconds(), "s-floor")
	b.ReportMetric(took.Seconds()/floor.Seconds(), "x-floor")
	b.ReportMetric(ms(perTaskTogether), "ms-floor-concurrent-write/task")
	b.ReportMetric(concurrent.Seconds(), "s-floor-concurrent")
	b.ReportMetric(took.Seconds()/concurrent.Seconds(), "x-floor-concurrent")
	b.Logf("%d tasks: all mains running in %s; floor %s = one listing %s + %d statements at %s each (2 updates of %d sampled); "+
		"concurrent floor %s = the listing + %d statements at %s each (%d updates of %d at once, twice); copy of the collection %s",
		n, took.Round(time.Millisecond), floor.Round(time.Millisecond), list.Round(time.Millisecond), n, perTask.Round(time.Microsecond), size,
		concurrent.Round(time.Millisecond), n, perTaskTogether.Round(time.Microsecond), inFlight, chunk, copied.Round(time.Millisecond))
	return floor, concurrent
}

// waitCount polls until n tasks of skaldID are Running.
func (e *env) waitCount(b *testing.B, skaldID string, n int) {
	b.Helper()
	mc, err := mongo.Connect(options.Client().ApplyURI(e.stack.MongoURI))
	if err != nil {
		b.Fatal(err)
	}
	defer mc.Disconnect(context.Background())
	coll := mc.Database(e.cfg.DBName).Collection(task.Collection)
	for start := time.Now(); time.Since(start) < 5*time.Minute; {
		c, err := coll.CountDocuments(e.ctx, map[string]any{"executor": skaldID, "lifecycleStatus": task.Running})
		if err != nil {
			b.Fatal(err)
		}
		if c >= int64(n) {
			return
		}
		time.Sleep(200 * time.Millisecond) // polling a count, not synchronising
	}
	b.Fatalf("fewer than %d tasks Running after 5 minutes", n)
}

// quietNode is a node started by startQuietNode.
type quietNode struct {
	*runningNode
	// handled counts the events the node has handled.
	handled *atomic.Int64
}

// awaitHandled waits until the node has handled n events: a node that has
// started every task of a burst may still be reading the burst's later
// events, each batch a listing of all its tasks.
func (q *quietNode) awaitHandled(b *testing.B, n int) {
	b.Helper()
	for start := time.Now(); q.handled.Load() < int64(n); {
		if time.Since(start) > 5*time.Minute {
			b.Fatalf("%d of %d events handled after 5 minutes", q.handled.Load(), n)
		}
		time.Sleep(50 * time.Millisecond) // polling a counter, not synchronising
	}
}

// startQuietNode is startNode with a logger that keeps nothing, so that
// the log does not grow the heap being measured.
func startQuietNode(b *testing.B, e *env, name string, opts node.Options, tweak func(*config.Config), classes ...skald.Worker) *quietNode {
	b.Helper()
	cfg := e.cfg
	cfg.SkaldID = e.id(name)
	tweak(&cfg)
	ready := make(chan struct{})
	q := &quietNode{handled: new(atomic.Int64)}
	opts.Logger = slog.New(readyHandler{ready: ready, handled: q.handled})
	n, err := node.New(cfg, opts)
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range classes {
		n.Register(c)
	}
	ctx, cancel := context.WithCancel(context.Background())
	rn := &runningNode{n: n, cancel: cancel, done: make(chan error, 1)}
	q.runningNode = rn
	go func() { rn.done <- n.Run(ctx) }()
	b.Cleanup(func() { _ = rn.stop() })
	select {
	case <-ready:
	case err := <-rn.done:
		b.Fatalf("node stopped at start: %v", err)
	}
	return q
}

// readyHandler drops every record but notices "node ready" and counts
// "event handled" (a debug record: the node's other debug records are
// built and dropped too).
type readyHandler struct {
	ready   chan struct{}
	handled *atomic.Int64
}

func (h readyHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelDebug }
func (h readyHandler) Handle(_ context.Context, r slog.Record) error {
	switch r.Message {
	case "node ready":
		close(h.ready)
	case "event handled":
		h.handled.Add(1)
	}
	if r.Level >= slog.LevelError {
		msg := r.Message
		r.Attrs(func(a slog.Attr) bool {
			msg += " " + a.String()
			return true
		})
		fmt.Println("node:", msg)
	}
	return nil
}
func (h readyHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h readyHandler) WithGroup(string) slog.Handler      { return h }

// BenchmarkHotUpdate measures attachment update latency with 1, 100 and
// 10,000 tasks running on the node: from the client's write to the
// worker's update hook (node), and to WaitApplied returning (client).
func BenchmarkHotUpdate(b *testing.B) {
	for _, n := range []int{1, 100, 10_000} {
		b.Run(fmt.Sprintf("running=%d", n), func(b *testing.B) {
			e := benchEnv(b)
			ic, cls := newIdleClass(n)
			rn := startQuietNode(b, e, "hot", node.Options{OnShutdown: node.KeepAssigned}, func(c *config.Config) { c.ReconcilePeriod = time.Hour }, cls)
			ids := insertAssigned(b, e, rn.n.ID(), n, cls)
			if err := e.pub.Publish(e.ctx, event.TopicAssign, event.NewTaskEvent(ids...)); err != nil {
				b.Fatal(err)
			}
			select {
			case <-ic.all:
			case <-time.After(5 * time.Minute):
				b.Fatalf("%d of %d tasks running", ic.running.Load(), n)
			}
			e.waitCount(b, rn.n.ID(), n)
			samples := 30
			if n >= 10_000 {
				samples = 10
			}
			// The servers' own floor is sampled between the hot updates,
			// on the same collection and under the same load: the ratios
			// to it are the figures that carry across machines.
			f := newFloor(b, e, ids)
			f.sample(b) // warms its connections up
			f.reset()
			var hook, applied []time.Duration
			for i := range samples {
				f.sample(b)
				id := ids[i*len(ids)/samples]
				t0 := time.Now()
				v, err := e.client.SetAttachments(e.ctx, id, cls.Encode(params{Value: 1000 + i}))
				if err != nil {
					b.Fatal(err)
				}
				select {
				case at := <-ic.updated:
					hook = append(hook, at.Sub(t0))
				case <-time.After(time.Minute):
					b.Fatal("no update within a minute")
				}
				if err := e.client.WaitApplied(e.ctx, id, v, 5*time.Millisecond); err != nil {
					b.Fatal(err)
				}
				applied = append(applied, time.Since(t0))
			}
			b.ReportMetric(ms(skaldtest.Quantile(hook, 0.50)), "ms-hook-p50")
			b.ReportMetric(ms(skaldtest.Quantile(hook, 0.99)), "ms-hook-p99")
			b.ReportMetric(ms(skaldtest.Quantile(applied, 0.50)), "ms-applied-p50")
			b.ReportMetric(ms(skaldtest.Quantile(applied, 0.99)), "ms-applied-p99")
			update, read, relay := f.p50()
			b.ReportMetric(ms(update), "ms-floor-update-p50")
			b.ReportMetric(ms(read), "ms-floor-read-p50")
			b.ReportMetric(ms(relay), "ms-floor-produce-consume-p50")
			// To the hook: the client's write, the event, the node's read.
			b.ReportMetric(float64(skaldtest.Quantile(hook, 0.50))/float64(update+relay+read), "x-hook-floor")
			// To the applied version read back: also the node's
			// acknowledgement and the client's read of it.
			b.ReportMetric(float64(skaldtest.Quantile(applied, 0.50))/float64(2*update+relay+2*read), "x-applied-floor")
		})
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// floor measures what the servers themselves take for the steps of a hot
// update, with the raw drivers: a conditional update and a read by _id on
// the tasks collection, and a message produced and consumed.
type floor struct {
	coll   *mongo.Collection
	ids    []string
	probe  string
	w      *kafka.Writer
	r      *kafka.Reader
	n      int
	update []time.Duration
	read   []time.Duration
	relay  []time.Duration
}

func newFloor(b *testing.B, e *env, ids []string) *floor {
	b.Helper()
	mc, err := mongo.Connect(options.Client().ApplyURI(e.stack.MongoURI))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = mc.Disconnect(context.Background()) })
	f := &floor{coll: mc.Database(e.cfg.DBName).Collection(task.Collection), ids: ids, probe: "floor-probe-" + e.uid}
	if _, err := f.coll.InsertOne(e.ctx, bson.D{{Key: "_id", Value: f.probe}, {Key: "v", Value: 0}}); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _, _ = f.coll.DeleteOne(context.Background(), bson.D{{Key: "_id", Value: f.probe}}) })
	topic := "skalds.floor." + e.uid
	if err := event.EnsureTopics(e.ctx, event.Broker{Addr: e.stack.KafkaAddr, Partitions: 1}, topic); err != nil {
		b.Fatal(err)
	}
	f.w = &kafka.Writer{Addr: kafka.TCP(e.stack.KafkaAddr), Topic: topic, BatchTimeout: time.Millisecond, RequiredAcks: kafka.RequireOne}
	f.r = kafka.NewReader(kafka.ReaderConfig{Brokers: []string{e.stack.KafkaAddr}, Topic: topic, Partition: 0, MaxWait: 10 * time.Millisecond})
	b.Cleanup(func() { _ = f.w.Close(); _ = f.r.Close() })
	return f
}

// sample times one of each step.
func (f *floor) sample(b *testing.B) {
	b.Helper()
	ctx := context.Background()
	i := f.n
	f.n++
	t0 := time.Now()
	res, err := f.coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: f.probe}, {Key: "v", Value: i}}, bson.D{{Key: "$set", Value: bson.D{{Key: "v", Value: i + 1}}}})
	if err != nil || res.ModifiedCount != 1 {
		b.Fatalf("floor: conditional update: %v %+v", err, res)
	}
	t1 := time.Now()
	if err := f.coll.FindOne(ctx, bson.D{{Key: "_id", Value: f.ids[i%len(f.ids)]}}).Err(); err != nil {
		b.Fatalf("floor: read by _id: %v", err)
	}
	t2 := time.Now()
	if err := f.w.WriteMessages(ctx, kafka.Message{Value: []byte(strconv.Itoa(i))}); err != nil {
		b.Fatalf("floor: produce: %v", err)
	}
	if m, err := f.r.ReadMessage(ctx); err != nil || string(m.Value) != strconv.Itoa(i) {
		b.Fatalf("floor: consume: %v %q", err, m.Value)
	}
	f.update, f.read, f.relay = append(f.update, t1.Sub(t0)), append(f.read, t2.Sub(t1)), append(f.relay, time.Since(t2))
}

func (f *floor) reset() { f.update, f.read, f.relay = nil, nil, nil }

func (f *floor) p50() (update, read, relay time.Duration) {
	return skaldtest.Quantile(f.update, 0.5), skaldtest.Quantile(f.read, 0.5), skaldtest.Quantile(f.relay, 0.5)
}
