// Command create_task is the seed story's first script: it creates
// task_123 with MySimpleWorker attachments in MongoDB and assigns it to
// node skald_123, which starts the worker.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/skalds-go/skalds/example/internal/traced"
	"github.com/skalds-go/skalds/example/worker"
	"github.com/skalds-go/skalds/runtime/task"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "create_task:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	c, closeClient, err := traced.Client(ctx, "skalds-create-task")
	if err != nil {
		return err
	}
	defer closeClient()
	c.Source = "TestingScript"
	tasks := worker.NewMySimpleWorkerClient(c)

	err = tasks.Create(ctx, "task_123", worker.MySimpleDataModel{RTSPURL: "rtsp://example.com/stream", FixFrame: 10})
	var dup *task.DuplicateIDError
	switch {
	case errors.As(err, &dup):
		fmt.Println("task_123 exists already; assigning it again")
	case err != nil:
		return err
	default:
		fmt.Println("created task_123")
	}
	epoch, err := tasks.Assign(ctx, "task_123", "skald_123")
	if err != nil {
		return err
	}
	fmt.Printf("assigned task_123 to skald_123 (epoch %d)\n", epoch)
	return nil
}
