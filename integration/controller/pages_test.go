package controller

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/skalds-go/skalds/controller/api/client"
	"github.com/skalds-go/skalds/controller/api/wire"
	"github.com/skalds-go/skalds/runtime/node"
	"github.com/skalds-go/skalds/runtime/task"
)

// The API behind the dashboard's class pages and charts.

func TestClassDetailCountsItsTasksAndNamesItsNodes(t *testing.T) {
	e := newEnv(t)
	rn := e.startNode("cls-node-"+e.uid, node.Options{}, cameraClass("Camera"))
	e.publishSchema(rn.n.ID(), "Camera", cameraSchema)
	// A node of a class whose name has Camera in it: the substring filter
	// finds its task, the exact one does not.
	e.fakeNode("cls-fake-"+e.uid, "node", "CameraX")
	c := e.startController(realNodes)
	for _, tk := range []struct{ id, class string }{{"cam-1", "Camera"}, {"cam-2", "Camera"}, {"camx-1", "CameraX"}, {"ghost-1", "Ghost"}} {
		body := map[string]any{"id": tk.id, "className": tk.class}
		if tk.class == "Camera" {
			body["attachments"] = map[string]any{"rtspUrl": "rtsp://cam/1", "fixFrame": 5}
		}
		if code := c.call(t, "POST", "/api/tasks", "", body, nil); code != http.StatusCreated {
			t.Fatalf("create %s: %d", tk.id, code)
		}
	}
	for _, id := range []string{"cam-1", "cam-2"} {
		e.waitTask(id, "Running", func(d *task.Task) bool { return d.LifecycleStatus == task.Running })
	}
	var cam wire.ClassDetail
	e.await("both camera tasks listed by their node", func() bool {
		if code := c.call(t, "GET", "/api/classes/Camera", "", nil, &cam); code != http.StatusOK {
			t.Fatalf("GET /api/classes/Camera: %d", code)
		}
		return len(cam.Registered) == 1 && cam.Registered[0].Running == 2
	})
	if n := cam.Registered[0]; n.ID != rn.n.ID() || !n.Online || n.Type != "node" {
		t.Errorf("node of Camera: %+v, want %s online in node mode", n, rn.n.ID())
	}
	if cam.Tasks["Running"] != 2 || cam.TotalTasks != 2 || cam.Tasks["Cancelled"] != 0 || len(cam.Tasks) != len(task.Statuses) || cam.Unserved {
		t.Errorf("Camera: tasks %v (total %d), unserved %v; want 2 Running of 2, every status listed, served", cam.Tasks, cam.TotalTasks, cam.Unserved)
	}
	if len(cam.Nodes) != 1 || cam.Nodes[0] != rn.n.ID() || !cam.HasSchema {
		t.Errorf("Camera as the class list has it: %+v, want served by %s with a schema", cam.Class, rn.n.ID())
	}
	if len(cam.Schemas) != 1 || cam.SchemaConflict || string(cam.Schemas[0].Schema) != cameraSchema || cam.Schemas[0].Nodes[0] != rn.n.ID() {
		t.Errorf("Camera schemas: %+v, want the one schema its node publishes", cam.Schemas)
	}

	var ghost wire.ClassDetail
	if code := c.call(t, "GET", "/api/classes/Ghost", "", nil, &ghost); code != http.StatusOK || !ghost.Unserved ||
		ghost.Tasks["Created"] != 1 || len(ghost.Registered) != 0 || len(ghost.Nodes) != 0 || len(ghost.Schemas) != 0 {
		t.Errorf("Ghost: %d %+v, want its one Created task, no node, unserved", code, ghost)
	}
	var nope wire.Error
	if code := c.call(t, "GET", "/api/classes/Nope", "", nil, &nope); code != http.StatusNotFound || nope.Error == "" {
		t.Errorf("an unknown class: %d %+v, want 404 with a reason", code, nope)
	}

	// The exact class filter of the task list, beside the substring one.
	var exact, sub wire.TaskList
	c.call(t, "GET", "/api/tasks?class=Camera", "", nil, &exact)
	c.call(t, "GET", "/api/tasks?className=Camera", "", nil, &sub)
	if exact.Total != 2 || sub.Total != 3 {
		t.Errorf("class=Camera lists %d tasks, className=Camera %d; want 2 and 3", exact.Total, sub.Total)
	}
	for _, it := range exact.Items {
		if it.ClassName != "Camera" {
			t.Errorf("class=Camera listed %s of class %s", it.ID, it.ClassName)
		}
	}

	// The Go client reads the same, and the counts follow a cancel.
	cl, err := client.New(c.url, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.CancelTask(e.ctx, "cam-2"); err != nil {
		t.Fatal(err)
	}
	e.await("the cancelled task counted", func() bool {
		d, err := cl.GetClass(e.ctx, "Camera")
		if err != nil {
			t.Fatal(err)
		}
		return d.Tasks["Cancelled"] == 1 && d.Tasks["Running"] == 1
	})
	if l, err := cl.ListTasks(e.ctx, client.TaskFilter{Class: "CameraX"}); err != nil || l.Total != 1 || l.Items[0].ID != "camx-1" {
		t.Errorf("client, class CameraX: %+v, %v; want camx-1 alone", l, err)
	}
}

func TestChartsGrowAsTasksRunAndUpdatesLand(t *testing.T) {
	e := newEnv(t)
	rn := e.startNode("chart-node-"+e.uid, node.Options{}, cameraClass("Camera"))
	e.publishSchema(rn.n.ID(), "Camera", cameraSchema)
	c := e.startController(realNodes)
	cl, err := client.New(c.url, "")
	if err != nil {
		t.Fatal(err)
	}
	first, err := cl.Charts(e.ctx, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if first.Interval != 0.1 || first.Capacity != 360 || !first.Dispatching {
		t.Errorf("charts: interval %v s, capacity %d, dispatching %v; want 0.1, 360, true", first.Interval, first.Capacity, first.Dispatching)
	}
	if _, err := cl.CreateTask(e.ctx, wire.CreateTask{ID: "chart-task", ClassName: "Camera",
		Attachments: []byte(`{"rtspUrl":"rtsp://cam/1","fixFrame":5}`)}); err != nil {
		t.Fatal(err)
	}
	// The samples taken since show each of what follows, once.
	var seen struct {
		running, applied, rejected, dispatched, cancelled int64
		p50                                               *float64
		nodes                                             int
	}
	var last int64
	read := func() {
		ch, err := cl.Charts(context.Background(), time.UnixMilli(last))
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range ch.Samples {
			if s.At <= last {
				t.Fatalf("sample at %d after asking for those after %d", s.At, last)
			}
			last = s.At
			seen.running = max(seen.running, s.Tasks["Running"])
			seen.applied += s.UpdatesApplied
			seen.rejected += s.UpdatesRejected
			seen.dispatched += s.Dispatched
			seen.cancelled += s.Ended["Cancelled"]
			seen.nodes = max(seen.nodes, s.NodesOnline)
			if s.DispatchP50Ms != nil {
				seen.p50 = s.DispatchP50Ms
			}
		}
	}
	// Answers are counted from the event feed's polls, which must have
	// seen the task run first: the samples say when they have.
	e.await("the running task in the samples", func() bool { read(); return seen.running > 0 })
	if res, err := cl.UpdateAttachments(e.ctx, "chart-task", []byte(`{"rtspUrl":"rtsp://cam/1","fixFrame":7}`), 10*time.Second); err != nil || res.Data.State != wire.StateApplied {
		t.Fatalf("update: %+v, %v; want applied", res, err)
	}
	if res, err := cl.UpdateAttachments(e.ctx, "chart-task", []byte(`{"rtspUrl":"rtsp://cam/1","fixFrame":13}`), 10*time.Second); err == nil || res == nil || res.Data.State != wire.StateRejected {
		t.Fatalf("update the worker refuses: %+v, %v; want rejected", res, err)
	}
	if _, err := cl.CancelTask(e.ctx, "chart-task"); err != nil {
		t.Fatal(err)
	}
	e.await("the two answers and the cancel in the samples", func() bool {
		read()
		return seen.cancelled > 0 && seen.applied > 0 && seen.rejected > 0
	})
	if seen.running != 1 || seen.applied != 1 || seen.rejected != 1 || seen.dispatched != 1 || seen.cancelled != 1 || seen.nodes != 1 {
		t.Errorf("over the samples: %+v; want one of each, and one node online", seen)
	}
	if seen.p50 == nil || *seen.p50 < 0 || *seen.p50 > float64(deadline.Milliseconds()) {
		t.Errorf("dispatch latency p50 %v ms, want the time the claim took", seen.p50)
	}
}
