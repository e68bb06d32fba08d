package controller

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	ctl "github.com/skalds-go/skalds/controller"
	"github.com/skalds-go/skalds/controller/api/wire"
	"github.com/skalds-go/skalds/runtime/node"
	"github.com/skalds-go/skalds/runtime/task"
)

// The API's bodies, decoded into the API's own types.
type (
	errBody    = wire.Error
	taskBody   = wire.Task
	updateBody = wire.Success[wire.AttachmentsUpdate]
	// successBody is the envelope of the answers whose data a test reads
	// by key.
	successBody = wire.Success[map[string]any]
)

// attachmentsOf decodes a task's attachments.
func attachmentsOf(t *testing.T, tb taskBody) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(tb.Attachments, &m); err != nil {
		t.Fatalf("attachments of %s: %v", tb.ID, err)
	}
	return m
}

func TestAPITasks(t *testing.T) {
	e := newEnv(t)
	// Created tasks stay put: no node can run class Api.
	c := e.startController(nil)
	tk := ""

	// Create.
	var created taskBody
	if code := c.call(t, "POST", "/api/tasks", tk, map[string]any{
		"id": "api-1", "className": "Api", "priority": 7, "attachments": map[string]any{"url": "rtsp://x", "n": 1},
	}, &created); code != http.StatusCreated {
		t.Fatalf("create: %d", code)
	}
	if created.ID != "api-1" || created.LifecycleStatus != "Created" || created.Mode != "Passive" || created.Priority != 7 ||
		attachmentsOf(t, created)["url"] != "rtsp://x" || created.AttachmentsVersion != 1 {
		t.Errorf("created %+v", created)
	}
	var generated taskBody
	if code := c.call(t, "POST", "/api/tasks/", tk, `{"class_name":"Api"}`, &generated); code != http.StatusCreated ||
		!strings.HasPrefix(generated.ID, "task-") || generated.Attachments == nil {
		t.Errorf("create with a generated id and no attachments: %d %+v", code, generated)
	}
	var eb errBody
	if code := c.call(t, "POST", "/api/tasks", tk, map[string]any{"id": "api-1", "className": "Api"}, &eb); code != http.StatusConflict || eb.StatusCode != 409 {
		t.Errorf("duplicate id: %d %+v", code, eb)
	}
	eb = errBody{}
	if code := c.call(t, "POST", "/api/tasks", tk, map[string]any{"priority": 11, "attachments": []int{1}, "mode": "Active"}, &eb); code != http.StatusUnprocessableEntity || len(eb.Fields) != 4 {
		t.Errorf("invalid create: %d %+v", code, eb)
	}
	eb = errBody{}
	if code := c.call(t, "POST", "/api/tasks", tk, map[string]any{"className": "Api", "colour": "red"}, &eb); code != http.StatusUnprocessableEntity {
		t.Errorf("unknown field: %d %+v", code, eb)
	}
	// A task written without attachments by other tooling lists fine.
	raw := newDoc("api-null", "Other", "")
	raw.Attachments = nil
	if err := e.store.Create(e.ctx, raw); err != nil {
		t.Fatal(err)
	}

	// List, filters, paging.
	var page struct {
		Items    []taskBody `json:"items"`
		Total    int        `json:"total"`
		Page     int        `json:"page"`
		PageSize int        `json:"pageSize"`
	}
	if code := c.call(t, "GET", "/api/tasks/?pageSize=2", tk, nil, &page); code != 200 || page.Total != 3 || len(page.Items) != 2 || page.Page != 1 || page.PageSize != 2 {
		t.Errorf("list page 1: %d %+v", code, page)
	}
	if code := c.call(t, "GET", "/api/tasks?pageSize=2&page=2", tk, nil, &page); code != 200 || len(page.Items) != 1 {
		t.Errorf("list page 2: %d %+v", code, page)
	}
	if code := c.call(t, "GET", "/api/tasks?className=othe", tk, nil, &page); code != 200 || page.Total != 1 || page.Items[0].ID != "api-null" || page.Items[0].Attachments == nil {
		t.Errorf("class filter: %d %+v", code, page)
	}
	if code := c.call(t, "GET", "/api/tasks?id=API-1&lifecycleStatus=created", tk, nil, &page); code != 200 || page.Total != 1 {
		t.Errorf("id and status filter: %d %+v", code, page)
	}
	if code := c.call(t, "GET", "/api/tasks?id=.*", tk, nil, &page); code != 200 || page.Total != 0 {
		t.Errorf("a filter is literal, not a pattern: %d total %d", code, page.Total)
	}
	for _, q := range []string{"page=0", "pageSize=101", "pageSize=x"} {
		if code := c.call(t, "GET", "/api/tasks?"+q, tk, nil, &eb); code != http.StatusUnprocessableEntity {
			t.Errorf("%s: %d", q, code)
		}
	}

	// Class names, detail, 404.
	var names []string
	if code := c.call(t, "GET", "/api/tasks/classnames", tk, nil, &names); code != 200 || fmt.Sprint(names) != "[Api Other]" {
		t.Errorf("classnames: %d %v", code, names)
	}
	var one taskBody
	if code := c.call(t, "GET", "/api/tasks/api-1", tk, nil, &one); code != 200 || one.ID != "api-1" || attachmentsOf(t, one)["n"] != 1.0 {
		t.Errorf("detail: %d %+v", code, one)
	}
	eb = errBody{}
	if code := c.call(t, "GET", "/api/tasks/nope", tk, nil, &eb); code != 404 || !strings.Contains(eb.Error, `"nope" not found`) || eb.Path != "/api/tasks/nope" {
		t.Errorf("missing task: %d %+v", code, eb)
	}

	// Attachments: stored (no worker), version bumped; bad bodies refused.
	var up updateBody
	if code := c.call(t, "PUT", "/api/tasks/api-1/attachments?wait=1s", tk, map[string]any{"attachments": map[string]any{"n": 2}}, &up); code != 200 ||
		up.Data.State != wire.StateStored || up.Data.AttachmentsVersion != 2 {
		t.Errorf("update attachments: %d %+v", code, up)
	}
	var ok successBody
	for _, body := range []string{`{"attachments":[1]}`, `{}`, `not json`} {
		if code := c.call(t, "PUT", "/api/tasks/api-1/attachments", tk, body, &eb); code != http.StatusUnprocessableEntity {
			t.Errorf("attachments body %s: %d", body, code)
		}
	}
	if code := c.call(t, "PUT", "/api/tasks/api-1/attachments?wait=soon", tk, `{"attachments":{}}`, &eb); code != http.StatusBadRequest {
		t.Errorf("bad wait: %d", code)
	}
	if code := c.call(t, "PUT", "/api/tasks/nope/attachments", tk, `{"attachments":{}}`, &eb); code != 404 {
		t.Errorf("attachments of a missing task: %d", code)
	}

	// Heartbeat of a task no node runs.
	var hb map[string]any
	if code := c.call(t, "GET", "/api/tasks/api-1/heartbeat", tk, nil, &hb); code != 200 || hb["isAlive"] != false || hb["status"] != "Created" {
		t.Errorf("heartbeat: %d %v", code, hb)
	}

	// Status changes.
	if code := c.call(t, "PUT", "/api/tasks/api-1/status", tk, map[string]any{"lifecycleStatus": "Running"}, &eb); code != http.StatusUnprocessableEntity {
		t.Errorf("status Running: %d", code)
	}
	if code := c.call(t, "PUT", "/api/tasks/api-1/status", tk, map[string]any{"lifecycle_status": "Cancelled"}, &ok); code != 200 || ok.Data["status"] != "Cancelled" {
		t.Errorf("cancel: %d %+v", code, ok)
	}
	if code := c.call(t, "DELETE", "/api/tasks/api-1", tk, nil, &ok); code != 200 || !ok.Success {
		t.Errorf("cancel again (idempotent): %d %+v", code, ok)
	}
	if code := c.call(t, "PUT", "/api/tasks/api-1/status", tk, map[string]any{"lifecycleStatus": "Created"}, &ok); code != 200 {
		t.Errorf("reset: %d %+v", code, ok)
	}
	d, err := e.store.Get(e.ctx, "api-1")
	if err != nil {
		t.Fatal(err)
	}
	if d.LifecycleStatus != task.Created || d.Executor != nil || d.AssignmentEpoch != 1 {
		t.Errorf("after reset: %s", describe(d))
	}
	if code := c.call(t, "DELETE", "/api/tasks/nope", tk, nil, &eb); code != 404 {
		t.Errorf("delete missing: %d", code)
	}
	e.setStatus(generated.ID, task.Finished, "")
	if code := c.call(t, "DELETE", "/api/tasks/"+generated.ID, tk, nil, &eb); code != http.StatusConflict {
		t.Errorf("cancel a finished task: %d %+v", code, eb)
	}

	// Summary and unknown routes.
	var sum map[string]any
	if code := c.call(t, "GET", "/api/system/dashboard/summary", tk, nil, &sum); code != 200 || sum["totalTasks"] != 3.0 || sum["finishedTasks"] != 1.0 || sum["createdTasks"] != 2.0 {
		t.Errorf("summary: %d %v", code, sum)
	}
	if code := c.call(t, "GET", "/api/nothing", tk, nil, &eb); code != 404 {
		t.Errorf("unknown route: %d", code)
	}
}

func TestAPIAttachmentUpdateWaitsForTheWorker(t *testing.T) {
	e := newEnv(t)
	e.startNode("wait-node", node.Options{}, newClass("Waiter"))
	c := e.startController(realNodes)
	var created taskBody
	if code := c.call(t, "POST", "/api/tasks", "", map[string]any{"id": "w1", "className": "Waiter", "attachments": map[string]any{"mode": "wait"}}, &created); code != 201 {
		t.Fatalf("create: %d", code)
	}
	e.waitTask("w1", "Running", func(d *task.Task) bool { return d.LifecycleStatus == task.Running })
	var res updateBody
	if code := c.call(t, "PUT", "/api/tasks/w1/attachments?wait=5s", "", map[string]any{"attachments": map[string]any{"mode": "next"}}, &res); code != 200 ||
		res.Data.State != wire.StateApplied || res.Data.AppliedAttachmentsVersion != 2 {
		t.Errorf("applied update: %d %+v", code, res)
	}
	// The worker's update hook refuses mode "reject": the answer is 422
	// with the rejection, and the worker keeps running.
	res = updateBody{}
	if code := c.call(t, "PUT", "/api/tasks/w1/attachments?wait=5s", "", map[string]any{"attachments": map[string]any{"mode": "reject"}}, &res); code != http.StatusUnprocessableEntity ||
		res.Success || res.Data.State != wire.StateRejected || res.Data.Rejection == nil {
		t.Errorf("rejected update: %d %+v", code, res)
	}
	if d, _ := e.store.Get(e.ctx, "w1"); d == nil || d.LifecycleStatus != task.Running {
		t.Errorf("after a rejected update the task is %s", describe(d))
	}
	// A wait that ends before the worker answers is no failure: the write
	// succeeded, so the answer is 202 with the version to poll for.
	code, h, body := c.raw(t, "PUT", "/api/tasks/w1/attachments?wait=1ms", "", `{"attachments":{"mode":"later"}}`)
	res = updateBody{}
	if err := json.Unmarshal(body, &res); err != nil || code != http.StatusAccepted || res.Data.State != wire.StatePending ||
		res.Data.AttachmentsVersion != 4 || h.Get("Location") != "/api/tasks/w1" || !strings.Contains(res.Message, "version 4") {
		t.Errorf("update with a wait too short: %d %s %v", code, body, err)
	}
	e.waitTask("w1", "version 4 applied", func(d *task.Task) bool { return d.AppliedAttachmentsVersion >= 4 })
}

// idsOf lists the ids of tasks, sorted.
func idsOf(ts []taskBody) []string {
	ids := make([]string, len(ts))
	for i, t := range ts {
		ids[i] = t.ID
	}
	sort.Strings(ids)
	return ids
}

// Retry (PUT status Created) is for tasks that have ended: on a running
// task it is refused with 409 and nothing is written, where it used to
// restart the task under a new epoch.
func TestAPIRetryOnlyForEndedTasks(t *testing.T) {
	e := newEnv(t)
	e.startNode("retry-node", node.Options{}, newClass("Retried"))
	c := e.startController(realNodes)
	if code := c.call(t, "POST", "/api/tasks", "", map[string]any{"id": "r1", "className": "Retried", "attachments": map[string]any{"mode": "wait"}}, nil); code != 201 {
		t.Fatalf("create: %d", code)
	}
	before := e.waitTask("r1", "Running", func(d *task.Task) bool { return d.LifecycleStatus == task.Running })
	// The running task's beat has a time, and its class is served; a task
	// of a class no online node registered is flagged unserved.
	var one taskBody
	if code := c.call(t, "GET", "/api/tasks/r1", "", nil, &one); code != 200 || one.Unserved {
		t.Errorf("served task: %d %+v", code, one)
	}
	e.waitTask("r1", "a beat the controller saw", func(*task.Task) bool {
		one = taskBody{}
		c.call(t, "GET", "/api/tasks/r1", "", nil, &one)
		return one.LastBeat != nil && time.Since(time.UnixMilli(*one.LastBeat)) < time.Minute
	})
	var orphan taskBody
	if code := c.call(t, "POST", "/api/tasks", "", map[string]any{"id": "r-orphan", "className": "Nobody"}, &orphan); code != 201 || !orphan.Unserved || orphan.LastBeat != nil {
		t.Errorf("task of a class no node serves: %d %+v", code, orphan)
	}
	// One search across id, class, node and status, literal.
	for q, want := range map[string]string{"retry-NODE": "[r1]", "nobody": "[r-orphan]", "runn": "[r1]", "r": "[r-orphan r1]", ".*": "[]"} {
		var page wire.TaskList
		if code := c.call(t, "GET", "/api/tasks?q="+url.QueryEscape(q), "", nil, &page); code != 200 || fmt.Sprint(idsOf(page.Items)) != want {
			t.Errorf("search %q: %d %v, want %s", q, code, idsOf(page.Items), want)
		}
	}
	var eb errBody
	if code := c.call(t, "GET", "/api/tasks?q="+strings.Repeat("x", 257), "", nil, &eb); code != http.StatusUnprocessableEntity || len(eb.Fields) != 1 || eb.Fields[0].Path != "q" {
		t.Errorf("a search too long: %d %+v", code, eb)
	}
	if code := c.call(t, "PUT", "/api/tasks/r1/status", "", map[string]any{"lifecycleStatus": "Created"}, &eb); code != http.StatusConflict ||
		!strings.Contains(eb.Error, "is Running") || !strings.Contains(eb.Error, "nothing was changed") {
		t.Errorf("retry of a running task: %d %+v", code, eb)
	}
	if d, _ := e.store.Get(e.ctx, "r1"); d == nil || d.LifecycleStatus != task.Running || d.AssignmentEpoch != before.AssignmentEpoch ||
		d.Attempts != before.Attempts || d.UpdateDateTime != before.UpdateDateTime {
		t.Errorf("a refused retry changed the task: %s, was %s", describe(d), describe(before))
	}
	// Cancelled, it ends, and a retry runs it again under a new epoch.
	if code := c.call(t, "DELETE", "/api/tasks/r1", "", nil, nil); code != 200 {
		t.Fatalf("cancel: %d", code)
	}
	e.waitTask("r1", "Cancelled", func(d *task.Task) bool { return d.LifecycleStatus == task.Cancelled })
	if code := c.call(t, "PUT", "/api/tasks/r1/status", "", map[string]any{"lifecycleStatus": "Created"}, nil); code != 200 {
		t.Errorf("retry of a cancelled task: %d", code)
	}
	e.waitTask("r1", "running again", func(d *task.Task) bool {
		return d.LifecycleStatus == task.Running && d.AssignmentEpoch > before.AssignmentEpoch
	})
}

func TestAPISkaldsAndHealth(t *testing.T) {
	e := newEnv(t)
	e.fakeNode("sk-1", "node", "A", "B")
	e.fakeNode("sk-edge", "edge", "A")
	if err := e.writeNode("sk-old", "node", time.Now().Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	e.create("on-sk1", "A", 0)
	c := e.startController(nil)
	e.assignedTo("on-sk1")

	var list wire.SkaldList
	if code := c.call(t, "GET", "/api/skalds/", "", nil, &list); code != 200 || list.Total != 3 || list.Items[0].ID != "sk-1" {
		t.Fatalf("skalds: %d %+v", code, list)
	}
	if s := list.Items[0]; s.Type != "node" || s.Status != "online" || s.LastHeartbeat == 0 || fmt.Sprint(s.SupportedTasks) != "[A B]" || s.CurrentTasks == nil {
		t.Errorf("sk-1: %+v", s)
	}
	if code := c.call(t, "GET", "/api/skalds?status=offline", "", nil, &list); code != 200 || list.Total != 1 || list.Items[0].ID != "sk-old" {
		t.Errorf("offline filter: %d %+v", code, list)
	}
	if code := c.call(t, "GET", "/api/skalds?type=edge", "", nil, &list); code != 200 || list.Total != 1 || list.Items[0].ID != "sk-edge" {
		t.Errorf("type filter: %d %+v", code, list)
	}
	var eb errBody
	if code := c.call(t, "GET", "/api/skalds?type=cloud", "", nil, &eb); code != http.StatusUnprocessableEntity {
		t.Errorf("bad type: %d", code)
	}
	var one wire.Skald
	if code := c.call(t, "GET", "/api/skalds/sk-edge", "", nil, &one); code != 200 || one.Type != "edge" {
		t.Errorf("one skald: %d %+v", code, one)
	}
	if code := c.call(t, "GET", "/api/skalds/ghost", "", nil, &eb); code != 404 {
		t.Errorf("missing skald: %d", code)
	}
	var tasks struct {
		SkaldID string           `json:"skaldId"`
		Tasks   []map[string]any `json:"tasks"`
		Total   int              `json:"totalTasks"`
	}
	if code := c.call(t, "GET", "/api/skalds/sk-1/tasks", "", nil, &tasks); code != 200 || tasks.Total != 1 || tasks.Tasks[0]["id"] != "on-sk1" || tasks.Tasks[0]["assignedAt"] == nil {
		t.Errorf("skald tasks: %d %+v", code, tasks)
	}
	var stats map[string]any
	if code := c.call(t, "GET", "/api/skalds/summary/statistics", "", nil, &stats); code != 200 || stats["totalSkalds"] != 3.0 || stats["onlineSkalds"] != 2.0 || stats["availableNodes"] != 1.0 {
		t.Errorf("statistics: %d %v", code, stats)
	}
	var health struct {
		Status   string            `json:"status"`
		Services map[string]string `json:"services"`
	}
	if code := c.call(t, "GET", "/api/system/health", "", nil, &health); code != 200 || health.Status != "healthy" ||
		health.Services["mongo"] != "healthy" || health.Services["redis"] != "healthy" || health.Services["kafka"] != "healthy" {
		t.Errorf("health: %d %+v", code, health)
	}
	var info map[string]any
	if code := c.call(t, "GET", "/api", "", nil, &info); code != 200 || info["mode"] != "DISPATCHER" {
		t.Errorf("info: %d %v", code, info)
	}
}

func TestAPIAuth(t *testing.T) {
	e := newEnv(t)
	c := e.startController(func(cfg *ctl.Config) { cfg.Token, cfg.CORSOrigins = "s3cret", []string{"http://dash"} })
	var eb errBody
	for _, r := range []struct{ method, path string }{
		{"GET", "/api/tasks"}, {"POST", "/api/tasks"}, {"GET", "/api/tasks/x"}, {"PUT", "/api/tasks/x/status"},
		{"DELETE", "/api/tasks/x"}, {"GET", "/api/skalds"}, {"GET", "/api/system/health"}, {"GET", "/api/events/tasks"}, {"GET", "/"},
	} {
		if code := c.call(t, r.method, r.path, "", nil, &eb); code != http.StatusUnauthorized || eb.StatusCode != 401 {
			t.Errorf("%s %s without a token: %d", r.method, r.path, code)
		}
		if code := c.call(t, r.method, r.path, "wrong", nil, &eb); code != http.StatusUnauthorized || eb.Error != "invalid bearer token" {
			t.Errorf("%s %s with a wrong token: %d %+v", r.method, r.path, code, eb)
		}
	}
	var page map[string]any
	if code := c.call(t, "GET", "/api/tasks", "s3cret", nil, &page); code != 200 {
		t.Errorf("with the token: %d", code)
	}
	// The token is not taken from a URL, where logs keep it; the answer
	// says what to do instead.
	if code := c.call(t, "GET", "/api/events/skalds?access_token=s3cret", "", nil, &eb); code != http.StatusUnauthorized ||
		!strings.Contains(eb.Error, "POST /api/events/session") {
		t.Errorf("stream with access_token: %d %+v", code, eb)
	}
	// A bearer of the token exchanges it for a cookie (HttpOnly,
	// SameSite=Strict) that opens the event streams, and nothing else.
	code, h, _ := c.raw(t, "POST", "/api/events/session", "s3cret", "")
	cookies := (&http.Response{Header: h}).Cookies()
	if code != 200 || len(cookies) != 1 || !cookies[0].HttpOnly || cookies[0].SameSite != http.SameSiteStrictMode ||
		cookies[0].Path != "/api/events/" || strings.Contains(cookies[0].Value, "s3cret") {
		t.Fatalf("events session: %d %+v", code, cookies)
	}
	if code, _, _ := c.raw(t, "POST", "/api/events/session", "", ""); code != http.StatusUnauthorized {
		t.Errorf("events session without the token: %d", code)
	}
	withCookie := func(method, path string, ck *http.Cookie) int {
		req, _ := http.NewRequest(method, c.url+path, nil)
		req.AddCookie(ck)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if code := withCookie("GET", "/api/events/skalds", cookies[0]); code != 200 {
		t.Errorf("stream with the cookie: %d", code)
	}
	for _, r := range []struct{ method, path string }{{"GET", "/api/tasks"}, {"DELETE", "/api/tasks/x"}, {"POST", "/api/events/session"}} {
		if code := withCookie(r.method, r.path, cookies[0]); code != http.StatusUnauthorized {
			t.Errorf("%s %s with the events cookie: %d, want 401", r.method, r.path, code)
		}
	}
	forged := *cookies[0]
	exp, _, _ := strings.Cut(forged.Value, ".")
	forged.Value = exp + "9." + strings.Repeat("0", 64)
	if code := withCookie("GET", "/api/events/skalds", &forged); code != http.StatusUnauthorized {
		t.Errorf("stream with a forged cookie: %d", code)
	}
	// A CORS preflight needs no token.
	req, _ := http.NewRequest(http.MethodOptions, c.url+"/api/tasks", nil)
	req.Header.Set("Origin", "http://dash")
	req.Header.Set("Access-Control-Request-Method", "GET")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNoContent || res.Header.Get("Access-Control-Allow-Origin") != "http://dash" {
		t.Errorf("preflight: %d %v", res.StatusCode, res.Header)
	}
}

func TestSSEDeliversChangesWithIDsKeepAlivesAndResume(t *testing.T) {
	e := newEnv(t)
	c := e.startController(nil)
	s := c.openSSE(t, "/api/events/tasks", "")
	s.next(t, "connection frame", func(f frame) bool { return f.data["type"] == "connection" })

	// The change reaches the open stream by the event feed's next poll;
	// how soon depends on the machine's load, so the test only waits.
	var created taskBody
	if code := c.call(t, "POST", "/api/tasks", "", map[string]any{"id": "sse-1", "className": "Nobody"}, &created); code != 201 {
		t.Fatalf("create: %d", code)
	}
	first := s.next(t, "task_update for sse-1", func(f frame) bool { return f.data["type"] == "task_update" && f.data["taskId"] == "sse-1" })
	if first.id == "" {
		t.Error("event without an id")
	}
	s.next(t, "keep-alive comment", func(f frame) bool { return strings.HasPrefix(f.raw, ": keep-alive") })

	// Two changes happen while the client is away; resuming with its
	// last id delivers them.
	if code := c.call(t, "DELETE", "/api/tasks/sse-1", "", nil, nil); code != 200 {
		t.Fatalf("cancel: %d", code)
	}
	s.next(t, "task_update Cancelled", func(f frame) bool {
		d, _ := f.data["data"].(map[string]any)
		return f.data["taskId"] == "sse-1" && d["lifecycleStatus"] == "Cancelled"
	})
	r := c.openSSE(t, "/api/events/tasks?task_id=sse-1", first.id)
	r.next(t, "the missed Cancelled update", func(f frame) bool {
		d, _ := f.data["data"].(map[string]any)
		return f.data["type"] == "task_update" && d["lifecycleStatus"] == "Cancelled" && f.id != ""
	})
	// An id from another controller process cannot be resumed.
	x := c.openSSE(t, "/api/events/tasks", "zzz-5")
	x.next(t, "resync", func(f frame) bool { return f.data["type"] == "resync" })

	// The node stream reports a node coming online.
	n := c.openSSE(t, "/api/events/skalds", "")
	n.next(t, "connection frame", func(f frame) bool { return f.data["type"] == "connection" })
	e.fakeNode("sse-node", "node", "A")
	n.next(t, "skald_status online", func(f frame) bool {
		d, _ := f.data["data"].(map[string]any)
		return f.data["type"] == "skald_status" && f.data["skaldId"] == "sse-node" && d["status"] == "online"
	})
}

// TestSSEDeliversProgress: a progress a node stores reaches the live
// task events as a task_update that carries it.
func TestSSEDeliversProgress(t *testing.T) {
	e := newEnv(t)
	c := e.startController(nil)
	s := c.openSSE(t, "/api/events/tasks?task_id=sse-progress", "")
	s.next(t, "connection frame", func(f frame) bool { return f.data["type"] == "connection" })

	d := task.New("sse-progress", "Counter", "test", []byte(`{}`))
	d.LifecycleStatus, d.AssignmentEpoch = task.Running, 1
	if err := e.store.Create(e.ctx, d); err != nil {
		t.Fatal(err)
	}
	if err := e.store.Progress(e.ctx, d.Ref(), []byte(`{"frames":7}`)); err != nil {
		t.Fatal(err)
	}
	s.next(t, "task_update with the progress", func(f frame) bool {
		data, _ := f.data["data"].(map[string]any)
		p, _ := data["progress"].(map[string]any)
		return f.data["type"] == "task_update" && p["frames"] == float64(7) && data["progressDateTime"] != nil
	})
	var got struct {
		Progress map[string]any `json:"progress"`
	}
	if code := c.call(t, "GET", "/api/tasks/sse-progress", "", nil, &got); code != 200 || got.Progress["frames"] != float64(7) {
		t.Errorf("GET the task: %d, progress %v; want frames 7", code, got.Progress)
	}
}
