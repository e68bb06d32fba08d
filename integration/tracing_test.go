package integration

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/skalds-go/skalds/runtime/client"
	"github.com/skalds-go/skalds/runtime/event"
	"github.com/skalds-go/skalds/runtime/node"
	"github.com/skalds-go/skalds/runtime/skald"
	"github.com/skalds-go/skalds/skaldtest"
)

// tracedEnv is newEnv with spans recorded, and a client that traces
// into them.
func tracedEnv(t *testing.T) (*env, *skaldtest.Spans, *client.Client) {
	e := newEnv(t)
	rec := skaldtest.NewSpans()
	t.Cleanup(func() { _ = rec.Provider.Shutdown(context.Background()) })
	c, err := client.NewWith(e.ctx, e.cfg, client.Options{TracerProvider: rec.Provider})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return e, rec, c
}

// span awaits the ended span name of task id that every one of ok accepts.
func span(t *testing.T, rec *skaldtest.Spans, name, id string, ok ...func(sdktrace.ReadOnlySpan) bool) sdktrace.ReadOnlySpan {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	sp, err := rec.Await(ctx, func(sp sdktrace.ReadOnlySpan) bool {
		if !skaldtest.Span(name, id)(sp) {
			return false
		}
		for _, f := range ok {
			if !f(sp) {
				return false
			}
		}
		return true
	})
	if err != nil {
		t.Fatalf("span %s of task %s: %v", name, id, err)
	}
	return sp
}

// childOf fails the test unless node's parent is client, over Kafka.
func childOf(t *testing.T, node, client sdktrace.ReadOnlySpan) {
	t.Helper()
	if err := skaldtest.RemoteChild(node, client); err != nil {
		t.Fatal(err)
	}
}

// TestTracingClientToHooks follows one task through a traced client and a
// traced node: the assign, each update and the cancel are each one trace,
// from the client's span to the span of the hook they caused, with the
// task's attributes, and a rejected update is an error in its trace.
func TestTracingClientToHooks(t *testing.T) {
	e, rec, c := tracedEnv(t)
	cls := newClass("Traced", &probe{})
	// Value 99 stands for a //skald:restart field.
	cls.Changes = func(old, next params) skald.Change { return skald.Change{Restart: next.Value == 99 && old.Value != 99} }
	tasks := client.NewTyped(c, cls)
	rn := e.startNode("traced", node.Options{TracerProvider: rec.Provider}, nil, cls)
	id := e.id("traced")

	// create -> assign -> the start hooks.
	if err := tasks.Create(e.ctx, id, params{Mode: "wait"}); err != nil {
		t.Fatal(err)
	}
	epoch, err := tasks.Assign(e.ctx, id, rn.n.ID())
	if err != nil {
		t.Fatal(err)
	}
	create := span(t, rec, "skalds.create", id)
	assign := span(t, rec, "skalds.assign", id)
	if assign.SpanKind() != trace.SpanKindProducer || skaldtest.Attr(assign, "skalds.task.epoch").AsInt64() != epoch {
		t.Fatalf("assign span: kind %v, attributes %v", assign.SpanKind(), assign.Attributes())
	}
	if skaldtest.Attr(create, "skalds.task.class").AsString() != "Traced" {
		t.Fatalf("create span attributes %v: want the class", create.Attributes())
	}
	init := span(t, rec, "skalds.hook.init", id)
	childOf(t, init, assign)
	if skaldtest.Attr(init, "skalds.task.class").AsString() != "Traced" || skaldtest.Attr(init, "skalds.task.epoch").AsInt64() != epoch ||
		skaldtest.Attr(init, "skalds.node.id").AsString() != rn.n.ID() || skaldtest.Attr(init, "skalds.attachments.version").AsInt64() != 1 {
		t.Fatalf("init span attributes %v: want class, epoch, node and version", init.Attributes())
	}
	e.running(id, rn, epoch)

	// One update is one trace: the client's span and the update hook's.
	v, err := tasks.Update(e.ctx, id, params{Mode: "wait", Value: 2})
	if err != nil {
		t.Fatal(err)
	}
	if err := tasks.WaitApplied(e.ctx, id, v); err != nil {
		t.Fatal(err)
	}
	at := func(v int64) func(sdktrace.ReadOnlySpan) bool {
		return func(sp sdktrace.ReadOnlySpan) bool {
			return skaldtest.Attr(sp, "skalds.attachments.version").AsInt64() == v
		}
	}
	update := span(t, rec, "skalds.update", id, at(v))
	applied := span(t, rec, "skalds.hook.update", id, at(v))
	childOf(t, applied, update)
	if applied.Status().Code == codes.Error {
		t.Fatalf("applied update span has error status %v", applied.Status())
	}

	// A rejected update is an error in the trace of the call that made it.
	v, err = tasks.Update(e.ctx, id, params{Mode: "refuse"})
	if err != nil {
		t.Fatal(err)
	}
	var rej *client.RejectedError
	if err := tasks.WaitApplied(e.ctx, id, v); !errors.As(err, &rej) {
		t.Fatalf("WaitApplied of a refused update: %v", err)
	}
	update = span(t, rec, "skalds.update", id, at(v))
	refused := span(t, rec, "skalds.hook.update", id, at(v))
	childOf(t, refused, update)
	if refused.Status().Code != codes.Error || !contains(refused.Status().Description, "refuses mode refuse") || len(refused.Events()) == 0 {
		t.Fatalf("refused update span: status %v, events %v; want the error recorded", refused.Status(), refused.Events())
	}

	// The first main, which the restart below ends, is in the start's trace.
	firstMain := func(sp sdktrace.ReadOnlySpan) bool { return skaldtest.RemoteChild(sp, assign) == nil }

	// An update that restarts the worker stays one trace: the new
	// instance's init is a child of the update hook's span that asked
	// for the restart.
	v, err = tasks.Update(e.ctx, id, params{Mode: "wait", Value: 99})
	if err != nil {
		t.Fatal(err)
	}
	if err := tasks.WaitApplied(e.ctx, id, v); err != nil {
		t.Fatal(err)
	}
	update = span(t, rec, "skalds.update", id, at(v))
	restart := span(t, rec, "skalds.hook.update", id, at(v))
	childOf(t, restart, update)
	if !skaldtest.Attr(restart, "skalds.update.restart").AsBool() {
		t.Fatalf("restarting update span attributes %v: want skalds.update.restart", restart.Attributes())
	}
	again := span(t, rec, "skalds.hook.init", id, at(v))
	if p := again.Parent(); p.SpanID() != restart.SpanContext().SpanID() || p.TraceID() != update.SpanContext().TraceID() {
		t.Fatalf("the restarted init's parent is %s/%s; want the restarting update span %s/%s",
			p.TraceID(), p.SpanID(), restart.SpanContext().TraceID(), restart.SpanContext().SpanID())
	}
	span(t, rec, "skalds.hook.main", id, firstMain)

	// cancel -> release of the running instance.
	if err := tasks.Cancel(e.ctx, id); err != nil {
		t.Fatal(err)
	}
	cancel := span(t, rec, "skalds.cancel", id)
	span(t, rec, "skalds.hook.release", id, func(sp sdktrace.ReadOnlySpan) bool { return skaldtest.RemoteChild(sp, cancel) == nil })
}

// TestTracingHeaders reads the records that clients publish: a traced
// client's carry the W3C traceparent of its span, an untraced client's
// carry no header at all, which is also what Python producers send and
// Python consumers expect.
func TestTracingHeaders(t *testing.T) {
	e, rec, traced := tracedEnv(t)
	cls := newClass("Headers", &probe{})
	plain, withTrace := e.id("plain"), e.id("with-trace")
	e.create(plain, cls, params{})
	e.create(withTrace, cls, params{})
	if _, err := e.client.Assign(e.ctx, plain, "nobody"); err != nil {
		t.Fatal(err)
	}
	if _, err := traced.Assign(e.ctx, withTrace, "nobody"); err != nil {
		t.Fatal(err)
	}
	assign := span(t, rec, "skalds.assign", withTrace)

	r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{e.stack.KafkaAddr}, GroupID: e.id("headers"),
		GroupTopics: []string{event.TopicAssign}, StartOffset: kafka.FirstOffset, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	ctx, cancel := context.WithTimeout(e.ctx, deadline)
	defer cancel()
	got := map[string][]kafka.Header{}
	for len(got) < 2 {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("reading task.assign: %v (read %d of 2)", err, len(got))
		}
		if k := string(m.Key); k == plain || k == withTrace {
			got[k] = m.Headers
		}
	}
	if len(got[plain]) != 0 {
		t.Fatalf("an untraced client's record has headers %v; want none", got[plain])
	}
	sc := assign.SpanContext()
	want := "00-" + sc.TraceID().String() + "-" + sc.SpanID().String() + "-01"
	if len(got[withTrace]) != 1 || got[withTrace][0].Key != event.HeaderTraceparent || string(got[withTrace][0].Value) != want {
		t.Fatalf("a traced client's record has headers %v; want traceparent %s", got[withTrace], want)
	}
}
