// Package api is the controller's HTTP interface: the REST paths and
// response shapes of the Python SystemController (so its dashboard keeps
// working), with that API's known bugs fixed, plus task creation, optional
// waiting for a worker to apply an update, bearer-token authentication and
// Server-Sent Events with ids, keep-alives and resume.
//
// Differences from the Python API, on purpose:
//   - a task without attachments is listed with "attachments": {} instead
//     of failing the whole page, and GET /api/tasks/{id} works for every
//     task;
//   - list filters are literal, case-insensitive substrings (Python passed
//     them to $regex unescaped);
//   - every status write is conditional on the state just read, so a
//     concurrent dispatch or node report is never overwritten;
//   - errors keep their specific message and status (404 "task ... not
//     found", 409 on a conflict, 422 on invalid input), in the body
//     {"error", "status_code", "path"} (plus "fields" for invalid input);
//   - lastHeartbeat is an integer (epoch ms) everywhere;
//   - the health endpoint probes MongoDB, Redis and Kafka;
//   - /api/system/status reports a real uptime and whether each loop
//     runs, /api/system/version the build's own version, commit and
//     dependencies, /api/system/config the settings with every secret
//     masked; analytics answer 422 for a bad query instead of 500;
//   - /api/skalds/{id}/status, /heartbeat and /ping answer 404 for an
//     unknown id, and judge heartbeat age on the controller's clock;
//     canAcceptTasks also needs room under the node's published MaxTasks;
//   - /api/events/status counts open streams (Python's millisecond client
//     ids collided), per stream too;
//   - attachments are checked against the JSON Schema that the class's
//     online nodes publish (see package schema), on creation and on
//     update, and refused with 422 and every failing field; a class
//     without a published schema is accepted unchecked.
//
// Additions: GET /api/classes, GET /api/classes/{name} (one class with
// the schemas of its progress and result, its nodes, attachments schemas
// and task counts) and GET /api/classes/{name}/schema (the schemas the
// dashboard builds its forms from), GET /api/system/charts (samples over
// time, kept in memory), GET /metrics (Prometheus) and the dashboard under
// /dashboard/.
package api

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/skalds-go/skalds/controller/api/wire"
	"github.com/skalds-go/skalds/controller/dashboard"
	"github.com/skalds-go/skalds/controller/dispatch"
	"github.com/skalds-go/skalds/controller/metrics"
	"github.com/skalds-go/skalds/controller/monitor"
	"github.com/skalds-go/skalds/controller/schema"
	"github.com/skalds-go/skalds/runtime/event"
	"github.com/skalds-go/skalds/runtime/task"
)

// Publisher sends task events; *event.Publisher is one.
type Publisher interface {
	Publish(ctx context.Context, topic string, e event.TaskEvent) error
}

// Deps are the parts of the controller the API reads and writes.
type Deps struct {
	Store      *task.Store
	Monitor    *monitor.Monitor
	Dispatcher *dispatch.Dispatcher // may be nil: no dispatching in this process
	Publisher  Publisher            // may be nil: nodes see changes at their next reconcile
	Redis      redis.UniversalClient
	// KafkaCheck probes Kafka for the health endpoint; nil reports Kafka
	// as disabled.
	KafkaCheck func(context.Context) error
	// Metrics, when set, is served at /metrics and counts what the API
	// observes (schema rejections, update acknowledgements).
	Metrics *metrics.Metrics
}

// Options configures the API.
type Options struct {
	// Token, when set, is required as "Authorization: Bearer <token>" on
	// every route. Browsers' EventSource cannot set headers, so the event
	// streams also accept the cookie that POST /api/events/session sets
	// for a bearer of the token (see eventsSession); the token itself never
	// travels in a URL, where proxies and logs would keep it.
	Token string
	// MaxWait is the longest ?wait= on attachment updates; a longer one is
	// refused with 400. Zero means 60 s.
	MaxWait time.Duration
	// EventPoll is how often the task stream reads MongoDB; zero means
	// 400 ms, which keeps a change's delay under a second.
	EventPoll time.Duration
	// KeepAlive is the interval of comment frames on idle streams, which
	// keep proxies from closing them; zero means 15 s.
	KeepAlive time.Duration
	// EventBuffer is how many events are kept for Last-Event-ID resume;
	// zero means 4096.
	EventBuffer int
	// MonitorInterval is the monitor's refresh interval, against which
	// the health endpoint judges the age of the registry snapshot.
	MonitorInterval time.Duration
	// CORSOrigins are the origins whose pages may call the API from a
	// browser (scheme://host[:port], as browsers send them in Origin), or
	// "*" for any. Empty, the default, allows none: the dashboard is served
	// by the API itself and needs no CORS, and a wildcard would let any web
	// page read the API of a controller it can reach.
	CORSOrigins []string
	// MaxBody bounds request bodies, in bytes; a larger one is refused with
	// 413. Zero means 1 MiB: attachments are parameters, not payloads.
	MaxBody int64
	// StoreTimeout bounds the MongoDB calls of one request; zero means 2 s.
	// A call that times out or cannot reach MongoDB is answered 503 with
	// Retry-After, and so is every request after it until MongoDB answers
	// a probe again, so that an outage costs clients no waiting.
	StoreTimeout time.Duration
	// Info is merged into GET / and GET /api (mode, version, strategy...).
	Info wire.Info
	// Mode and Version are reported by GET /api/system/status and
	// /api/system/version.
	Mode, Version string
	// ChartInterval is the time between two samples of GET
	// /api/system/charts, and ChartSamples how many are kept (the ring's
	// size, about 120 bytes a sample); zero means 10 s and 360 samples,
	// one hour in 43 KB.
	ChartInterval time.Duration
	ChartSamples  int
	// Config is the configuration GET /api/system/config reports. The
	// caller masks the secrets; the API reports it as given.
	Config wire.Config
	Logger *slog.Logger
}

// Server serves the API. Run must be running for the event streams to
// carry events.
type Server struct {
	d    Deps
	opts Options
	log  *slog.Logger
	hub  *hub
	mux  *http.ServeMux
	val  *schema.Validator
	done chan struct{} // closed by Close: ends the event streams
	// started is when the server was first handed to an HTTP server
	// (Handler) or Run started, whichever came first (epoch ms), for the
	// uptime and the event feed's baseline; 0 before.
	started atomic.Int64
	// feed holds the task states of the event feed's last poll, for the
	// requests that wait for a worker.
	feed *feed
	// mongo tracks whether MongoDB answers; see Options.StoreTimeout.
	mongo health
	// charts holds the samples of GET /api/system/charts.
	charts *charts
}

// DefaultMaxBody is the default of Options.MaxBody.
const DefaultMaxBody = 1 << 20

// New returns the API server.
func New(d Deps, opts Options) *Server {
	if opts.MaxWait <= 0 {
		opts.MaxWait = time.Minute
	}
	if opts.EventPoll <= 0 {
		opts.EventPoll = 400 * time.Millisecond
	}
	if opts.KeepAlive <= 0 {
		opts.KeepAlive = 15 * time.Second
	}
	if opts.EventBuffer <= 0 {
		opts.EventBuffer = 4096
	}
	if opts.MaxBody <= 0 {
		opts.MaxBody = DefaultMaxBody
	}
	if opts.StoreTimeout <= 0 {
		opts.StoreTimeout = 2 * time.Second
	}
	if opts.ChartInterval <= 0 {
		opts.ChartInterval = DefaultChartInterval
	}
	if opts.ChartSamples <= 0 {
		opts.ChartSamples = DefaultChartSamples
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{d: d, opts: opts, log: opts.Logger.With("component", "api"),
		hub: newHub(opts.EventBuffer), mux: http.NewServeMux(), done: make(chan struct{}),
		val: schema.NewValidator(), feed: newFeed(),
		charts: newCharts(opts.ChartInterval, opts.ChartSamples)}
	s.routes()
	return s
}

// Close ends the open event streams, so that http.Server.Shutdown does not
// wait for them forever.
func (s *Server) Close() {
	select {
	case <-s.done:
	default:
		close(s.done)
	}
}

func (s *Server) routes() {
	m := s.mux
	// Collection routes answer with and without the trailing slash: the
	// dashboard calls them with it, people and scripts without.
	both := func(method, path string, h http.HandlerFunc) {
		m.HandleFunc(method+" "+path, h)
		m.HandleFunc(method+" "+path+"/{$}", h)
	}
	m.HandleFunc("GET /{$}", s.root)
	m.HandleFunc("GET /api", s.root)
	both("GET", "/api/tasks", s.listTasks)
	both("POST", "/api/tasks", s.createTask)
	m.HandleFunc("GET /api/tasks/classnames", s.classNames)
	m.HandleFunc("GET /api/tasks/{id}", s.getTask)
	m.HandleFunc("DELETE /api/tasks/{id}", s.deleteTask)
	m.HandleFunc("PUT /api/tasks/{id}/status", s.setStatus)
	m.HandleFunc("PUT /api/tasks/{id}/attachments", s.setAttachments)
	m.HandleFunc("GET /api/tasks/{id}/heartbeat", s.taskHeartbeat)
	m.HandleFunc("GET /api/tasks/{id}/logs", s.taskLogs)
	m.HandleFunc("GET /api/tasks/{id}/history", s.taskHistory)
	both("GET", "/api/skalds", s.listSkalds)
	m.HandleFunc("GET /api/skalds/summary/statistics", s.skaldStatistics)
	m.HandleFunc("GET /api/skalds/{id}", s.getSkald)
	m.HandleFunc("GET /api/skalds/{id}/tasks", s.skaldTasks)
	m.HandleFunc("GET /api/skalds/{id}/status", s.skaldStatus)
	m.HandleFunc("GET /api/skalds/{id}/heartbeat", s.skaldHeartbeat)
	m.HandleFunc("POST /api/skalds/{id}/ping", s.skaldPing)
	m.HandleFunc("GET /api/system/health", s.health)
	m.HandleFunc("GET /api/system/status", s.systemStatus)
	m.HandleFunc("GET /api/system/config", s.systemConfig)
	m.HandleFunc("GET /api/system/version", s.systemVersion)
	m.HandleFunc("GET /api/system/metrics", s.systemMetrics)
	m.HandleFunc("GET /api/system/analytics/task-distribution", s.taskDistribution)
	m.HandleFunc("GET /api/system/analytics/recent-activity", s.recentActivity)
	m.HandleFunc("GET /api/system/dashboard/summary", s.summary)
	m.HandleFunc("GET /api/system/charts", s.systemCharts)
	m.HandleFunc("GET /api/events/tasks", s.streamTasks)
	m.HandleFunc("GET /api/events/skalds", s.streamSkalds)
	m.HandleFunc("GET /api/events/status", s.eventsStatus)
	m.HandleFunc("GET /api/events/test", s.eventsTest)
	m.HandleFunc("POST /api/events/session", s.eventsSession)
	both("GET", "/api/classes", s.listClasses)
	m.HandleFunc("GET /api/classes/{name}", s.getClass)
	m.HandleFunc("GET /api/classes/{name}/schema", s.classSchema)
	if s.d.Metrics != nil {
		m.Handle("GET /metrics", s.d.Metrics.Handler())
	}
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, http.StatusNotFound, fmt.Sprintf("no route %s %s; see GET /api for the endpoints", r.Method, r.URL.Path))
	})
}

// Handler returns the API with CORS and authentication in front, and the
// dashboard beside it. The dashboard's files hold no data, so they are
// served without a token: the page asks for one and sends it with its API
// calls. A browser asking for / is sent to the dashboard; other clients get
// the JSON description of the API.
func (s *Server) Handler() http.Handler {
	// Requests may be served before Run's loops are scheduled. What they
	// write must be newer than the event feed's baseline, or a client that
	// listened from the first request would never hear of it.
	s.started.CompareAndSwap(0, time.Now().UnixMilli())
	api := s.cors(s.auth(s.writes(s.guard(s.mux))))
	dash := dashboard.Handler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		switch {
		case p == "/dashboard" || strings.HasPrefix(p, "/dashboard/"):
			dash.ServeHTTP(w, r)
		case p == "/" && r.Method == http.MethodGet && strings.Contains(r.Header.Get("Accept"), "text/html"):
			http.Redirect(w, r, "/dashboard/", http.StatusFound)
		default:
			api.ServeHTTP(w, r)
		}
	})
}

// cors answers the browsers' cross-origin checks. Only the configured
// origins are told they may read responses; a preflight from any other
// origin gets no Access-Control-Allow-* headers, so the browser refuses
// the request before sending it.
func (s *Server) cors(next http.Handler) http.Handler {
	allowed := map[string]bool{}
	for _, o := range s.opts.CORSOrigins {
		allowed[strings.TrimRight(o, "/")] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		h := w.Header()
		h.Add("Vary", "Origin")
		if origin != "" && (allowed[origin] || allowed["*"]) {
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, Cache-Control, Last-Event-ID")
			h.Set("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE, OPTIONS")
		}
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			// A preflight carries no credentials by design.
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// writes makes every request that carries a body send it as
// application/json, bounded by MaxBody. Browsers send text/plain,
// multipart/form-data and application/x-www-form-urlencoded across origins
// without a preflight; refusing them means that a web page can never make
// a user's browser write to the API.
func (s *Server) writes(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A request without a body has nothing to parse; the endpoints
		// that need one refuse it as an invalid body.
		if r.ContentLength != 0 {
			mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
			if err != nil || mt != "application/json" {
				s.fail(w, r, http.StatusUnsupportedMediaType,
					fmt.Sprintf("Content-Type %q is not accepted; send the body as application/json", r.Header.Get("Content-Type")))
				return
			}
			if r.ContentLength > s.opts.MaxBody {
				s.tooLarge(w, r)
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, s.opts.MaxBody)
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) tooLarge(w http.ResponseWriter, r *http.Request) {
	s.fail(w, r, http.StatusRequestEntityTooLarge,
		fmt.Sprintf("the body is larger than %d bytes; attachments are parameters, keep bulk data elsewhere and link to it", s.opts.MaxBody))
}

func (s *Server) auth(next http.Handler) http.Handler {
	if s.opts.Token == "" {
		return next
	}
	want := []byte(s.opts.Token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := ""
		if scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "Bearer") {
			got = strings.TrimSpace(tok)
		} else if r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/api/events/") && s.eventsCookieValid(r, time.Now()) {
			// The cookie opens the read-only streams and nothing else:
			// a browser sends it by itself, so it must not authorise a
			// write.
			next.ServeHTTP(w, r)
			return
		}
		if got == "" || subtle.ConstantTimeCompare([]byte(got), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="skalds"`)
			msg := "missing bearer token: send Authorization: Bearer <token>"
			switch {
			case got != "":
				msg = "invalid bearer token"
			case r.URL.Query().Has("access_token"):
				msg = "the token is not accepted in the URL, where proxies and logs keep it: send Authorization: Bearer <token>, " +
					"or, from a browser, POST /api/events/session with it once for a cookie that opens the event streams"
			}
			s.fail(w, r, http.StatusUnauthorized, msg)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// The shapes of the API's bodies are package wire's; these are their
// names here.
type (
	errorBody  = wire.Error
	fieldError = wire.FieldError
	success    = wire.Success[any]
)

// succeeded is a successful answer with data.
func succeeded(msg string, data any) success { return success{Success: true, Message: msg, Data: data} }

func (s *Server) writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	if err := enc.Encode(v); err != nil {
		s.log.Debug("writing a response", "err", err)
	}
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, code int, msg string, fields ...fieldError) {
	s.writeJSON(w, code, errorBody{Error: msg, StatusCode: code, Path: r.URL.Path, Fields: fields,
		Incident: w.Header().Get("X-Skalds-Incident")})
}

// internal answers 500 for an unexpected error. The detail may hold
// what a client must not see (server addresses, driver internals), so it
// is logged with a random incident id, and only the id is answered: the
// operator finds the detail in the log by it. An error that says MongoDB
// is unreachable is answered 503 instead (see unavailable).
func (s *Server) internal(w http.ResponseWriter, r *http.Request, err error) {
	if s.unavailable(w, r, err) {
		return
	}
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		return // the client went away
	}
	id := incidentID()
	s.log.Error("request failed", "incident", id, "method", r.Method, "path", r.URL.Path, "err", err)
	w.Header().Set("X-Skalds-Incident", id)
	s.fail(w, r, http.StatusInternalServerError,
		fmt.Sprintf("internal error, incident %s; the controller's log has the detail under incident=%s", id, id))
}

// incidentID returns a short random id for an internal error.
func incidentID() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func invalid(field, msg string) fieldError { return fieldError{Path: field, Message: msg} }

func (s *Server) root(w http.ResponseWriter, r *http.Request) {
	s.writeJSON(w, http.StatusOK, wire.Root{
		Name:   "Skalds SystemController",
		Status: "running",
		Endpoints: map[string]string{
			"tasks":     "/api/tasks",
			"skalds":    "/api/skalds",
			"events":    "/api/events",
			"system":    "/api/system",
			"classes":   "/api/classes",
			"metrics":   "/metrics",
			"dashboard": "/dashboard/",
		},
		AttachmentsValidation: AttachmentsValidation,
		Info:                  s.opts.Info,
	})
}
