package controller

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/skalds-go/skalds/runtime/node"
	"github.com/skalds-go/skalds/runtime/task"
)

// TestAPIRefusesBadInputAndWritesNothing sends what an attacker or a
// careless script would, and checks that each gets a 4xx naming the field
// or the path, and that nothing was written.
func TestAPIRefusesBadInputAndWritesNothing(t *testing.T) {
	e := newEnv(t)
	c := e.startController(nil)
	refused := func(method, path, body string, code int, wantPath, wantMsg string) {
		t.Helper()
		var eb errBody
		got := c.call(t, method, path, "", body, &eb)
		text := eb.Error
		for _, f := range eb.Fields {
			text += " " + f.Path + " " + f.Message
		}
		if got != code || !strings.Contains(text, wantPath) || !strings.Contains(text, wantMsg) {
			t.Errorf("%s %s %.80s: %d %+v; want %d naming %s and %q", method, path, body, got, eb, code, wantPath, wantMsg)
		}
	}

	// Attachments are plain JSON: Extended JSON, operators, dots and NUL
	// in keys and deep nesting are refused with their paths, on every
	// backend (FerretDB refuses dotted keys with a 500, MongoDB stores
	// them where no update can address them).
	deep := strings.Repeat(`{"a":`, 200) + "1" + strings.Repeat("}", 200)
	for _, att := range []struct{ json, path, msg string }{
		{`{"a":{"$numberLong":"5"}}`, `$.a["$numberLong"]`, `may not start with "$"`},
		{`{"$date":0}`, `$["$date"]`, `may not start with "$"`},
		{`{"q":{"$gt":""}}`, `$.q["$gt"]`, "operators"},
		{`{"bad":{"$numberLong":"x"}}`, `$.bad["$numberLong"]`, `"$"`},
		{`{"a\u0000b":1}`, `$["a\u0000b"]`, "NUL"},
		{`{"cam.1":{"url":"x"}}`, `$["cam.1"]`, "rename the key"},
		{`{"streams":{"ok":1,"10.0.0.1":{"fps":5}}}`, `$.streams["10.0.0.1"]`, `may not contain "."`},
		{deep, "$.a.a.a", "nested deeper than 64"},
		{`{"n":1e999}`, "$.n", "out of the range"},
	} {
		refused("POST", "/api/tasks", `{"id":"att-1","className":"Api","attachments":`+att.json+`}`, http.StatusUnprocessableEntity, att.path, att.msg)
	}
	if _, err := e.store.Get(e.ctx, "att-1"); !errors.Is(err, task.ErrNotFound) {
		t.Fatalf("refused attachments were stored: %v", err)
	}
	// Keys that merely look like Extended JSON without the "$" are data.
	var created taskBody
	if code := c.call(t, "POST", "/api/tasks", "", `{"id":"att-2","className":"Api","attachments":{"a":{"numberLong":"5"},"d":{"date":0}}}`, &created); code != 201 ||
		jsonText(created.Attachments) != `{"a":{"numberLong":"5"},"d":{"date":0}}` {
		t.Fatalf("plain attachments: %d %+v", code, created.Attachments)
	}
	for _, att := range []string{`{"a":{"$numberLong":"5"}}`, `{"$where":"1"}`, deep} {
		refused("PUT", "/api/tasks/att-2/attachments", `{"attachments":`+att+`}`, http.StatusUnprocessableEntity, "$", "")
	}
	refused("PUT", "/api/tasks/att-2/attachments", `{"attachments":{"a":{"b.c":1}}}`, http.StatusUnprocessableEntity, `$.a["b.c"]`, "rename the key")

	// Ids have a syntax; Location is escaped.
	for _, id := range []string{strings.Repeat("x", 10<<10), "a\u0000b", "a\nb", "   ", "../../etc/passwd", "$gt", "a?b", "a#b", "a/b"} {
		body, _ := json.Marshal(map[string]string{"id": id, "className": "Api"})
		refused("POST", "/api/tasks", string(body), http.StatusUnprocessableEntity, "id", "task id")
		if _, err := e.store.Get(e.ctx, id); !errors.Is(err, task.ErrNotFound) {
			t.Errorf("refused id %.20q was stored: %v", id, err)
		}
	}
	code, h, _ := c.raw(t, "POST", "/api/tasks", "", `{"id":"cam:1@site","className":"Api"}`)
	if code != 201 || h.Get("Location") != "/api/tasks/"+url.PathEscape("cam:1@site") {
		t.Fatalf("create cam:1@site: %d, Location %q", code, h.Get("Location"))
	}
	if code := c.call(t, "GET", h.Get("Location"), "", nil, nil); code != 200 {
		t.Fatalf("GET Location: %d", code)
	}

	// Bodies decode strictly, PUT like POST: unknown and repeated fields,
	// and wrong types, are refused with their paths.
	refused("PUT", "/api/tasks/att-2/attachments", `{"attachments":{"a":1},"colour":"red"}`, http.StatusUnprocessableEntity, "$.colour", "unknown field")
	refused("PUT", "/api/tasks/att-2/attachments", `{"attachments":{"a":1},"attachments":{"a":2}}`, http.StatusUnprocessableEntity, "$.attachments", "more than once")
	refused("PUT", "/api/tasks/att-2/status", `{"lifecycleStatus":"Cancelled","force":true}`, http.StatusUnprocessableEntity, "$.force", "unknown field")
	refused("POST", "/api/tasks", `{"className":"Api","priority":"high"}`, http.StatusUnprocessableEntity, "$.priority", "expected integer")
	refused("POST", "/api/tasks", `{"className":"Api","class_name":"Other"}`, http.StatusUnprocessableEntity, "$.class_name", "more than once")
	refused("POST", "/api/tasks", `{"className":"Api","dependencies":["a",2]}`, http.StatusUnprocessableEntity, "$.dependencies[1]", "expected string")

	// ?wait= must be a finite duration.
	for _, w := range []string{"1e30", "NaN", "Inf", "+Inf", "-1", "-5s", "soon"} {
		refused("PUT", "/api/tasks/att-2/attachments?wait="+url.QueryEscape(w), `{"attachments":{"a":1}}`, http.StatusBadRequest, "wait", "wait=")
	}
	if d, err := e.store.Get(e.ctx, "att-2"); err != nil || d.AttachmentsVersion != 1 || string(d.Attachments) != `{"a":{"numberLong":"5"},"d":{"date":0}}` {
		t.Fatalf("refused updates changed the task: %v %s", err, describe(d))
	}
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestResetRunsTheTaskAgainAndNeverCancelsIt retries an ended task several
// times: each time the task runs again under a new epoch, on the same node,
// and is never recorded Cancelled (the event that tells the node to look
// again must not read as a cancel, which a node honours). Its worker fails
// with a terminal error, so only the retry, never the dispatcher, runs it
// again.
func TestResetRunsTheTaskAgainAndNeverCancelsIt(t *testing.T) {
	e := newEnv(t)
	e.startNode("reset-node", node.Options{}, newClass("Resettable"))
	c := e.startController(realNodes)
	if code := c.call(t, "POST", "/api/tasks", "", `{"id":"reset-1","className":"Resettable","attachments":{"mode":"terminal"}}`, nil); code != 201 {
		t.Fatalf("create: %d", code)
	}
	ended := func(round int, after int64) *task.Task {
		return e.waitTask("reset-1", "failed again", func(d *task.Task) bool {
			if d.LifecycleStatus == task.Cancelled {
				t.Fatalf("round %d: the retried task was cancelled: %s", round, describe(d))
			}
			return d.LifecycleStatus == task.Failed && d.AssignmentEpoch > after
		})
	}
	d := ended(-1, 0)
	for round := range 4 {
		if code := c.call(t, "PUT", "/api/tasks/reset-1/status", "", `{"lifecycleStatus":"Created"}`, nil); code != 200 {
			t.Fatalf("round %d: retry: %d", round, code)
		}
		d = ended(round, d.AssignmentEpoch)
	}
}
