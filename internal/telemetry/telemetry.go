// Package telemetry holds what the client's and the node's spans share:
// the tracer's scope and the attribute keys, so that a task's attributes
// are spelt the same on both sides of a trace.
package telemetry

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// Scope is the instrumentation scope of every span of skalds-go.
const Scope = "github.com/skalds-go/skalds"

// The attributes of the spans.
const (
	TaskID  = attribute.Key("skalds.task.id")
	Class   = attribute.Key("skalds.task.class")
	Epoch   = attribute.Key("skalds.task.epoch")
	Version = attribute.Key("skalds.attachments.version")
	Hook    = attribute.Key("skalds.hook")
	Node    = attribute.Key("skalds.node.id")
)

// Tracer returns the tracer of tp, or nil when tp is nil: tracing is off,
// and callers skip every span and every propagation step.
func Tracer(tp trace.TracerProvider) trace.Tracer {
	if tp == nil {
		return nil
	}
	return tp.Tracer(Scope)
}

// End records err on span, when there is one, and ends it.
func End(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// Span is a span that may be absent, when tracing is off: its methods then
// do nothing and cost nothing.
type Span struct{ s trace.Span }

// Start starts a span of tr named name about task id (and class, when
// known), child of the span in ctx; with a nil tr it returns ctx and an
// absent Span.
func Start(ctx context.Context, tr trace.Tracer, name string, kind trace.SpanKind, id, class string) (context.Context, Span) {
	if tr == nil {
		return ctx, Span{}
	}
	attrs := make([]attribute.KeyValue, 1, 2)
	attrs[0] = TaskID.String(id)
	if class != "" {
		attrs = append(attrs, Class.String(class))
	}
	return StartAttrs(ctx, tr, name, kind, attrs...)
}

// StartAttrs is Start with the span's attributes given.
func StartAttrs(ctx context.Context, tr trace.Tracer, name string, kind trace.SpanKind, attrs ...attribute.KeyValue) (context.Context, Span) {
	if tr == nil {
		return ctx, Span{}
	}
	ctx, s := tr.Start(ctx, name, trace.WithSpanKind(kind), trace.WithAttributes(attrs...))
	return ctx, Span{s}
}

// Context returns the span's context, or the zero SpanContext when the
// span is absent.
func (s Span) Context() trace.SpanContext {
	if s.s == nil {
		return trace.SpanContext{}
	}
	return s.s.SpanContext()
}

// Set adds an attribute.
func (s Span) Set(kv attribute.KeyValue) {
	if s.s != nil {
		s.s.SetAttributes(kv)
	}
}

// End records err, if any, and ends the span.
func (s Span) End(err error) {
	if s.s != nil {
		End(s.s, err)
	}
}
