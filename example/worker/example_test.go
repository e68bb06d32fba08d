package worker_test

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/skalds-go/skalds/embedded"
	"github.com/skalds-go/skalds/example/worker"
	"github.com/skalds-go/skalds/runtime/client"
	"github.com/skalds-go/skalds/runtime/config"
	"github.com/skalds-go/skalds/runtime/node"
	"github.com/skalds-go/skalds/runtime/task"
	"github.com/skalds-go/skalds/skaldtest"
)

// servers starts the embedded Kafka, MongoDB and Redis and returns their
// config; in production, config.Config{} reads KAFKA_HOST, MONGO_HOST,
// REDIS_HOST and the others from the environment instead.
func servers(ctx context.Context) (config.Config, func()) {
	stack, err := embedded.Start(ctx, embedded.Options{})
	if err != nil {
		panic(err)
	}
	cfg, err := skaldtest.Config(stack.KafkaAddr, stack.MongoURI, stack.RedisAddr)
	if err != nil {
		panic(err)
	}
	return cfg, func() { stack.Close() }
}

// runNode starts node skald_123 with the generated Register, logging to
// logs, and returns a function that stops it gracefully.
func runNode(cfg config.Config, logs *skaldtest.Logs) func() {
	cfg.SkaldID = "skald_123"
	n, err := node.New(cfg, node.Options{Logger: slog.New(logs)})
	if err != nil {
		panic(err)
	}
	worker.Register(n) // generated: registers MySimpleWorkerClass
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			panic(err)
		}
	}
}

// withNode starts the servers, node skald_123 logging to logs, and a
// client; stop undoes it all.
func withNode(logs *skaldtest.Logs) (ctx context.Context, c *client.Client, stop func()) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	cfg, closeServers := servers(ctx)
	stopNode := runNode(cfg, logs)
	c, err := client.New(ctx, cfg)
	if err != nil {
		panic(err)
	}
	return ctx, c, func() {
		c.Close()
		stopNode()
		closeServers()
		cancel()
	}
}

// A node runs the workers registered with it for the tasks assigned to it
// in MongoDB.
func Example_node() {
	logs := skaldtest.NewLogs(nil)
	ctx, c, stop := withNode(logs)
	defer stop()
	tasks := worker.NewMySimpleWorkerClient(c)
	if err := tasks.Create(ctx, "task_123", worker.MySimpleDataModel{RTSPURL: "rtsp://example.com/stream", FixFrame: 10}); err != nil {
		panic(err)
	}
	if _, err := tasks.Assign(ctx, "task_123", "skald_123"); err != nil {
		panic(err)
	}
	r, err := logs.Await(ctx, skaldtest.Msg("running", "taskId", "task_123"))
	if err != nil {
		panic(err)
	}
	fmt.Println("the worker runs with", r.Attrs["rtspUrl"], r.Attrs["fixFrame"])
	// Output: the worker runs with rtsp://example.com/stream 10
}

// The untyped client writes attachments as JSON, for producers that do not
// link the worker's package; the node checks them with the class's strict
// decoder, and WaitApplied reports a rejection with its field paths.
func Example_client() {
	ctx, c, stop := withNode(skaldtest.NewLogs(nil))
	defer stop()
	att := []byte(`{"rtspUrl":"rtsp://example.com/stream","fixFrame":10}`)
	if err := c.Create(ctx, task.New("task_123", "MySimpleWorker", "example", att)); err != nil {
		panic(err)
	}
	if _, err := c.Assign(ctx, "task_123", "skald_123"); err != nil {
		panic(err)
	}
	v, err := c.SetAttachments(ctx, "task_123", []byte(`{"rtspUrl":"rtsp://example.com/new_stream","fixFrame":60}`))
	if err != nil {
		panic(err)
	}
	fmt.Println("applied:", c.WaitApplied(ctx, "task_123", v, 0))
	v, err = c.SetAttachments(ctx, "task_123", []byte(`{"rtspUrl":"rtsp://example.com/new_stream","fixFrame":0}`))
	if err != nil {
		panic(err)
	}
	fmt.Println("rejected:", c.WaitApplied(ctx, "task_123", v, 0) != nil)
	fmt.Println("cancelled:", c.Cancel(ctx, "task_123"))
	// Output:
	// applied: <nil>
	// rejected: true
	// cancelled: <nil>
}

// The generated typed client takes the model itself: attachments are
// validated before anything is written, and an update can be awaited
// until the worker applied it.
func ExampleNewMySimpleWorkerClient() {
	ctx, c, stop := withNode(skaldtest.NewLogs(nil))
	defer stop()
	tasks := worker.NewMySimpleWorkerClient(c)
	err := tasks.Create(ctx, "task_bad", worker.MySimpleDataModel{RTSPURL: "not a url", FixFrame: 10})
	fmt.Println(err)

	if err := tasks.Create(ctx, "task_123", worker.MySimpleDataModel{RTSPURL: "rtsp://example.com/stream", FixFrame: 10}); err != nil {
		panic(err)
	}
	if _, err := tasks.Assign(ctx, "task_123", "skald_123"); err != nil {
		panic(err)
	}
	v, err := tasks.Update(ctx, "task_123", worker.MySimpleDataModel{RTSPURL: "rtsp://example.com/new_stream", FixFrame: 60})
	if err != nil {
		panic(err)
	}
	fmt.Println("applied:", tasks.WaitApplied(ctx, "task_123", v))
	// Output:
	// $.rtspUrl: must be a valid URL
	// applied: <nil>
}

// The generated decoder is strict and reports every problem at once, each
// with its JSON path; the node rejects such attachments with the same
// text.
func ExampleDecodeMySimpleDataModel() {
	_, err := worker.DecodeMySimpleDataModel([]byte(`{"rtspUrl":"rtsp://example.com/stream","fixFrame":"10","fps":25}`))
	fmt.Println(err)
	m, err := worker.DecodeMySimpleDataModel([]byte(`{"rtspUrl":"rtsp://example.com/stream","fixFrame":10}`))
	fmt.Println(m.FixFrame, err)
	// Output:
	// 2 errors: $.fixFrame: expected integer, got string; $.fps: unknown field
	// 10 <nil>
}
