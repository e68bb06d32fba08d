package runner_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/skalds-go/skalds/internal/runner"
	"github.com/skalds-go/skalds/runtime/skald"
)

// TestHookSpans runs a traced worker through start, a refused update, a
// panicking update and its stop: each hook is a span, child of the trace
// context of what caused it, with the error of a hook that failed, and
// the hook's context carries its span.
func TestHookSpans(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	remote := func(b byte) trace.SpanContext {
		return trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{b, 1}, SpanID: trace.SpanID{b, 2},
			TraceFlags: trace.FlagsSampled, Remote: true})
	}
	assign, update, boom, cancel := remote(1), remote(2), remote(3), remote(4)
	inMain := make(chan trace.SpanContext, 1)
	cls := &skald.Class[params]{
		Name:   "traced",
		Decode: decode,
		New: func() skald.Hooks[params] {
			return skald.Hooks[params]{
				Main: func(ctx context.Context) error {
					inMain <- trace.SpanContextFromContext(ctx)
					<-ctx.Done()
					return nil
				},
				Update: func(_ context.Context, m params) error {
					if m.Rate == 13 {
						panic("unlucky")
					}
					return errors.New("rate refused")
				},
				Release: func(context.Context) error { return nil },
			}
		},
	}
	rejected := make(chan int64, 1)
	fatal := make(chan int64, 1)
	r := runner.New(slog.New(slog.DiscardHandler), time.Second, runner.Observer{
		Rejected: func(v int64, _ error) { rejected <- v },
		Fatal:    func(v int64, _ error) { fatal <- v },
	})
	r.Trace(runner.Tracing{Tracer: tp.Tracer("test"), Start: assign, Version: 1,
		Attrs: []attribute.KeyValue{attribute.String("skalds.task.id", "t1")}})
	if err := r.Begin(runner.Of(cls), doc("ann", "a", 0)); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { err, _ := r.Run(); done <- err }()
	mainSpan := <-inMain

	r.OfferFrom(update, 2, doc("ann", "a", 1))
	<-rejected
	r.OfferFrom(boom, 3, doc("ann", "a", 13))
	<-fatal
	r.TraceStop(cancel)
	r.Stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	spans := map[string][]sdktrace.ReadOnlySpan{}
	for _, sp := range rec.Ended() {
		spans[sp.Name()] = append(spans[sp.Name()], sp)
	}
	check := func(name string, i int, parent trace.SpanContext, status codes.Code) sdktrace.ReadOnlySpan {
		t.Helper()
		if len(spans[name]) <= i {
			t.Fatalf("no span %s #%d; ended: %v", name, i, spans)
		}
		sp := spans[name][i]
		if sp.Parent().SpanID() != parent.SpanID() || sp.Parent().TraceID() != parent.TraceID() {
			t.Errorf("%s: parent %v, want %v", name, sp.Parent(), parent)
		}
		if sp.Status().Code != status {
			t.Errorf("%s: status %v, want %v", name, sp.Status(), status)
		}
		return sp
	}
	check("skalds.hook.init", 0, assign, codes.Unset)
	if m := check("skalds.hook.main", 0, assign, codes.Unset); m.SpanContext().SpanID() != mainSpan.SpanID() {
		t.Error("main's context does not carry its span")
	}
	check("skalds.hook.update", 0, update, codes.Error)
	if sp := check("skalds.hook.update", 1, boom, codes.Error); len(sp.Events()) == 0 {
		t.Error("the panic is not recorded on the update span")
	}
	check("skalds.hook.release", 0, cancel, codes.Unset)
	// Before is not declared: no span.
	if len(spans["skalds.hook.before"]) != 0 {
		t.Errorf("a span for a hook the worker does not have: %v", spans["skalds.hook.before"])
	}
}

// TestNoTracerNoSpans: a run that was not given a tracer makes no spans
// and its hooks' contexts carry none.
func TestNoTracerNoSpans(t *testing.T) {
	got := make(chan trace.SpanContext, 1)
	cls := &skald.Class[params]{
		Name:   "plain",
		Decode: func([]byte) (params, error) { return params{}, nil },
		New: func() skald.Hooks[params] {
			return skald.Hooks[params]{Main: func(ctx context.Context) error { got <- trace.SpanContextFromContext(ctx); return nil }}
		},
	}
	r := runner.New(slog.New(slog.DiscardHandler), time.Second, runner.Observer{})
	if err := r.Begin(runner.Of(cls), nil); err != nil {
		t.Fatal(err)
	}
	if err, _ := r.Run(); err != nil {
		t.Fatal(err)
	}
	if sc := <-got; sc.IsValid() {
		t.Fatalf("main's context carries span %v without a tracer", sc)
	}
}
