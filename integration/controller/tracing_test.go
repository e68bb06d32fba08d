package controller

import (
	"context"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	ctl "github.com/skalds-go/skalds/controller"
	"github.com/skalds-go/skalds/controller/api/wire"
	"github.com/skalds-go/skalds/runtime/node"
	"github.com/skalds-go/skalds/skaldtest"
)

// TestTracingDispatchAndAPI runs a traced controller and a traced node:
// the dispatcher's assignment is the parent of the start hooks it
// causes, and an update through the API of the update hook's span.
func TestTracingDispatchAndAPI(t *testing.T) {
	e := newEnv(t)
	rec := skaldtest.NewSpans()
	t.Cleanup(func() { _ = rec.Provider.Shutdown(context.Background()) })
	e.startNode("traced-node", node.Options{TracerProvider: rec.Provider}, newClass("Traced"))
	c := e.startControllerWith(nil, ctl.Options{TracerProvider: rec.Provider})
	ctx, cancel := context.WithTimeout(e.ctx, 30*time.Second)
	defer cancel()
	await := func(what string, ok func(sdktrace.ReadOnlySpan) bool) sdktrace.ReadOnlySpan {
		t.Helper()
		sp, err := rec.Await(ctx, ok)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return sp
	}

	e.create("traced-1", "Traced", 0)
	init := await("the init span", skaldtest.Span("skalds.hook.init", "traced-1"))
	assign := await("the dispatcher's assign span, parent of init", func(sp sdktrace.ReadOnlySpan) bool {
		return sp.Name() == "skalds.assign" && skaldtest.RemoteChild(init, sp) == nil
	})
	if n := skaldtest.Attr(assign, "skalds.tasks").AsInt64(); n < 1 {
		t.Fatalf("assign span counts %d tasks", n)
	}

	var up updateBody
	if code := c.call(t, "PUT", "/api/tasks/traced-1/attachments?wait=10s", c.token,
		map[string]any{"attachments": map[string]any{"mode": "still"}}, &up); code != 200 || up.Data.State != wire.StateApplied {
		t.Fatalf("update through the API: %d %+v", code, up)
	}
	update := await("the API's update span", skaldtest.Span("skalds.update", "traced-1"))
	hook := await("the update hook's span", skaldtest.Span("skalds.hook.update", "traced-1"))
	if err := skaldtest.RemoteChild(hook, update); err != nil {
		t.Fatal(err)
	}
}
