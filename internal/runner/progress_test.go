package runner_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/skalds-go/skalds/internal/runner"
	"github.com/skalds-go/skalds/runtime/skald"
	"github.com/skalds-go/skalds/runtime/task"
	"github.com/skalds-go/skalds/skaldtest"
)

// TestProgressCoalesces reports 100 progresses in a burst after a first
// one: the first is passed on at once, the burst as one call with the
// newest, no sooner than the interval after the first; what release
// reports and sets reaches Outputs, for the terminal write, and no call
// follows the end of Run.
func TestProgressCoalesces(t *testing.T) {
	const every = 200 * time.Millisecond
	type write struct {
		raw string
		at  time.Time
	}
	var mu sync.Mutex
	var writes []write
	wrote := make(chan string, 10)
	obs := runner.Observer{
		ProgressEvery: every,
		Progress: func(p task.Converted) {
			mu.Lock()
			writes = append(writes, write{string(p.JSON), time.Now()})
			mu.Unlock()
			wrote <- string(p.JSON)
		},
	}
	cls := progressClass(
		func(ctx context.Context) error {
			skald.ReportProgress(ctx, progressDoc(1))
			if got := <-wrote; got != string(progressDoc(1)) {
				return fmt.Errorf("first write is %s, want %s", got, progressDoc(1))
			}
			for i := 2; i <= 100; i++ {
				skald.ReportProgress(ctx, progressDoc(i))
			}
			if got := <-wrote; got != string(progressDoc(100)) {
				return fmt.Errorf("second write is %s, want the newest, %s", got, progressDoc(100))
			}
			return nil
		},
		func(ctx context.Context) error {
			skald.ReportProgress(ctx, progressDoc(101))
			skald.SetResult(ctx, []byte(`{"sum":5050}`))
			return nil
		})
	r := runner.New(slog.Default(), time.Second, obs)
	if err := r.Begin(runner.Of(cls), []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	if err, rerr := r.Run(); err != nil || rerr != nil {
		t.Fatal(err, rerr)
	}
	progress, result := r.Outputs()
	if string(progress) != string(progressDoc(101)) || string(result) != `{"sum":5050}` {
		t.Errorf("Outputs = %s, %s; want %s, {\"sum\":5050}", progress, result, progressDoc(101))
	}
	if got := r.Unwritten(); string(got) != string(progressDoc(101)) {
		t.Errorf("Unwritten = %s, want release's report %s, for the terminal write", got, progressDoc(101))
	}
	mu.Lock()
	defer mu.Unlock()
	if len(writes) != 2 {
		t.Fatalf("%d progress writes, want 2 (the first, then the burst coalesced): %v", len(writes), writes)
	}
	if gap := writes[1].at.Sub(writes[0].at); gap < every {
		t.Errorf("second write %s after the first, want at least the interval %s", gap, every)
	}
}

// progressClass is a class of workers with main and release as their
// hooks.
func progressClass(main, release func(context.Context) error) *skald.Class[params] {
	return &skald.Class[params]{
		Name:   "progress",
		Decode: func([]byte) (params, error) { return params{}, nil },
		New:    func() skald.Hooks[params] { return skald.Hooks[params]{Main: main, Release: release} },
	}
}

func progressDoc(n int) []byte { return fmt.Appendf(nil, `{"done":%d}`, n) }

// TestReturnedBeforeAProgressWriteEnds: a worker is stopped while its
// progress write waits for a busy store. Returned is called as soon as
// release has returned, while that write still waits, so that a stop
// grace measures the hooks and not the store; Run itself still returns
// only after the write, which must not land after what follows the run.
func TestReturnedBeforeAProgressWriteEnds(t *testing.T) {
	writing, store := make(chan struct{}), make(chan struct{})
	returned := make(chan struct{})
	obs := runner.Observer{
		Progress: func(task.Converted) {
			close(writing)
			<-store
		},
		Returned: func() { close(returned) },
	}
	// Main reports once and waits to be stopped; release has nothing to do.
	r := runner.New(slog.Default(), time.Second, obs)
	if err := r.Begin(runner.Of(progressClass(func(ctx context.Context) error {
		skald.ReportProgress(ctx, progressDoc(1))
		<-ctx.Done()
		return nil
	}, nil)), []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	ran := make(chan struct{})
	go func() {
		defer close(ran)
		if err, rerr := r.Run(); err != nil || rerr != nil {
			t.Error(err, rerr)
		}
	}()
	<-writing
	r.Stop()
	select {
	case <-returned:
	case <-time.After(10 * time.Second):
		t.Fatal("Returned was not called while the progress write waited")
	}
	select {
	case <-ran:
		t.Fatal("Run returned while the progress write was under way")
	default:
	}
	close(store)
	<-ran
}

// TestUnstorableReportsAreRefused reports a good progress, then a burst
// of ones with a dotted map key, and sets a good, then a bad result: the
// bad ones never reach the store nor Outputs, and the burst is logged
// once, with the path of the key to rename.
func TestUnstorableReportsAreRefused(t *testing.T) {
	wrote := make(chan string, 10)
	obs := runner.Observer{ProgressEvery: time.Millisecond, Progress: func(p task.Converted) { wrote <- string(p.JSON) }}
	logs := skaldtest.NewLogs(nil)
	cls := progressClass(func(ctx context.Context) error {
		skald.ReportProgress(ctx, progressDoc(1))
		if got := <-wrote; got != string(progressDoc(1)) {
			return fmt.Errorf("progress written %s, want %s", got, progressDoc(1))
		}
		for range 50 {
			skald.ReportProgress(ctx, []byte(`{"done":2,"by":{"a.b":1}}`))
		}
		skald.SetResult(ctx, []byte(`{"sum":1}`))
		skald.SetResult(ctx, []byte(`{"sum":2,"$x":1}`))
		return nil
	}, nil)
	r := runner.New(slog.New(logs), time.Second, obs)
	if err := r.Begin(runner.Of(cls), []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	if err, rerr := r.Run(); err != nil || rerr != nil {
		t.Fatal(err, rerr)
	}
	select {
	case got := <-wrote:
		t.Fatalf("a refused progress was written: %s", got)
	default:
	}
	if p, res := r.Outputs(); string(p) != string(progressDoc(1)) || string(res) != `{"sum":1}` || r.Unwritten() != nil {
		t.Errorf("Outputs = %s, %s, Unwritten %s; want the good ones and nothing unwritten", p, res, r.Unwritten())
	}
	refused := skaldtest.Msg("progress refused: it cannot be stored; the last good one stays", "paths", `$.by["a.b"]`)
	if n := logs.Count(refused); n != 1 {
		t.Errorf("%d records of the refused progress, want 1 for the burst", n)
	}
	if n := logs.Count(skaldtest.Msg("result refused: it cannot be stored; the last good one stays", "paths", `$["$x"]`)); n != 1 {
		t.Errorf("%d records of the refused result, want 1", n)
	}
}
