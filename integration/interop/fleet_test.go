package interop

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	ctl "github.com/skalds-go/skalds/controller"
	"github.com/skalds-go/skalds/example/worker"
	"github.com/skalds-go/skalds/runtime/liveness"
	"github.com/skalds-go/skalds/runtime/node"
	"github.com/skalds-go/skalds/runtime/task"
	"github.com/skalds-go/skalds/skaldtest"
)

// goNodeIn runs a Go node with the seed's worker in this process, logging
// to logs, until the test ends.
func (e *env) goNodeIn(id string, logs *skaldtest.Logs) {
	e.t.Helper()
	cfg := e.cfg
	cfg.SkaldID = id
	n, err := node.New(cfg, node.Options{Logger: slog.New(logs), StopGrace: 5 * time.Second})
	if err != nil {
		e.t.Fatal(err)
	}
	worker.Register(n)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	mark := logs.Mark()
	go func() { done <- n.Run(ctx) }()
	e.t.Cleanup(func() { cancel(); <-done })
	wait, stop := context.WithTimeout(e.ctx, awaitLimit)
	defer stop()
	if _, err := logs.AwaitFrom(wait, mark, skaldtest.Msg("node ready", "skaldId", id)); err != nil {
		e.t.Fatalf("Go node %s not ready: %v", id, err)
	}
}

// goController runs a Go controller (dispatcher mode) in this process,
// logging to logs (nil discards), and returns the base URL of its API.
func (e *env) goController(nodeTimeout time.Duration, logs *skaldtest.Logs) string {
	e.t.Helper()
	cfg, err := ctl.LoadConfig(ctl.Config{
		Infra:            e.cfg,
		Mode:             ctl.ModeDispatcher,
		MonitorInterval:  200 * time.Millisecond,
		NodeTimeout:      nodeTimeout,
		DispatchInterval: 200 * time.Millisecond,
	})
	if err != nil {
		e.t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	if logs != nil {
		log = slog.New(logs)
	}
	c, err := ctl.New(e.ctx, cfg, ctl.Options{Logger: log, Listener: ln, Version: "interop"})
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	e.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			e.t.Errorf("controller: %v", err)
		}
	})
	return "http://" + ln.Addr().String()
}

// getJSON fetches url into v.
func getJSON(ctx context.Context, url string, v any) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return res.StatusCode, fmt.Errorf("GET %s: %s", url, res.Status)
	}
	return res.StatusCode, json.NewDecoder(res.Body).Decode(v)
}

// poll calls f every 100 ms until it returns nil, and fails the test with
// its last error after awaitLimit.
func (e *env) poll(what string, f func(ctx context.Context) error) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(e.ctx, awaitLimit)
	defer cancel()
	for {
		err := f(ctx)
		if err == nil {
			return
		}
		select {
		case <-ctx.Done():
			e.t.Fatalf("waiting until %s: %v", what, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// A Go controller runs a mixed fleet: one Python node and one Go node. It
// sees both in the registry with their classes and dispatches tasks to
// both. After a kill -9 of the Python node process, whose workers outlive
// it (a known Python bug) and keep beating, it leaves their tasks alone;
// once the workers are killed too, it moves the tasks to the Go node. No
// task runs twice.
func TestGoControllerRunsMixedFleet(t *testing.T) {
	e := newEnvRedis(t, "") // the controller reads the whole registry
	logs := skaldtest.NewLogs(nil)
	pyID, goID := e.id("python"), e.id("go")
	client := worker.NewMySimpleWorkerClient(e.newClient())
	py := e.pythonNode(pyID)
	e.goNodeIn(goID, logs)
	api := e.goController(10*time.Second, logs) // as Python's own monitor; Python beats every 3 s

	e.poll("the controller lists both nodes with MySimpleWorker", func(ctx context.Context) error {
		var res struct {
			Items []struct {
				ID             string `json:"id"`
				Type, Status   string
				SupportedTasks []string `json:"supportedTasks"`
			} `json:"items"`
		}
		if _, err := getJSON(ctx, api+"/api/skalds/", &res); err != nil {
			return err
		}
		seen := map[string]bool{}
		for _, n := range res.Items {
			if n.Status == "online" && n.Type == "node" && slices.Contains(n.SupportedTasks, "MySimpleWorker") {
				seen[n.ID] = true
			}
		}
		if !seen[pyID] || !seen[goID] {
			return fmt.Errorf("nodes %+v", res.Items)
		}
		return nil
	})

	const n = 4
	ids := make([]string, n)
	for i := range ids {
		ids[i] = e.id("task-" + strconv.Itoa(i))
		if err := client.Create(e.ctx, ids[i], worker.MySimpleDataModel{RTSPURL: "rtsp://example.com/stream", FixFrame: 10 + i}); err != nil {
			t.Fatal(err)
		}
	}
	onPython := map[string]bool{}
	e.poll("every task is dispatched, some to each node", func(ctx context.Context) error {
		clear(onPython)
		onGo := 0
		for _, id := range ids {
			tk, err := e.store.Get(ctx, id)
			if err != nil {
				return err
			}
			switch {
			case tk.Executor != nil && *tk.Executor == pyID:
				onPython[id] = true
			case tk.Executor != nil && *tk.Executor == goID && tk.LifecycleStatus == task.Running:
				onGo++
			default:
				return fmt.Errorf("task %s: executor %v status %s", id, tk.Executor, tk.LifecycleStatus)
			}
		}
		if len(onPython) == 0 || onGo == 0 {
			return fmt.Errorf("%d tasks on the Python node, %d on the Go node", len(onPython), onGo)
		}
		return nil
	})
	// The Python workers run: each keeps a live heartbeat (0..199).
	for id := range onPython {
		e.poll("the Python worker of "+id+" beats", func(ctx context.Context) error {
			v, err := e.rdb.Get(ctx, liveness.TaskHeartbeatKey(id)).Int()
			if err != nil || v < 0 || v >= 200 {
				return fmt.Errorf("heartbeat %d, %v", v, err)
			}
			return nil
		})
	}

	// kill -9 of the Python node process alone: its workers outlive it
	// (a Python bug) and keep beating. The controller sees the node go
	// offline but leaves the tasks where they still run.
	mark := logs.Mark()
	if err := syscall.Kill(py.Pid(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for id := range onPython {
		e.awaitLog(logs, mark, "task of an offline node not moved: its worker still beats, so it still runs; it moves once the heartbeat stops", "taskId", id)
		if tk, err := e.store.Get(e.ctx, id); err != nil || tk.Executor == nil || *tk.Executor != pyID {
			t.Fatalf("task %s of the killed Python node with a live worker: %+v, %v; want it left there", id, tk, err)
		}
	}

	// kill -9 of the rest of the group, the orphaned workers: their
	// heartbeats expire and the tasks move.
	killed := logs.Mark()
	py.Kill()
	e.poll("no Python process of the node is left", func(context.Context) error {
		if pids := py.alive(); len(pids) > 0 {
			return fmt.Errorf("processes %v survive", pids)
		}
		return nil
	})
	e.poll("the Python node's tasks run on the Go node", func(ctx context.Context) error {
		for _, id := range ids {
			tk, err := e.store.Get(ctx, id)
			if err != nil {
				return err
			}
			if tk.Executor == nil || *tk.Executor != goID || tk.LifecycleStatus != task.Running {
				return fmt.Errorf("task %s: executor %v status %s", id, tk.Executor, tk.LifecycleStatus)
			}
		}
		return nil
	})
	// Each task started once on the Go node: those it had were never
	// started again, and those it took over started only after their
	// Python processes were gone.
	for _, id := range ids {
		if k := logs.CountFrom(0, skaldtest.Msg("worker started", "taskId", id)); k != 1 {
			t.Errorf("task %s started %d times on the Go node, want once", id, k)
		}
		if onPython[id] && logs.CountFrom(killed, skaldtest.Msg("worker started", "taskId", id)) != 1 {
			t.Errorf("task %s of the Python node started on the Go node before the Python node was killed", id)
		}
	}
}

// awaitLog waits for a record of logs from mark on with msg and attrs.
func (e *env) awaitLog(logs *skaldtest.Logs, mark int, msg string, attrs ...any) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(e.ctx, awaitLimit)
	defer cancel()
	if _, err := logs.AwaitFrom(ctx, mark, skaldtest.Msg(msg, attrs...)); err != nil {
		e.t.Fatalf("awaiting log %q %v: %v", msg, attrs, err)
	}
}
