package controller

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	ctl "github.com/skalds-go/skalds/controller"
	"github.com/skalds-go/skalds/runtime/task"
	"github.com/skalds-go/skalds/skaldtest"
)

// served is a controller started by serve, with its own logs.
type served struct {
	url  string
	logs *skaldtest.Logs
	done chan error
	stop context.CancelFunc
}

// serve runs a controller on ln after tweak, recording its logs; unlike
// startController it leaves Run's error to the test.
func (e *env) serve(ln net.Listener, tweak func(*ctl.Config)) *served {
	e.t.Helper()
	cfg := ctl.Config{Infra: e.infra, Mode: ctl.ModeController, MonitorInterval: 100 * time.Millisecond, NodeTimeout: time.Second}
	if tweak != nil {
		tweak(&cfg)
	}
	cfg, err := ctl.LoadConfig(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	logs := skaldtest.NewLogs(e.log.Handler())
	c, err := ctl.New(e.ctx, cfg, ctl.Options{Logger: slog.New(logs), Listener: ln, Version: "test", EventPoll: 100 * time.Millisecond})
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &served{url: "http://" + ln.Addr().String(), logs: logs, done: make(chan error, 1), stop: cancel}
	go func() { s.done <- c.Run(ctx) }()
	e.t.Cleanup(func() {
		cancel()
		<-s.done
	})
	return s
}

func listen(t *testing.T, addr string) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

func TestAPIWithoutATokenServesLoopbackOnly(t *testing.T) {
	e := newEnv(t)
	// Every interface, no token: refused before serving anything.
	s := e.serve(listen(t, "0.0.0.0:0"), nil)
	select {
	case err := <-s.done:
		if err == nil || !strings.Contains(err.Error(), "SKALD_API_TOKEN") || !strings.Contains(err.Error(), "SKALD_API_INSECURE") {
			t.Fatalf("Run on every interface without a token: %v", err)
		}
		s.done <- err // for the clean-up
	case <-time.After(deadline):
		t.Fatal("Run on every interface without a token kept serving")
	}

	// The same on purpose: served, and said loudly.
	s = e.serve(listen(t, "0.0.0.0:0"), func(c *ctl.Config) { c.Insecure = true })
	ctx, cancel := context.WithTimeout(e.ctx, deadline)
	defer cancel()
	rec, err := s.logs.Await(ctx, func(r skaldtest.Record) bool { return strings.HasPrefix(r.Msg, "INSECURE") })
	if err != nil || rec.Level != slog.LevelError {
		t.Fatalf("insecure start: %v %+v", err, rec)
	}
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(s.url, "http://"))
	res, err := http.Get("http://127.0.0.1:" + port + "/api")
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("insecure controller: %v %v", err, res)
	}
	res.Body.Close()
}

func TestAPIRefusesWhatAWebPageCanSend(t *testing.T) {
	e := newEnv(t)
	c := e.startController(func(cfg *ctl.Config) { cfg.MaxBody = 4096 })
	send := func(method, path, ctype, origin, body string) *http.Response {
		t.Helper()
		req, err := http.NewRequest(method, c.url+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	// No origin is allowed by default: no preflight passes, and no
	// response may be read across origins.
	pre, _ := http.NewRequest(http.MethodOptions, c.url+"/api/tasks", nil)
	pre.Header.Set("Origin", "http://evil.example")
	pre.Header.Set("Access-Control-Request-Method", "POST")
	res, err := http.DefaultClient.Do(pre)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if got := res.Header.Get("Access-Control-Allow-Origin"); got != "" {
		t.Errorf("preflight from another origin allowed: %q", got)
	}
	if res := send("GET", "/api/tasks", "", "http://evil.example", ""); res.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("a cross-origin read is allowed: %v", res.Header)
	}

	// The simple requests a page can send without a preflight are refused.
	body := `{"id":"csrf-1","className":"Api"}`
	for _, ct := range []string{"text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", ""} {
		if res := send("POST", "/api/tasks", ct, "http://evil.example", body); res.StatusCode != http.StatusUnsupportedMediaType {
			t.Errorf("POST as %q: %d, want 415", ct, res.StatusCode)
		}
	}
	if _, err := e.store.Get(e.ctx, "csrf-1"); !errors.Is(err, task.ErrNotFound) {
		t.Fatalf("a refused request wrote the task: %v", err)
	}
	e.create("big-1", "Api", 0)
	if res := send("PUT", "/api/tasks/big-1/attachments", "text/plain", "", `{"attachments":{"a":1}}`); res.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("PUT as text/plain: %d", res.StatusCode)
	}
	if res := send("POST", "/api/tasks", "application/json; charset=utf-8", "", body); res.StatusCode != http.StatusCreated {
		t.Errorf("POST as application/json with a charset: %d", res.StatusCode)
	}

	// Bodies over the limit: 413, nothing written.
	large := `{"attachments":{"blob":"` + strings.Repeat("x", 5000) + `"}}`
	if res := send("PUT", "/api/tasks/big-1/attachments", "application/json", "", large); res.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("a body over the limit: %d", res.StatusCode)
	}
	// The same without a Content-Length, so that the limit is met while
	// reading.
	req, _ := http.NewRequest("PUT", c.url+"/api/tasks/big-1/attachments", struct{ *strings.Reader }{strings.NewReader(large)})
	req.Header.Set("Content-Type", "application/json")
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("a chunked body over the limit: %v %v", err, res)
	} else {
		res.Body.Close()
	}
	if d, err := e.store.Get(e.ctx, "big-1"); err != nil || d.AttachmentsVersion != 1 {
		t.Errorf("refused updates changed the task: %v %v", err, d)
	}
}

func TestAPIServesHTTPS(t *testing.T) {
	e := newEnv(t)
	certs := skaldtest.NewCerts(t)
	ca, err := os.ReadFile(certs.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	s := e.serve(listen(t, "127.0.0.1:0"), func(c *ctl.Config) { c.TLSCert, c.TLSKey = certs.ServerCert, certs.ServerKey })
	addr := strings.TrimPrefix(s.url, "http://")
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	var res *http.Response
	e.await("the HTTPS API", func() bool {
		r, err := client.Get("https://" + addr + "/api")
		if err != nil {
			return false
		}
		r.Body.Close()
		res = r
		return true
	})
	if res.StatusCode != 200 || res.TLS == nil {
		t.Fatalf("GET https://%s/api: %d, TLS %v", addr, res.StatusCode, res.TLS)
	}
	// Plain HTTP on the HTTPS port gets no API.
	if r, err := http.Get("http://" + addr + "/api"); err == nil {
		r.Body.Close()
		if r.StatusCode == 200 {
			t.Fatal("plain HTTP answered on the HTTPS port")
		}
	}
}

func TestAPIInternalErrorsAnswerAnIncidentID(t *testing.T) {
	e := newEnv(t)
	s := e.serve(listen(t, "127.0.0.1:0"), nil)
	// A document no reader can decode: its attachments are a number.
	client, err := mongo.Connect(options.Client().ApplyURI(e.stack.MongoURI))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = client.Disconnect(context.Background()) }()
	if _, err := client.Database("skalds").Collection(task.Collection).InsertOne(e.ctx,
		bson.D{{Key: "id", Value: "broken-1"}, {Key: "className", Value: "X"}, {Key: "attachments", Value: 5}}); err != nil {
		t.Fatal(err)
	}
	c := &controller{url: s.url}
	var eb errBody
	e.await("the API", func() bool { return c.call(t, "GET", "/api", "", nil, nil) == 200 })
	if code := c.call(t, "GET", "/api/tasks/broken-1", "", nil, &eb); code != 500 {
		t.Fatalf("GET a broken task: %d %+v", code, eb)
	}
	if eb.Incident == "" || !strings.Contains(eb.Error, eb.Incident) || strings.Contains(strings.ToLower(eb.Error), "bson") ||
		strings.Contains(eb.Error, "attachments") {
		t.Fatalf("500 body: %+v", eb)
	}
	rec, ok := find(s.logs, skaldtest.Msg("request failed", "incident", eb.Incident))
	if !ok || !strings.Contains(fmt.Sprint(rec.Attrs["err"]), "BSON type") {
		t.Fatalf("the log has no detail under incident %s: %+v", eb.Incident, rec)
	}
}

func find(logs *skaldtest.Logs, m skaldtest.Match) (skaldtest.Record, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	rec, err := logs.Await(ctx, m)
	return rec, err == nil
}

func TestAPIAnswers503AtOnceWhileMongoIsUnreachable(t *testing.T) {
	e := newEnv(t)
	relay, err := skaldtest.NewRelay(strings.TrimSuffix(strings.TrimPrefix(e.stack.MongoURI, "mongodb://"), "/"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(relay.Close)
	e.create("outage-1", "Api", 0)
	s := e.serve(listen(t, "127.0.0.1:0"), func(c *ctl.Config) {
		u, _ := url.Parse(e.stack.MongoURI)
		u.Host = relay.Addr()
		c.Infra.MongoHost = u.String()
	})
	c := &controller{url: s.url}
	e.await("the API", func() bool { return c.call(t, "GET", "/api/tasks/outage-1", "", nil, nil) == 200 })

	relay.Cut()
	get := func() (int, http.Header, time.Duration) {
		start := time.Now()
		code, h, _ := c.raw(t, "GET", "/api/tasks/outage-1", "", "")
		return code, h, time.Since(start)
	}
	code, h, took := get()
	if code != http.StatusServiceUnavailable || h.Get("Retry-After") == "" || took > 4*time.Second {
		t.Fatalf("first request in the outage: %d, Retry-After %q, after %s", code, h.Get("Retry-After"), took)
	}
	for range 3 {
		if code, h, took = get(); code != http.StatusServiceUnavailable || h.Get("Retry-After") == "" || took > 500*time.Millisecond {
			t.Fatalf("a request while MongoDB is known to be down: %d, Retry-After %q, after %s", code, h.Get("Retry-After"), took)
		}
	}
	// What Redis and memory serve stays up.
	if code := c.call(t, "GET", "/api/skalds", "", nil, nil); code != 200 {
		t.Errorf("the node list in a MongoDB outage: %d", code)
	}
	// The health endpoint says what is down, not the driver's text.
	var health struct {
		Services map[string]string `json:"services"`
	}
	if code := c.call(t, "GET", "/api/system/health", "", nil, &health); code != http.StatusServiceUnavailable ||
		!strings.HasPrefix(health.Services["mongo"], "unhealthy: unreachable (incident ") || strings.Contains(health.Services["mongo"], relay.Addr()) {
		t.Errorf("health in the outage: %d %v", code, health.Services)
	}
	// A write is refused the same way and changes nothing.
	if code, _, _ := c.raw(t, "PUT", "/api/tasks/outage-1/attachments", "", `{"attachments":{"a":1}}`); code != http.StatusServiceUnavailable {
		t.Fatalf("update in the outage: %d", code)
	}
	relay.Restore()
	e.await("the API after the outage", func() bool { return c.call(t, "GET", "/api/tasks/outage-1", "", nil, nil) == 200 })
	if d, err := e.store.Get(e.ctx, "outage-1"); err != nil || d.AttachmentsVersion != 1 {
		t.Fatalf("after the outage: %v %v", err, d)
	}
}

// TestWaitingUpdatesShareTheEventFeed has ten requests wait at once for a
// worker that never answers: they cost MongoDB the event feed's polls, not
// a poll per request every 50 ms, and each ends with 202 and the version
// to poll for.
func TestWaitingUpdatesShareTheEventFeed(t *testing.T) {
	e := newEnv(t)
	relay, err := skaldtest.NewCommandRelay(strings.TrimSuffix(strings.TrimPrefix(e.stack.MongoURI, "mongodb://"), "/"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(relay.Close)
	s := e.serve(listen(t, "127.0.0.1:0"), func(c *ctl.Config) {
		u, _ := url.Parse(e.stack.MongoURI)
		u.Host = relay.Addr()
		c.Infra.MongoHost = u.String()
	})
	c := &controller{url: s.url}
	e.await("the API", func() bool { return c.call(t, "GET", "/api", "", nil, nil) == 200 })
	// Assigned to a node that is not there: running as far as the API
	// knows, and no one will ever apply an update.
	if code := c.call(t, "POST", "/api/tasks", "", `{"id":"silent-1","className":"Api","executor":"ghost"}`, nil); code != 201 {
		t.Fatalf("create: %d", code)
	}
	e.assignedTo("silent-1")

	const waiters = 10
	const wait = time.Second
	relay.ResetCommands()
	codes := make(chan int, waiters)
	for i := range waiters {
		go func() {
			var res updateBody
			code := c.call(t, "PUT", "/api/tasks/silent-1/attachments?wait="+wait.String(), "", fmt.Sprintf(`{"attachments":{"n":%d}}`, i), &res)
			if code == http.StatusAccepted && (res.Data.State != "pending" || res.Data.AttachmentsVersion == 0) {
				code = -code
			}
			codes <- code
		}()
	}
	for range waiters {
		if code := <-codes; code != http.StatusAccepted {
			t.Errorf("a wait that ended before the worker answered: %d, want 202 with state pending and the version", code)
		}
	}
	cmds := relay.Commands()
	t.Logf("MongoDB commands during the waits: %v", cmds)
	// Each request reads the task once and writes it once; the feed polls
	// every 100 ms. Polling per request every 50 ms would be 200 reads.
	polls := 2*int(wait/(100*time.Millisecond)) + 5 // slack for a loaded machine
	if cmds["find"] > waiters+polls || cmds["findAndModify"] != waiters {
		t.Errorf("MongoDB commands during %d waits of %s: %v; want at most %d finds and %d findAndModify", waiters, wait, cmds, waiters+polls, waiters)
	}
}

// TestAPISlowQueryFailsAlone gives the API a store timeout no MongoDB call
// can meet: each request gets its own 503, and MongoDB, which answers
// pings, is not taken for down.
func TestAPISlowQueryFailsAlone(t *testing.T) {
	e := newEnv(t)
	e.create("slow-1", "Api", 0)
	s := e.serve(listen(t, "127.0.0.1:0"), func(c *ctl.Config) { c.StoreTimeout = time.Microsecond })
	c := &controller{url: s.url}
	e.await("the API", func() bool { return c.call(t, "GET", "/api", "", nil, nil) == 200 })
	for range 3 {
		var eb errBody
		code, h, body := c.raw(t, "GET", "/api/tasks/slow-1", "", "")
		_ = json.Unmarshal(body, &eb)
		if code != http.StatusServiceUnavailable || h.Get("Retry-After") == "" || !strings.Contains(eb.Error, "did not answer within 1µs") {
			t.Fatalf("a query past the store timeout: %d %s", code, body)
		}
	}
}
