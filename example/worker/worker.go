// Package worker is the worker of the seed story: it processes an RTSP
// stream and takes new parameters while it runs.
//
// The attachments model and the worker are plain Go types with //skald:
// markers; skaldgen writes worker_skald.go next to them with the strict
// decoder, the validation, the registration and a typed client.
package worker

//go:generate go run github.com/skalds-go/skalds/cmd/skaldgen

import (
	"context"
	"sync"
	"time"

	"github.com/skalds-go/skalds/runtime/skald"
)

// MySimpleDataModel are the attachments of a MySimpleWorker task.
//
//skald:model
type MySimpleDataModel struct {
	// RTSPURL is the stream to read. Python Skalds writes it under its
	// field name rtsp_url in edge YAML write-back and update events.
	//
	//skald:alias name=rtsp_url
	RTSPURL string `json:"rtspUrl" validate:"required,url"`
	// FixFrame is the frame number to fix on.
	//
	//skald:alias name=fix_frame
	FixFrame int `json:"fixFrame" validate:"required,gte=1,lte=1000"`
}

// FrameProgress is what a MySimpleWorker reports as it runs: the node
// stores the newest with the task, and clients read it typed.
type FrameProgress struct {
	// Frames counts the frames processed in this run.
	Frames int64 `json:"frames"`
	// FixFrame is the frame number the worker fixes on now.
	FixFrame int `json:"fixFrame"`
}

// RunSummary is the result of a MySimpleWorker task, stored when it ends.
type RunSummary struct {
	// Frames counts the frames processed in the run.
	Frames int64 `json:"frames"`
	// Updates counts the parameter updates the worker applied.
	Updates int `json:"updates"`
}

// MySimpleWorker logs its current parameters once a second until its task
// is cancelled, reporting each tick as a processed frame, and applies new
// parameters as soon as they arrive.
//
//skald:worker model=MySimpleDataModel progress=FrameProgress result=RunSummary
type MySimpleWorker struct {
	mu      sync.Mutex
	params  MySimpleDataModel
	frames  int64
	updates int
}

// Init stores the attachments the task starts with.
//
//skald:init
func (w *MySimpleWorker) Init(m MySimpleDataModel) error {
	w.params = m
	return nil
}

// Before logs the stream the worker is about to read.
//
//skald:before
func (w *MySimpleWorker) Before(ctx context.Context) error {
	p := w.current()
	skald.Logger(ctx).Info("starting", "rtspUrl", p.RTSPURL, "fixFrame", p.FixFrame)
	return nil
}

// Run logs the current parameters until ctx is cancelled.
//
//skald:main
func (w *MySimpleWorker) Run(ctx context.Context) error {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		p := w.current()
		skald.Logger(ctx).Info("running", "rtspUrl", p.RTSPURL, "fixFrame", p.FixFrame)
		w.mu.Lock()
		w.frames++
		frames := w.frames
		w.mu.Unlock()
		ReportMySimpleWorkerProgress(ctx, FrameProgress{Frames: frames, FixFrame: p.FixFrame})
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// Update applies new parameters; the main loop uses them on its next tick.
//
//skald:update
func (w *MySimpleWorker) Update(ctx context.Context, m MySimpleDataModel) error {
	w.mu.Lock()
	w.params = m
	w.updates++
	w.mu.Unlock()
	skald.Logger(ctx).Info("updated", "rtspUrl", m.RTSPURL, "fixFrame", m.FixFrame)
	return nil
}

// Release runs last, whether the task finished, failed or was cancelled.
//
//skald:release
func (w *MySimpleWorker) Release(ctx context.Context) error {
	w.mu.Lock()
	sum := RunSummary{Frames: w.frames, Updates: w.updates}
	w.mu.Unlock()
	SetMySimpleWorkerResult(ctx, sum)
	skald.Logger(ctx).Info("released")
	return nil
}

func (w *MySimpleWorker) current() MySimpleDataModel {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.params
}
