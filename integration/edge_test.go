package integration

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/skalds-go/skalds/embedded"
	"github.com/skalds-go/skalds/runtime/config"
	"github.com/skalds-go/skalds/runtime/liveness"
	"github.com/skalds-go/skalds/runtime/node"
	"github.com/skalds-go/skalds/runtime/skald"
	"github.com/skalds-go/skalds/runtime/task"
	"github.com/skalds-go/skalds/skaldtest"
)

func writeYAML(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "workers.yml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestEdgeYAMLRoundTrip(t *testing.T) {
	e := newEnv(t)
	p := &probe{}
	cls := newClass("EdgeWorker", p)
	cam, door := e.id("camera"), e.id("door")
	path := writeYAML(t, `
TaskWorkers:
  `+cam+`:
    className: EdgeWorker
    isPersistent: true
    attachments:
      mode: wait
      value: 1
  `+door+`:
    className: EdgeWorker
    attachments: {mode: wait, value: 2}
`)
	edge := func(c *config.Config) {
		c.Mode = config.ModeEdge
		c.YAMLFile = path
	}
	a := e.startNode("edge", node.Options{}, edge, cls)
	for id, v := range map[string]int{cam: 1, door: 2} {
		got := e.running(id, a, 1)
		if got.Mode != task.Active || got.Source != "YAML" {
			t.Fatalf("edge task %s: mode %s source %s; want Active from YAML", id, got.Mode, got.Source)
		}
		e.await(0, "main running", "taskId", id, "value", v)
	}

	// Unlike Python Skalds, edge tasks take updates and cancels by event.
	typed := newTyped(e, cls)
	ver, err := typed.Update(e.ctx, cam, params{Mode: "wait", Value: 10})
	if err != nil {
		t.Fatal(err)
	}
	if err := typed.WaitApplied(e.ctx, cam, ver); err != nil {
		t.Fatal(err)
	}
	if err := typed.Cancel(e.ctx, door); err != nil {
		t.Fatal(err)
	}
	// Stopping the node right after the cancel, before or after the node
	// has seen it, never undoes the cancel.
	if err := a.stop(); err != nil {
		t.Fatal(err)
	}

	e.waitTask(door, "Cancelled", func(t *task.Task) bool { return t.LifecycleStatus == task.Cancelled })

	// On the next start MongoDB's attachments win over the file's, the
	// cancelled task stays cancelled, and the new start fences the old.
	mark := e.logs.Mark()
	b := e.startNode("edge", node.Options{}, edge, cls)
	e.await(mark, "main running", "taskId", cam, "value", 10)
	e.running(cam, b, 2)
	e.await(mark, "edge task is Cancelled in MongoDB; not starting it", "taskId", door)
	if n := e.logs.CountFrom(mark, skaldtest.Msg("worker started", "taskId", door)); n != 0 {
		t.Fatalf("the cancelled edge task started %d times", n)
	}
}

func TestEdgeYAMLIsCheckedBeforeAnyWrite(t *testing.T) {
	e := newEnv(t)
	cls := newClass("EdgeChecked", &probe{})
	good, bad := e.id("good"), e.id("bad")
	path := writeYAML(t, `
TaskWorkers:
  `+good+`:
    className: EdgeChecked
    attachments: {value: 1}
  `+bad+`:
    className: EdgeChecked
    attachments: {value: 2, colour: red}
`)
	cfg := e.cfg
	cfg.Mode, cfg.YAMLFile, cfg.SkaldID = config.ModeEdge, path, e.id("edge")
	n, err := node.New(cfg, node.Options{Logger: discard()})
	if err != nil {
		t.Fatal(err)
	}
	n.Register(cls)
	err = n.Run(e.ctx)
	if err == nil || !contains(err.Error(), "$.colour") || !contains(err.Error(), bad) || !contains(err.Error(), "workers.yml:6") {
		t.Fatalf("Run: got %v; want the file, line, task and field named", err)
	}
	if _, err := e.store.Get(e.ctx, good); !errors.Is(err, task.ErrNotFound) {
		t.Fatalf("the good task was written although the file has a bad one: %v", err)
	}
}

func TestSingleProcessExitCodes(t *testing.T) {
	cls := newClass("Single", &probe{})
	run := func(t *testing.T, mode string, ctx context.Context) error {
		t.Helper()
		path := writeYAML(t, `
TaskWorkers:
  only:
    className: Single
    attachments: {mode: `+mode+`}
  ignored:
    className: Single
    attachments: {mode: fail}
`)
		n, err := node.New(config.Config{
			SkaldID: "single", Mode: config.ModeSingleProcess, YAMLFile: path,
			KafkaDisabled: true, RedisDisabled: true, MongoHost: "mongodb://127.0.0.1:1/",
		}, node.Options{Logger: discard(), StopGrace: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		n.Register(cls)
		if n.ID() != "[SP]single" {
			t.Fatalf("single process id %q, want the [SP] prefix", n.ID())
		}
		return n.Run(ctx)
	}
	ctx := context.Background()
	for _, tc := range []struct {
		mode string
		code int
	}{{"finish", node.ExitFinished}, {"fail", node.ExitFailed}, {"panic", node.ExitFailed}, {"panic-init", node.ExitFailed}} {
		t.Run(tc.mode, func(t *testing.T) {
			err := run(t, tc.mode, ctx)
			if got := node.ExitCode(err); got != tc.code {
				t.Fatalf("exit code %d (%v), want %d", got, err, tc.code)
			}
		})
	}
	t.Run("stopped", func(t *testing.T) {
		ctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- run(t, "wait", ctx) }()
		cancel()
		if err := <-done; node.ExitCode(err) != node.ExitStopped {
			t.Fatalf("exit code %d (%v), want %d", node.ExitCode(err), err, node.ExitStopped)
		}
	})
	t.Run("unknown class", func(t *testing.T) {
		path := writeYAML(t, "TaskWorkers:\n  only:\n    className: Nope\n")
		n, err := node.New(config.Config{SkaldID: "single", Mode: config.ModeSingleProcess, YAMLFile: path, RedisDisabled: true},
			node.Options{Logger: discard()})
		if err != nil {
			t.Fatal(err)
		}
		n.Register(cls)
		err = n.Run(ctx)
		if node.ExitCode(err) != node.ExitConfig || !contains(err.Error(), "Nope") {
			t.Fatalf("exit code %d (%v), want %d naming the class", node.ExitCode(err), err, node.ExitConfig)
		}
	})
}

var _ skald.Worker = (*skald.Class[params])(nil)

// TestSingleProcessKeepsTaskLogs runs a single_process Skald with Redis:
// its worker's records reach the task's log stream, as a node's do, under
// the same bound per task, and carry the Skald's id.
func TestSingleProcessKeepsTaskLogs(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rs, err := embedded.StartRedis(embedded.RedisOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	host, p, _ := net.SplitHostPort(rs.Addr())
	port, _ := strconv.Atoi(p)
	path := writeYAML(t, `
TaskWorkers:
  sp-logs:
    className: SingleLogs
    attachments: {mode: finish}
`)
	run := func(opts node.Options) {
		t.Helper()
		opts.Logger = discard()
		n, err := node.New(config.Config{
			SkaldID: "single", Mode: config.ModeSingleProcess, YAMLFile: path,
			KafkaDisabled: true, RedisHost: host, RedisPort: port, MongoHost: "mongodb://127.0.0.1:1/",
		}, opts)
		if err != nil {
			t.Fatal(err)
		}
		n.Register(newClass("SingleLogs", &probe{}))
		if err := n.Run(ctx); err != nil {
			t.Fatalf("single process run: %v", err)
		}
	}
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr()})
	defer rdb.Close()
	reg := liveness.New(rdb, 0)

	// Run returns after the copy was written: no waiting needed.
	run(node.Options{})
	recs, err := reg.TaskLogs(ctx, "sp-logs", "", 100)
	if err != nil {
		t.Fatal(err)
	}
	msgs := map[string]liveness.LogRecord{}
	for _, r := range recs {
		msgs[r.Msg] = r
	}
	for _, want := range []string{"worker started", "main running", "released", "worker finished"} {
		r, ok := msgs[want]
		if !ok {
			t.Fatalf("task log lacks %q: %+v", want, recs)
		}
		if r.Attrs["skaldId"] != "[SP]single" {
			t.Fatalf("record %+v: want skaldId [SP]single", r)
		}
	}
	if ttl := rdb.TTL(ctx, liveness.TaskLogsKey("sp-logs")).Val(); ttl <= 0 {
		t.Fatalf("task log stream TTL %v: it must expire", ttl)
	}

	// The bound per task holds as on a node.
	rdb.Del(ctx, liveness.TaskLogsKey("sp-logs"))
	run(node.Options{TaskLogs: liveness.LogLimits{PerTask: 2}})
	if n := rdb.XLen(ctx, liveness.TaskLogsKey("sp-logs")).Val(); n != 2 {
		t.Fatalf("%d records kept, want the bound of 2", n)
	}

	// NoTaskLogs keeps them out.
	rdb.Del(ctx, liveness.TaskLogsKey("sp-logs"))
	run(node.Options{NoTaskLogs: true})
	if n := rdb.Exists(ctx, liveness.TaskLogsKey("sp-logs")).Val(); n != 0 {
		t.Fatal("NoTaskLogs: the task's records were copied to Redis")
	}
}
