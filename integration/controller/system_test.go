package controller

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	ctl "github.com/skalds-go/skalds/controller"
	"github.com/skalds-go/skalds/runtime/liveness"
)

// The contract of the /api/system, /api/skalds/{id}/{status,heartbeat,
// ping} and /api/events/{status,test} endpoints: status codes and shapes
// (spec §11.7 and §11.8, with the Python bugs fixed), without and with a
// token.

func TestAPISystemEndpointsWithoutAuth(t *testing.T) {
	e := newEnv(t)
	systemContract(t, e, "")
}

func TestAPISystemEndpointsWithAuth(t *testing.T) {
	e := newEnv(t)
	systemContract(t, e, "sys-tok")
}

func systemContract(t *testing.T, e *env, token string) {
	e.fakeNode("cn-1", "node", "A")
	if err := e.rdb.HSet(e.ctx, liveness.NodeCapacityKey("cn-1"), liveness.CapacityMaxTasks, "2").Err(); err != nil {
		t.Fatal(err)
	}
	if err := e.writeNode("cn-old", "node", time.Now().Add(-time.Minute), "A"); err != nil {
		t.Fatal(err)
	}
	e.create("ct-1", "A", 0)
	e.create("ct-wait", "Z", 0) // no node runs Z: stays Created
	c := e.startController(func(cfg *ctl.Config) { cfg.Token = token })
	e.assignedTo("ct-1")

	if token != "" {
		var eb errBody
		for _, r := range []struct{ method, path string }{
			{"GET", "/api/system/status"}, {"GET", "/api/system/config"}, {"GET", "/api/system/version"},
			{"GET", "/api/system/metrics"}, {"GET", "/api/system/analytics/task-distribution"},
			{"GET", "/api/system/analytics/recent-activity"}, {"GET", "/api/skalds/cn-1/status"},
			{"GET", "/api/skalds/cn-1/heartbeat"}, {"POST", "/api/skalds/cn-1/ping"},
			{"GET", "/api/events/status"}, {"GET", "/api/events/test"},
		} {
			if code := c.call(t, r.method, r.path, "", nil, &eb); code != http.StatusUnauthorized || eb.StatusCode != 401 {
				t.Errorf("%s %s without a token: %d", r.method, r.path, code)
			}
		}
	}
	get := func(path string, want int) map[string]any {
		t.Helper()
		var out map[string]any
		if code := c.call(t, "GET", path, token, nil, &out); code != want {
			t.Fatalf("GET %s: %d, want %d: %v", path, code, want, out)
		}
		return out
	}
	obj := func(v any) map[string]any { m, _ := v.(map[string]any); return m }
	num := func(v any) float64 { f, _ := v.(float64); return f }

	// System status: real uptime, every loop running.
	e.await("every component running", func() bool {
		st := get("/api/system/status", 200)
		comps, _ := st["components"].([]any)
		running := map[string]bool{}
		for _, x := range comps {
			running[obj(x)["name"].(string)] = obj(x)["running"].(bool)
		}
		return len(comps) == 4 && running["SkaldMonitor"] && running["TaskMonitor"] && running["Dispatcher"] && running["EventStreams"]
	})
	st := get("/api/system/status", 200)
	if st["mode"] != "DISPATCHER" || st["version"] != "test" || st["uptime"].(float64) <= 0 || st["startedAt"] == nil {
		t.Errorf("status: %v", st)
	}
	for _, x := range st["components"].([]any) {
		if c := obj(x); c["name"] == "Dispatcher" {
			d := obj(c["details"])
			if d["strategy"] != "LEAST_TASKS" || d["maxClaimsPerCycle"] != 500.0 || obj(d["lastCycle"])["at"] == nil {
				t.Errorf("dispatcher component: %v", c)
			}
		}
	}

	// Config: the Python keys, secrets never shown.
	var raw string
	cfg := get("/api/system/config", 200)
	raw = fmt.Sprint(cfg)
	if cfg["mode"] != "DISPATCHER" || cfg["host"] != "127.0.0.1" && cfg["host"] != "0.0.0.0" || obj(cfg["monitoring"])["heartbeatTimeout"] != 1.0 ||
		obj(cfg["dispatcher"])["strategy"] != "LEAST_TASKS" || obj(cfg["dispatcher"])["maxClaimsPerCycle"] != 500.0 ||
		obj(cfg["auth"])["enabled"] != (token != "") || cfg["logLevel"] == nil {
		t.Errorf("config: %v", cfg)
	}
	if _, ok := cfg["port"].(float64); !ok {
		t.Errorf("config port %v is not a number", cfg["port"])
	}
	if token != "" && strings.Contains(raw, token) {
		t.Errorf("config shows the token: %s", raw)
	}

	v := get("/api/system/version", 200)
	if v["version"] != "test" || !strings.HasPrefix(fmt.Sprint(v["goVersion"]), "go") || v["buildDate"] == nil || v["gitCommit"] == nil {
		t.Errorf("version: %v", v)
	}
	if _, ok := v["dependencies"].(map[string]any); !ok {
		t.Errorf("version dependencies: %v", v["dependencies"])
	}

	// Metrics: two nodes (one online), two tasks.
	m := get("/api/system/metrics", 200)
	sk, tk, perf := obj(m["skalds"]), obj(m["tasks"]), obj(m["performance"])
	if sk["total"] != 2.0 || sk["online"] != 1.0 || sk["offline"] != 1.0 || sk["availableNodes"] != 1.0 ||
		tk["total"] != 2.0 || num(tk["assigning"])+num(tk["running"]) != 1 ||
		perf["systemLoad"] == nil || perf["taskDistribution"] == nil || m["timestamp"] == nil {
		t.Errorf("metrics: %v", m)
	}
	if cu := obj(perf["systemLoad"])["capacityUtilization"]; cu == nil {
		t.Errorf("capacity utilization missing although cn-1 publishes maxTasks: %v", perf)
	}

	dist := get("/api/system/analytics/task-distribution", 200)
	rows, _ := dist["distribution"].([]any)
	sum := 0.0
	for _, r := range rows {
		sum += obj(r)["percentage"].(float64)
	}
	if len(rows) != 2 || sum != 100 || dist["timestamp"] == nil {
		t.Errorf("distribution: %v", dist)
	}
	act := get("/api/system/analytics/recent-activity?hours=1", 200)
	if act["timeframe"] != "Last 1 hours" || act["tasksCreated"] != 2.0 || act["successRate"] != 0.0 {
		t.Errorf("recent activity: %v", act)
	}
	get("/api/system/analytics/recent-activity?hours=0", http.StatusUnprocessableEntity)
	get("/api/system/analytics/recent-activity?hours=169", http.StatusUnprocessableEntity)
	get("/api/system/analytics/recent-activity?hours=x", http.StatusUnprocessableEntity)

	// One skald's status, heartbeat and ping, from the registry.
	s1 := get("/api/skalds/cn-1/status", 200)
	d1 := obj(s1["details"])
	if s1["skaldId"] != "cn-1" || s1["status"] != "online" || s1["isOnline"] != true || s1["type"] != "node" ||
		s1["uptime"] != nil || s1["lastUpdate"] == nil || d1["canAcceptTasks"] != true ||
		d1["lastHeartbeatAge"].(float64) > 5000 || obj(d1["capacity"])["maxTasks"] != 2.0 {
		t.Errorf("cn-1 status: %v", s1)
	}
	if old := get("/api/skalds/cn-old/status", 200); old["isOnline"] != false || obj(old["details"])["canAcceptTasks"] != false {
		t.Errorf("cn-old status: %v", old)
	}
	hb := get("/api/skalds/cn-1/heartbeat", 200)
	for _, k := range []string{"skaldId", "heartbeat", "lastUpdate", "heartbeatAge", "isOnline", "timestamp"} {
		if _, ok := hb[k]; !ok {
			t.Errorf("heartbeat lacks %s: %v", k, hb)
		}
	}
	var ping successBody
	if code := c.call(t, "POST", "/api/skalds/cn-1/ping", token, nil, &ping); code != 200 || !ping.Success ||
		ping.Message != "Skald cn-1 is online" || ping.Data["online"] != true || ping.Data["heartbeatAge"] == nil {
		t.Errorf("ping cn-1: %d %+v", code, ping)
	}
	if code := c.call(t, "POST", "/api/skalds/cn-old/ping", token, nil, &ping); code != 200 || ping.Success || ping.Data["online"] != false {
		t.Errorf("ping cn-old: %d %+v", code, ping)
	}
	var eb errBody
	for _, r := range []struct{ method, path string }{
		{"GET", "/api/skalds/ghost/status"}, {"GET", "/api/skalds/ghost/heartbeat"}, {"POST", "/api/skalds/ghost/ping"},
	} {
		if code := c.call(t, r.method, r.path, token, nil, &eb); code != 404 || !strings.Contains(eb.Error, "ghost") {
			t.Errorf("%s %s: %d %+v", r.method, r.path, code, eb)
		}
	}

	// Event streams: the status counts open streams; the test stream
	// sends its first message at once.
	if es := get("/api/events/status", 200); es["status"] != "active" || es["connectedClients"] != 0.0 || es["timestamp"] == nil {
		t.Errorf("events status: %v", es)
	}
	c.openSSE(t, "/api/events/tasks", "")
	ts := c.openSSE(t, "/api/events/test", "")
	ts.next(t, "connection frame", func(f frame) bool { return f.data["type"] == "connection" })
	f := ts.next(t, "test message", func(f frame) bool { return f.data["type"] == "test" })
	if f.data["message"] != "Test message 1" || f.data["timestamp"] == nil {
		t.Errorf("test frame: %v", f.data)
	}
	e.await("two connected clients", func() bool {
		es := get("/api/events/status", 200)
		return es["connectedClients"] == 2.0 && obj(es["streams"])["tasks"] == 1.0 && obj(es["streams"])["test"] == 1.0
	})
}
