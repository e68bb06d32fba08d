// Command sidebyside measures a Go node against a Python Skalds 0.3.8 node
// on the same servers, in one run, and prints a table with the ratios:
//
//   - hot update: from the producer's update call (the Go typed client's
//     Update: MongoDB write, then task.update.attachment) to the worker's
//     update handler having logged the new values, p50 and p99, with 1 and
//     with 50 running tasks;
//   - memory: the growth of the node's RSS per running task (for Python,
//     the node and its worker processes; PSS as well, since forked workers
//     share pages);
//   - start-up: from the first assignment to 100 assigned tasks all running;
//   - idle cost: CPU per running task whose worker only logs once a second;
//   - the servers' floor, with the raw drivers: one conditional MongoDB
//     write, one Kafka produce→consume, one MongoDB read by id.
//
// Both nodes run the seed story's MySimpleWorker (example/worker, and the
// seed's my_simple_worker.py of integration/interop/testdata/python) as
// processes of their own, on the Kafka broker and Redis of scripts/peers and
// one FerretDB (on the local PostgreSQL) that this command starts:
//
//	eval "$(scripts/peers up)"
//	go run ./integration/cmd/sidebyside
//
// It is a command, not a test: it measures, it asserts nothing but that
// every step happened, and it takes a few minutes. -smoke runs every step
// with tiny counts.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/segmentio/kafka-go"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/skalds-go/skalds/embedded"
	"github.com/skalds-go/skalds/example/worker"
	"github.com/skalds-go/skalds/runtime/client"
	"github.com/skalds-go/skalds/runtime/config"
	"github.com/skalds-go/skalds/runtime/liveness"
	"github.com/skalds-go/skalds/runtime/node"
	"github.com/skalds-go/skalds/skaldtest"
)

type settings struct {
	kafka, redis, postgres string
	python, pyDir          string
	samples, tasks, start  int
	floor                  int
	idle                   time.Duration
	only                   string
}

func main() {
	var s settings
	flag.StringVar(&s.kafka, "kafka", envOr("SKALDS_TEST_KAFKA", "127.0.0.1:9092"), "Kafka broker (a 3.9 broker: Python Skalds' producer needs Produce v2)")
	flag.StringVar(&s.redis, "redis", "127.0.0.1:6379", "Redis server")
	flag.StringVar(&s.postgres, "postgres", embedded.DefaultPostgreSQLURL, "PostgreSQL server for FerretDB (a database is created and dropped); empty: SQLite")
	flag.StringVar(&s.python, "python", os.Getenv("SKALDS_PYTHON"), "Python interpreter with skalds 0.3.8 (default: scripts/python-env)")
	flag.StringVar(&s.pyDir, "pydir", "", "directory of the seed's Python files (default: integration/interop/testdata/python)")
	flag.IntVar(&s.samples, "samples", 50, "hot updates measured per case")
	flag.IntVar(&s.tasks, "tasks", 50, "running tasks of the second hot-update case, and of the memory and idle figures")
	flag.IntVar(&s.start, "start", 100, "tasks of the start-up figure")
	flag.IntVar(&s.floor, "floor", 200, "samples of each floor operation")
	flag.DurationVar(&s.idle, "idle", 10*time.Second, "window over which idle CPU is measured")
	flag.StringVar(&s.only, "only", "", "measure only this node: go or python")
	smoke := flag.Bool("smoke", false, "every step with tiny counts (checks that the command works)")
	nodeID := flag.String("node", "", "run as the Go node with this id (used by the command itself)")
	flag.Parse()

	if *nodeID != "" {
		os.Exit(runGoNode(*nodeID))
	}
	if *smoke {
		s.samples, s.tasks, s.start, s.floor, s.idle = 3, 3, 4, 10, time.Second
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, s); err != nil {
		fmt.Fprintln(os.Stderr, "sidebyside:", err)
		os.Exit(1)
	}
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// runGoNode is the Go side: a node running the seed's MySimpleWorker, in a
// process of its own so that its RSS and CPU are its own. Addresses come
// from the environment, as for example/node.
func runGoNode(id string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{Level: slog.LevelInfo}))
	n, err := node.New(config.Config{SkaldID: id, Mode: config.ModeNode}, node.Options{Logger: log})
	if err != nil {
		log.Error("configuring the node", "err", err)
		return 2
	}
	worker.Register(n)
	if err := n.Run(ctx); err != nil {
		log.Error("node stopped with an error", "err", err)
		return 1
	}
	return 0
}

// bench is one run: the servers, a client, and what both sides share.
type bench struct {
	s      settings
	stack  *embedded.Stack
	cfg    config.Config
	client *client.Client
	uid    string
	dir    string
}

func run(ctx context.Context, s settings) error {
	if s.only != "" && s.only != "go" && s.only != "python" {
		return fmt.Errorf("-only %q: want go or python", s.only)
	}
	b := &bench{s: s, uid: randomID()}
	var err error
	if b.dir, err = os.MkdirTemp("", "sidebyside"); err != nil {
		return err
	}
	keep := true
	defer func() {
		if keep {
			fmt.Fprintf(os.Stderr, "the nodes' output is kept in %s\n", b.dir)
		} else {
			os.RemoveAll(b.dir)
		}
	}()
	if s.only != "go" {
		if err := b.findPython(); err != nil {
			return err
		}
	}
	step("servers: Kafka %s, Redis %s, FerretDB on %s", s.kafka, s.redis, orSQLite(s.postgres))
	b.stack, err = embedded.Start(ctx, embedded.Options{KafkaAddr: s.kafka, RedisAddr: s.redis,
		PostgreSQLURL: s.postgres, PostgreSQLTempDB: s.postgres != ""})
	if err != nil {
		return fmt.Errorf("%w (start the peers with scripts/peers up)", err)
	}
	defer b.stack.Close()
	if b.cfg, err = skaldtest.Config(b.stack.KafkaAddr, b.stack.MongoURI, b.stack.RedisAddr); err != nil {
		return err
	}
	if b.client, err = client.New(ctx, b.cfg); err != nil {
		return err
	}
	defer b.client.Close()

	fl, err := b.floors(ctx)
	if err != nil {
		return fmt.Errorf("floor: %w", err)
	}
	var results []*result
	for _, sd := range []*side{b.goSide(), b.pythonSide()} {
		if s.only != "" && s.only != sd.key {
			continue
		}
		r, err := b.measure(ctx, sd)
		if err != nil {
			return fmt.Errorf("%s node: %w", sd.name, err)
		}
		results = append(results, r)
	}
	printTable(os.Stdout, s, fl, results)
	keep = false
	return nil
}

func orSQLite(u string) string {
	if u == "" {
		return "SQLite"
	}
	return "PostgreSQL"
}

func randomID() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func step(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s  %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// findPython resolves the interpreter and the seed's Python files.
func (b *bench) findPython() error {
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..", "..")
	if b.s.pyDir == "" {
		b.s.pyDir = filepath.Join(root, "integration", "interop", "testdata", "python")
	}
	if _, err := os.Stat(filepath.Join(b.s.pyDir, "skald_node.py")); err != nil {
		return fmt.Errorf("the seed's Python files: %w (set -pydir)", err)
	}
	if b.s.python == "" {
		out, err := exec.Command(filepath.Join(root, "scripts", "python-env")).Output()
		if err != nil {
			return fmt.Errorf("scripts/python-env: %w (or set SKALDS_PYTHON)", err)
		}
		b.s.python = strings.TrimSpace(string(out))
	}
	return nil
}

// ---- the floor -----------------------------------------------------------

// floor holds the raw drivers' latencies on the same servers.
type floor struct {
	mongoWrite, kafka, mongoRead []time.Duration
}

func (b *bench) floors(ctx context.Context) (*floor, error) {
	step("floor: %d conditional MongoDB writes, Kafka produce→consume and MongoDB reads by id", b.s.floor)
	f := &floor{}
	mc, err := mongo.Connect(options.Client().ApplyURI(b.stack.MongoURI))
	if err != nil {
		return nil, err
	}
	defer mc.Disconnect(context.Background())
	coll := mc.Database("sidebyside").Collection("floor_" + b.uid)
	defer coll.Drop(context.Background())
	if _, err := coll.Indexes().CreateOne(ctx, mongo.IndexModel{Keys: bson.D{{Key: "id", Value: 1}}, Options: options.Index().SetUnique(true)}); err != nil {
		return nil, err
	}
	if _, err := coll.InsertOne(ctx, bson.D{{Key: "id", Value: "floor"}, {Key: "v", Value: 0}, {Key: "x", Value: ""}}); err != nil {
		return nil, err
	}
	for i := range b.s.floor {
		t0 := time.Now()
		res, err := coll.UpdateOne(ctx, bson.D{{Key: "id", Value: "floor"}, {Key: "v", Value: i}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "x", Value: strconv.Itoa(i)}}}, {Key: "$inc", Value: bson.D{{Key: "v", Value: 1}}}})
		if err != nil {
			return nil, err
		}
		if res.ModifiedCount != 1 {
			return nil, fmt.Errorf("conditional write %d modified %d documents", i, res.ModifiedCount)
		}
		f.mongoWrite = append(f.mongoWrite, time.Since(t0))
	}
	for range b.s.floor {
		t0 := time.Now()
		if err := coll.FindOne(ctx, bson.D{{Key: "id", Value: "floor"}}).Err(); err != nil {
			return nil, err
		}
		f.mongoRead = append(f.mongoRead, time.Since(t0))
	}
	if f.kafka, err = b.kafkaFloor(ctx); err != nil {
		return nil, err
	}
	return f, nil
}

// kafkaFloor produces one message at a time, as the event publisher does
// (batch of one, all in-sync replicas), and times it until a partition
// reader has it.
func (b *bench) kafkaFloor(ctx context.Context) ([]time.Duration, error) {
	topic := "sidebyside.floor." + b.uid
	kc := &kafka.Client{Addr: kafka.TCP(b.stack.KafkaAddr), Timeout: 10 * time.Second}
	if _, err := kc.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{Topic: topic, NumPartitions: 1, ReplicationFactor: 1}}}); err != nil {
		return nil, err
	}
	defer kc.DeleteTopics(context.Background(), &kafka.DeleteTopicsRequest{Topics: []string{topic}})
	w := &kafka.Writer{Addr: kafka.TCP(b.stack.KafkaAddr), Topic: topic, BatchSize: 1, BatchTimeout: time.Millisecond,
		RequiredAcks: kafka.RequireAll, Transport: &kafka.Transport{}}
	defer w.Close()
	// The topic's leader may take a moment after creation: the first
	// message is not timed.
	for {
		err := w.WriteMessages(ctx, kafka.Message{Value: []byte("first")})
		if err == nil {
			break
		}
		if ctx.Err() != nil || !errors.Is(err, kafka.UnknownTopicOrPartition) && !errors.Is(err, kafka.LeaderNotAvailable) {
			return nil, err
		}
		time.Sleep(50 * time.Millisecond)
	}
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{b.stack.KafkaAddr}, Topic: topic, Partition: 0, MinBytes: 1, MaxBytes: 1 << 20, MaxWait: time.Second})
	defer r.Close()
	if _, err := r.ReadMessage(ctx); err != nil {
		return nil, err
	}
	var d []time.Duration
	for i := range b.s.floor {
		want := strconv.Itoa(i)
		t0 := time.Now()
		if err := w.WriteMessages(ctx, kafka.Message{Value: []byte(want)}); err != nil {
			return nil, err
		}
		m, err := r.ReadMessage(ctx)
		if err != nil {
			return nil, err
		}
		if string(m.Value) != want {
			return nil, fmt.Errorf("consumed %q, want %q", m.Value, want)
		}
		d = append(d, time.Since(t0))
	}
	return d, nil
}

// ---- the nodes -----------------------------------------------------------

// side is one kind of node: how to start it and how to read its output.
type side struct {
	key, name string
	start     func(ctx context.Context, id string) (*proc, error)
	// updated and running match the worker's log line of an update
	// handler that got url, and of its main loop running with url.
	updated, running func(url string) *regexp.Regexp
	// workersForked: Python runs each task in a process of its own.
	workersForked bool
	// afterStart waits, after a task runs, until an update sent now will
	// reach it.
	afterStart func(ctx context.Context, id string) error
}

func (b *bench) goSide() *side {
	return &side{
		key: "go", name: "Go",
		start: func(ctx context.Context, id string) (*proc, error) {
			self, err := os.Executable()
			if err != nil {
				return nil, err
			}
			p, err := startProc(b.dir, id, b.stack.Env(), self, "-node", id)
			if err != nil {
				return nil, err
			}
			_, err = p.await(ctx, 0, regexp.MustCompile(`msg="node ready"`), time.Minute)
			return p, err
		},
		updated: func(url string) *regexp.Regexp {
			return regexp.MustCompile(`msg=updated .*rtspUrl=` + regexp.QuoteMeta(url) + `( |$)`)
		},
		running: func(url string) *regexp.Regexp {
			return regexp.MustCompile(`msg=running .*rtspUrl=` + regexp.QuoteMeta(url) + `( |$)`)
		},
		afterStart: func(context.Context, string) error { return nil },
	}
}

func (b *bench) pythonSide() *side {
	return &side{
		key: "python", name: "Python", workersForked: true,
		start: func(ctx context.Context, id string) (*proc, error) {
			env := append(b.stack.Env(), "PYTHONPATH="+b.s.pyDir, "PYTHONUNBUFFERED=1", "PYTHONDONTWRITEBYTECODE=1",
				"LOG_PATH="+filepath.Join(b.dir, id), "SKALD_ID="+id)
			p, err := startProc(b.dir, id, env, b.s.python, filepath.Join(b.s.pyDir, "skald_node.py"))
			if err != nil {
				return nil, err
			}
			// Python Skalds consumes from the newest offset: an assignment
			// published before its group committed would be lost.
			if err := b.awaitGroup(ctx, p, id, false, "task.assign"); err != nil {
				return p, err
			}
			return p, b.awaitRegistered(ctx, p, id)
		},
		updated: func(url string) *regexp.Regexp {
			return regexp.MustCompile(`Updating MyWorker with RTSP URL: ` + regexp.QuoteMeta(url) + `, Fix Frame: \d+$`)
		},
		running: func(url string) *regexp.Regexp {
			return regexp.MustCompile(`RTSP URL: ` + regexp.QuoteMeta(url) + `, Fix Frame: \d+$`)
		},
		// Each worker process reads taskworker.update in a group of its
		// own, named after its task, from the newest offset.
		afterStart: func(ctx context.Context, id string) error {
			return b.awaitGroup(ctx, nil, id, true, "taskworker.update")
		},
	}
}

func (b *bench) awaitGroup(ctx context.Context, p *proc, group string, prefix bool, topic string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	var why string
	for {
		var ok bool
		if _, ok, why = skaldtest.GroupCommitted(ctx, b.stack.KafkaAddr, group, prefix, topic); ok {
			return nil
		}
		if p != nil && p.Exited() {
			return fmt.Errorf("exited while waiting for consumer group %s: %v\n%s", group, p.Err(), p.Tail(30))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("consumer group %s on %s not ready: %s", group, topic, why)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (b *bench) awaitRegistered(ctx context.Context, p *proc, id string) error {
	rdb := b.stack.RedisAddr
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for {
		if ok, err := redisHExists(ctx, rdb, liveness.NodesKey, id); err == nil && ok {
			return nil
		}
		if p.Exited() {
			return fmt.Errorf("exited before registering: %v\n%s", p.Err(), p.Tail(30))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("node %s did not register in %s", id, liveness.NodesKey)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// result is one node's figures.
type result struct {
	name                 string
	hot1, hotN           []time.Duration
	rssBase, rssN        int64 // node process tree, kB
	pssBase, pssN        int64
	cpuBase, cpuN        float64 // cores busy, over the idle window
	startup, stopN       time.Duration
	processesN, tasksRun int
}

// measure runs every figure on one node, in order: idle baseline, one
// task, N tasks (hot updates, memory, idle CPU), then start-up of the
// start-up count.
func (b *bench) measure(ctx context.Context, sd *side) (*result, error) {
	r := &result{name: sd.name}
	id := "sidebyside-" + sd.key + "-" + b.uid
	step("%s node %s: starting", sd.name, id)
	p, err := sd.start(ctx, id)
	if p != nil {
		defer func() { _ = p.Stop(30 * time.Second) }()
	}
	if err != nil {
		return nil, err
	}
	tasks := worker.NewMySimpleWorkerClient(b.client)
	taskID := func(i int) string { return fmt.Sprintf("%s-t%d", id, i) }
	url := func(i int) string { return "rtsp://example.com/" + taskID(i) }

	step("%s: idle baseline over %s", sd.name, b.s.idle)
	// Processes the node has before any task (Python's multiprocessing
	// helpers) are not workers.
	idle := map[int]bool{}
	for _, c := range descendants(p.Pid()) {
		idle[c] = true
	}
	if r.rssBase, r.pssBase, _, err = memory(p.Pid()); err != nil {
		return nil, err
	}
	if r.cpuBase, err = busy(ctx, p.Pid(), b.s.idle); err != nil {
		return nil, err
	}

	// assign creates and assigns tasks from..to-1 and waits until each runs
	// and takes updates; it returns when the last started.
	assign := func(from, to int) (time.Duration, error) {
		for i := from; i < to; i++ {
			if err := tasks.Create(ctx, taskID(i), worker.MySimpleDataModel{RTSPURL: url(i), FixFrame: 10}); err != nil {
				return 0, err
			}
		}
		mark := p.Mark()
		t0 := time.Now()
		for i := from; i < to; i++ {
			if _, err := tasks.Assign(ctx, taskID(i), id); err != nil {
				return 0, err
			}
		}
		var last time.Time
		for i := from; i < to; i++ {
			at, err := p.await(ctx, mark, sd.running(url(i)), 5*time.Minute)
			if err != nil {
				return 0, fmt.Errorf("task %s: %w", taskID(i), err)
			}
			if at.After(last) {
				last = at
			}
		}
		took := last.Sub(t0)
		for i := from; i < to; i++ {
			if err := sd.afterStart(ctx, taskID(i)); err != nil {
				return 0, err
			}
		}
		return took, nil
	}
	seq := 0
	// update sends one update to task i and returns when its handler
	// logged the new values.
	update := func(i int) (time.Duration, error) {
		seq++
		u := fmt.Sprintf("%s/u%d", url(i), seq)
		mark := p.Mark()
		t0 := time.Now()
		if _, err := tasks.Update(ctx, taskID(i), worker.MySimpleDataModel{RTSPURL: u, FixFrame: seq%1000 + 1}); err != nil {
			return 0, err
		}
		at, err := p.await(ctx, mark, sd.updated(u), time.Minute)
		if err != nil {
			return 0, fmt.Errorf("update of %s: %w", taskID(i), err)
		}
		return at.Sub(t0), nil
	}
	hot := func(n int) ([]time.Duration, error) {
		// One update per task first, not timed: the first of each pays
		// for connections and caches.
		for i := range n {
			if _, err := update(i); err != nil {
				return nil, err
			}
		}
		var d []time.Duration
		for k := range b.s.samples {
			t, err := update(k % n)
			if err != nil {
				return nil, err
			}
			d = append(d, t)
		}
		return d, nil
	}

	step("%s: hot updates with 1 running task", sd.name)
	if _, err := assign(0, 1); err != nil {
		return nil, err
	}
	if r.hot1, err = hot(1); err != nil {
		return nil, err
	}
	step("%s: hot updates with %d running tasks", sd.name, b.s.tasks)
	if _, err := assign(1, b.s.tasks); err != nil {
		return nil, err
	}
	if r.hotN, err = hot(b.s.tasks); err != nil {
		return nil, err
	}
	step("%s: memory and idle CPU with %d running tasks over %s", sd.name, b.s.tasks, b.s.idle)
	if r.rssN, r.pssN, r.processesN, err = memory(p.Pid()); err != nil {
		return nil, err
	}
	if r.cpuN, err = busy(ctx, p.Pid(), b.s.idle); err != nil {
		return nil, err
	}
	if r.stopN, err = b.cancel(ctx, p, sd, idle, tasks.Cancel, taskID, 0, b.s.tasks); err != nil {
		return nil, err
	}

	step("%s: start-up of %d assigned tasks", sd.name, b.s.start)
	base := b.s.tasks
	if r.startup, err = assign(base, base+b.s.start); err != nil {
		return nil, err
	}
	r.tasksRun = b.s.start
	if _, err := b.cancel(ctx, p, sd, idle, tasks.Cancel, taskID, base, base+b.s.start); err != nil {
		return nil, err
	}
	if p.Exited() {
		return nil, fmt.Errorf("the node exited: %v\n%s", p.Err(), p.Tail(30))
	}
	return r, nil
}

// cancel cancels tasks from..to-1 and waits until their workers stopped
// (for Python, until the node has no processes left but those of idle);
// it returns how long that took.
func (b *bench) cancel(ctx context.Context, p *proc, sd *side, idle map[int]bool, cancel func(context.Context, string) error, taskID func(int) string, from, to int) (time.Duration, error) {
	mark := p.Mark()
	t0 := time.Now()
	for i := from; i < to; i++ {
		if err := cancel(ctx, taskID(i)); err != nil {
			return 0, err
		}
	}
	if sd.workersForked {
		// A Python Skald stops its workers one after the other, each in
		// a few seconds.
		wctx, stop := context.WithTimeout(ctx, time.Minute+time.Duration(to-from)*10*time.Second)
		defer stop()
		workers := func() (n int) {
			for _, c := range descendants(p.Pid()) {
				if !idle[c] {
					n++
				}
			}
			return n
		}
		for {
			if workers() == 0 {
				return time.Since(t0), nil
			}
			select {
			case <-wctx.Done():
				return 0, fmt.Errorf("%d worker processes still running after the cancel", workers())
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	var last time.Time
	for i := from; i < to; i++ {
		at, err := p.await(ctx, mark, regexp.MustCompile(`msg=released .*taskId=`+regexp.QuoteMeta(taskID(i))+`( |$)`), time.Minute)
		if err != nil {
			return 0, err
		}
		if at.After(last) {
			last = at
		}
	}
	return last.Sub(t0), nil
}

// ---- output --------------------------------------------------------------

func printTable(w io.Writer, s settings, f *floor, rs []*result) {
	q := skaldtest.Quantile
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }
	fmt.Fprintf(w, "\nServers' floor (raw drivers, %d samples each), p50 / p99:\n\n", s.floor)
	fmt.Fprintf(w, "| Operation | p50 | p99 |\n|---|---|---|\n")
	for _, o := range []struct {
		name string
		d    []time.Duration
	}{{"MongoDB conditional write", f.mongoWrite}, {"Kafka produce→consume", f.kafka}, {"MongoDB read by id", f.mongoRead}} {
		fmt.Fprintf(w, "| %s | %s | %s |\n", o.name, ms(q(o.d, 0.5)), ms(q(o.d, 0.99)))
	}
	floor50 := q(f.mongoWrite, 0.5) + q(f.kafka, 0.5) + q(f.mongoRead, 0.5)
	fmt.Fprintf(w, "| sum (the floor of one hot update) | %s | |\n", ms(floor50))

	type row struct {
		name string
		val  func(*result) float64
		fmt  func(float64) string
	}
	d := func(v float64) string { return ms(time.Duration(v)) }
	perTask := func(v float64) string { return fmt.Sprintf("%.2f MB", v/1024) }
	rows := []row{
		{fmt.Sprintf("hot update p50, 1 task (%d samples)", s.samples), func(r *result) float64 { return float64(q(r.hot1, 0.5)) }, d},
		{"hot update p99, 1 task", func(r *result) float64 { return float64(q(r.hot1, 0.99)) }, d},
		{fmt.Sprintf("hot update p50, %d tasks", s.tasks), func(r *result) float64 { return float64(q(r.hotN, 0.5)) }, d},
		{fmt.Sprintf("hot update p99, %d tasks", s.tasks), func(r *result) float64 { return float64(q(r.hotN, 0.99)) }, d},
		{"hot update p50 / floor", func(r *result) float64 { return float64(q(r.hot1, 0.5)) / float64(floor50) }, func(v float64) string { return fmt.Sprintf("%.1fx", v) }},
		{"RSS per running task", func(r *result) float64 { return float64(r.rssN-r.rssBase) / float64(s.tasks) }, perTask},
		{"PSS per running task", func(r *result) float64 { return float64(r.pssN-r.pssBase) / float64(s.tasks) }, perTask},
		{fmt.Sprintf("start-up of %d assigned tasks", s.start), func(r *result) float64 { return float64(r.startup) }, func(v float64) string { return fmt.Sprintf("%.2f s", v/1e9) }},
		{fmt.Sprintf("cancel of %d tasks, until all stopped", s.tasks), func(r *result) float64 { return float64(r.stopN) }, func(v float64) string { return fmt.Sprintf("%.2f s", v/1e9) }},
		{"CPU per idle running task", func(r *result) float64 { return (r.cpuN - r.cpuBase) / float64(s.tasks) }, func(v float64) string { return fmt.Sprintf("%.3f%% of a core", 100*v) }},
	}
	if len(rs) == 2 {
		fmt.Fprintf(w, "\nGo node vs Python node (Python / Go in the last column):\n")
	}
	fmt.Fprintf(w, "\n| Measure |")
	for _, r := range rs {
		fmt.Fprintf(w, " %s node |", r.name)
	}
	if len(rs) == 2 {
		fmt.Fprintf(w, " Python / Go |")
	}
	fmt.Fprintf(w, "\n|---|%s\n", strings.Repeat("---|", len(rs)+min(1, len(rs)/2)))
	for _, row := range rows {
		fmt.Fprintf(w, "| %s |", row.name)
		for _, r := range rs {
			fmt.Fprintf(w, " %s |", row.fmt(row.val(r)))
		}
		if len(rs) == 2 {
			g, p := row.val(rs[0]), row.val(rs[1])
			if g > 0 {
				fmt.Fprintf(w, " %.1f |", p/g)
			} else {
				fmt.Fprintf(w, " n/a |")
			}
		}
		fmt.Fprintln(w)
	}
	for _, r := range rs {
		fmt.Fprintf(w, "\n%s node: RSS %.1f MB idle, %.1f MB with %d tasks in %d processes; idle CPU %.2f%% of a core, %.2f%% with %d tasks.",
			r.name, float64(r.rssBase)/1024, float64(r.rssN)/1024, s.tasks, r.processesN, 100*r.cpuBase, 100*r.cpuN, s.tasks)
	}
	fmt.Fprintln(w)
}

// ---- processes -----------------------------------------------------------

// proc is a node process, in a process group of its own so that stopping
// it also ends the worker processes a Python Skald forks. Its output is
// kept line by line with the time each line was read.
type proc struct{ *skaldtest.Process }

// startProc starts the node called id; its output also goes to
// dir/id.log.
func startProc(dir, id string, env []string, name string, args ...string) (*proc, error) {
	logFile, err := os.Create(filepath.Join(dir, id+".log"))
	if err != nil {
		return nil, err
	}
	p, err := skaldtest.StartProcess(skaldtest.ProcessOptions{Name: id, Dir: dir, Env: env, Group: true, Output: logFile}, name, args...)
	if err != nil {
		_ = logFile.Close()
		return nil, err
	}
	go func() {
		<-p.Done()
		_ = logFile.Close()
	}()
	return &proc{p}, nil
}

// await returns when a line from mark on matches re, the time it was read.
func (p *proc) await(ctx context.Context, mark int, re *regexp.Regexp, limit time.Duration) (time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	l, err := p.Await(ctx, mark, re)
	return l.At, err
}
