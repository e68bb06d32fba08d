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
// (rtsp://example.com/new_stream, 60) through its update handler. Then a
// Python tool's unversioned bad update is rejected, a good one after it
// clears the rejection, and its bare task.cancel ends the task.
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
