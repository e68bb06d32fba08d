package controller

import (
	"context"
	"encoding/json"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	ctl "github.com/skalds-go/skalds/controller"
	"github.com/skalds-go/skalds/runtime/liveness"
	"github.com/skalds-go/skalds/runtime/node"
	"github.com/skalds-go/skalds/runtime/skald"
	"github.com/skalds-go/skalds/runtime/task"
	"github.com/skalds-go/skalds/skaldtest"
)

// TestFailoverWhileTheOldNodeStillRuns cuts a live node off from Redis
// only: its worker keeps running and it still reads Kafka and MongoDB, but
// the controller's registry stops hearing from it. The task moves to
// another node within the node timeout plus one dispatch interval, the old
// copy stops as soon as its node hears of the reassignment, and once the
// node is visible again the task stays where it is, with one copy.
func TestFailoverWhileTheOldNodeStillRuns(t *testing.T) {
	const (
		// Real nodes beat every liveness.Period (3 s); twice that is the
		// shortest timeout the controller accepts without a warning, and
		// keeps a late beat from taking a healthy node offline.
		nodeTimeout      = 2 * liveness.Period
		dispatchInterval = 500 * time.Millisecond
		// margin covers the monitor interval, the Kafka round trip to
		// node-b and its write of Running, on a loaded machine.
		margin = 3 * time.Second
		// reconcilePeriod bounds how long node-a may take to notice the
		// reassignment if the event were lost.
		reconcilePeriod = 2 * time.Second
	)
	e := newEnv(t)
	cp := newCopies()
	wire := e.redisLink()

	e.startNodeConfigured("node-a", func(c *nodeConfig) {
		c.RedisHost, c.RedisPort = wire.host, wire.port
		c.ReconcilePeriod = reconcilePeriod
		c.NodeTimeout = nodeTimeout
	}, node.Options{}, cp.class("Partitioned", "node-a"))
	c := e.startController(func(c *ctl.Config) {
		c.NodeTimeout = nodeTimeout
		c.DispatchInterval = dispatchInterval
	})
	e.create("split", "Partitioned", 0)
	e.waitTask("split", "Running on node-a", func(d *task.Task) bool {
		return d.LifecycleStatus == task.Running && deref(d.Executor) == "node-a"
	})
	cp.awaitStarted(t, "node-a")
	e.startNodeConfigured("node-b", func(c *nodeConfig) {
		c.ReconcilePeriod = reconcilePeriod
		c.NodeTimeout = nodeTimeout
	}, node.Options{}, cp.class("Partitioned", "node-b"))

	// Cut node-a's Redis link. Once no connection of it is left, nothing
	// it writes reaches the registry: its last activity stamp is final.
	cutAt := time.Now()
	wire.Cut()
	stamp, err := e.rdb.HGet(e.ctx, liveness.NodesKey, "node-a").Result()
	if err != nil {
		t.Fatal(err)
	}
	ms, err := strconv.ParseInt(stamp, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	lastBeat := time.UnixMilli(ms)

	d := e.waitTask("split", "Running on node-b", func(d *task.Task) bool {
		return d.LifecycleStatus == task.Running && deref(d.Executor) == "node-b"
	})
	movedAt := time.Now()
	failover := movedAt.Sub(lastBeat)
	t.Logf("failover: Running on node-b %v after node-a's last heartbeat (%v after its link was cut); bound %v",
		failover.Round(time.Millisecond), movedAt.Sub(cutAt).Round(time.Millisecond), nodeTimeout+dispatchInterval+margin)
	if failover > nodeTimeout+dispatchInterval+margin {
		t.Errorf("failover took %v after the last heartbeat, want at most %v (node timeout %v + dispatch interval %v + margin %v)",
			failover, nodeTimeout+dispatchInterval+margin, nodeTimeout, dispatchInterval, margin)
	}
	if failover < nodeTimeout {
		t.Errorf("the task moved %v after the last heartbeat, before the node timeout %v", failover, nodeTimeout)
	}
	if d.AssignmentEpoch != 2 {
		t.Errorf("epoch %d after failover, want 2", d.AssignmentEpoch)
	}
	if got := e.rdb.HGet(e.ctx, liveness.NodesKey, "node-a").Val(); got != stamp {
		t.Errorf("node-a's activity stamp changed from %s to %s while its link was cut", stamp, got)
	}

	// node-a is still up, but no heartbeat of it got through for its
	// liveness lease, below the node timeout: it stopped its copy before
	// the controller moved the task.
	old := cp.awaitReleased(t, "node-a")
	b := cp.awaitStarted(t, "node-b")
	overlap := old.released.Sub(b.started)
	t.Logf("node-a's copy was released %v after node-b's started (negative: before), cancelled %v after its node's last heartbeat",
		overlap.Round(time.Millisecond), old.cancelled.Sub(lastBeat).Round(time.Millisecond))
	if overlap > 0 {
		t.Errorf("node-a's copy ran on for %v after node-b's started; want it released before, by the liveness lease", overlap)
	}
	if n := cp.running(); n != 1 {
		t.Errorf("%d copies running after node-a stopped its own, want 1", n)
	}

	// node-a comes back into the registry: the task stays on node-b.
	wire.Restore()
	e.await("node-a online again with no tasks", func() bool {
		s := c.c.Monitor.Snapshot()
		n := s.Node("node-a")
		return n != nil && n.Online && n.LastActivity > ms && len(n.Tasks) == 0
	})
	for i := 0; i < 3; i++ {
		res, err := c.c.Dispatcher.Cycle(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if res.Assigned+res.Moved+res.Released+res.Retried != 0 {
			t.Errorf("dispatch after node-a came back changed assignments: %+v", res)
		}
	}
	d, err = e.store.Get(e.ctx, "split")
	if err != nil {
		t.Fatal(err)
	}
	if d.LifecycleStatus != task.Running || deref(d.Executor) != "node-b" || d.AssignmentEpoch != 2 {
		t.Errorf("after node-a came back: %s; want Running on node-b, epoch 2", describe(d))
	}
	var listed struct {
		Tasks []liveness.TaskRef `json:"tasks"`
	}
	if err := json.Unmarshal([]byte(e.rdb.Get(e.ctx, liveness.NodeTasksKey("node-a")).Val()), &listed); err != nil {
		t.Fatal(err)
	}
	if len(listed.Tasks) != 0 {
		t.Errorf("node-a lists %v after it came back, want nothing", listed.Tasks)
	}
	if n, starts := cp.running(), cp.starts(); n != 1 || starts != 2 {
		t.Errorf("%d copies running after %d starts, want 1 after 2 (one per node)", n, starts)
	}
	// Stop the controller first, so that the nodes' shutdown moves nothing.
	c.stop()
}

// nodeConfig is the part of a node's configuration a test may change.
type nodeConfig struct {
	RedisHost       string
	RedisPort       int
	ReconcilePeriod time.Duration
	NodeTimeout     time.Duration // the controllers', from which the node's liveness lease follows
}

// startNodeConfigured is startNode with some of the node's configuration
// changed by tweak.
func (e *env) startNodeConfigured(id string, tweak func(*nodeConfig), opts node.Options, classes ...skald.Worker) *runningNode {
	e.t.Helper()
	cfg := e.infra
	cfg.SkaldID = id
	nc := nodeConfig{RedisHost: cfg.RedisHost, RedisPort: cfg.RedisPort, ReconcilePeriod: cfg.ReconcilePeriod, NodeTimeout: cfg.NodeTimeout}
	tweak(&nc)
	cfg.RedisHost, cfg.RedisPort, cfg.ReconcilePeriod, cfg.NodeTimeout = nc.RedisHost, nc.RedisPort, nc.ReconcilePeriod, nc.NodeTimeout
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
	e.t.Cleanup(func() {
		e.stopControllers() // first, as in startNode
		rn.stop()
	})
	e.await("node "+id+" registered", func() bool {
		return e.rdb.HExists(e.ctx, liveness.NodesKey, id).Val()
	})
	return rn
}

// link is a relay to the stack's Redis that can be cut and restored,
// standing for a network partition between one node and Redis; host and
// port are where the node connects instead.
type link struct {
	*skaldtest.Relay
	host string
	port int
}

func (e *env) redisLink() *link {
	e.t.Helper()
	r, err := skaldtest.NewRelay(e.stack.RedisAddr)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(r.Close)
	addr := r.Addr()
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		e.t.Fatal(err)
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		e.t.Fatal(err)
	}
	return &link{Relay: r, host: host, port: port}
}

// copies records every run of a worker class across the nodes of a test.
type copies struct {
	mu      sync.Mutex
	runs    map[string][]*copyRun // by node
	changed chan struct{}         // closed and replaced on every change
}

type copyRun struct {
	started, cancelled, released time.Time
}

func newCopies() *copies {
	return &copies{runs: map[string][]*copyRun{}, changed: make(chan struct{})}
}

// class returns a worker class for node whose main waits for its context;
// each run is recorded under node.
func (cp *copies) class(name, node string) *skald.Class[params] {
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
			r := &copyRun{}
			return skald.Hooks[params]{
				Init: func(params) error { return nil },
				Main: func(ctx context.Context) error {
					cp.record(node, r, func() { r.started = time.Now() })
					<-ctx.Done()
					cp.record(node, nil, func() { r.cancelled = time.Now() })
					return nil
				},
				Release: func(context.Context) error {
					cp.record(node, nil, func() { r.released = time.Now() })
					return nil
				},
			}
		},
	}
}

func (cp *copies) record(node string, add *copyRun, f func()) {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	if add != nil {
		cp.runs[node] = append(cp.runs[node], add)
	}
	f()
	close(cp.changed)
	cp.changed = make(chan struct{})
}

// running counts the runs whose main has not seen its context cancelled.
func (cp *copies) running() int {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	n := 0
	for _, rs := range cp.runs {
		for _, r := range rs {
			if r.cancelled.IsZero() {
				n++
			}
		}
	}
	return n
}

func (cp *copies) starts() int {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	n := 0
	for _, rs := range cp.runs {
		n += len(rs)
	}
	return n
}

// awaitFirst waits until node's first run satisfies ok and returns a copy
// of it.
func (cp *copies) awaitFirst(t testing.TB, node, what string, ok func(*copyRun) bool) copyRun {
	t.Helper()
	timeout := time.NewTimer(deadline)
	defer timeout.Stop()
	for {
		cp.mu.Lock()
		rs, changed := cp.runs[node], cp.changed
		if len(rs) > 0 && ok(rs[0]) {
			r := *rs[0]
			cp.mu.Unlock()
			return r
		}
		cp.mu.Unlock()
		select {
		case <-changed:
		case <-timeout.C:
			t.Fatalf("%s: the worker %s within %v", node, what, deadline)
		}
	}
}

func (cp *copies) awaitStarted(t testing.TB, node string) copyRun {
	t.Helper()
	return cp.awaitFirst(t, node, "did not start", func(r *copyRun) bool { return !r.started.IsZero() })
}

// awaitReleased waits until node's first run saw its context cancelled
// and its release hook ran.
func (cp *copies) awaitReleased(t testing.TB, node string) copyRun {
	t.Helper()
	return cp.awaitFirst(t, node, "was not cancelled and released", func(r *copyRun) bool {
		return !r.cancelled.IsZero() && !r.released.IsZero()
	})
}
