package worker_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/skalds-go/skalds/example/worker"
	"github.com/skalds-go/skalds/runtime/codec"
	"github.com/skalds-go/skalds/runtime/task"
	"github.com/skalds-go/skalds/skaldtest"
)

// The worker's unit tests run it in-process with skaldtest.Run: the
// generated decoder, validation and update delivery of a node, no
// servers. The seed story itself runs on the embedded servers in
// story_test.go.

func TestWorkerAppliesUpdates(t *testing.T) {
	tk := skaldtest.Run(t, worker.MySimpleWorkerClass, worker.MySimpleDataModel{RTSPURL: "rtsp://example.com/stream", FixFrame: 10})
	tk.Await(skaldtest.Msg("starting", "rtspUrl", "rtsp://example.com/stream", "fixFrame", 10))

	if err := tk.Update(worker.MySimpleDataModel{RTSPURL: "rtsp://example.com/new_stream", FixFrame: 60}); err != nil {
		t.Fatalf("update: %v", err)
	}
	tk.Await(skaldtest.Msg("updated", "rtspUrl", "rtsp://example.com/new_stream", "fixFrame", 60))
	tk.Await(skaldtest.Msg("running", "rtspUrl", "rtsp://example.com/new_stream", "fixFrame", 60))

	if out := tk.Cancel(); out.Status != task.Cancelled {
		t.Fatalf("outcome %v, want Cancelled", out)
	}
	tk.Await(skaldtest.Msg("released"))
	if got, want := tk.Hooks(), []string{"init", "before", "main", "update", "release"}; !slices.Equal(got, want) {
		t.Errorf("hooks %v, want %v", got, want)
	}
}

func TestWorkerRejectsBadUpdates(t *testing.T) {
	tk := skaldtest.Run(t, worker.MySimpleWorkerClass, worker.MySimpleDataModel{RTSPURL: "rtsp://example.com/stream", FixFrame: 10})
	for _, tc := range []struct {
		doc   string
		paths []string
	}{
		{`{"rtspUrl":"rtsp://example.com/stream","fixFrame":0}`, []string{"$.fixFrame"}},
		{`{"rtspUrl":"not a url","fixFrame":1001}`, []string{"$.rtspUrl", "$.fixFrame"}},
		{`{"rtspUrl":"rtsp://example.com/stream","fixFrame":"60"}`, []string{"$.fixFrame"}},
		{`{"rtspUrl":"rtsp://example.com/stream","fixFrame":60,"fps":25}`, []string{"$.fps"}},
	} {
		err := tk.UpdateJSON([]byte(tc.doc))
		var errs codec.Errors
		if !errors.As(err, &errs) {
			t.Errorf("%s: got %v, want codec.Errors", tc.doc, err)
			continue
		}
		var paths []string
		for _, e := range errs {
			paths = append(paths, e.Path)
		}
		if !slices.Equal(paths, tc.paths) {
			t.Errorf("%s: rejected at %v, want %v (%v)", tc.doc, paths, tc.paths, err)
		}
	}
	if n := tk.Logs.Count(skaldtest.Msg("updated")); n != 0 {
		t.Errorf("the update hook ran %d times", n)
	}
	tk.Cancel()
}

func TestWorkerRefusesBadStart(t *testing.T) {
	tk := skaldtest.RunJSON(t, worker.MySimpleWorkerClass, []byte(`{"rtspUrl":"rtsp://example.com/stream"}`))
	out := tk.Wait()
	var errs codec.Errors
	if out.Status != task.Failed || !errors.As(out.Err, &errs) || errs[0].Path != "$.fixFrame" {
		t.Fatalf("outcome %v, want Failed naming $.fixFrame", out)
	}
}

// TestWorkerReportsProgress: the worker reports each frame as progress and
// sets a summary as its result, which is what a node stores when the task
// ends.
func TestWorkerReportsProgress(t *testing.T) {
	tk := skaldtest.Run(t, worker.MySimpleWorkerClass, worker.MySimpleDataModel{RTSPURL: "rtsp://example.com/stream", FixFrame: 10})
	tk.Await(skaldtest.Msg("running", "fixFrame", 10))
	if err := tk.Update(worker.MySimpleDataModel{RTSPURL: "rtsp://example.com/stream", FixFrame: 60}); err != nil {
		t.Fatalf("update: %v", err)
	}
	tk.Await(skaldtest.Msg("running", "fixFrame", 60))
	out := tk.Cancel()

	// Main reports after each "running" record and before it waits, so
	// the last report is of a frame with the new parameters.
	p, err := worker.DecodeFrameProgress(out.Progress)
	if err != nil {
		t.Fatalf("stored progress %s: %v", out.Progress, err)
	}
	if p.Frames < 2 || p.FixFrame != 60 {
		t.Errorf("last progress %+v, want at least 2 frames at fixFrame 60", p)
	}
	sum, err := worker.DecodeRunSummary(out.Result)
	if err != nil {
		t.Fatalf("stored result %s: %v", out.Result, err)
	}
	if want := (worker.RunSummary{Frames: p.Frames, Updates: 1}); sum != want {
		t.Errorf("result %+v, want %+v", sum, want)
	}
	if got := tk.Progress(); string(got) != string(out.Progress) {
		t.Errorf("Progress() after the end = %s, want the outcome's %s", got, out.Progress)
	}
}
