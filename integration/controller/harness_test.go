// Package controller tests the system controller against the embedded
// servers: dispatch, failover and retries, the REST API and the event
// streams. Every test gets its own stack (Kafka, FerretDB, miniredis), so
// no test sees another's nodes or tasks; on the real broker of
// SKALDS_TEST_KAFKA, which the tests share, node and task ids are unique
// to the test. Waits poll with a deadline; nothing sleeps to synchronise.
package controller

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skalds-go/skalds/skaldtest"

	"github.com/redis/go-redis/v9"

	ctl "github.com/skalds-go/skalds/controller"
	"github.com/skalds-go/skalds/embedded"
	"github.com/skalds-go/skalds/runtime/config"
	"github.com/skalds-go/skalds/runtime/liveness"
	"github.com/skalds-go/skalds/runtime/node"
	"github.com/skalds-go/skalds/runtime/skald"
	"github.com/skalds-go/skalds/runtime/task"
)

// deadline bounds every wait.
const deadline = 20 * time.Second

type env struct {
	t     testing.TB
	ctx   context.Context
	stack *embedded.Stack
	infra config.Config
	rdb   *redis.Client
	store *task.Store
	log   *slog.Logger
	uid   string
	// stops stops the test's controllers. A node's clean-up runs them
	// first, so that the tasks a stopping node hands back are not
	// dispatched again during teardown.
	stops []func()
}

// stopControllers stops every controller of the test; it is idempotent.
func (e *env) stopControllers() {
	for _, stop := range e.stops {
		stop()
	}
}

func testLogger() *slog.Logger {
	if os.Getenv("SKALD_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

func newEnv(t testing.TB) *env {
	t.Helper()
	return newEnvOn(t, embedded.Options{KafkaAddr: skaldtest.KafkaAddr(t)}, nil)
}

// newEnvOn is newEnv on a stack started with opts. Its clients (the test's
// store, nodes and controllers) reach MongoDB at the stack's URI, or at
// what clientURI makes of it (credentials, TLS options) when set.
func newEnvOn(t testing.TB, opts embedded.Options, clientURI func(stackURI string) string) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	e := &env{t: t, ctx: ctx, log: testLogger(), uid: randomID()}
	var err error
	e.stack, err = embedded.Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.stack.Close() })
	mongoURI := e.stack.MongoURI
	if clientURI != nil {
		mongoURI = clientURI(mongoURI)
	}
	e.infra, err = skaldtest.Config(e.stack.KafkaAddr, mongoURI, e.stack.RedisAddr)
	if err != nil {
		t.Fatal(err)
	}
	e.rdb = redis.NewClient(&redis.Options{Addr: e.stack.RedisAddr})
	t.Cleanup(func() { _ = e.rdb.Close() })
	e.store, err = task.Open(ctx, mongoURI, "skalds")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.store.Close(context.Background()) })
	return e
}

func randomID() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// controller is a running controller of a test.
type controller struct {
	c     *ctl.Controller
	url   string
	token string
	stop  func()
}

// startController runs a controller with fast intervals, after tweak.
func (e *env) startController(tweak func(*ctl.Config)) *controller {
	e.t.Helper()
	return e.startControllerWith(tweak, ctl.Options{})
}

// startControllerWith is startController with opts, whose logger,
// listener and intervals the test sets.
func (e *env) startControllerWith(tweak func(*ctl.Config), opts ctl.Options) *controller {
	e.t.Helper()
	cfg := ctl.Config{
		Infra:            e.infra,
		Mode:             ctl.ModeDispatcher,
		MonitorInterval:  100 * time.Millisecond,
		NodeTimeout:      time.Second,
		DispatchInterval: 100 * time.Millisecond,
		RetryBackoff:     200 * time.Millisecond,
		RetryBackoffMax:  time.Second,
	}
	if tweak != nil {
		tweak(&cfg)
	}
	cfg, err := ctl.LoadConfig(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.t.Fatal(err)
	}
	opts.Logger, opts.Listener, opts.Version = e.log, ln, "test"
	opts.EventPoll, opts.KeepAlive, opts.ChartInterval = 100*time.Millisecond, 300*time.Millisecond, 100*time.Millisecond
	c, err := ctl.New(e.ctx, cfg, opts)
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				e.t.Errorf("controller: %v", err)
			}
		})
	}
	e.t.Cleanup(stop)
	e.stops = append(e.stops, stop)
	return &controller{c: c, url: "http://" + ln.Addr().String(), token: cfg.Token, stop: stop}
}

// fakeNode is a registry entry written by the test, standing for a node
// that runs nothing: enough for the dispatcher, which only reads Redis.
type fakeNode struct {
	e    *env
	id   string
	stop context.CancelFunc
	done chan struct{}
}

// fakeNode registers id with mode and classes and keeps its activity
// stamp fresh every 100 ms until stopBeating.
func (e *env) fakeNode(id, mode string, classes ...string) *fakeNode {
	e.t.Helper()
	ctx, cancel := context.WithCancel(e.ctx)
	f := &fakeNode{e: e, id: id, stop: cancel, done: make(chan struct{})}
	if err := e.writeNode(id, mode, time.Now(), classes...); err != nil {
		e.t.Fatal(err)
	}
	go func() {
		defer close(f.done)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				_ = e.rdb.HSet(ctx, liveness.NodesKey, id, strconv.FormatInt(time.Now().UnixMilli(), 10)).Err()
			}
		}
	}()
	e.t.Cleanup(f.stopBeating)
	return f
}

// stopBeating freezes the node's activity stamp, as a crashed node does.
func (f *fakeNode) stopBeating() {
	f.stop()
	<-f.done
}

// writeNode writes one registry entry with the given activity time.
func (e *env) writeNode(id, mode string, at time.Time, classes ...string) error {
	_, err := e.rdb.TxPipelined(e.ctx, func(p redis.Pipeliner) error {
		p.HSet(e.ctx, liveness.NodesKey, id, strconv.FormatInt(at.UnixMilli(), 10))
		p.HSet(e.ctx, liveness.NodeModesKey, id, mode)
		p.Set(e.ctx, liveness.NodeTasksKey(id), `{"tasks":[],"existed_task_ids":[],"timestamp":0}`, 0)
		p.Del(e.ctx, liveness.NodeClassesKey(id))
		for _, c := range classes {
			p.RPush(e.ctx, liveness.NodeClassesKey(id), c)
		}
		return nil
	})
	return err
}

// create inserts a Created, Passive task.
func (e *env) create(id, class string, priority int) {
	e.t.Helper()
	d := task.New(id, class, "integration", []byte(`{"mode":"wait"}`))
	d.Priority = priority
	if err := e.store.Create(e.ctx, d); err != nil {
		e.t.Fatal(err)
	}
}

// waitTask polls the task until ok accepts it.
func (e *env) waitTask(id, what string, ok func(*task.Task) bool) *task.Task {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(e.ctx, deadline)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var last *task.Task
	for {
		d, err := e.store.Get(ctx, id)
		if err == nil {
			last = d
			if ok(d) {
				return d
			}
		} else if !errors.Is(err, task.ErrNotFound) && ctx.Err() == nil {
			e.t.Fatal(err)
		}
		select {
		case <-ctx.Done():
			e.t.Fatalf("task %s: waiting until %s; last seen %s", id, what, describe(last))
		case <-tick.C:
		}
	}
}

func describe(d *task.Task) string {
	if d == nil {
		return "nothing"
	}
	return fmt.Sprintf("status %s executor %s epoch %d attempts %d error %q", d.LifecycleStatus, deref(d.Executor), d.AssignmentEpoch, d.Attempts, d.Error)
}

func deref(s *string) string {
	if s == nil {
		return "<none>"
	}
	return *s
}

// assignedTo waits until the task is assigned (Assigning or Running) and
// returns its executor.
func (e *env) assignedTo(id string) *task.Task {
	e.t.Helper()
	return e.waitTask(id, "assigned", func(d *task.Task) bool {
		return d.Executor != nil && (d.LifecycleStatus == task.Assigning || d.LifecycleStatus == task.Running)
	})
}

// setStatus writes a status as a node's report would, with an error text.
func (e *env) setStatus(id string, status task.Status, failure string) {
	e.t.Helper()
	d, err := e.store.Get(e.ctx, id)
	if err != nil {
		e.t.Fatal(err)
	}
	ts, err := task.Open(e.ctx, e.infra.MongoHost, "skalds")
	if err != nil {
		e.t.Fatal(err)
	}
	defer ts.Close(context.Background())
	if err := ts.Report(e.ctx, d.Ref(), status, failure); err != nil {
		e.t.Fatal(err)
	}
}

// params are the attachments of the test worker class.
type params struct {
	Mode string `json:"mode"`
}

// newClass returns a worker class whose main waits for its context, or
// fails at once with mode "fail", for good with mode "terminal", and
// asking to be retried in 1.5 s with mode "later".
func newClass(name string) *skald.Class[params] {
	return &skald.Class[params]{
		Name: name,
		Decode: func(b []byte) (params, error) {
			var p params
			if len(b) == 0 {
				return p, nil
			}
			err := json.Unmarshal(b, &p)
			return p, err
		},
		Encode:   func(p params) []byte { b, _ := json.Marshal(p); return b },
		Validate: func(params) error { return nil },
		New: func() skald.Hooks[params] {
			var p params
			return skald.Hooks[params]{
				Init: func(in params) error { p = in; return nil },
				Main: func(ctx context.Context) error {
					switch p.Mode {
					case "fail":
						return errors.New("main failed on purpose")
					case "terminal":
						return skald.Terminal(errors.New("no run can succeed"))
					case "later":
						return skald.RetryLater(1500*time.Millisecond, errors.New("peer busy"))
					}
					<-ctx.Done()
					return nil
				},
				Update: func(_ context.Context, in params) error {
					if in.Mode == "reject" {
						return errors.New("mode reject is refused")
					}
					return nil
				},
			}
		},
	}
}

// runningNode is a real node of a test.
type runningNode struct {
	n    *node.Node
	stop func()
}

// startNode runs a node and waits until it is in the registry.
func (e *env) startNode(id string, opts node.Options, classes ...skald.Worker) *runningNode {
	e.t.Helper()
	cfg := e.infra
	cfg.SkaldID = id
	opts.Logger = e.log
	if opts.StopGrace == 0 {
		opts.StopGrace = 2 * time.Second
	}
	n, err := node.New(cfg, opts)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, c := range classes {
		n.Register(c)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	var once sync.Once
	rn := &runningNode{n: n, stop: func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				e.t.Errorf("node %s: %v", id, err)
			}
		})
	}}
	// Clean-ups run last-registered first, so a node started after the
	// controller would stop before it; stop the controllers first.
	e.t.Cleanup(func() {
		e.stopControllers()
		rn.stop()
	})
	e.await("node "+id+" registered", func() bool {
		return e.rdb.HExists(e.ctx, liveness.NodesKey, id).Val()
	})
	return rn
}

// await polls cond until it holds.
func (e *env) await(what string, cond func() bool) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(e.ctx, deadline)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			e.t.Fatalf("waiting for %s: %v", what, ctx.Err())
		case <-tick.C:
		}
	}
}

// call makes one request to the controller's API and decodes the JSON
// answer into out (when not nil). It returns the status code.
func (c *controller) call(t testing.TB, method, path, token string, body any, out any) int {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, c.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("%s %s: Content-Type %q, body %s", method, path, ct, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: decoding %s: %v", method, path, data, err)
		}
	}
	return res.StatusCode
}

// sse is an open event stream.
type sse struct {
	res    *http.Response
	frames chan frame
}

type frame struct {
	id   string
	data map[string]any
	raw  string // comments and the retry line, for keep-alive checks
}

// openSSE connects to an event stream; lastID, when set, resumes.
func (c *controller) openSSE(t testing.TB, path, lastID string) *sse {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream %s: %d %s", path, res.StatusCode, res.Header.Get("Content-Type"))
	}
	s := &sse{res: res, frames: make(chan frame, 1024)}
	t.Cleanup(func() { cancel(); res.Body.Close() })
	go func() {
		defer close(s.frames)
		sc := bufio.NewScanner(res.Body)
		var f frame
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if f.data != nil || f.raw != "" {
					s.frames <- f
				}
				f = frame{}
			case strings.HasPrefix(line, "id: "):
				f.id = strings.TrimPrefix(line, "id: ")
			case strings.HasPrefix(line, "data: "):
				_ = json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &f.data)
			default:
				f.raw += line
			}
		}
	}()
	return s
}

// next returns the first frame that ok accepts, skipping the others.
func (s *sse) next(t testing.TB, what string, ok func(frame) bool) frame {
	t.Helper()
	timeout := time.After(deadline)
	for {
		select {
		case f, open := <-s.frames:
			if !open {
				t.Fatalf("stream closed while waiting for %s", what)
			}
			if ok(f) {
				return f
			}
		case <-timeout:
			t.Fatalf("no %s on the stream", what)
		}
	}
}

// realNodes sets a node timeout above the 3 s beat period of real nodes;
// the 1 s default of these tests suits the fake nodes, which beat every
// 100 ms.
func realNodes(c *ctl.Config) { c.NodeTimeout = 4 * time.Second }

func newDoc(id, class, attachments string) *task.Task {
	return task.New(id, class, "integration", []byte(attachments))
}
