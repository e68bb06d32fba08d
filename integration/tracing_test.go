package integration

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/skalds-go/skalds/runtime/client"
	"github.com/skalds-go/skalds/runtime/event"
	"github.com/skalds-go/skalds/runtime/node"
)

// spans records ended spans and lets a test await one.
type spans struct {
	*tracetest.SpanRecorder
	mu      sync.Mutex
	changed chan struct{} // closed and replaced when a span ends
}

func newSpans() (*spans, *sdktrace.TracerProvider) {
	s := &spans{SpanRecorder: tracetest.NewSpanRecorder(), changed: make(chan struct{})}
	return s, sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(s))
}

func (s *spans) OnEnd(sp sdktrace.ReadOnlySpan) {
	s.SpanRecorder.OnEnd(sp)
	s.mu.Lock()
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
}

// await returns the first ended span named name whose task id is id and
// that matches ok (nil: any).
func (s *spans) await(t *testing.T, name, id string, ok func(sdktrace.ReadOnlySpan) bool) sdktrace.ReadOnlySpan {
	t.Helper()
	timeout := time.After(deadline)
	for {
		s.mu.Lock()
		changed := s.changed
		s.mu.Unlock()
		for _, sp := range s.Ended() {
			if sp.Name() == name && attr(sp, "skalds.task.id").AsString() == id && (ok == nil || ok(sp)) {
				return sp
			}
		}
		select {
		case <-changed:
		case <-timeout:
			var names []string
			for _, sp := range s.Ended() {
				names = append(names, sp.Name())
			}
			t.Fatalf("no span %s of task %s ended; ended: %v", name, id, names)
		}
	}
}

func attr(sp sdktrace.ReadOnlySpan, key string) attribute.Value {
	for _, kv := range sp.Attributes() {
		if string(kv.Key) == key {
			return kv.Value
		}
	}
	return attribute.Value{}
}

// tracedEnv is newEnv with a tracer provider whose spans rec records, and
// a client that traces with it.
func tracedEnv(t *testing.T) (*env, *spans, *sdktrace.TracerProvider, *client.Client) {
	e := newEnv(t)
	rec, tp := newSpans()
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	c, err := client.NewWith(e.ctx, e.cfg, client.Options{TracerProvider: tp})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return e, rec, tp, c
}

// childOf fails the test unless node is a child of client: same trace,
// its parent the client's span, carried over Kafka (remote).
func childOf(t *testing.T, node, client sdktrace.ReadOnlySpan) {
	t.Helper()
	p := node.Parent()
	if p.TraceID() != client.SpanContext().TraceID() || p.SpanID() != client.SpanContext().SpanID() || !p.IsRemote() {
		t.Fatalf("span %s has parent %s/%s (remote %v); want %s's %s/%s, remote", node.Name(),
			p.TraceID(), p.SpanID(), p.IsRemote(), client.Name(), client.SpanContext().TraceID(), client.SpanContext().SpanID())
	}
}

// TestTracingClientToHooks follows one task through a traced client and a
// traced node: the assign, each update and the cancel are each one trace,
// from the client's span to the span of the hook they caused, with the
// task's attributes, and a rejected update is an error in its trace.
func TestTracingClientToHooks(t *testing.T) {
	e, rec, tp, c := tracedEnv(t)
	cls := newClass("Traced", &probe{})
	tasks := client.NewTyped(c, cls)
	rn := e.startNode("traced", node.Options{TracerProvider: tp}, nil, cls)
	id := e.id("traced")

	// create -> assign -> the start hooks.
	if err := tasks.Create(e.ctx, id, params{Mode: "wait"}); err != nil {
		t.Fatal(err)
	}
	epoch, err := tasks.Assign(e.ctx, id, rn.n.ID())
	if err != nil {
		t.Fatal(err)
	}
	create := rec.await(t, "skalds.create", id, nil)
	assign := rec.await(t, "skalds.assign", id, nil)
	if assign.SpanKind() != trace.SpanKindProducer || attr(assign, "skalds.task.epoch").AsInt64() != epoch {
		t.Fatalf("assign span: kind %v, attributes %v", assign.SpanKind(), assign.Attributes())
	}
	if attr(create, "skalds.task.class").AsString() != "Traced" {
		t.Fatalf("create span attributes %v: want the class", create.Attributes())
	}
	init := rec.await(t, "skalds.hook.init", id, nil)
	childOf(t, init, assign)
	if attr(init, "skalds.task.class").AsString() != "Traced" || attr(init, "skalds.task.epoch").AsInt64() != epoch ||
		attr(init, "skalds.node.id").AsString() != rn.n.ID() || attr(init, "skalds.attachments.version").AsInt64() != 1 {
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
		return func(sp sdktrace.ReadOnlySpan) bool { return attr(sp, "skalds.attachments.version").AsInt64() == v }
	}
	update := rec.await(t, "skalds.update", id, at(v))
	applied := rec.await(t, "skalds.hook.update", id, at(v))
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
	update = rec.await(t, "skalds.update", id, at(v))
	refused := rec.await(t, "skalds.hook.update", id, at(v))
	childOf(t, refused, update)
	if refused.Status().Code != codes.Error || !contains(refused.Status().Description, "refuses mode refuse") || len(refused.Events()) == 0 {
		t.Fatalf("refused update span: status %v, events %v; want the error recorded", refused.Status(), refused.Events())
	}

	// cancel -> release; main, which the cancel ended, is in the start's trace.
	if err := tasks.Cancel(e.ctx, id); err != nil {
		t.Fatal(err)
	}
	cancel := rec.await(t, "skalds.cancel", id, nil)
	release := rec.await(t, "skalds.hook.release", id, nil)
	childOf(t, release, cancel)
	childOf(t, rec.await(t, "skalds.hook.main", id, nil), assign)
}

// TestTracingHeaders reads the records that clients publish: a traced
// client's carry the W3C traceparent of its span, an untraced client's
// carry no header at all, which is also what Python producers send and
// Python consumers expect.
func TestTracingHeaders(t *testing.T) {
	e, rec, _, traced := tracedEnv(t)
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
	assign := rec.await(t, "skalds.assign", withTrace, nil)

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
