// Command demo runs the seed story in one process on embedded servers,
// with nothing installed: node skald_123 starts, task_123 is created and
// assigned, the worker runs with (rtsp://example.com/stream, 10), an update
// to (rtsp://example.com/new_stream, 60) is applied by its update handler,
// and the task is cancelled, which runs its release hook.
//
// It prints each step as it sees it and exits 0 when it saw all of them,
// 1 otherwise. -v also prints the node's log.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"time"

	"github.com/skalds-go/skalds/example/internal/story"
	"github.com/skalds-go/skalds/example/worker"
	"github.com/skalds-go/skalds/runtime/client"
	"github.com/skalds-go/skalds/runtime/task"
	"github.com/skalds-go/skalds/skaldtest"
)

func main() {
	verbose := flag.Bool("v", false, "print the node's log too")
	timeout := flag.Duration("timeout", 2*time.Minute, "give up after this long")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()

	var logTo slog.Handler
	if *verbose {
		logTo = slog.NewTextHandler(os.Stderr, nil)
	}
	if err := run(ctx, logTo); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		os.Exit(1)
	}
	fmt.Println("PASS: the seed story ran end to end")
}

func run(ctx context.Context, logTo slog.Handler) error {
	step := newStepper()
	step.begin("starting embedded Kafka, MongoDB and Redis, and node " + story.NodeID)
	h, err := story.Start(ctx, story.Options{Log: logTo})
	if err != nil {
		return err
	}
	defer h.Close()
	step.done(fmt.Sprintf("kafka %s, mongo %s, redis %s", h.Stack.KafkaAddr, h.Stack.MongoURI, h.Stack.RedisAddr))

	const id = "task_123"
	first := worker.MySimpleDataModel{RTSPURL: "rtsp://example.com/stream", FixFrame: 10}
	step.begin("creating " + id + " and assigning it to " + story.NodeID)
	if err := h.Tasks.Create(ctx, id, first); err != nil {
		return err
	}
	if _, err := h.Tasks.Assign(ctx, id, story.NodeID); err != nil {
		return err
	}
	step.done("")

	step.begin("waiting for the worker to run with (rtsp://example.com/stream, 10)")
	if _, err := h.Logs.Await(ctx, skaldtest.Msg("running", "taskId", id, "rtspUrl", first.RTSPURL, "fixFrame", first.FixFrame)); err != nil {
		return err
	}
	step.done("")

	second := worker.MySimpleDataModel{RTSPURL: "rtsp://example.com/new_stream", FixFrame: 60}
	step.begin("updating the attachments to (rtsp://example.com/new_stream, 60)")
	version, err := h.Tasks.Update(ctx, id, second)
	if err != nil {
		return err
	}
	if err := h.Tasks.WaitApplied(ctx, id, version); err != nil {
		return err
	}
	if _, err := h.Logs.Await(ctx, skaldtest.Msg("updated", "taskId", id, "rtspUrl", second.RTSPURL, "fixFrame", second.FixFrame)); err != nil {
		return err
	}
	step.done(fmt.Sprintf("version %d applied by the update handler", version))

	step.begin("waiting for the main loop to use the new values")
	if _, err := h.Logs.Await(ctx, skaldtest.Msg("running", "taskId", id, "rtspUrl", second.RTSPURL, "fixFrame", second.FixFrame)); err != nil {
		return err
	}
	step.done("")

	step.begin("watching the worker's progress for two more frames")
	if err := watchFrames(ctx, h.Tasks, id, 2); err != nil {
		return err
	}
	step.done("")

	step.begin("cancelling " + id)
	if err := h.Tasks.Cancel(ctx, id); err != nil {
		return err
	}
	if _, err := h.Logs.Await(ctx, skaldtest.Msg("released", "taskId", id)); err != nil {
		return err
	}
	if _, err := h.Logs.Await(ctx, skaldtest.Msg("worker cancelled", "taskId", id)); err != nil {
		return err
	}
	t, _, err := h.Tasks.Get(ctx, id)
	if err != nil {
		return err
	}
	if t.LifecycleStatus != task.Cancelled {
		return fmt.Errorf("task status is %s, want %s", t.LifecycleStatus, task.Cancelled)
	}
	sum, err := h.Tasks.Result(ctx, id)
	if err != nil {
		return err
	}
	step.done(fmt.Sprintf("release ran, status %s, result: %d frames processed, %d update applied", t.LifecycleStatus, sum.Frames, sum.Updates))

	step.begin("stopping node " + story.NodeID)
	if err := h.StopNode(); err != nil {
		return err
	}
	step.done("")
	return nil
}

// watchFrames prints the progress of task id as the node stores it,
// until the worker has reported more frames processed than at first.
func watchFrames(ctx context.Context, tasks *worker.MySimpleWorkerClient, id string, more int64) error {
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	first := int64(-1)
	err := tasks.WatchProgress(wctx, id, 100*time.Millisecond, func(p client.Progress[worker.FrameProgress]) {
		fmt.Printf("\n    progress: %d frames processed, fixFrame %d", p.Value.Frames, p.Value.FixFrame)
		if first < 0 {
			first = p.Value.Frames
		}
		if p.Value.Frames >= first+more {
			stop()
		}
	})
	fmt.Print("\n   ")
	if ctx.Err() == nil && errors.Is(err, context.Canceled) {
		return nil // stopped by the callback
	}
	if err == nil {
		return fmt.Errorf("task %s ended while its progress was watched", id)
	}
	return err
}

// stepper prints numbered steps with their duration.
type stepper struct {
	n     int
	start time.Time
}

func newStepper() *stepper { return &stepper{} }

func (s *stepper) begin(what string) {
	s.n++
	s.start = time.Now()
	fmt.Printf("[%d] %s ... ", s.n, what)
}

func (s *stepper) done(detail string) {
	d := time.Since(s.start).Round(time.Millisecond)
	if detail != "" {
		fmt.Printf("ok (%s; %s)\n", d, detail)
		return
	}
	fmt.Printf("ok (%s)\n", d)
}
