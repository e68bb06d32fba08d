package integration

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/skalds-go/skalds/runtime/client"
	"github.com/skalds-go/skalds/runtime/node"
	"github.com/skalds-go/skalds/runtime/skald"
	"github.com/skalds-go/skalds/runtime/task"
	"github.com/skalds-go/skalds/skaldtest"
)

// counted is the progress type of the test worker, total its result.
type counted struct {
	Done int `json:"done"`
}

type total struct {
	Sum int `json:"sum"`
}

func decodeJSON[T any](b []byte) (T, error) {
	var v T
	err := json.Unmarshal(b, &v)
	return v, err
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// TestProgressStoredAndRead runs a worker on a node that reports one
// progress, then a burst of 49 more, then sets a result and finishes. The
// typed readers see the first report, then only the newest of the burst
// (one write per interval), and the result in the write that makes the
// task Finished.
func TestProgressStoredAndRead(t *testing.T) {
	e := newEnv(t)
	const every = 300 * time.Millisecond
	burst, finish := make(chan struct{}), make(chan struct{})
	cls := &skald.Class[params]{
		Name:   "Progress",
		Decode: decodeParams,
		Encode: encodeParams,
		New: func() skald.Hooks[params] {
			return skald.Hooks[params]{
				Main: func(ctx context.Context) error {
					skald.ReportProgress(ctx, mustJSON(counted{Done: 1}))
					select {
					case <-burst:
					case <-ctx.Done():
						return ctx.Err()
					}
					for i := 2; i <= 50; i++ {
						skald.ReportProgress(ctx, mustJSON(counted{Done: i}))
					}
					select {
					case <-finish:
					case <-ctx.Done():
						return ctx.Err()
					}
					skald.SetResult(ctx, mustJSON(total{Sum: 50 * 51 / 2}))
					return nil
				},
			}
		},
	}
	a := e.startNode("a", node.Options{ProgressInterval: every}, nil, cls)
	id := e.id("progress")
	e.create(id, cls, params{})
	e.running(id, a, e.assign(id, a))

	progress := client.NewProgressReader(e.client, decodeJSON[counted])
	results := client.NewResultReader(e.client, decodeJSON[total])
	if _, err := results.Result(e.ctx, id); !errors.Is(err, client.ErrNoResult) {
		t.Fatalf("result of a running task: %v, want ErrNoResult", err)
	}

	type seen struct {
		done int
		at   time.Time
	}
	firstSeen := make(chan struct{})
	var got []seen
	watched := make(chan error, 1)
	go func() {
		watched <- progress.WatchProgress(e.ctx, id, 20*time.Millisecond, func(p client.Progress[counted]) {
			got = append(got, seen{p.Value.Done, p.At})
			if len(got) == 1 {
				close(firstSeen)
			}
		})
	}()
	select {
	case <-firstSeen:
	case <-time.After(deadline):
		t.Fatal("no progress seen")
	}
	if p, err := progress.Progress(e.ctx, id); err != nil || p.Value.Done != 1 || p.Status != task.Running {
		t.Fatalf("Progress = %+v, %v; want done 1 while Running", p, err)
	}

	close(burst)
	e.waitTask(id, "progress of the burst stored", func(t *task.Task) bool {
		p, _ := decodeJSON[counted](t.Progress)
		return p.Done == 50
	})
	close(finish)
	done := e.waitTask(id, "Finished", func(t *task.Task) bool { return t.LifecycleStatus.Terminal() })
	if done.LifecycleStatus != task.Finished || done.Result == nil {
		t.Fatalf("first terminal read: %s with result %s; want Finished with the result in the same write", describe(done), done.Result)
	}
	if r, err := results.Result(e.ctx, id); err != nil || r.Sum != 1275 {
		t.Fatalf("Result = %+v, %v; want sum 1275", r, err)
	}
	if err := <-watched; err != nil {
		t.Fatalf("WatchProgress after the end: %v", err)
	}
	dones := make([]int, len(got))
	for i, s := range got {
		dones[i] = s.done
	}
	if !slices.Equal(dones, []int{1, 50}) {
		t.Fatalf("watched progress %v, want [1 50]: the burst coalesced to its newest", dones)
	}
	if gap := got[1].at.Sub(got[0].at); gap < every-10*time.Millisecond {
		// Stored times are in ms; the node waits the full interval.
		t.Errorf("second progress written %s after the first, want at least %s", gap, every)
	}
}

// TestUnstorableProgressIsRefusedWhenReported runs a worker that reports
// a progress MongoDB can store, then one with a map key that contains "."
// (FerretDB refuses it, MongoDB cannot address it), and sets a good, then
// a bad result before it returns. Each bad report is refused when made,
// logged with the task and the key's path, and the good ones are what the
// terminal write stores: the bad progress, still unwritten when the worker
// returns, would otherwise fail that write.
func TestUnstorableProgressIsRefusedWhenReported(t *testing.T) {
	e := newEnv(t)
	next := make(chan struct{})
	const good, bad = `{"cams":{"front":1}}`, `{"cams":{"front":2,"10.0.0.1":3}}`
	cls := &skald.Class[params]{
		Name:   "DottedProgress",
		Decode: decodeParams,
		Encode: encodeParams,
		New: func() skald.Hooks[params] {
			return skald.Hooks[params]{
				Main: func(ctx context.Context) error {
					skald.ReportProgress(ctx, []byte(good))
					select {
					case <-next:
					case <-ctx.Done():
						return ctx.Err()
					}
					skald.ReportProgress(ctx, []byte(bad))
					skald.SetResult(ctx, []byte(`{"sum":1}`))
					skald.SetResult(ctx, []byte(`{"by":{"$sum":2}}`))
					return nil
				},
			}
		},
	}
	// A long interval keeps the bad report, were it taken, unwritten
	// until the terminal write.
	a := e.startNode("a", node.Options{ProgressInterval: time.Hour}, nil, cls)
	id := e.id("dotted")
	e.create(id, cls, params{})
	e.running(id, a, e.assign(id, a))
	e.waitTask(id, "the good progress stored", func(t *task.Task) bool { return string(t.Progress) == good })

	mark := e.logs.Mark()
	close(next)
	e.await(mark, "progress refused: it cannot be stored; the last good one stays", "taskId", id, "paths", `$.cams["10.0.0.1"]`)
	e.await(mark, "result refused: it cannot be stored; the last good one stays", "taskId", id, "paths", `$.by["$sum"]`)
	done := e.waitTask(id, "ended", func(t *task.Task) bool { return t.LifecycleStatus.Terminal() })
	if done.LifecycleStatus != task.Finished || string(done.Progress) != good || string(done.Result) != `{"sum":1}` {
		t.Fatalf("ended %s with progress %s and result %s; want Finished with %s and {\"sum\":1}", describe(done), done.Progress, done.Result, good)
	}
	if n := e.logs.CountFrom(mark, skaldtest.Msg("storing the progress failed; the next report or the outcome of the worker carries it", "taskId", id)); n != 0 {
		t.Errorf("%d failed progress writes logged, want none: the bad report never reaches the store", n)
	}
}
