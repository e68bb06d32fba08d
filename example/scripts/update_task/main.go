// Command update_task is the seed story's second script: it writes new
// attachments for task_123 and waits until the running worker applied
// them (or the node rejected them).
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/skalds-go/skalds/example/internal/traced"
	"github.com/skalds-go/skalds/example/worker"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "update_task:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	c, closeClient, err := traced.Client(ctx, "skalds-update-task")
	if err != nil {
		return err
	}
	defer closeClient()
	tasks := worker.NewMySimpleWorkerClient(c)

	version, err := tasks.Update(ctx, "task_123", worker.MySimpleDataModel{RTSPURL: "rtsp://example.com/new_stream", FixFrame: 60})
	if err != nil {
		return err
	}
	fmt.Printf("wrote attachments version %d of task_123; waiting for the worker...\n", version)
	if err := tasks.WaitApplied(ctx, "task_123", version); err != nil {
		return err
	}
	fmt.Printf("the worker applied attachments version %d\n", version)
	return nil
}
