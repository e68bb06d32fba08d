package event

import (
	"context"

	"github.com/segmentio/kafka-go"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// The record headers that carry W3C trace context (traceparent and
// tracestate), written only when Broker.Trace is set. Python Skalds
// consumers ignore headers, and Python producers send none: their events
// start no trace, and nothing else about them changes.
const (
	HeaderTraceparent = "traceparent"
	HeaderTracestate  = "tracestate"
)

// traceContext is the W3C Trace Context propagator, used directly rather
// than the global one: the header format is part of the wire contract,
// not a process-wide setting.
var traceContext propagation.TraceContext

// headers is a propagation.TextMapCarrier over a record's headers.
type headers struct{ h *[]kafka.Header }

func (c headers) Get(key string) string {
	for _, h := range *c.h {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

func (c headers) Set(key, value string) {
	for i, h := range *c.h {
		if h.Key == key {
			(*c.h)[i].Value = []byte(value)
			return
		}
	}
	*c.h = append(*c.h, kafka.Header{Key: key, Value: []byte(value)})
}

func (c headers) Keys() []string {
	keys := make([]string, len(*c.h))
	for i, h := range *c.h {
		keys[i] = h.Key
	}
	return keys
}

// traceHeaders returns the trace context headers of the span in ctx, or
// nil when ctx has none.
func traceHeaders(ctx context.Context) []kafka.Header {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return nil
	}
	var h []kafka.Header
	traceContext.Inject(ctx, headers{&h})
	return h
}

// remoteTrace returns the span context that m's headers carry, or the
// zero SpanContext when they carry none or a malformed one.
func remoteTrace(m *kafka.Message) trace.SpanContext {
	if len(m.Headers) == 0 {
		return trace.SpanContext{}
	}
	return trace.SpanContextFromContext(traceContext.Extract(context.Background(), headers{&m.Headers}))
}
