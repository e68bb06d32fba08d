package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeAPI answers like a controller, and records the last request.
func fakeAPI(t *testing.T) (*httptest.Server, *http.Request) {
	last := &http.Request{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		*last = *r
		w.Header().Set("Content-Type", "application/json")
		if r.Header.Get("Authorization") != "Bearer tok" {
			w.WriteHeader(401)
			io.WriteString(w, `{"error":"missing bearer token","status_code":401,"path":"x"}`)
			return
		}
		switch {
		case r.Method == "GET" && r.URL.Path == "/api/tasks":
			io.WriteString(w, `{"items":[{"id":"t1","className":"A","lifecycleStatus":"Running","executor":"n1","priority":3,"assignmentEpoch":2,"attempts":1,"attachmentsVersion":2,"appliedAttachmentsVersion":2}],"total":1,"page":1,"pageSize":20}`)
		case r.Method == "GET" && r.URL.Path == "/api/tasks/t1/history":
			io.WriteString(w, `{"taskId":"t1","total":12,"dropped":10,"entries":[`+
				`{"at":1700000000000,"event":"failed","node":"n1","epoch":2,"errorKind":"terminal","message":"camera gone\nstack"},`+
				`{"at":1700000001000,"event":"updateRejected","node":"n1","epoch":2,"version":3,"paths":["$.fps"]}]}`)
		case r.Method == "GET" && r.URL.Path == "/api/skalds":
			// Class names that read as other YAML types, for -o yaml.
			io.WriteString(w, `{"items":[{"id":"n1","type":"node","status":"online","lastHeartbeat":1700000000000,`+
				`"supportedTasks":["A","B","123","true","null"],"currentTasks":[],"taskCount":2,"schemaConflicts":[]}],"total":1}`)
		case r.Method == "PUT" && strings.HasSuffix(r.URL.Path, "/attachments"):
			w.WriteHeader(422)
			io.WriteString(w, `{"success":false,"message":"The worker rejected the attachments","data":{"state":"rejected","attachmentsVersion":3,"rejection":{"version":3,"message":"bad","fields":[{"path":"$.fps","message":"must be positive"}]}}}`)
		case r.Method == "POST" && strings.Contains(readAll(r), `"className":"Lonely"`):
			w.WriteHeader(201)
			io.WriteString(w, `{"id":"t2","className":"Lonely","lifecycleStatus":"Created","unserved":true}`)
		case r.Method == "POST":
			w.WriteHeader(422)
			io.WriteString(w, `{"error":"invalid task","status_code":422,"path":"/api/tasks","fields":[{"path":"className","message":"required"}]}`)
		default:
			w.WriteHeader(404)
			io.WriteString(w, `{"error":"task \"x\" not found","status_code":404,"path":"x"}`)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, last
}

func readAll(r *http.Request) string {
	b, _ := io.ReadAll(r.Body)
	return string(b)
}

func runArgs(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestTasksListPrintsATable(t *testing.T) {
	srv, last := fakeAPI(t)
	code, out, errs := runArgs("tasks", "list", "--server", srv.URL, "--token", "tok", "--class", "A")
	if code != 0 || !strings.Contains(out, "t1") || !strings.Contains(out, "2/2") || !strings.Contains(out, "page 1, 1 of 1 tasks") {
		t.Fatalf("code %d\n%s\n%s", code, out, errs)
	}
	if last.URL.Query().Get("className") != "A" {
		t.Errorf("query %v", last.URL.Query())
	}
	code, out, _ = runArgs("tasks", "list", "--server", srv.URL, "--token", "tok", "-o", "json")
	if code != 0 || !strings.Contains(out, `"total": 1`) {
		t.Errorf("json: %d %s", code, out)
	}
}

func TestTasksHistoryPrintsOneLinePerEntry(t *testing.T) {
	srv, _ := fakeAPI(t)
	code, out, errs := runArgs("tasks", "history", "t1", "--server", srv.URL, "--token", "tok")
	want := "(10 older entries not kept)\n" +
		"2023-11-14 22:13:20.000  failed         epoch 2  node n1  [terminal]  camera gone\n" +
		"2023-11-14 22:13:21.000  updateRejected epoch 2  node n1  v3  at $.fps\n"
	if code != 0 || out != want {
		t.Fatalf("code %d\n%s\nwant\n%s\n%s", code, out, want, errs)
	}
	code, out, _ = runArgs("tasks", "history", "t1", "--server", srv.URL, "--token", "tok", "-o", "json")
	if code != 0 || !strings.Contains(out, `"errorKind": "terminal"`) {
		t.Errorf("json: %d %s", code, out)
	}
}

func TestErrorsAreReportedWithTheirFields(t *testing.T) {
	srv, _ := fakeAPI(t)
	code, _, errs := runArgs("tasks", "get", "x", "--server", srv.URL)
	if code != 1 || !strings.Contains(errs, "GET /api/tasks/x: 401 missing bearer token") || !strings.Contains(errs, "SKALD_API_TOKEN") {
		t.Errorf("no token: %d %s", code, errs)
	}
	code, _, errs = runArgs("tasks", "create", "--class", "A", "--server", srv.URL, "--token", "tok")
	if code != 1 || !strings.Contains(errs, "className: required") {
		t.Errorf("invalid create: %d %s", code, errs)
	}
	code, out, errs := runArgs("tasks", "create", "--class", "Lonely", "--server", srv.URL, "--token", "tok")
	if code != 0 || !strings.Contains(out, "t2") || !strings.Contains(errs, `warning: no online node serves class "Lonely"`) {
		t.Errorf("create of an unserved class: %d %s %s", code, out, errs)
	}
	code, out, errs = runArgs("tasks", "update", "t1", "--attachments", `{"fps":0}`, "--wait", "2s", "--server", srv.URL, "--token", "tok")
	if code != 1 || !strings.Contains(out, "$.fps: must be positive") || !strings.Contains(errs, "update again") {
		t.Errorf("rejected update: %d %s", code, out)
	}
	if code, _, _ := runArgs("bogus"); code != 2 {
		t.Errorf("unknown command: %d", code)
	}
}

// lockedBuffer is a bytes.Buffer safe for the spinner's goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestUpdateWaitShowsProgress(t *testing.T) {
	// Not a terminal: one line, no frames.
	srv, _ := fakeAPI(t)
	_, _, errs := runArgs("tasks", "update", "t1", "--attachments", `{"fps":0}`, "--wait", "2s", "--server", srv.URL, "--token", "tok")
	if !strings.Contains(errs, "waiting up to 2s for the worker to apply the attachments...\n") || strings.Contains(errs, "\r") {
		t.Errorf("progress on a pipe: %q", errs)
	}
	// A terminal: frames redrawn in place, the line erased at the end.
	var buf lockedBuffer
	stop := spinner(&buf, "waiting")
	time.Sleep(3 * spinnerEvery)
	stop()
	stop() // idempotent
	out := buf.String()
	if strings.Count(out, "\r") < 3 || !strings.Contains(out, "waiting 0s") || !strings.HasSuffix(out, "\r\033[K") {
		t.Errorf("spinner output %q", out)
	}
}

// TestTasksLogsFollows prints the last records, then follows with the
// cursor of the answer, waiting on the server, until interrupted.
func TestTasksLogsFollows(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var queries []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path != "/api/tasks/t%2F1/logs" && r.URL.RawPath != "/api/tasks/t%2F1/logs" {
			w.WriteHeader(404)
			io.WriteString(w, `{"error":"not found","status_code":404,"path":"x"}`)
			return
		}
		queries = append(queries, r.URL.RawQuery)
		switch r.URL.Query().Get("after") {
		case "":
			io.WriteString(w, `{"taskId":"t/1","records":[{"id":"5-0","time":1700000000000,"level":"INFO","msg":"started","attrs":{"epoch":2,"n":"x y"}}],"next":"5-0"}`)
		case "5-0":
			io.WriteString(w, `{"taskId":"t/1","records":[{"id":"6-0","time":1700000001000,"level":"WARN","msg":"slow frame"}],"next":"6-0"}`)
		default:
			// The follower is now waiting for more: interrupt it.
			cancel()
			io.WriteString(w, `{"taskId":"t/1","records":[],"next":"6-0"}`)
		}
	}))
	defer srv.Close()
	var out, errb bytes.Buffer
	code := run(ctx, []string{"tasks", "logs", "t/1", "-n", "5", "-f", "--server", srv.URL}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "INFO  started epoch=2 n=\"x y\"") || !strings.Contains(lines[1], "WARN  slow frame") {
		t.Fatalf("output:\n%s", out.String())
	}
	if len(queries) != 3 || queries[0] != "limit=5" || !strings.Contains(queries[1], "after=5-0") || !strings.Contains(queries[1], "wait=20s") || !strings.Contains(queries[2], "after=6-0") {
		t.Fatalf("queries %q", queries)
	}
	if code, _, errs := runArgs("tasks", "logs", "t1", "-n", "0"); code != 2 || !strings.Contains(errs, "-n must be from 1 to 1000") {
		t.Fatalf("-n 0: exit %d %s", code, errs)
	}
}
