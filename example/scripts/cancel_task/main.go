// Command cancel_task cancels task_123: its node stops the worker, runs
// its release hook and marks the task Cancelled.
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
	c, closeClient, err := traced.Client(ctx, "skalds-cancel-task")
	if err == nil {
		defer closeClient()
		err = worker.NewMySimpleWorkerClient(c).Cancel(ctx, "task_123")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "cancel_task:", err)
		os.Exit(1)
	}
	fmt.Println("cancelled task_123")
}
