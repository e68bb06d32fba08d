package controller

import (
	"encoding/json"
	"errors"
	"net/http"
	"testing"

	ctl "github.com/skalds-go/skalds/controller"
	"github.com/skalds-go/skalds/controller/api/client"
	"github.com/skalds-go/skalds/controller/api/wire"
	"github.com/skalds-go/skalds/runtime/task"
)

// TestGoClient drives a controller through the Go client: the API's
// answers decode into the wire types, and its errors into *client.Error.
func TestGoClient(t *testing.T) {
	e := newEnv(t)
	e.fakeNode("gc-node", "node", "GC")
	c := e.startController(func(cfg *ctl.Config) { cfg.Token = "gc-token" })
	if _, err := client.New("localhost:8000", ""); err == nil {
		t.Error("a server without a scheme was accepted")
	}
	anon, err := client.New(c.url, "")
	if err != nil {
		t.Fatal(err)
	}
	var ae *client.Error
	if _, err := anon.ListTasks(e.ctx, client.TaskFilter{}); !errors.As(err, &ae) || ae.Code != http.StatusUnauthorized || ae.Path != "/api/tasks" {
		t.Fatalf("without the token: %v", err)
	}
	api, err := client.New(c.url, "gc-token")
	if err != nil {
		t.Fatal(err)
	}

	prio := 3
	created, err := api.CreateTask(e.ctx, wire.CreateTask{ID: "gc-1", ClassName: "GC", Priority: &prio, Attachments: json.RawMessage(`{"mode":"wait"}`)})
	// The dispatcher may claim the task before the create answers.
	fresh := created != nil && (created.LifecycleStatus == task.Created || created.LifecycleStatus == task.Assigning || created.LifecycleStatus == task.Running)
	if err != nil || created.ID != "gc-1" || !fresh || created.Priority != 3 || created.AttachmentsVersion != 1 {
		t.Fatalf("create: %+v %v", created, err)
	}
	_, err = api.CreateTask(e.ctx, wire.CreateTask{ID: "gc-2"})
	if !errors.As(err, &ae) || ae.Code != http.StatusUnprocessableEntity || len(ae.Body.Fields) == 0 {
		t.Errorf("create without a class: %v", err)
	}
	got := e.assignedTo("gc-1")
	one, err := api.GetTask(e.ctx, "gc-1")
	if err != nil || deref(one.Executor) != "gc-node" || one.AssignmentEpoch != got.AssignmentEpoch || one.Attempts != 1 || one.AssignedDateTime == nil {
		t.Errorf("get: %+v %v", one, err)
	}
	if _, err := api.GetTask(e.ctx, "gc-missing"); !errors.As(err, &ae) || ae.Code != http.StatusNotFound || ae.Body.Error == "" {
		t.Errorf("get of a missing task: %v", err)
	}
	list, err := api.ListTasks(e.ctx, client.TaskFilter{ClassName: "GC", PageSize: 5})
	if err != nil || list.Total != 1 || len(list.Items) != 1 || list.Items[0].ID != "gc-1" || list.PageSize != 5 {
		t.Errorf("list: %+v %v", list, err)
	}
	upd, err := api.UpdateAttachments(e.ctx, "gc-1", json.RawMessage(`{"mode":"wait","value":2}`), 0)
	if err != nil || !upd.Success || upd.Data.AttachmentsVersion != 2 || upd.Data.State != wire.StateStored {
		t.Errorf("update: %+v %v", upd, err)
	}
	nodes, err := api.ListSkalds(e.ctx, "online", "node")
	if err != nil || nodes.Total != 1 || nodes.Items[0].ID != "gc-node" || nodes.Items[0].SupportedTasks[0] != "GC" {
		t.Errorf("nodes: %+v %v", nodes, err)
	}
	res, err := api.CancelTask(e.ctx, "gc-1")
	if err != nil || !res.Success || res.Data.TaskID != "gc-1" || res.Data.Status != task.Cancelled {
		t.Errorf("cancel: %+v %v", res, err)
	}
}
