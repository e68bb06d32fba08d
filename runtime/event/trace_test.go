package event

import (
	"context"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"go.opentelemetry.io/otel/trace"
)

// spanCtx returns a context carrying a sampled span context with a
// tracestate, as a client's span would.
func spanCtx(t testing.TB) (context.Context, trace.SpanContext) {
	ts, err := trace.ParseTraceState("vendor=opaque")
	if err != nil {
		t.Fatal(err)
	}
	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID:    trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36},
		SpanID:     trace.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7},
		TraceFlags: trace.FlagsSampled,
		TraceState: ts,
	})
	return trace.ContextWithSpanContext(context.Background(), sc), sc
}

func TestTraceHeadersRoundTrip(t *testing.T) {
	ctx, sc := spanCtx(t)
	var m kafka.Message
	if err := (&Publisher{trace: true}).message(ctx, &m, TopicUpdateAttachment, NewTaskEvent("task_123")); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		HeaderTraceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		HeaderTracestate:  "vendor=opaque",
	}
	if len(m.Headers) != len(want) {
		t.Fatalf("headers %v, want %v", m.Headers, want)
	}
	for _, h := range m.Headers {
		if want[h.Key] != string(h.Value) {
			t.Fatalf("header %s=%q, want %q", h.Key, h.Value, want[h.Key])
		}
	}
	got := remoteTrace(&m)
	if !got.IsRemote() || got.TraceID() != sc.TraceID() || got.SpanID() != sc.SpanID() || !got.IsSampled() ||
		got.TraceState().String() != "vendor=opaque" {
		t.Fatalf("read back %+v, want %+v, remote", got, sc)
	}
	s := &Subscriber{trace: true}
	if p := trace.SpanContextFromContext(s.traced(context.Background(), &m)); !p.Equal(got) {
		t.Fatalf("the handler's context carries %+v, want %+v", p, got)
	}
}

// TestTraceOffAddsNothing: a publisher that does not trace writes no
// header, even from a traced context, and costs no allocation more than
// the record itself; a context without a span gets no header either.
func TestTraceOffAddsNothing(t *testing.T) {
	ctx, _ := spanCtx(t)
	e := NewTaskEvent("task_123")
	off := &Publisher{}
	var m kafka.Message
	if err := off.message(ctx, &m, TopicAssign, e); err != nil || m.Headers != nil {
		t.Fatalf("untraced publisher wrote headers %v", m.Headers)
	}
	if err := (&Publisher{trace: true}).message(context.Background(), &m, TopicAssign, e); err != nil || m.Headers != nil {
		t.Fatalf("a context without a span gave headers %v", m.Headers)
	}
	base := testing.AllocsPerRun(100, func() { m = kafka.Message{}; _ = record(&m, TopicAssign, e) })
	allocs := testing.AllocsPerRun(100, func() { m = kafka.Message{}; _ = off.message(ctx, &m, TopicAssign, e) })
	if allocs != base {
		t.Fatalf("tracing off: %v allocations per record, %v without the tracing code", allocs, base)
	}
}

// TestForeignHeaders reads records as Python producers send them (no
// headers) and with malformed or unrelated headers: no trace, no error.
func TestForeignHeaders(t *testing.T) {
	for _, h := range [][]kafka.Header{
		nil,
		{{Key: "content-type", Value: []byte("application/json")}},
		{{Key: HeaderTraceparent, Value: []byte("00-zz-not-hex-01")}},
		{{Key: HeaderTraceparent, Value: []byte("00-00000000000000000000000000000000-00f067aa0ba902b7-01")}},
		{{Key: HeaderTraceparent, Value: nil}},
	} {
		m := kafka.Message{Headers: h}
		if sc := remoteTrace(&m); sc.IsValid() {
			t.Errorf("headers %v gave trace context %+v; want none", h, sc)
		}
	}
	ctx := context.Background()
	if got := (&Subscriber{}).traced(ctx, &kafka.Message{}); got != ctx {
		t.Error("an untraced subscriber changed the handler's context")
	}
}

// BenchmarkEncode measures what building a record costs: the record
// alone (the code before tracing existed), with tracing off, and with
// tracing on from a traced context. It logs each one's time and
// allocations against the first's, from rounds that alternate the three
// (the best of 50 each), so that a busy machine skews them alike.
func BenchmarkEncode(b *testing.B) {
	ctx, _ := spanCtx(b)
	e := NewTaskEvent("task_123")
	off, on := &Publisher{}, &Publisher{trace: true}
	var m kafka.Message
	cases := []struct {
		name string
		f    func()
	}{
		{"baseline", func() { m = kafka.Message{}; _ = record(&m, TopicUpdateAttachment, e) }},
		{"tracing-off", func() { m = kafka.Message{}; _ = off.message(ctx, &m, TopicUpdateAttachment, e) }},
		{"tracing-on", func() { m = kafka.Message{}; _ = on.message(ctx, &m, TopicUpdateAttachment, e) }},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c.f()
			}
		})
	}
	const n = 2000
	best := make([]time.Duration, len(cases))
	for round := 0; round < 50; round++ {
		for i, c := range cases {
			start := time.Now()
			for range n {
				c.f()
			}
			if d := time.Since(start); round == 0 || d < best[i] {
				best[i] = d
			}
		}
	}
	base := testing.AllocsPerRun(100, cases[0].f)
	for i := 1; i < len(cases); i++ {
		b.Logf("%s: %.2fx the time of baseline (%v against %v per record), %.0f allocations against %.0f",
			cases[i].name, float64(best[i])/float64(best[0]), best[i]/n, best[0]/n, testing.AllocsPerRun(100, cases[i].f), base)
	}
}
