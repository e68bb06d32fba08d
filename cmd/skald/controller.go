package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/skalds-go/skalds/controller"
	"github.com/skalds-go/skalds/controller/dispatch"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func runController(ctx context.Context, args []string, stderr io.Writer) int {
	fl := flag.NewFlagSet("skald controller", flag.ContinueOnError)
	fl.SetOutput(stderr)
	var cfg controller.Config
	addr := fl.String("addr", "", "listen address (default SYSTEM_CONTROLLER_HOST:SYSTEM_CONTROLLER_PORT, else 127.0.0.1:8000, or 0.0.0.0:8000 with a token)")
	token := fl.String("token", "", "bearer token required on every route (default SKALD_API_TOKEN; empty: no auth, loopback only)")
	insecure := fl.Bool("insecure", false, "allow serving without a token beyond loopback (default SKALD_API_INSECURE)")
	cors := fl.String("cors-origins", "", "comma-separated origins whose web pages may call the API (default SKALD_API_CORS_ORIGINS, else none)")
	tlsCert := fl.String("tls-cert", "", "PEM certificate: serve HTTPS (default SKALD_API_TLS_CERT)")
	tlsKey := fl.String("tls-key", "", "PEM key of -tls-cert (default SKALD_API_TLS_KEY)")
	mode := fl.String("mode", "", "CONTROLLER (API and monitor) or DISPATCHER (also assigns tasks) (default SYSTEM_CONTROLLER_MODE, else DISPATCHER)")
	strategy := fl.String("strategy", "", "LEAST_TASKS, ROUND_ROBIN or RANDOM (default DISPATCHER_STRATEGY, else LEAST_TASKS)")
	monitorEvery := fl.Duration("monitor-interval", 0, "registry refresh interval (default MONITOR_SKALD_INTERVAL, else 1s)")
	timeout := fl.Duration("node-timeout", 0, "a node is offline after this long without activity (default MONITOR_HEARTBEAT_TIMEOUT, else 10s)")
	dispatchEvery := fl.Duration("dispatch-interval", 0, "dispatch cycle interval (default DISPATCHER_INTERVAL, else 2s)")
	maxTasks := fl.Int("max-tasks-per-node", 0, "most tasks assigned to one node; 0: no cap (default SKALD_MAX_TASKS_PER_NODE)")
	maxClaims := fl.Int("max-claims-per-cycle", 0, "most assignments one dispatch cycle writes (default DISPATCHER_MAX_CLAIMS_PER_CYCLE, else 500)")
	attempts := fl.Int("max-attempts", 0, "runs a task gets before a failure is final (default SKALD_MAX_ATTEMPTS, else 3)")
	backoff := fl.Duration("retry-backoff", 0, "wait before the first retry, doubling per attempt (default SKALD_RETRY_BACKOFF, else 2s)")
	backoffMax := fl.Duration("retry-backoff-max", 0, "longest wait before a retry (default SKALD_RETRY_BACKOFF_MAX, else 5m)")
	level := fl.String("log-level", "", "DEBUG, INFO, WARN or ERROR (default LOG_LEVEL, else INFO)")
	jsonLogs := fl.Bool("log-json", false, "log JSON lines instead of text")
	if err := fl.Parse(args); err != nil {
		return 2
	}
	if fl.NArg() > 0 {
		fmt.Fprintf(stderr, "skald controller: unexpected arguments %q\n", fl.Args())
		return 2
	}
	cfg.Addr, cfg.Token, cfg.Mode = *addr, *token, controller.Mode(strings.ToUpper(*mode))
	cfg.Insecure, cfg.TLSCert, cfg.TLSKey = *insecure, *tlsCert, *tlsKey
	for _, o := range strings.Split(*cors, ",") {
		if o = strings.TrimSpace(o); o != "" {
			cfg.CORSOrigins = append(cfg.CORSOrigins, o)
		}
	}
	cfg.Strategy = dispatch.Strategy(*strategy)
	cfg.MonitorInterval, cfg.NodeTimeout, cfg.DispatchInterval = *monitorEvery, *timeout, *dispatchEvery
	cfg.MaxTasksPerNode, cfg.MaxAttempts, cfg.MaxClaimsPerCycle = *maxTasks, *attempts, *maxClaims
	cfg.RetryBackoff, cfg.RetryBackoffMax = *backoff, *backoffMax
	cfg, err := controller.LoadConfig(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "skald controller: %v\n", err)
		return 2
	}
	log := newLogger(stderr, firstNonEmpty(*level, cfg.Infra.LogLevel), *jsonLogs)
	// New waits for MongoDB, Redis and Kafka as long as it takes (a signal
	// ends the wait): servers that start after the controller are normal.
	c, err := controller.New(ctx, cfg, controller.Options{Logger: log, Version: version})
	if err != nil {
		log.Error("starting the controller", "err", err)
		return 1
	}
	if err := c.Run(ctx); err != nil {
		log.Error("controller", "err", err)
		return 1
	}
	return 0
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func newLogger(w io.Writer, level string, asJSON bool) *slog.Logger {
	var lv slog.Level
	switch strings.ToUpper(level) {
	case "TRACE", "DEBUG":
		lv = slog.LevelDebug
	case "WARNING", "WARN":
		lv = slog.LevelWarn
	case "ERROR", "CRITICAL":
		lv = slog.LevelError
	default:
		lv = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: lv}
	if asJSON {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	if w == nil {
		w = os.Stderr
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
