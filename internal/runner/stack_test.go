package runner_test

import (
	"context"
	"log/slog"
	"runtime"
	"sync"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/skalds-go/skalds/internal/erased"
	"github.com/skalds-go/skalds/internal/runner"
	"github.com/skalds-go/skalds/runtime/skald"
)

// idleWay is one way of running n idle workers, each in a goroutine of
// its own as a node runs them: the goroutine starts the worker and parks
// in its main until stop.
type idleWay struct {
	name  string
	start func(c *erased.Class, raw []byte) (run func(), stop func())
}

// idleWays are what the stack of a parked worker is measured for: the
// worker's own decode and main called directly, with no runner (the
// floor), and the runner without and with tracing.
func idleWays() []idleWay {
	tp := sdktrace.NewTracerProvider()
	runner := func(tracer bool) func(c *erased.Class, raw []byte) (func(), func()) {
		return func(c *erased.Class, raw []byte) (func(), func()) {
			r := runner.New(slog.New(slog.DiscardHandler), time.Second, runner.Observer{})
			if tracer {
				r.Trace(runner.Tracing{Tracer: tp.Tracer("test"), Version: 1})
			}
			return func() {
				if r.Begin(c, raw) == nil {
					r.Run()
				}
			}, r.Stop
		}
	}
	return []idleWay{
		{"direct", func(c *erased.Class, raw []byte) (func(), func()) {
			ctx, cancel := context.WithCancel(context.Background())
			return func() {
				if inst, err := c.Start(raw); err == nil {
					_ = inst.Main(ctx)
				}
			}, cancel
		}},
		{"off", runner(false)},
		{"on", runner(true)},
	}
}

// inuse returns the bytes of goroutine stacks and of heap in use, after
// the collections that shrink the stacks that can be shrunk.
func inuse() (stack, heap uint64) {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.StackInuse, ms.HeapAlloc
}

// idleStack is the goroutine stack each of n workers started the way w
// does holds while parked in its main, in KiB.
func idleStack(n int, w idleWay) float64 {
	stack, _ := idle(n, w)
	return stack
}

// idle starts n workers the way w does, waits until each is parked in its
// main, and returns the goroutine stack and the heap each holds, in KiB.
func idle(n int, w idleWay) (stack, heap float64) {
	var parked, done sync.WaitGroup
	parked.Add(n)
	cls := &skald.Class[params]{Name: "idle", Decode: decode, New: func() skald.Hooks[params] {
		return skald.Hooks[params]{Main: func(ctx context.Context) error {
			parked.Done()
			<-ctx.Done()
			return nil
		}}
	}}
	c, raw := runner.Of(cls), doc("ann", "a", 0)
	stops := make([]func(), n)
	stackBefore, heapBefore := inuse()
	for i := range stops {
		run, stop := w.start(c, raw)
		stops[i] = stop
		done.Add(1)
		go func() {
			defer done.Done()
			run()
		}()
	}
	parked.Wait()
	stackRunning, heapRunning := inuse()
	for _, stop := range stops {
		stop()
	}
	done.Wait()
	perWorker := func(b, a uint64) float64 { return (float64(a) - float64(b)) / float64(n) / 1024 }
	return perWorker(stackBefore, stackRunning), perWorker(heapBefore, heapRunning)
}

// TestIdleStackTracingOff checks that a runner without tracing costs a
// parked worker no more stack than calling its decode and main directly:
// a frame or a local added to the deepest chain (the decode, under Begin)
// or to the chain under main doubles every idle worker's stack as soon as
// it crosses a power of two.
func TestIdleStackTracingOff(t *testing.T) {
	ways := idleWays()
	direct, off := ways[0], ways[1]
	// Twice each, alternately: the runtime sizes new stacks after the
	// ones it scanned last, so the first of a kind may start larger.
	var d, o float64
	for range 2 {
		d, o = idleStack(500, direct), idleStack(500, off)
	}
	t.Logf("stack per parked worker: %.2f KiB direct, %.2f KiB in a runner without tracing", d, o)
	if o > d*1.25 {
		t.Errorf("a parked worker in a runner without tracing holds %.2f KiB of stack, %.2fx the %.2f KiB of calling its main directly; "+
			"keep span values and extra frames off the paths of Begin and Run that run without a tracer", o, o/d, d)
	}
}

// BenchmarkIdleStack reports the goroutine stack and the heap that a
// worker parked in its main holds, started directly (decode and main, no
// runner), by a runner without tracing and by one with tracing, each
// measured in the same run, and the ratios to direct:
//
//	go test ./internal/runner -run '^$' -bench IdleStack -benchtime 3x
func BenchmarkIdleStack(b *testing.B) {
	const n = 1000
	ways := idleWays()
	stacks, heaps := make([]float64, len(ways)), make([]float64, len(ways))
	for b.Loop() {
		for i, w := range ways {
			stack, heap := idle(n, w)
			stacks[i] += stack
			heaps[i] += heap
		}
	}
	for i, w := range ways {
		b.ReportMetric(stacks[i]/float64(b.N), "KiB-stack/"+w.name)
		b.ReportMetric(heaps[i]/float64(b.N), "KiB-heap/"+w.name)
		if i > 0 {
			b.ReportMetric(stacks[i]/stacks[0], "x-"+w.name+"/direct")
			b.ReportMetric(heaps[i]/heaps[0], "x-heap-"+w.name+"/direct")
		}
	}
}
