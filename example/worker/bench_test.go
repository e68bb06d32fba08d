package worker_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/skalds-go/skalds/example/internal/story"
	"github.com/skalds-go/skalds/example/internal/watch"
	"github.com/skalds-go/skalds/example/worker"
)

// BenchmarkHotUpdate measures the hot-update path on the embedded servers:
// from the typed client's Update call (validate, write to Mongo, publish on
// Kafka) to the worker's update handler having run with the new values.
// It reports the p50 and p99 of that latency.
func BenchmarkHotUpdate(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	h, err := story.Start(ctx, story.Options{RedisAddr: story.LocalRedis()})
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close()
	const id = "task_bench"
	if err := h.Tasks.Create(ctx, id, worker.MySimpleDataModel{RTSPURL: "rtsp://example.com/stream", FixFrame: 1}); err != nil {
		b.Fatal(err)
	}
	if _, err := h.Tasks.Assign(ctx, id, story.NodeID); err != nil {
		b.Fatal(err)
	}
	if _, err := h.Logs.Await(ctx, watch.Msg("running", "taskId", id)); err != nil {
		b.Fatal(err)
	}

	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		frame := i%1000 + 1
		mark := h.Logs.Mark()
		start := time.Now()
		if _, err := h.Tasks.Update(ctx, id, worker.MySimpleDataModel{RTSPURL: "rtsp://example.com/stream", FixFrame: frame}); err != nil {
			b.Fatal(err)
		}
		if _, err := h.Logs.AwaitFrom(ctx, mark, watch.Msg("updated", "taskId", id, "fixFrame", frame)); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
