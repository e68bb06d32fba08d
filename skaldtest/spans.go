package skaldtest

import (
	"context"
	"fmt"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// Spans records the spans that end, like tracetest.SpanRecorder, and
// lets a test wait for one. Give its Provider to a node, a client or a
// controller (their Options.TracerProvider).
type Spans struct {
	*tracetest.SpanRecorder
	// Provider is the tracer provider whose spans are recorded.
	Provider *sdktrace.TracerProvider

	mu      sync.Mutex
	changed chan struct{} // closed and replaced when a span ends
}

// NewSpans returns a recorder and the provider that feeds it.
func NewSpans() *Spans {
	s := &Spans{SpanRecorder: tracetest.NewSpanRecorder(), changed: make(chan struct{})}
	s.Provider = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(s))
	return s
}

// OnEnd records sp and wakes Await.
func (s *Spans) OnEnd(sp sdktrace.ReadOnlySpan) {
	s.SpanRecorder.OnEnd(sp)
	s.mu.Lock()
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
}

// Await returns the first ended span that ok accepts, waiting for it
// until ctx ends.
func (s *Spans) Await(ctx context.Context, ok func(sdktrace.ReadOnlySpan) bool) (sdktrace.ReadOnlySpan, error) {
	for {
		s.mu.Lock()
		changed := s.changed
		s.mu.Unlock()
		for _, sp := range s.Ended() {
			if ok(sp) {
				return sp, nil
			}
		}
		select {
		case <-changed:
		case <-ctx.Done():
			var names []string
			for _, sp := range s.Ended() {
				names = append(names, sp.Name())
			}
			return nil, fmt.Errorf("no such span among those ended (%v): %w", names, ctx.Err())
		}
	}
}

// Attr returns sp's attribute key, or the empty Value.
func Attr(sp sdktrace.ReadOnlySpan, key string) attribute.Value {
	for _, kv := range sp.Attributes() {
		if string(kv.Key) == key {
			return kv.Value
		}
	}
	return attribute.Value{}
}

// Span matches the spans named name of task id (attribute
// skalds.task.id), for Await.
func Span(name, id string) func(sdktrace.ReadOnlySpan) bool {
	return func(sp sdktrace.ReadOnlySpan) bool {
		return sp.Name() == name && Attr(sp, "skalds.task.id").AsString() == id
	}
}

// RemoteChild returns an error unless child's parent is parent, received
// over the wire (remote), as a node's hook span is the child of the client
// or controller span whose event caused it.
func RemoteChild(child, parent sdktrace.ReadOnlySpan) error {
	p, want := child.Parent(), parent.SpanContext()
	if p.TraceID() != want.TraceID() || p.SpanID() != want.SpanID() || !p.IsRemote() {
		return fmt.Errorf("span %s has parent %s/%s (remote %v); want %s's %s/%s, remote", child.Name(),
			p.TraceID(), p.SpanID(), p.IsRemote(), parent.Name(), want.TraceID(), want.SpanID())
	}
	return nil
}
