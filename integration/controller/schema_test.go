package controller

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	ctl "github.com/skalds-go/skalds/controller"
	"github.com/skalds-go/skalds/runtime/liveness"
	"github.com/skalds-go/skalds/runtime/node"
	"github.com/skalds-go/skalds/runtime/skald"
	"github.com/skalds-go/skalds/runtime/task"
)

// cameraSchema is what a node running the camera class publishes.
const cameraSchema = `{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object",` +
	`"properties":{"rtspUrl":{"type":"string","format":"uri","description":"stream to read"},` +
	`"fixFrame":{"type":"integer","minimum":1,"maximum":1000}},` +
	`"required":["rtspUrl","fixFrame"],"additionalProperties":false}`

// publishSchema writes a class's schema as a node publishes it.
func (e *env) publishSchema(nodeID, class, doc string) {
	e.t.Helper()
	if err := e.rdb.HSet(e.ctx, liveness.NodeSchemasKey(nodeID), class, doc).Err(); err != nil {
		e.t.Fatal(err)
	}
}

// cameraParams are the attachments of the camera class.
type cameraParams struct {
	RTSPURL  string `json:"rtspUrl"`
	FixFrame int    `json:"fixFrame"`
}

// cameraClass is a worker that runs until cancelled and applies updates;
// it refuses fixFrame 13, which its schema allows, to show a rejection by
// the worker itself.
func cameraClass(name string) *skald.Class[cameraParams] {
	return &skald.Class[cameraParams]{
		Name: name,
		Decode: func(b []byte) (cameraParams, error) {
			var p cameraParams
			dec := json.NewDecoder(bytes.NewReader(b))
			dec.DisallowUnknownFields()
			err := dec.Decode(&p)
			return p, err
		},
		Encode:     func(p cameraParams) []byte { b, _ := json.Marshal(p); return b },
		Validate:   func(cameraParams) error { return nil },
		JSONSchema: []byte(cameraSchema),
		New: func() skald.Hooks[cameraParams] {
			return skald.Hooks[cameraParams]{
				Init: func(cameraParams) error { return nil },
				Main: func(ctx context.Context) error { <-ctx.Done(); return nil },
				Update: func(_ context.Context, p cameraParams) error {
					if p.FixFrame == 13 {
						return errors.New("fixFrame 13 is unlucky")
					}
					return nil
				},
			}
		},
	}
}

// raw makes one request and returns the status, headers and body.
func (c *controller) raw(t testing.TB, method, path, token string, body string) (int, http.Header, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, c.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, data
}

func fieldPaths(eb errBody) []string {
	var out []string
	for _, f := range eb.Fields {
		out = append(out, f.Path)
	}
	return out
}

func TestAttachmentsCheckedAgainstPublishedSchema(t *testing.T) {
	e := newEnv(t)
	e.fakeNode("cam-node", "node", "Other") // runs nothing we create: tasks stay Created
	e.publishSchema("cam-node", "Camera", cameraSchema)
	// An offline node's schema is not used: its class is accepted unchecked.
	if err := e.writeNode("gone", "node", time.Now().Add(-time.Hour), "Gone"); err != nil {
		t.Fatal(err)
	}
	e.publishSchema("gone", "Gone", `{"type":"object","required":["never"]}`)
	c := e.startController(nil)
	e.await("the schema in the registry snapshot", func() bool {
		snap := c.c.Monitor.Snapshot()
		return snap != nil && len(snap.Schemas("Camera")) == 1
	})

	// Every failing field is reported, as a JSON path; nothing is written.
	var eb errBody
	code := c.call(t, "POST", "/api/tasks", "", map[string]any{"id": "cam-bad", "className": "Camera",
		"attachments": map[string]any{"rtspUrl": "no uri", "fixFrame": 0, "fps": 25}}, &eb)
	if code != http.StatusUnprocessableEntity || strings.Join(fieldPaths(eb), " ") != "$.fixFrame $.fps $.rtspUrl" ||
		!strings.Contains(eb.Error, "schema of class Camera") || !strings.Contains(eb.Error, "cam-node") {
		t.Errorf("create with bad attachments: %d %+v", code, eb)
	}
	if _, err := e.store.Get(e.ctx, "cam-bad"); !errors.Is(err, task.ErrNotFound) {
		t.Errorf("a refused task was written: %v", err)
	}
	// No attachments at all is checked as {}: both required fields missing.
	if code := c.call(t, "POST", "/api/tasks", "", map[string]any{"className": "Camera"}, &eb); code != 422 ||
		strings.Join(fieldPaths(eb), " ") != "$.fixFrame $.rtspUrl" {
		t.Errorf("create without attachments: %d %+v", code, eb)
	}

	code, hdr, body := c.raw(t, "POST", "/api/tasks", "", `{"id":"cam-1","className":"Camera","attachments":{"rtspUrl":"rtsp://cam/1","fixFrame":5}}`)
	if code != http.StatusCreated || hdr.Get("X-Skalds-Attachments-Checked") != "true" {
		t.Fatalf("create with good attachments: %d %s %s", code, hdr.Get("X-Skalds-Attachments-Checked"), body)
	}
	var created taskBody
	if err := json.Unmarshal(body, &created); err != nil {
		t.Fatal(err)
	}
	code, hdr, _ = c.raw(t, "POST", "/api/tasks", "", `{"id":"gone-1","className":"Gone","attachments":{}}`)
	if code != http.StatusCreated || hdr.Get("X-Skalds-Attachments-Checked") != "false" {
		t.Errorf("class published only by an offline node: %d checked=%s; want accepted unchecked", code, hdr.Get("X-Skalds-Attachments-Checked"))
	}

	// An update is checked the same way and leaves the task untouched.
	code = c.call(t, "PUT", "/api/tasks/cam-1/attachments", "", map[string]any{"attachments": map[string]any{"rtspUrl": "rtsp://cam/1", "fixFrame": 5000}}, &eb)
	if code != 422 || strings.Join(fieldPaths(eb), " ") != "$.fixFrame" {
		t.Errorf("bad update: %d %+v", code, eb)
	}
	d, err := e.store.Get(e.ctx, "cam-1")
	if err != nil {
		t.Fatal(err)
	}
	if d.AttachmentsVersion != created.AttachmentsVersion || !strings.Contains(string(d.Attachments), `"fixFrame":5`) {
		t.Errorf("refused update changed the task: version %d attachments %s", d.AttachmentsVersion, d.Attachments)
	}
	var ok successBody
	if code := c.call(t, "PUT", "/api/tasks/cam-1/attachments", "", map[string]any{"attachments": map[string]any{"rtspUrl": "rtsp://cam/2", "fixFrame": 6}}, &ok); code != 200 {
		t.Errorf("good update: %d %+v", code, ok)
	}

	// The schema and the class list, for forms.
	code, hdr, body = c.raw(t, "GET", "/api/classes/Camera/schema", "", "")
	if code != 200 || string(body) != cameraSchema || hdr.Get("X-Skalds-Nodes") != "cam-node" {
		t.Errorf("schema: %d %s %s", code, hdr.Get("X-Skalds-Nodes"), body)
	}
	if code := c.call(t, "GET", "/api/classes/Gone/schema", "", nil, &eb); code != 404 {
		t.Errorf("schema of an offline node's class: %d", code)
	}
	var classes struct {
		Items []struct {
			ClassName string   `json:"className"`
			Nodes     []string `json:"nodes"`
			HasSchema bool     `json:"hasSchema"`
		} `json:"items"`
	}
	if code := c.call(t, "GET", "/api/classes", "", nil, &classes); code != 200 || len(classes.Items) != 2 ||
		classes.Items[0].ClassName != "Camera" || !classes.Items[0].HasSchema || classes.Items[1].ClassName != "Other" || classes.Items[1].HasSchema {
		t.Errorf("classes: %d %+v", code, classes)
	}
	var info map[string]any
	if c.call(t, "GET", "/api", "", nil, &info); !strings.Contains(fmt.Sprint(info["attachmentsValidation"]), "accepted unchecked") {
		t.Errorf("GET /api does not document the schema policy: %v", info)
	}
}

// metricValue reads one sample from the exposition text; -1 when absent.
func metricValue(text, series string) float64 {
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`)
	m := re.FindStringSubmatch(text)
	if m == nil {
		return -1
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

func TestMetricsCountDispatchAndFailover(t *testing.T) {
	e := newEnv(t)
	n1 := e.fakeNode("m1", "node", "M")
	c := e.startController(func(cfg *ctl.Config) { cfg.Token = "tok" })
	e.create("mt-1", "M", 0)
	e.create("mt-2", "M", 0)
	e.assignedTo("mt-1")
	e.assignedTo("mt-2")

	if code, _, _ := c.raw(t, "GET", "/metrics", "", ""); code != http.StatusUnauthorized {
		t.Errorf("/metrics without the token: %d", code)
	}
	scrape := func() string {
		code, hdr, body := c.raw(t, "GET", "/metrics", "tok", "")
		if code != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/plain") {
			t.Fatalf("/metrics: %d %s", code, hdr.Get("Content-Type"))
		}
		return string(body)
	}
	// The dispatcher counts an assignment once its claim write has
	// returned, which may be after the test sees the write.
	var text string
	e.await("two assignments counted", func() bool {
		text = scrape()
		return metricValue(text, `skalds_assignments_total{kind="assign"}`) == 2 &&
			metricValue(text, `skalds_dispatch_latency_seconds_count`) == 2
	})
	for series, want := range map[string]float64{
		`skalds_nodes_online{mode="node"}`:        1,
		`skalds_tasks{status="Created"}`:          0,
		`skalds_assignments_total{kind="assign"}`: 2,
		`skalds_dispatch_latency_seconds_count`:   2,
		`skalds_failover_latency_seconds_count`:   0,
	} {
		if got := metricValue(text, series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
	if got := metricValue(text, `skalds_tasks{status="Assigning"}`) + metricValue(text, `skalds_tasks{status="Running"}`); got != 2 {
		t.Errorf("assigned tasks by status: %v, want 2", got)
	}

	// Node m1 dies; m2 takes its tasks: two failovers, each at least the
	// node timeout after m1's last beat.
	e.fakeNode("m2", "node", "M")
	n1.stopBeating()
	for _, id := range []string{"mt-1", "mt-2"} {
		e.waitTask(id, "moved to m2", func(d *task.Task) bool { return deref(d.Executor) == "m2" })
	}
	e.await("two moves and their failovers counted", func() bool {
		text = scrape()
		return metricValue(text, `skalds_assignments_total{kind="move"}`) == 2 &&
			metricValue(text, `skalds_failover_latency_seconds_count`) == 2
	})
	if sum := metricValue(text, `skalds_failover_latency_seconds_sum`); sum < 2*time.Second.Seconds() {
		t.Errorf("failover latency sum %v s; want at least the node timeout per task", sum)
	}
}

func TestWorkerAcknowledgementsAreCounted(t *testing.T) {
	e := newEnv(t)
	rn := e.startNode("ack-node", node.Options{}, cameraClass("Cam"))
	e.publishSchema(rn.n.ID(), "Cam", cameraSchema)
	c := e.startController(realNodes)
	var created taskBody
	if code := c.call(t, "POST", "/api/tasks", "", map[string]any{"id": "ack-1", "className": "Cam",
		"attachments": map[string]any{"rtspUrl": "rtsp://cam/1", "fixFrame": 1}}, &created); code != 201 {
		t.Fatalf("create: %d", code)
	}
	// Acknowledgements are counted from the event feed's diffs, so the
	// feed must have seen the task before it changes.
	events := c.openSSE(t, "/api/events/tasks?task_id=ack-1", "")
	events.next(t, "ack-1 Running", func(f frame) bool {
		d, _ := f.data["data"].(map[string]any)
		return f.data["type"] == "task_update" && d["lifecycleStatus"] == "Running"
	})
	var res updateBody
	if code := c.call(t, "PUT", "/api/tasks/ack-1/attachments?wait=10s", "", map[string]any{"attachments": map[string]any{"rtspUrl": "rtsp://cam/1", "fixFrame": 2}}, &res); code != 200 || res.Data.State != "applied" {
		t.Fatalf("update: %d %+v", code, res)
	}
	// Valid for the schema, refused by the worker.
	if code := c.call(t, "PUT", "/api/tasks/ack-1/attachments?wait=10s", "", map[string]any{"attachments": map[string]any{"rtspUrl": "rtsp://cam/1", "fixFrame": 13}}, &res); code != 422 || res.Data.State != "rejected" {
		t.Fatalf("rejected update: %d %+v", code, res)
	}
	e.await("both acknowledgements counted", func() bool {
		_, _, body := c.raw(t, "GET", "/metrics", "", "")
		text := string(body)
		return metricValue(text, `skalds_attachment_update_acks_total{result="applied"}`) == 1 &&
			metricValue(text, `skalds_attachment_update_acks_total{result="rejected"}`) == 1
	})
}

// TestEverySchemaPublishedForAClassMustPass has a rogue node publish a
// loose schema for a class: the attachments must still satisfy the strict
// one, and the conflict shows in the class list, the schema endpoint and
// the node list.
func TestEverySchemaPublishedForAClassMustPass(t *testing.T) {
	e := newEnv(t)
	e.fakeNode("cam-node", "node", "Other")
	e.publishSchema("cam-node", "Camera", cameraSchema)
	e.fakeNode("rogue-node", "node", "Other")
	e.publishSchema("rogue-node", "Camera", `{"type":"object"}`)
	c := e.startController(nil)
	e.await("both schemas in the registry snapshot", func() bool {
		snap := c.c.Monitor.Snapshot()
		return snap != nil && len(snap.Schemas("Camera")) == 2
	})

	var eb errBody
	code := c.call(t, "POST", "/api/tasks", "", map[string]any{"id": "cam-loose", "className": "Camera",
		"attachments": map[string]any{"anything": true}}, &eb)
	if code != http.StatusUnprocessableEntity || !strings.Contains(strings.Join(fieldPaths(eb), " "), "$.anything") ||
		!strings.Contains(eb.Error, "cam-node") {
		t.Errorf("attachments only the rogue schema accepts: %d %+v", code, eb)
	}
	if _, err := e.store.Get(e.ctx, "cam-loose"); !errors.Is(err, task.ErrNotFound) {
		t.Errorf("a refused task was written: %v", err)
	}
	if code := c.call(t, "POST", "/api/tasks", "", map[string]any{"id": "cam-ok", "className": "Camera",
		"attachments": map[string]any{"rtspUrl": "rtsp://cam/1", "fixFrame": 5}}, nil); code != http.StatusCreated {
		t.Errorf("attachments both schemas accept: %d", code)
	}

	var classes struct {
		Items []struct {
			ClassName      string     `json:"className"`
			SchemaConflict bool       `json:"schemaConflict"`
			SchemaSources  [][]string `json:"schemaSources"`
		} `json:"items"`
	}
	c.call(t, "GET", "/api/classes", "", nil, &classes)
	found := false
	for _, ci := range classes.Items {
		if ci.ClassName == "Camera" {
			found = ci.SchemaConflict && len(ci.SchemaSources) == 2
		}
	}
	if !found {
		t.Errorf("GET /api/classes does not report the conflict: %+v", classes)
	}
	code, h, _ := c.raw(t, "GET", "/api/classes/Camera/schema", "", "")
	if code != 200 || !strings.Contains(h.Get("X-Skalds-Schema-Conflict"), "cam-node; rogue-node") {
		t.Errorf("schema endpoint: %d conflict header %q", code, h.Get("X-Skalds-Schema-Conflict"))
	}
	var nodes struct {
		Items []struct {
			ID              string   `json:"id"`
			SchemaConflicts []string `json:"schemaConflicts"`
		} `json:"items"`
	}
	c.call(t, "GET", "/api/skalds", "", nil, &nodes)
	for _, n := range nodes.Items {
		if strings.Join(n.SchemaConflicts, ",") != "Camera" {
			t.Errorf("node %s: schemaConflicts %v", n.ID, n.SchemaConflicts)
		}
	}
}
