package interop

import (
	"context"
	"regexp"
	"testing"
	"time"

	"github.com/skalds-go/skalds/example/worker"
	"github.com/skalds-go/skalds/runtime/client"
	"github.com/skalds-go/skalds/runtime/liveness"
	"github.com/skalds-go/skalds/runtime/task"
	"github.com/skalds-go/skalds/skaldtest"
)

// newClient returns a Go client on the test's servers; it creates the
// task topics, as nodes and clients do. It traces, so that every event it
// publishes carries trace context headers, which Python consumers must
// ignore.
func (e *env) newClient() *client.Client {
	e.t.Helper()
	spans := skaldtest.NewSpans()
	e.t.Cleanup(func() { _ = spans.Provider.Shutdown(context.Background()) })
	c, err := client.NewWith(e.ctx, e.cfg, client.Options{TracerProvider: spans.Provider})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { _ = c.Close() })
	return c
}

// pythonNode starts the seed's skald_node.py as node id and waits until
// it is registered in Redis and its consumer group is placed on
// task.assign, so that an assignment published now reaches it.
func (e *env) pythonNode(id string) *proc {
	e.t.Helper()
	p := e.pythonRun("skald_node.py", "SKALD_ID="+id)
	e.awaitGroupReady(id, false, "task.assign")
	ctx, cancel := context.WithTimeout(e.ctx, awaitLimit)
	defer cancel()
	for {
		if _, err := e.rdb.HGet(ctx, liveness.NodesKey, id).Result(); err == nil {
			return p
		}
		select {
		case <-ctx.Done():
			e.t.Fatalf("Python node %s did not register in %s", id, liveness.NodesKey)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// The generated typed client of example/worker drives a Python Skald in
// node mode running the seed's MySimpleWorker: the Python worker logs the
// start values, then the updated ones; a cancel sent as the Go client
// sends it (MongoDB first, then task.cancel) stops the Python worker.
func TestGoClientDrivesPythonNode(t *testing.T) {
	e := newEnv(t)
	e.needPythonProducer() // the Python node hands updates to its workers through Kafka
	tasks := worker.NewMySimpleWorkerClient(e.newClient())
	nodeID, id := e.id("pynode"), e.id("task")
	py := e.pythonNode(nodeID)

	if err := tasks.Create(e.ctx, id, worker.MySimpleDataModel{RTSPURL: "rtsp://example.com/stream", FixFrame: 10}); err != nil {
		t.Fatal(err)
	}
	if _, err := tasks.Assign(e.ctx, id, nodeID); err != nil {
		t.Fatal(err)
	}
	py.await(e.ctx, 0, regexp.MustCompile(`Starting MyWorker with RTSP URL: rtsp://example\.com/stream$`))
	py.await(e.ctx, 0, regexp.MustCompile(`RTSP URL: rtsp://example\.com/stream, Fix Frame: 10$`))

	// The worker process reads updates from taskworker.update in a group
	// of its own, from the newest offset on.
	e.awaitGroupReady(id, true, "taskworker.update")
	mark := py.Mark()
	if _, err := tasks.Update(e.ctx, id, worker.MySimpleDataModel{RTSPURL: "rtsp://example.com/new_stream", FixFrame: 60}); err != nil {
		t.Fatal(err)
	}
	py.await(e.ctx, mark, regexp.MustCompile(`Updating MyWorker with RTSP URL: rtsp://example\.com/new_stream, Fix Frame: 60$`))
	py.await(e.ctx, mark, regexp.MustCompile(`RTSP URL: rtsp://example\.com/new_stream, Fix Frame: 60$`))

	if err := tasks.Cancel(e.ctx, id); err != nil {
		t.Fatal(err)
	}
	// The Python worker writes -2 from its SIGTERM handler, on its way out.
	e.awaitHeartbeat(id, "-2")
	if got, _, err := tasks.Get(e.ctx, id); err != nil || got.LifecycleStatus != task.Cancelled {
		t.Fatalf("task after the cancel: %+v, %v; want Cancelled", got, err)
	}
	if py.Exited() {
		t.Fatalf("the Python node exited: %v", py.Err())
	}
}

// awaitHeartbeat waits until task:{id}:heartbeat is want.
func (e *env) awaitHeartbeat(id, want string) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(e.ctx, awaitLimit)
	defer cancel()
	var got string
	for {
		got, _ = e.rdb.Get(ctx, liveness.TaskHeartbeatKey(id)).Result()
		if got == want {
			return
		}
		select {
		case <-ctx.Done():
			e.t.Fatalf("task %s: heartbeat %q, want %q", id, got, want)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
