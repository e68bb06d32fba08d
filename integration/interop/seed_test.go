package interop

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/skalds-go/skalds/runtime/task"
)

// The seed story's own Python scripts (create_task_script.py and
// update_task_script.py, with its my_simple_worker.py model) drive the Go
// node skald_123 of example/node, run as its own process: the Go worker
// runs with (rtsp://example.com/stream, 10), then applies
// (rtsp://example.com/new_stream, 60) through its update handler. Then a
// Python tool's unversioned bad update is rejected, a good one after it
// clears the rejection, and its bare task.cancel ends the task.
func TestSeedScriptsDriveGoNode(t *testing.T) {
	e := newEnv(t)
	e.needPythonProducer()
	// The node traces (its binary exports to the collector the standard
	// variable names): the Python scripts' events carry no trace context,
	// and the hooks they cause are traces of their own.
	collector := newCollector(t)
	node := start(t, e.dir, append(e.stack.Env(), "OTEL_EXPORTER_OTLP_ENDPOINT="+collector.url, "OTEL_BSP_SCHEDULE_DELAY=100"), goNodeBinary(t))
	node.await(e.ctx, 0, regexp.MustCompile(`msg="node ready" skaldId=skald_123`))

	e.pythonRun("create_task_script.py").wait(awaitLimit)
	node.await(e.ctx, 0, regexp.MustCompile(`msg=running .*taskId=task_123 .*rtspUrl=rtsp://example.com/stream fixFrame=10$`))
	got := e.waitTask("task_123", "Running on skald_123", func(t *task.Task) bool {
		return t.LifecycleStatus == task.Running && t.Executor != nil && *t.Executor == "skald_123"
	})
	if got.ClassName != "MySimpleWorker" || got.Source != "TestingScript" || got.Mode != task.Passive {
		t.Fatalf("task as Python wrote it: className %q source %q mode %q", got.ClassName, got.Source, got.Mode)
	}

	mark := node.Mark()
	e.pythonRun("update_task_script.py").wait(awaitLimit)
	node.await(e.ctx, mark, regexp.MustCompile(`msg=updated .*taskId=task_123 .*rtspUrl=rtsp://example.com/new_stream fixFrame=60$`))
	node.await(e.ctx, mark, regexp.MustCompile(`msg=running .*taskId=task_123 .*rtspUrl=rtsp://example.com/new_stream fixFrame=60$`))
	// Python does not bump attachmentsVersion: the node noticed the new
	// content and recorded it as applied, with no rejection.
	got = e.waitTask("task_123", "the update applied", func(t *task.Task) bool {
		return bytes.Contains(t.Attachments, []byte("new_stream")) && t.AppliedAttachmentsVersion == t.AttachmentsVersion
	})
	if got.AttachmentsRejection != nil {
		t.Fatalf("the update was rejected: %+v", got.AttachmentsRejection)
	}
	for _, span := range []string{"skalds.hook.init", "skalds.hook.update"} {
		if err := collector.await(e.ctx, span); err != nil {
			t.Fatalf("the node's %s span did not reach the collector: %v", span, err)
		}
	}
	if n := node.Count(0, regexp.MustCompile(`msg="worker started" .*taskId=task_123`)); n != 1 {
		t.Fatalf("the worker started %d times, want once", n)
	}
	version := got.AttachmentsVersion

	// A Python tool writes attachments the Go model refuses (fixFrame
	// above 1000), without bumping the version: the node rejects them and
	// the worker keeps its parameters.
	mark = node.Mark()
	e.pythonArgs("update_task_with.py", "rtsp://example.com/new_stream", "5000").wait(awaitLimit)
	node.await(e.ctx, mark, regexp.MustCompile(`msg="attachments update rejected; the worker keeps its current attachments" .*taskId=task_123 .*fixFrame`))
	e.waitTask("task_123", "the rejection recorded", func(t *task.Task) bool {
		return t.AttachmentsRejection != nil && t.AttachmentsRejection.Version == version
	})
	// A good one after it, still unversioned, is applied and clears the
	// rejection it supersedes.
	mark = node.Mark()
	e.pythonArgs("update_task_with.py", "rtsp://example.com/third_stream", "30").wait(awaitLimit)
	node.await(e.ctx, mark, regexp.MustCompile(`msg=updated .*taskId=task_123 .*rtspUrl=rtsp://example.com/third_stream fixFrame=30$`))
	e.waitTask("task_123", "the rejection cleared", func(t *task.Task) bool {
		return t.AttachmentsRejection == nil && bytes.Contains(t.Attachments, []byte("third_stream"))
	})

	// A Python tool cancels with a bare task.cancel: the node records
	// Cancelled and stops the worker.
	mark = node.Mark()
	e.pythonRun("cancel_task_script.py").wait(awaitLimit)
	node.await(e.ctx, mark, regexp.MustCompile(`msg="task.cancel: recorded Cancelled; stopping the worker" .*taskId=task_123`))
	node.await(e.ctx, mark, regexp.MustCompile(`msg="worker cancelled" .*taskId=task_123`))
	e.waitTask("task_123", "Cancelled", func(t *task.Task) bool { return t.LifecycleStatus == task.Cancelled })
	e.awaitHeartbeat("task_123", "-2")
	if err := node.Stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}
}

// collector stands in for an OpenTelemetry collector: it keeps the bodies
// of the OTLP/HTTP exports it receives.
type collector struct {
	url     string
	mu      sync.Mutex
	bodies  [][]byte
	changed chan struct{} // closed and replaced on every export
}

func newCollector(t *testing.T) *collector {
	c := &collector{changed: make(chan struct{})}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		c.mu.Lock()
		c.bodies = append(c.bodies, b)
		close(c.changed)
		c.changed = make(chan struct{})
		c.mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	t.Cleanup(srv.Close)
	c.url = srv.URL
	return c
}

// await waits until an export holds s (span names are plain bytes in the
// protobuf).
func (c *collector) await(ctx context.Context, s string) error {
	ctx, cancel := context.WithTimeout(ctx, awaitLimit)
	defer cancel()
	for {
		c.mu.Lock()
		changed := c.changed
		for _, b := range c.bodies {
			if bytes.Contains(b, []byte(s)) {
				c.mu.Unlock()
				return nil
			}
		}
		c.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
