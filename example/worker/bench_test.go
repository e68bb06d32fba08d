package worker_test

import (
	"context"
	"testing"
	"time"

	"github.com/skalds-go/skalds/example/internal/story"
	"github.com/skalds-go/skalds/example/worker"
	"github.com/skalds-go/skalds/skaldtest"
)

// BenchmarkHotUpdate measures the hot-update path on the embedded servers:
// from the typed client's Update call (validate, write to Mongo, publish on
// Kafka) to the worker's update handler having run with the new values.
// It reports the p50 and p99 of that latency.
func BenchmarkHotUpdate(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	h, err := story.Start(ctx, storyOptions(b))
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close()
	const id = "task_bench"
	if err := h.Tasks.Create(ctx, id, worker.MySimpleDataModel{RTSPURL: "rtsp://example.com/stream", FixFrame: 1}); err != nil {
		b.Fatal(err)
	}
	if _, err := h.Tasks.Assign(ctx, id, h.NodeID); err != nil {
		b.Fatal(err)
	}
	if _, err := h.Logs.Await(ctx, skaldtest.Msg("running", "taskId", id)); err != nil {
		b.Fatal(err)
	}

	// lat is the whole path; call the part spent in the client's Update
	// (Mongo write and Kafka publish); the rest is the node's side
	// (consume, Mongo read, decode, validate, handler).
	var lat, call []time.Duration
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		frame := i%1000 + 1
		mark := h.Logs.Mark()
		start := time.Now()
		if _, err := h.Tasks.Update(ctx, id, worker.MySimpleDataModel{RTSPURL: "rtsp://example.com/stream", FixFrame: frame}); err != nil {
			b.Fatal(err)
		}
		call = append(call, time.Since(start))
		if _, err := h.Logs.AwaitFrom(ctx, mark, skaldtest.Msg("updated", "taskId", id, "fixFrame", frame)); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	b.ReportMetric(ms(skaldtest.Quantile(lat, 0.50)), "p50-ms")
	b.ReportMetric(ms(skaldtest.Quantile(lat, 0.99)), "p99-ms")
	b.ReportMetric(ms(skaldtest.Quantile(call, 0.50)), "client-p50-ms")
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
