package controller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/skalds-go/skalds/controller/api/client"
	"github.com/skalds-go/skalds/controller/api/wire"
	"github.com/skalds-go/skalds/runtime/liveness"
	"github.com/skalds-go/skalds/runtime/node"
	"github.com/skalds-go/skalds/runtime/skald"
)

// chattyParams are the attachments of chattyClass.
type chattyParams struct {
	Mode  string `json:"mode"`
	Burst int    `json:"burst"`
}

// chattyClass logs through skald.Logger: once in main, and burst records
// in every update. Mode "fail" fails main, mode "reject" is refused.
func chattyClass(name string) *skald.Class[chattyParams] {
	return &skald.Class[chattyParams]{
		Name: name,
		Decode: func(b []byte) (chattyParams, error) {
			var p chattyParams
			if len(b) == 0 {
				return p, nil
			}
			err := json.Unmarshal(b, &p)
			return p, err
		},
		Encode:   func(p chattyParams) []byte { b, _ := json.Marshal(p); return b },
		Validate: func(chattyParams) error { return nil },
		New: func() skald.Hooks[chattyParams] {
			var p chattyParams
			return skald.Hooks[chattyParams]{
				Init: func(in chattyParams) error { p = in; return nil },
				Main: func(ctx context.Context) error {
					skald.Logger(ctx).Info("main started", "mode", p.Mode)
					if p.Mode == "fail" {
						return errors.New("main failed on purpose")
					}
					<-ctx.Done()
					return nil
				},
				Update: func(ctx context.Context, in chattyParams) error {
					if in.Mode == "reject" {
						return errors.New("mode reject is refused")
					}
					for i := range in.Burst {
						skald.Logger(ctx).Info("burst", "i", i)
					}
					return nil
				},
			}
		},
	}
}

// TestTaskLogsThroughTheAPI runs a real node whose worker logs: the API
// returns its records, FollowLogs receives the new ones as they come, the
// per-task bound holds, and the log outlives the worker. The node's
// metrics, scraped, count what happened.
func TestTaskLogsThroughTheAPI(t *testing.T) {
	e := newEnv(t)
	c := e.startController(realNodes)
	cls := chattyClass("Chatty")
	const perTask = 20
	rn := e.startNode("logs-node", node.Options{MetricsAddr: "127.0.0.1:0",
		TaskLogs: liveness.LogLimits{PerTask: perTask, Flush: 20 * time.Millisecond}}, cls)
	api, err := client.New(c.url, c.token)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := api.CreateTask(e.ctx, wire.CreateTask{ID: "chatty-1", ClassName: "Chatty", Attachments: json.RawMessage(`{"mode":"run"}`)}); err != nil {
		t.Fatal(err)
	}
	var first *wire.TaskLogs
	e.await("the worker's record through the API", func() bool {
		first, err = api.TaskLogs(e.ctx, "chatty-1", 100)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range first.Records {
			if r.Msg == "main started" {
				return true
			}
		}
		return false
	})
	var started wire.LogRecord
	for _, r := range first.Records {
		if r.Msg == "main started" {
			started = r
		}
	}
	if started.Level != "INFO" || started.Attrs["mode"] != "run" || started.Attrs["skaldId"] != "logs-node" || started.Attrs["epoch"] == nil ||
		time.Since(time.UnixMilli(started.Time)) > time.Minute {
		t.Fatalf("record %+v: want the worker's level, attributes, node, epoch and time", started)
	}
	if _, ok := started.Attrs["taskId"]; ok {
		t.Errorf("record %+v repeats the task id its key already names", started)
	}

	// Follow from here; an update makes the worker log a burst.
	followCtx, stopFollow := context.WithCancel(e.ctx)
	followed := make(chan wire.LogRecord, 100)
	followDone := make(chan error, 1)
	go func() {
		followDone <- api.FollowLogs(followCtx, "chatty-1", first.Next, func(r wire.LogRecord) error {
			followed <- r
			return nil
		})
	}()
	if _, err := api.UpdateAttachments(e.ctx, "chatty-1", json.RawMessage(`{"mode":"run","burst":3}`), 10*time.Second); err != nil {
		t.Fatal(err)
	}
	var seen []string
	timeout := time.After(deadline)
	for len(seen) < 3 {
		select {
		case r := <-followed:
			if r.Msg == "burst" {
				seen = append(seen, fmt.Sprint(r.Attrs["i"]))
			}
		case <-timeout:
			t.Fatalf("followed only bursts %v", seen)
		}
	}
	if strings.Join(seen, ",") != "0,1,2" {
		t.Fatalf("followed bursts %v, want 0,1,2 in order", seen)
	}
	stopFollow()
	if err := <-followDone; err != nil {
		t.Fatalf("FollowLogs ended with %v, want nil on cancel", err)
	}

	// A burst past the bound: the task keeps its newest perTask records.
	if _, err := api.UpdateAttachments(e.ctx, "chatty-1", json.RawMessage(`{"mode":"run","burst":50}`), 10*time.Second); err != nil {
		t.Fatal(err)
	}
	e.await("the last of the burst through the API", func() bool {
		got, err := api.TaskLogs(e.ctx, "chatty-1", 1000)
		if err != nil {
			return false
		}
		for _, r := range got.Records {
			if r.Msg == "burst" && r.Attrs["i"] == float64(49) {
				return true
			}
		}
		return false
	})
	all, err := api.TaskLogs(e.ctx, "chatty-1", 1000)
	if err != nil || len(all.Records) != perTask {
		t.Fatalf("the task keeps %d records (%v), want %d", len(all.Records), err, perTask)
	}
	if n := e.rdb.XLen(e.ctx, liveness.TaskLogsKey("chatty-1")).Val(); n != perTask {
		t.Fatalf("Redis holds %d records of the task, want %d", n, perTask)
	}

	// A rejected update and a failing task, for the metrics.
	if _, err := api.UpdateAttachments(e.ctx, "chatty-1", json.RawMessage(`{"mode":"reject"}`), 10*time.Second); !errors.Is(err, client.ErrRejected) {
		t.Fatalf("update with mode reject: %v", err)
	}
	if _, err := api.CreateTask(e.ctx, wire.CreateTask{ID: "chatty-2", ClassName: "Chatty", Attachments: json.RawMessage(`{"mode":"fail"}`)}); err != nil {
		t.Fatal(err)
	}
	var metrics string
	e.await("the node's metrics to count the failure", func() bool {
		metrics = scrape(t, "http://"+rn.n.MetricsAddr()+"/metrics")
		return strings.Contains(metrics, `skalds_node_task_failures_total{class="Chatty",kind="error"} 1`)
	})
	for _, want := range []string{
		`skalds_node_tasks_running{class="Chatty"} 1`,
		`skalds_node_updates_total{class="Chatty",result="applied"} 2`,
		`skalds_node_updates_total{class="Chatty",result="rejected"} 1`,
		`skalds_node_update_apply_seconds_count{class="Chatty"} 2`,
		`skalds_node_hook_duration_seconds_count{class="Chatty",hook="update"} 3`,
		`skalds_node_hook_duration_seconds_count{class="Chatty",hook="main"} 1`,
		`skalds_node_task_log_records_total{result="dropped"} 0`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}

	// The failed task's log outlives its worker.
	e.await("the failed worker's record", func() bool {
		got, err := api.TaskLogs(e.ctx, "chatty-2", 100)
		if err != nil {
			return false
		}
		for _, r := range got.Records {
			if r.Msg == "worker failed" && r.Level == "ERROR" {
				return true
			}
		}
		return false
	})

	var bad wire.Error
	if code := c.call(t, http.MethodGet, "/api/tasks/chatty-1/logs?after=nope", c.token, nil, &bad); code != http.StatusUnprocessableEntity || bad.Fields[0].Path != "after" {
		t.Errorf("a bad cursor: %d %+v", code, bad)
	}
	if code := c.call(t, http.MethodGet, "/api/tasks/chatty-1/logs?limit=0", c.token, nil, &bad); code != http.StatusUnprocessableEntity || bad.Fields[0].Path != "limit" {
		t.Errorf("limit=0: %d %+v", code, bad)
	}
	if code := c.call(t, http.MethodGet, "/api/tasks/nobody/logs", c.token, nil, nil); code != http.StatusNotFound {
		t.Errorf("logs of a missing task: %d", code)
	}
}

func scrape(t *testing.T, url string) string {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("scraping %s: %d %v", url, res.StatusCode, err)
	}
	return string(b)
}
