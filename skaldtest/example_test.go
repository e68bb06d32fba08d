package skaldtest_test

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/skalds-go/skalds/skaldtest"
)

// A test gives the node slog.New(logs) and waits for a worker's record
// instead of sleeping.
func ExampleLogs() {
	logs := skaldtest.NewLogs(nil)
	log := slog.New(logs).With("taskId", "task_123")
	go log.Info("updated", "rtspUrl", "rtsp://example.com/new_stream", "fixFrame", 60)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r, err := logs.Await(ctx, skaldtest.Msg("updated", "taskId", "task_123"))
	if err != nil {
		panic(err)
	}
	fmt.Println(r.Attrs["rtspUrl"], r.Attrs["fixFrame"])
	// Output: rtsp://example.com/new_stream 60
}
