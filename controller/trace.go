package controller

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/skalds-go/skalds/internal/telemetry"
	"github.com/skalds-go/skalds/runtime/event"
)

// tracedPublisher makes each event the controller publishes a span whose
// trace context the event carries, so that the hooks a node runs for an
// assignment of the dispatcher or a change made through the API are spans
// of its trace, as they are of a client's.
type tracedPublisher struct {
	pub    *event.Publisher
	tracer trace.Tracer
}

// spanNames are the span names of the events by topic, the names the
// client gives its calls that publish them.
var spanNames = map[string]string{
	event.TopicAssign:           "skalds.assign",
	event.TopicUpdateAttachment: "skalds.update",
	event.TopicCancel:           "skalds.cancel",
}

func spanName(topic string) string {
	if n, ok := spanNames[topic]; ok {
		return n
	}
	return "skalds.publish " + topic
}

func (p tracedPublisher) Publish(ctx context.Context, topic string, e event.TaskEvent) (err error) {
	id := ""
	if len(e.TaskIDs) > 0 {
		id = e.TaskIDs[0]
	}
	ctx, sp := telemetry.Start(ctx, p.tracer, spanName(topic), trace.SpanKindProducer, id, "")
	defer func() { sp.End(err) }()
	return p.pub.Publish(ctx, topic, e)
}

// PublishMany is one span for the batch, which one dispatch cycle
// publishes: every task of it is in one trace.
func (p tracedPublisher) PublishMany(ctx context.Context, topic string, events ...event.TaskEvent) (err error) {
	ctx, sp := telemetry.StartAttrs(ctx, p.tracer, spanName(topic), trace.SpanKindProducer,
		attribute.Int("skalds.tasks", len(events)))
	defer func() { sp.End(err) }()
	return p.pub.PublishMany(ctx, topic, events...)
}
