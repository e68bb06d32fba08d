package node

import (
	"context"

	"go.opentelemetry.io/otel/trace"

	"github.com/skalds-go/skalds/runtime/event"
)

// eventTraces is the context key of the trace contexts that a batch of
// events carried, by task id.
type eventTraces struct{}

// withEventTraces returns ctx with the trace context of each task's
// newest traced event in batch, for converge to hang the hooks it causes
// on. A reconcile not caused by events has none: its hooks start traces
// of their own.
func withEventTraces(ctx context.Context, batch []event.Delivery) context.Context {
	var m map[string]trace.SpanContext
	for _, d := range batch {
		if !d.Trace.IsValid() {
			continue
		}
		if m == nil {
			m = make(map[string]trace.SpanContext, len(batch))
		}
		for _, id := range d.Event.TaskIDs {
			m[id] = d.Trace
		}
	}
	if m == nil {
		return ctx
	}
	return context.WithValue(ctx, eventTraces{}, m)
}

// eventTrace returns the trace context of the event about task id that
// ctx carries, or the zero SpanContext.
func eventTrace(ctx context.Context, id string) trace.SpanContext {
	m, _ := ctx.Value(eventTraces{}).(map[string]trace.SpanContext)
	return m[id]
}

// traceStop makes parent, the trace context of the event that stops r,
// the parent of its release hook's span.
func (n *Node) traceStop(r *run, parent trace.SpanContext) {
	if n.tracer != nil {
		r.w.TraceStop(parent)
	}
}
