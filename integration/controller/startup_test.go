package controller

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	ctl "github.com/skalds-go/skalds/controller"
	"github.com/skalds-go/skalds/runtime/backoff"
)

// lockedBuffer collects log output written from several goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestControllerWaitsForARedisThatComesUpLater starts the controller while
// its Redis cannot be reached: it must log what is missing, keep retrying,
// and start serving (and dispatching) once Redis answers.
func TestControllerWaitsForARedisThatComesUpLater(t *testing.T) {
	e := newEnv(t)
	l := e.redisLink()
	l.Cut() // Redis is "down": connections are refused until restore
	cfg := ctl.Config{
		Infra: e.infra, Mode: ctl.ModeDispatcher,
		MonitorInterval: 100 * time.Millisecond, NodeTimeout: time.Second, DispatchInterval: 100 * time.Millisecond,
	}
	cfg.Infra.RedisHost, cfg.Infra.RedisPort = l.host, l.port
	cfg, err := ctl.LoadConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var logs lockedBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	type built struct {
		c   *ctl.Controller
		err error
	}
	ready := make(chan built, 1)
	go func() {
		c, err := ctl.New(ctx, cfg, ctl.Options{Logger: log, Listener: ln,
			StartRetry: backoff.Policy{First: 50 * time.Millisecond, Max: 200 * time.Millisecond}})
		ready <- built{c, err}
	}()
	e.await("the controller to report Redis missing", func() bool {
		return strings.Contains(logs.String(), "dependency not reachable") && strings.Contains(logs.String(), "dependency=redis")
	})
	select {
	case b := <-ready:
		t.Fatalf("New returned while Redis was unreachable: %v", b.err)
	default:
	}
	if out := logs.String(); strings.Contains(out, "dependency=mongo") || strings.Contains(out, "dependency=kafka") {
		t.Errorf("reachable dependencies reported missing:\n%s", out)
	}

	l.Restore()
	var b built
	select {
	case b = <-ready:
	case <-time.After(deadline):
		t.Fatal("the controller did not start after Redis came up")
	}
	if b.err != nil {
		t.Fatal(b.err)
	}
	done := make(chan error, 1)
	go func() { done <- b.c.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("controller: %v", err)
			}
		})
	}
	e.stops = append(e.stops, stop)
	t.Cleanup(stop)
	if !strings.Contains(logs.String(), `msg="dependency reachable" dependency=redis`) {
		t.Errorf("no log line that Redis came back:\n%s", logs.String())
	}

	c := &controller{c: b.c, url: "http://" + ln.Addr().String()}
	var health struct {
		Status   string            `json:"status"`
		Services map[string]string `json:"services"`
	}
	e.await("a healthy controller", func() bool {
		return c.call(t, "GET", "/api/system/health", "", nil, &health) == 200 && health.Services["redis"] == "healthy"
	})
	// The start-up line is the controller's: no node id or node mode
	// from the infrastructure settings it shares with nodes.
	e.await("the start-up line", func() bool { return strings.Contains(logs.String(), `msg="controller ready"`) })
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, `msg="controller ready"`) &&
			(strings.Contains(line, "skaldId") || strings.Contains(line, "skalds-") || strings.Contains(line, "mode=node") || !strings.Contains(line, "mode=DISPATCHER")) {
			t.Errorf("start-up line: %s", line)
		}
	}
	// And it dispatches, which needs all three.
	e.fakeNode("late-n", "node", "A")
	e.create("late-t", "A", 0)
	if got := deref(e.assignedTo("late-t").Executor); got != "late-n" {
		t.Errorf("assigned to %s, want late-n", got)
	}
}
