// Package controller is the Skalds system controller: it watches the node
// registry in Redis, assigns Passive tasks to nodes, moves the tasks of
// nodes that went offline, retries failed tasks with backoff, and serves
// the REST API and event streams of the Python SystemController, checks
// attachments against the JSON Schemas nodes publish, and serves
// Prometheus metrics at /metrics and a dashboard at /dashboard/, all on
// one listener.
//
// The controller keeps no state that matters between restarts: MongoDB
// holds the tasks and their assignments, Redis the registry. Several
// controllers may run at once; assignments are conditional claims, so
// they never assign one task twice (see package dispatch).
package controller

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/trace"

	"github.com/skalds-go/skalds/controller/api"
	"github.com/skalds-go/skalds/controller/api/wire"
	"github.com/skalds-go/skalds/controller/dispatch"
	"github.com/skalds-go/skalds/controller/metrics"
	"github.com/skalds-go/skalds/controller/monitor"
	"github.com/skalds-go/skalds/controller/retention"
	"github.com/skalds-go/skalds/internal/telemetry"
	"github.com/skalds-go/skalds/runtime/backoff"
	"github.com/skalds-go/skalds/runtime/config"
	"github.com/skalds-go/skalds/runtime/event"
	"github.com/skalds-go/skalds/runtime/liveness"
	"github.com/skalds-go/skalds/runtime/task"
)

// Mode is SYSTEM_CONTROLLER_MODE. The monitor runs in every mode (it only
// reads Redis, and without it the node endpoints would be empty, as in
// Python's CONTROLLER mode); only DISPATCHER assigns tasks.
type Mode string

// The modes, spelled as Python spells them.
const (
	ModeController Mode = "CONTROLLER" // API and monitor
	ModeMonitor    Mode = "MONITOR"    // the same, kept for configuration compatibility
	ModeDispatcher Mode = "DISPATCHER" // API, monitor and dispatcher
)

// Config is the controller's configuration. Zero fields are taken from the
// environment by LoadConfig, then from the defaults.
type Config struct {
	// Infra holds the MongoDB, Redis and Kafka settings, with the node's
	// environment variable names (MONGO_HOST, REDIS_HOST, KAFKA_HOST...).
	Infra config.Config

	Mode Mode // SYSTEM_CONTROLLER_MODE; default DISPATCHER
	// Addr is SYSTEM_CONTROLLER_HOST:SYSTEM_CONTROLLER_PORT. The default
	// host is 127.0.0.1 without a token and 0.0.0.0 with one; the port
	// defaults to 8000. Without a token, a host other than a loopback
	// address is refused unless Insecure is set.
	Addr string
	// Token, when set, is required as a bearer token on every route,
	// /metrics included (SKALD_API_TOKEN). Only the dashboard's static
	// files are served without it; the page sends it with its calls.
	Token string
	// Insecure lets the API without a token listen beyond loopback
	// (SKALD_API_INSECURE=true). Anyone who can reach the port can then
	// create, change and cancel tasks; it is logged as an error at start.
	Insecure bool
	// CORSOrigins are the origins whose web pages may call the API
	// (SKALD_API_CORS_ORIGINS, comma-separated, such as
	// https://ops.example.com); default none.
	CORSOrigins []string
	// TLSCert and TLSKey, PEM files, make the API serve HTTPS
	// (SKALD_API_TLS_CERT, SKALD_API_TLS_KEY); both or neither.
	TLSCert, TLSKey string
	// MaxBody bounds request bodies in bytes (SKALD_API_MAX_BODY; default
	// 1 MiB); larger ones are answered 413.
	MaxBody int64
	// StoreTimeout bounds the MongoDB calls of one API request
	// (SKALD_API_STORE_TIMEOUT; default 2 s); past it the request gets 503.
	StoreTimeout time.Duration

	MonitorInterval  time.Duration // MONITOR_SKALD_INTERVAL; default 1 s
	NodeTimeout      time.Duration // MONITOR_HEARTBEAT_TIMEOUT; default 10 s
	DispatchInterval time.Duration // DISPATCHER_INTERVAL; default 2 s
	Strategy         dispatch.Strategy
	MaxTasksPerNode  int // SKALD_MAX_TASKS_PER_NODE; default 0, no cap
	// MaxClaimsPerCycle bounds the assignments one dispatch cycle writes
	// (DISPATCHER_MAX_CLAIMS_PER_CYCLE; default 500), so that a large
	// backlog is worked through in short cycles.
	MaxClaimsPerCycle int
	MaxAttempts       int           // SKALD_MAX_ATTEMPTS; default 3
	RetryBackoff      time.Duration // SKALD_RETRY_BACKOFF; default 2 s
	RetryBackoffMax   time.Duration // SKALD_RETRY_BACKOFF_MAX; default 5 min
	// Retention is how long a Finished, Failed or Cancelled task is kept
	// after its last write before a DISPATCHER controller deletes it
	// (SKALD_TASK_RETENTION, seconds or a duration like 168h; default 7
	// days; 0 in the environment, or a negative value in code, keeps every
	// task for ever, as Python Skalds does).
	Retention time.Duration
	// RetentionInterval is the time between retention sweeps
	// (SKALD_RETENTION_INTERVAL; default 10 min).
	RetentionInterval time.Duration
	// RetentionBatch is the most tasks one delete removes
	// (SKALD_RETENTION_BATCH; default 1000).
	RetentionBatch int
}

// LoadConfig fills the unset fields of c from the environment and the
// defaults. Intervals in the environment are seconds ("5", as in Python)
// or Go durations ("500ms").
func LoadConfig(c Config) (Config, error) {
	return loadConfig(c, os.LookupEnv)
}

func loadConfig(c Config, env func(string) (string, bool)) (Config, error) {
	infra, err := config.Load(c.Infra)
	if err != nil {
		return c, err
	}
	c.Infra = infra
	str := func(dst *string, name, def string) {
		if *dst == "" {
			if v, ok := env(name); ok && v != "" {
				*dst = v
			} else {
				*dst = def
			}
		}
	}
	e := config.NewEnv(env)
	mode := string(c.Mode)
	str(&mode, "SYSTEM_CONTROLLER_MODE", string(ModeDispatcher))
	c.Mode = Mode(strings.ToUpper(mode))
	switch c.Mode {
	case ModeController, ModeMonitor, ModeDispatcher:
	default:
		e.Errorf("SYSTEM_CONTROLLER_MODE=%q is not a mode; use CONTROLLER, MONITOR or DISPATCHER", mode)
	}
	str(&c.Token, "SKALD_API_TOKEN", "")
	if c.Addr == "" {
		var host, port string
		defHost := "127.0.0.1"
		if c.Token != "" {
			defHost = "0.0.0.0"
		}
		str(&host, "SYSTEM_CONTROLLER_HOST", defHost)
		str(&port, "SYSTEM_CONTROLLER_PORT", "8000")
		c.Addr = net.JoinHostPort(host, port)
	}
	if v, ok := env("SKALD_API_INSECURE"); ok && v != "" && !c.Insecure {
		b, err := strconv.ParseBool(v)
		if err != nil {
			e.Errorf("SKALD_API_INSECURE=%q is not a boolean; use true or false", v)
		}
		c.Insecure = b
	}
	if err := c.checkExposure(c.Addr); err != nil {
		e.Errorf("%v", err)
	}
	if c.CORSOrigins == nil {
		var origins string
		str(&origins, "SKALD_API_CORS_ORIGINS", "")
		for _, o := range strings.Split(origins, ",") {
			if o = strings.TrimSpace(o); o != "" {
				c.CORSOrigins = append(c.CORSOrigins, o)
			}
		}
	}
	str(&c.TLSCert, "SKALD_API_TLS_CERT", "")
	str(&c.TLSKey, "SKALD_API_TLS_KEY", "")
	if (c.TLSCert == "") != (c.TLSKey == "") {
		e.Errorf("SKALD_API_TLS_CERT and SKALD_API_TLS_KEY go together: give both PEM files to serve HTTPS, or neither")
	}
	if c.MaxBody == 0 {
		var n int
		e.Int(&n, "SKALD_API_MAX_BODY", api.DefaultMaxBody)
		c.MaxBody = int64(n)
	}
	if c.MaxBody <= 0 {
		e.Errorf("SKALD_API_MAX_BODY=%d must be a positive number of bytes", c.MaxBody)
	}
	e.Duration(&c.StoreTimeout, "SKALD_API_STORE_TIMEOUT", 2*time.Second)
	e.Duration(&c.MonitorInterval, "MONITOR_SKALD_INTERVAL", time.Second)
	e.Duration(&c.NodeTimeout, "MONITOR_HEARTBEAT_TIMEOUT", 10*time.Second)
	e.Duration(&c.DispatchInterval, "DISPATCHER_INTERVAL", 2*time.Second)
	strategy := string(c.Strategy)
	str(&strategy, "DISPATCHER_STRATEGY", string(dispatch.LeastTasks))
	if c.Strategy, err = dispatch.ParseStrategy(strategy); err != nil {
		e.Errorf("%v", err)
	}
	e.Int(&c.MaxTasksPerNode, "SKALD_MAX_TASKS_PER_NODE", 0)
	e.Int(&c.MaxAttempts, "SKALD_MAX_ATTEMPTS", 3)
	e.Int(&c.MaxClaimsPerCycle, "DISPATCHER_MAX_CLAIMS_PER_CYCLE", dispatch.DefaultMaxClaimsPerCycle)
	if c.MaxClaimsPerCycle <= 0 {
		e.Errorf("DISPATCHER_MAX_CLAIMS_PER_CYCLE=%d must be positive", c.MaxClaimsPerCycle)
	}
	e.Duration(&c.RetryBackoff, "SKALD_RETRY_BACKOFF", 2*time.Second)
	e.Duration(&c.RetryBackoffMax, "SKALD_RETRY_BACKOFF_MAX", 5*time.Minute)
	if c.Retention == 0 {
		c.Retention = 7 * 24 * time.Hour
		if v, ok := env("SKALD_TASK_RETENTION"); ok && v != "" {
			d, err := config.ParseSeconds(v)
			if err != nil {
				e.Errorf("SKALD_TASK_RETENTION: %v", err)
			}
			c.Retention = d
			if d == 0 {
				c.Retention = -1 // off
			}
		}
	}
	e.Duration(&c.RetentionInterval, "SKALD_RETENTION_INTERVAL", 10*time.Minute)
	e.Int(&c.RetentionBatch, "SKALD_RETENTION_BATCH", 1000)
	if c.RetentionBatch <= 0 {
		e.Errorf("SKALD_RETENTION_BATCH=%d must be positive", c.RetentionBatch)
	}
	return c, e.Err("controller config")
}

// checkExposure refuses to serve the API without a token on an address
// reachable from other machines, unless Insecure says so.
func (c Config) checkExposure(addr string) error {
	if c.Token != "" || c.Insecure {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("listen address %q: %v; give host:port", addr, err)
	}
	if isLoopback(host) {
		return nil
	}
	return fmt.Errorf("refusing to serve the API without a token on %s, which other machines can reach: "+
		"set SKALD_API_TOKEN (or -token), listen on 127.0.0.1, or set SKALD_API_INSECURE=true to allow it anyway", addr)
}

// isLoopback tells whether host names this machine only.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Report is the configuration as GET /api/system/config shows it: the
// Python shape (mode, host, port, monitoring, dispatcher, environment,
// logLevel) plus the Go settings, with every secret masked. The API token
// is never shown, only whether one is required. Durations are seconds, as
// in the environment.
func (c Config) Report() wire.Config {
	host, port, _ := net.SplitHostPort(c.Addr)
	var r wire.Config
	r.Mode, r.Host = string(c.Mode), host
	r.Port, _ = strconv.Atoi(port)
	r.Monitoring.SkaldInterval = c.MonitorInterval.Seconds()
	// One refresh reads the registry and the task heartbeats.
	r.Monitoring.TaskInterval = c.MonitorInterval.Seconds()
	r.Monitoring.HeartbeatTimeout = c.NodeTimeout.Seconds()
	d := &r.Dispatcher
	d.Interval, d.Strategy = c.DispatchInterval.Seconds(), string(c.Strategy)
	d.MaxTasksPerNode, d.MaxClaimsPerCycle, d.MaxAttempts = c.MaxTasksPerNode, c.MaxClaimsPerCycle, c.MaxAttempts
	d.RetryBackoff, d.RetryBackoffMax = c.RetryBackoff.Seconds(), c.RetryBackoffMax.Seconds()
	r.Retention.Enabled, r.Retention.Age = c.Retention > 0, max(c.Retention, 0).Seconds()
	r.Retention.Interval, r.Retention.Batch = c.RetentionInterval.Seconds(), c.RetentionBatch
	if v := os.Getenv("SKALD_ENV"); v != "" {
		r.Environment = &v
	}
	i := c.Infra
	r.LogLevel = i.LogLevel
	r.Auth.Enabled, r.Auth.Insecure = c.Token != "", c.Insecure
	r.API.TLS, r.API.CORSOrigins = c.TLSCert != "", append([]string{}, c.CORSOrigins...)
	r.API.MaxBody, r.API.StoreTimeout = c.MaxBody, c.StoreTimeout.Seconds()
	r.Mongo.Host, r.Mongo.DBName = config.MaskURI(i.MongoHost), i.DBName
	r.Redis.Host, r.Redis.Port, r.Redis.Username = i.RedisHost, i.RedisPort, i.RedisUsername
	r.Redis.Password, r.Redis.TLS = config.Mask(i.RedisPassword), i.RedisTLS.String()
	k := &r.Kafka
	k.Host, k.Port, k.Enabled = i.KafkaHost, i.KafkaPort, !i.KafkaDisabled
	k.SecurityProtocol, k.SASLMechanism, k.TLS = i.KafkaSecurityProtocol, i.KafkaSASLMechanism, i.KafkaTLS.String()
	k.Username, k.Password, k.Partitions = i.KafkaUsername, config.Mask(i.KafkaPassword), i.KafkaPartitions
	return r
}

// Options are what a controller needs besides its configuration.
type Options struct {
	Logger *slog.Logger
	// Listener, when set, is served instead of listening on Config.Addr;
	// tests pass one on a free port.
	Listener net.Listener
	// Version is reported by GET /api.
	Version string
	// EventPoll and KeepAlive tune the event streams; zero keeps the
	// defaults of package api.
	EventPoll, KeepAlive time.Duration
	// ChartInterval is the time between two samples of the charts (GET
	// /api/system/charts) and ChartSamples how many are kept; zero keeps
	// package api's defaults (10 s, 360: one hour). Tests shorten them.
	ChartInterval time.Duration
	ChartSamples  int
	// StartRetry is the backoff between connection attempts while a
	// dependency is unreachable at start; zero durations mean 500 ms
	// doubling up to 15 s.
	StartRetry backoff.Policy
	// TracerProvider, when set, makes every event the controller
	// publishes (the dispatcher's assignments, the API's updates, cancels
	// and retries) a span whose trace context travels in the record's
	// headers, so that the node hooks it causes join its trace. Nil turns
	// tracing off.
	TracerProvider trace.TracerProvider
}

// Controller is a running system controller.
type Controller struct {
	cfg  Config
	opts Options
	log  *slog.Logger

	Store      *task.Store
	Redis      *redis.Client
	Monitor    *monitor.Monitor
	Dispatcher *dispatch.Dispatcher // nil unless the mode is DISPATCHER
	Retention  *retention.Retention // nil unless the mode is DISPATCHER and Retention is positive
	API        *api.Server
	Metrics    *metrics.Metrics // served at /metrics

	pub    *event.Publisher
	broker event.Broker
}

// New connects to MongoDB, Redis and (unless disabled) Kafka, and builds
// the parts. A dependency that does not answer is logged by name, with the
// setting to check, and retried with backoff until it answers or ctx ends:
// in a deployment the controller often starts before its servers, and
// exiting at once would only turn that into a restart loop. New returns an
// error only when ctx ends first; it names what was still missing.
func New(ctx context.Context, cfg Config, opts Options) (*Controller, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	c := &Controller{cfg: cfg, opts: opts, log: opts.Logger}
	if cfg.NodeTimeout < 2*liveness.Period {
		// Nodes beat every liveness period; a timeout under two of them
		// takes a node offline (and moves its tasks) for one late beat.
		c.log.Warn("the node timeout is under two heartbeat periods; healthy nodes may be taken for dead",
			"timeout", cfg.NodeTimeout, "heartbeatPeriod", liveness.Period)
	}
	var err error
	if c.Redis, err = liveness.Dial(cfg.Infra, c.log); err != nil {
		return nil, err
	}
	deps := []backoff.Dependency{
		{Name: "mongo", Addr: config.MaskURI(cfg.Infra.MongoHost), Check: "MONGO_HOST", Connect: func(ctx context.Context) error {
			st, err := task.Open(ctx, cfg.Infra.MongoHost, cfg.Infra.DBName)
			if err == nil {
				st.KeepHistory(cfg.Infra.TaskHistory)
			}
			c.Store = st
			return err
		}},
		{Name: "redis", Addr: cfg.Infra.RedisAddr(), Check: liveness.Check(cfg.Infra), Connect: func(ctx context.Context) error {
			return c.Redis.Ping(ctx).Err()
		}},
	}
	var kafkaCheck func(context.Context) error
	if !cfg.Infra.KafkaDisabled {
		if c.broker, err = event.NewBroker(cfg.Infra); err != nil {
			_ = c.Redis.Close()
			return nil, err
		}
		c.broker.Logger = c.log
		c.broker.Trace = opts.TracerProvider != nil
		kafkaCheck = func(ctx context.Context) error { return event.EnsureTopics(ctx, c.broker, event.Topics...) }
		deps = append(deps, backoff.Dependency{Name: "kafka", Addr: cfg.Infra.KafkaAddr(), Check: event.Check(cfg.Infra), Connect: kafkaCheck})
	} else {
		c.log.Warn("running without Kafka: nodes see assignments and changes at their next reconcile (SKALD_RECONCILE_PERIOD)")
	}
	if err := backoff.WaitFor(ctx, c.log, opts.startRetry(), deps...); err != nil {
		c.close()
		return nil, err
	}
	if c.broker.Addr != "" {
		c.pub = event.NewPublisher(c.broker)
	}
	c.Monitor = monitor.New(c.Redis, monitor.Options{Interval: cfg.MonitorInterval, Timeout: cfg.NodeTimeout, Logger: c.log})
	c.Metrics = metrics.New(c.Store, c.Monitor, c.log)
	var pub interface {
		dispatch.Publisher
		api.Publisher
	}
	switch {
	case c.pub != nil && opts.TracerProvider != nil:
		pub = tracedPublisher{pub: c.pub, tracer: telemetry.Tracer(opts.TracerProvider)}
	case c.pub != nil:
		pub = c.pub
	}
	if cfg.Mode == ModeDispatcher {
		c.Dispatcher = dispatch.New(c.Store, pub, c.Monitor, dispatch.Options{
			Interval: cfg.DispatchInterval, Strategy: cfg.Strategy, MaxTasksPerNode: cfg.MaxTasksPerNode,
			MaxClaimsPerCycle: cfg.MaxClaimsPerCycle,
			MaxAttempts:       cfg.MaxAttempts, Backoff: backoff.Policy{First: cfg.RetryBackoff, Max: cfg.RetryBackoffMax},
			OfflineGrace: cfg.NodeTimeout, Logger: c.log, Metrics: c.Metrics,
		})
		// Retention runs where the dispatcher does: every deployment has
		// one, and API-only controllers stay read-mostly.
		if cfg.Retention > 0 {
			c.Retention = retention.New(c.Store, retention.Options{Age: cfg.Retention, Interval: cfg.RetentionInterval,
				Batch: cfg.RetentionBatch, Logger: c.log, Metrics: c.Metrics})
		}
	}
	c.API = api.New(api.Deps{
		Store: c.Store, Monitor: c.Monitor, Dispatcher: c.Dispatcher, Publisher: pub,
		Redis: c.Redis, KafkaCheck: kafkaCheck, Metrics: c.Metrics,
	}, api.Options{
		Token: cfg.Token, CORSOrigins: cfg.CORSOrigins, MaxBody: cfg.MaxBody, StoreTimeout: cfg.StoreTimeout, EventPoll: opts.EventPoll, KeepAlive: opts.KeepAlive, MonitorInterval: cfg.MonitorInterval,
		ChartInterval: opts.ChartInterval, ChartSamples: opts.ChartSamples,
		Logger: c.log, Mode: string(cfg.Mode), Version: opts.Version, Config: cfg.Report(),
		Info: wire.Info{Mode: string(cfg.Mode), Version: opts.Version, Strategy: string(cfg.Strategy),
			Auth: cfg.Token != "", Kafka: !cfg.Infra.KafkaDisabled},
	})
	return c, nil
}

func (c *Controller) close() {
	if c.pub != nil {
		_ = c.pub.Close()
	}
	if c.Redis != nil {
		_ = c.Redis.Close()
	}
	if c.Store != nil {
		_ = c.Store.Close(context.Background())
	}
}

func (o Options) startRetry() backoff.Policy {
	b := o.StartRetry
	if b.First <= 0 {
		b.First = 500 * time.Millisecond
	}
	if b.Max <= 0 {
		b.Max = 15 * time.Second
	}
	return b
}

// shutdownGrace bounds how long in-flight requests may finish at shutdown.
const shutdownGrace = 10 * time.Second

// Run serves the API and runs the monitor, the dispatcher and the event
// feeds until ctx ends; then it ends the event streams, lets in-flight
// requests finish (up to 10 s) and disconnects. It returns an error only if
// the listener fails.
func (c *Controller) Run(ctx context.Context) error {
	defer c.close()
	ln := c.opts.Listener
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", c.cfg.Addr); err != nil {
			return fmt.Errorf("listening on %s: %w", c.cfg.Addr, err)
		}
	}
	if err := c.cfg.checkExposure(ln.Addr().String()); err != nil {
		_ = ln.Close()
		return err
	}
	if c.cfg.Token == "" && c.cfg.Insecure {
		if host, _, _ := net.SplitHostPort(ln.Addr().String()); !isLoopback(host) {
			c.log.Error("INSECURE: the API has no token and listens beyond loopback (SKALD_API_INSECURE); "+
				"anyone who can reach this port can create, change and cancel tasks. Set SKALD_API_TOKEN.",
				"addr", ln.Addr().String())
		}
	}
	scheme := "http"
	if c.cfg.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(c.cfg.TLSCert, c.cfg.TLSKey)
		if err != nil {
			_ = ln.Close()
			return fmt.Errorf("loading the API's certificate (SKALD_API_TLS_CERT, SKALD_API_TLS_KEY): %w", err)
		}
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12,
			NextProtos: []string{"h2", "http/1.1"}})
		scheme = "https"
	}
	srv := &http.Server{
		Handler:           c.API.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(c.log.Handler(), slog.LevelWarn),
	}
	loops, stopLoops := context.WithCancel(ctx)
	defer stopLoops()
	var wg sync.WaitGroup
	wg.Go(func() { c.Monitor.Run(loops) })
	if c.Dispatcher != nil {
		wg.Go(func() { c.Dispatcher.Run(loops) })
	}
	if c.Retention != nil {
		wg.Go(func() { c.Retention.Run(loops) })
	}
	wg.Go(func() { c.API.Run(loops) })

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	c.log.Info("controller ready", "addr", ln.Addr().String(), "scheme", scheme, "mode", c.cfg.Mode, "strategy", c.cfg.Strategy,
		"auth", c.cfg.Token != "", "mongo", config.MaskURI(c.cfg.Infra.MongoHost), "db", c.cfg.Infra.DBName,
		"redis", c.cfg.Infra.RedisAddr(), "kafka", kafkaAddr(c.cfg.Infra))

	var err error
	select {
	case <-ctx.Done():
	case err = <-serveErr:
		err = fmt.Errorf("serving the API: %w", err)
	}
	c.log.Info("controller stopping")
	c.API.Close()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	if serr := srv.Shutdown(sctx); serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		c.log.Warn("stopping the API server", "err", serr)
	}
	stopLoops()
	wg.Wait()
	c.log.Info("controller stopped")
	return err
}

// kafkaAddr is the broker the controller uses, for its start-up line.
// The infrastructure settings are a node's (config.Config), but their
// node id and mode are not the controller's: they are left out.
func kafkaAddr(c config.Config) string {
	if c.KafkaDisabled {
		return "off"
	}
	return c.KafkaAddr()
}
