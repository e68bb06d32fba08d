package integration

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/skalds-go/skalds/embedded"
	"github.com/skalds-go/skalds/runtime/client"
	"github.com/skalds-go/skalds/runtime/codec"
	"github.com/skalds-go/skalds/runtime/config"
	"github.com/skalds-go/skalds/runtime/event"
	"github.com/skalds-go/skalds/runtime/node"
	"github.com/skalds-go/skalds/runtime/skald"
	"github.com/skalds-go/skalds/runtime/task"
	"github.com/skalds-go/skalds/skaldtest"
)

// deadline bounds every wait of a test; nothing sleeps to synchronise.
const deadline = 30 * time.Second

// env is one test's servers, client and log watch. Every test gets its own
// embedded stack, so no test sees another's tasks. The real peers, when
// there, are shared: the local Redis and the broker of SKALDS_TEST_KAFKA,
// where every test's events meet on the same topics. So ids are unique to
// the test, and a node's consumer group (its id) with them.
type env struct {
	t      testing.TB
	ctx    context.Context
	stack  *embedded.Stack
	cfg    config.Config
	logs   *skaldtest.Logs
	client *client.Client
	store  *task.Store
	rdb    *redis.Client
	pub    *event.Publisher
	uid    string
}

func newEnv(t testing.TB) *env {
	t.Helper()
	return newEnvOn(t, embedded.Options{RedisAddr: skaldtest.RedisAddr(t), KafkaAddr: skaldtest.KafkaAddr(t)})
}

// newEnvOn is newEnv on a stack started with opts.
func newEnvOn(t testing.TB, opts embedded.Options) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	var next slog.Handler
	if os.Getenv("SKALD_TEST_LOG") != "" {
		next = slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})
	}
	e := &env{t: t, ctx: ctx, logs: skaldtest.NewLogs(next), uid: randomID()}
	var err error
	e.stack, err = embedded.Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.stack.Close() })
	cfg, err := skaldtest.Config(e.stack.KafkaAddr, e.stack.MongoURI, e.stack.RedisAddr)
	if err != nil {
		t.Fatal(err)
	}
	e.cfg = cfg
	e.client, err = client.New(ctx, e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.client.Close() })
	e.store = e.client.Tasks()
	e.rdb = redis.NewClient(&redis.Options{Addr: e.stack.RedisAddr})
	t.Cleanup(func() { _ = e.rdb.Close() })
	e.pub = event.NewPublisher(event.Broker{Addr: e.stack.KafkaAddr})
	t.Cleanup(func() { _ = e.pub.Close() })
	return e
}

func randomID() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// id returns a task or node id unique to this test run.
func (e *env) id(name string) string { return name + "-" + e.uid }

// runningNode is a node started by a test.
type runningNode struct {
	n      *node.Node
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
	err    error
}

// startNode runs a node named name with classes, after tweak has adjusted
// its config, and waits until it is ready.
func (e *env) startNode(name string, opts node.Options, tweak func(*config.Config), classes ...skald.Worker) *runningNode {
	e.t.Helper()
	mark := e.logs.Mark()
	rn := e.launchNode(name, opts, tweak, classes...)
	e.ready(rn, mark)
	return rn
}

// launchNode runs a node like startNode, without waiting for it.
func (e *env) launchNode(name string, opts node.Options, tweak func(*config.Config), classes ...skald.Worker) *runningNode {
	e.t.Helper()
	cfg := e.cfg
	cfg.SkaldID = e.id(name)
	if tweak != nil {
		tweak(&cfg)
	}
	opts.Logger = slog.New(e.logs)
	if opts.StopGrace == 0 {
		opts.StopGrace = 5 * time.Second
	}
	n, err := node.New(cfg, opts)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, c := range classes {
		n.Register(c)
	}
	ctx, cancel := context.WithCancel(context.Background())
	rn := &runningNode{n: n, cancel: cancel, done: make(chan error, 1)}
	go func() { rn.done <- n.Run(ctx) }()
	e.t.Cleanup(func() { _ = rn.stop() })
	return rn
}

// ready waits until rn logs "node ready" after mark.
func (e *env) ready(rn *runningNode, mark int) {
	e.t.Helper()
	wait, cancelWait := context.WithTimeout(e.ctx, deadline)
	defer cancelWait()
	id := rn.n.ID()
	ready := func(r skaldtest.Record) bool { return r.Msg == "node ready" && r.Attrs["skaldId"] == id }
	if _, err := e.logs.AwaitFrom(wait, mark, ready); err != nil {
		select {
		case err := <-rn.done:
			e.t.Fatalf("node %s stopped at start: %v", id, err)
		default:
		}
		e.t.Fatalf("node %s not ready: %v", id, err)
	}
}

// stop stops the node gracefully and returns what Run returned.
func (rn *runningNode) stop() error {
	rn.once.Do(func() {
		rn.cancel()
		rn.err = <-rn.done
	})
	return rn.err
}

// alive fails the test if the node has stopped.
func (rn *runningNode) alive(t testing.TB) {
	t.Helper()
	select {
	case err := <-rn.done:
		rn.done <- err
		t.Fatalf("node %s stopped: %v", rn.n.ID(), err)
	default:
	}
}

// await waits for a record from mark on with message msg and attrs.
func (e *env) await(mark int, msg string, attrs ...any) skaldtest.Record {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(e.ctx, deadline)
	defer cancel()
	r, err := e.logs.AwaitFrom(ctx, mark, skaldtest.Msg(msg, attrs...))
	if err != nil {
		e.t.Fatalf("awaiting log %q %v: %v", msg, attrs, err)
	}
	return r
}

// until calls check every 20 ms until it holds, and fails the test with
// failure's text once the deadline passes first. Polling is the only way
// to observe MongoDB (FerretDB has no change streams) and Redis keys.
func (e *env) until(check func(ctx context.Context) bool, failure func() string) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(e.ctx, deadline)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !check(ctx) {
		select {
		case <-ctx.Done():
			e.t.Fatal(failure())
		case <-tick.C:
		}
	}
}

// waitTask polls the task until ok accepts it, and returns it.
func (e *env) waitTask(id, what string, ok func(*task.Task) bool) *task.Task {
	e.t.Helper()
	var last *task.Task
	e.until(func(ctx context.Context) bool {
		t, err := e.store.Get(ctx, id)
		if err == nil {
			last = t
			return ok(t)
		}
		if !errors.Is(err, task.ErrNotFound) && ctx.Err() == nil {
			e.t.Fatal(err)
		}
		return false
	}, func() string { return fmt.Sprintf("task %s: waiting until %s; last seen %s", id, what, describe(last)) })
	return last
}

func describe(t *task.Task) string {
	if t == nil {
		return "nothing"
	}
	ex := "<none>"
	if t.Executor != nil {
		ex = *t.Executor
	}
	return fmt.Sprintf("status %s executor %s epoch %d version %d applied %d error %q stuck %q refusal %+v",
		t.LifecycleStatus, ex, t.AssignmentEpoch, t.AttachmentsVersion, t.AppliedAttachmentsVersion, t.Error, t.Stuck, t.Refusal)
}

// create inserts a task of class with m as its attachments.
func (e *env) create(id string, class *skald.Class[params], m params) {
	e.t.Helper()
	if err := e.client.Create(e.ctx, task.New(id, class.Name, "integration", class.Encode(m))); err != nil {
		e.t.Fatal(err)
	}
}

// assign assigns id to node rn and publishes task.assign.
func (e *env) assign(id string, rn *runningNode) int64 {
	e.t.Helper()
	epoch, err := e.client.Assign(e.ctx, id, rn.n.ID())
	if err != nil {
		e.t.Fatal(err)
	}
	return epoch
}

// running waits until the task runs on rn in epoch.
func (e *env) running(id string, rn *runningNode, epoch int64) *task.Task {
	e.t.Helper()
	return e.waitTask(id, fmt.Sprintf("Running on %s in epoch %d", rn.n.ID(), epoch), func(t *task.Task) bool {
		return t.LifecycleStatus == task.Running && t.Executor != nil && *t.Executor == rn.n.ID() && t.AssignmentEpoch == epoch
	})
}

// awaitHeartbeat waits until task id's heartbeat is want. A node writes
// the task's outcome to MongoDB first and its terminal code to Redis after
// (only an unfenced outcome gets one), so a test that saw the outcome
// waits for the code.
func (e *env) awaitHeartbeat(id, want string) {
	e.t.Helper()
	var got string
	e.until(func(context.Context) bool { got = e.heartbeat(id); return got == want },
		func() string { return fmt.Sprintf("task %s heartbeat %q, want %s", id, got, want) })
}

func (e *env) heartbeat(id string) string {
	e.t.Helper()
	v, err := e.rdb.Get(e.ctx, "task:"+id+":heartbeat").Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		e.t.Fatal(err)
	}
	return v
}

// params are the attachments of the test worker class. Mode picks what
// main does: wait (for its context; the default), finish, fail, panic,
// stuck (ignore the context until the probe's gate opens), panic-init,
// panic-release, hold-release (release returns only once the probe's
// holds[Value] is closed, whatever its context says) and report (report
// a progress once the probe's gate opens, then wait for the context).
type params struct {
	Mode  string
	Value int
}

func decodeParams(data []byte) (params, error) {
	var m params
	r := codec.NewReader(data)
	if r.BeginObject() {
		var seen [2]bool
		for r.More() {
			switch string(r.Key()) {
			case "mode":
				if !r.Seen(&seen[0]) {
					m.Mode = r.String()
				}
			case "value":
				if !r.Seen(&seen[1]) {
					m.Value = int(r.Int(0))
				}
			default:
				r.Unknown()
			}
		}
	}
	return m, r.End()
}

func encodeParams(m params) []byte {
	var w codec.Writer
	w.BeginObject()
	w.Key("mode")
	w.String(m.Mode)
	w.Key("value")
	w.Int(int64(m.Value))
	w.EndObject()
	return w.Bytes()
}

// probe watches the workers of one test class.
type probe struct {
	mu        sync.Mutex
	active    int // mains running now
	maxActive int // most mains running at once
	starts    int
	releases  int
	updates   []params
	gate      chan struct{}
	holds     []chan struct{} // what hold-release waits for, by Value
	onInit    func(params)    // called by Init, before it returns
	onUpdate  func(params)    // called first by Update, whatever it then does
}

func (p *probe) snapshot() (starts, releases, maxActive int, updates []params) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.starts, p.releases, p.maxActive, append([]params(nil), p.updates...)
}

// newClass returns a worker class name whose workers report to p. A test
// that counts concurrent mains runs one task of the class.
func newClass(name string, p *probe) *skald.Class[params] {
	if p.gate == nil {
		p.gate = make(chan struct{})
	}
	return &skald.Class[params]{
		Name:     name,
		Decode:   decodeParams,
		Encode:   encodeParams,
		Validate: func(params) error { return nil },
		New: func() skald.Hooks[params] {
			var m params
			var mu sync.Mutex
			return skald.Hooks[params]{
				Init: func(in params) error {
					if p.onInit != nil {
						p.onInit(in)
					}
					if in.Mode == "panic-init" {
						panic("init exploded")
					}
					m = in
					return nil
				},
				Main: func(ctx context.Context) error {
					mu.Lock()
					cur := m
					mu.Unlock()
					p.mu.Lock()
					p.starts++
					p.active++
					p.maxActive = max(p.maxActive, p.active)
					p.mu.Unlock()
					defer func() {
						p.mu.Lock()
						p.active--
						p.mu.Unlock()
					}()
					skald.Logger(ctx).Info("main running", "mode", cur.Mode, "value", cur.Value)
					switch cur.Mode {
					case "finish":
						return nil
					case "fail":
						return errors.New("main failed on purpose")
					case "panic":
						panic("main exploded")
					case "stuck":
						<-p.gate
						return nil
					case "report":
						select {
						case <-p.gate:
							skald.ReportProgress(ctx, fmt.Appendf(nil, `{"value":%d}`, cur.Value))
						case <-ctx.Done():
						}
					}
					<-ctx.Done()
					return nil
				},
				Update: func(ctx context.Context, in params) error {
					if p.onUpdate != nil {
						p.onUpdate(in)
					}
					if in.Mode == "panic" {
						panic("update exploded")
					}
					if in.Mode == "refuse" {
						return errors.New("this worker refuses mode refuse")
					}
					mu.Lock()
					m = in
					mu.Unlock()
					p.mu.Lock()
					p.updates = append(p.updates, in)
					p.mu.Unlock()
					skald.Logger(ctx).Info("updated", "value", in.Value)
					return nil
				},
				Release: func(ctx context.Context) error {
					p.mu.Lock()
					p.releases++
					p.mu.Unlock()
					skald.Logger(ctx).Info("released")
					mu.Lock()
					mode, value := m.Mode, m.Value
					mu.Unlock()
					switch mode {
					case "panic-release":
						panic("release exploded")
					case "hold-release":
						<-p.holds[value]
					}
					return nil
				},
			}
		},
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

func newTyped(e *env, cls *skald.Class[params]) *client.Typed[params] {
	return client.NewTyped(e.client, cls)
}
