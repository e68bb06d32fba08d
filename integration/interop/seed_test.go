package interop

import (
	"bytes"
	"regexp"
	"testing"
	"time"

	"github.com/skalds-go/skalds/runtime/task"
)

// The seed story's own Python scripts (create_task_script.py and
// update_task_script.py, with its my_simple_worker.py model) drive the Go
// node skald_123 of example/node, run as its own process: the Go worker
// runs with (rtsp://example.com/stream, 10), then applies
// (rtsp://example.com/new_stream, 60) through its update handler.
func TestSeedScriptsDriveGoNode(t *testing.T) {
	e := newEnv(t)
	e.needPythonProducer()
	node := start(t, e.dir, e.stack.Env(), goNodeBinary(t))
	node.await(e.ctx, 0, regexp.MustCompile(`msg="node ready" skaldId=skald_123`))

	e.pythonRun("create_task_script.py").wait(awaitLimit)
	node.await(e.ctx, 0, regexp.MustCompile(`msg=running .*taskId=task_123 .*rtspUrl=rtsp://example.com/stream fixFrame=10$`))
	got := e.waitTask("task_123", "Running on skald_123", func(t *task.Task) bool {
		return t.LifecycleStatus == task.Running && t.Executor != nil && *t.Executor == "skald_123"
	})
	if got.ClassName != "MySimpleWorker" || got.Source != "TestingScript" || got.Mode != task.Passive {
		t.Fatalf("task as Python wrote it: className %q source %q mode %q", got.ClassName, got.Source, got.Mode)
	}

	mark := node.out.mark()
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
	if n := node.count(0, regexp.MustCompile(`msg="worker started" .*taskId=task_123`)); n != 1 {
		t.Fatalf("the worker started %d times, want once", n)
	}
	if err := node.stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}
}
