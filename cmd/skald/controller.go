package main

import (
	"context"
	"io"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"

	"github.com/skalds-go/skalds/controller"
	"github.com/skalds-go/skalds/controller/dispatch"
	"github.com/skalds-go/skalds/internal/version"
	"github.com/skalds-go/skalds/tracing"
)

func newControllerCmd() *cobra.Command {
	var cfg controller.Config
	var mode, strategy, level string
	var jsonLogs bool
	c := &cobra.Command{
		Use:   "controller",
		Short: "Run the system controller: REST API, node monitor, dispatcher and dashboard",
		Long: `controller serves the REST API, the server-sent events and the dashboard,
watches the node registry in Redis, and (in DISPATCHER mode) assigns tasks to
nodes, moves the tasks of nodes that went offline and retries failed ones.

It reads MONGO_HOST, REDIS_HOST, KAFKA_HOST and the other variables nodes
read; each flag below falls back to the variable it names. It waits for
MongoDB, Redis and Kafka as long as it takes, so it may start before them.

With OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) set,
every event it publishes is a span exported over OTLP/HTTP, and the node hooks
it causes join that span's trace.`,
		Example: `  SKALD_API_TOKEN=change-me skald controller
  skald controller --addr 127.0.0.1:8000 --strategy ROUND_ROBIN --node-timeout 20s`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			cfg.Mode, cfg.Strategy = controller.Mode(strings.ToUpper(mode)), dispatch.Strategy(strategy)
			loaded, err := controller.LoadConfig(cfg)
			if err != nil {
				return &usageError{err}
			}
			log := newLogger(c.ErrOrStderr(), firstNonEmpty(level, loaded.Infra.LogLevel), jsonLogs)
			// New waits for MongoDB, Redis and Kafka as long as it takes (a
			// signal ends the wait): servers that start after the
			// controller are normal.
			// Off unless OTEL_EXPORTER_OTLP_ENDPOINT (or
			// ..._TRACES_ENDPOINT) is set.
			tp, shutdown, err := tracing.FromEnv(c.Context(), "skalds-controller")
			if err != nil {
				return err
			}
			defer func() { _ = shutdown(context.Background()) }()
			ctl, err := controller.New(c.Context(), loaded, controller.Options{Logger: log, Version: version.String(), TracerProvider: tp})
			if err != nil {
				return err
			}
			return ctl.Run(c.Context())
		},
	}
	fl := c.Flags()
	fl.StringVar(&cfg.Addr, "addr", "", "listen address (default SYSTEM_CONTROLLER_HOST:SYSTEM_CONTROLLER_PORT, else 127.0.0.1:8000, or 0.0.0.0:8000 with a token)")
	fl.StringVar(&cfg.Token, "token", "", "bearer token required on every route (default SKALD_API_TOKEN; empty: no auth, loopback only)")
	fl.BoolVar(&cfg.Insecure, "insecure", false, "allow serving without a token beyond loopback (default SKALD_API_INSECURE)")
	fl.StringSliceVar(&cfg.CORSOrigins, "cors-origins", nil, "comma-separated origins whose web pages may call the API (default SKALD_API_CORS_ORIGINS, else none)")
	fl.StringVar(&cfg.TLSCert, "tls-cert", "", "PEM certificate: serve HTTPS (default SKALD_API_TLS_CERT)")
	fl.StringVar(&cfg.TLSKey, "tls-key", "", "PEM key of --tls-cert (default SKALD_API_TLS_KEY)")
	fl.StringVar(&mode, "mode", "", "CONTROLLER (API and monitor) or DISPATCHER (also assigns tasks) (default SYSTEM_CONTROLLER_MODE, else DISPATCHER)")
	fl.StringVar(&strategy, "strategy", "", "LEAST_TASKS, ROUND_ROBIN or RANDOM (default DISPATCHER_STRATEGY, else LEAST_TASKS)")
	fl.DurationVar(&cfg.MonitorInterval, "monitor-interval", 0, "registry refresh interval (default MONITOR_SKALD_INTERVAL, else 1s)")
	fl.DurationVar(&cfg.NodeTimeout, "node-timeout", 0, "a node is offline after this long without activity (default MONITOR_HEARTBEAT_TIMEOUT, else 10s)")
	fl.DurationVar(&cfg.DispatchInterval, "dispatch-interval", 0, "dispatch cycle interval (default DISPATCHER_INTERVAL, else 2s)")
	fl.IntVar(&cfg.MaxTasksPerNode, "max-tasks-per-node", 0, "most tasks assigned to one node; 0: no cap (default SKALD_MAX_TASKS_PER_NODE)")
	fl.IntVar(&cfg.MaxClaimsPerCycle, "max-claims-per-cycle", 0, "most assignments one dispatch cycle writes (default DISPATCHER_MAX_CLAIMS_PER_CYCLE, else 500)")
	fl.IntVar(&cfg.MaxAttempts, "max-attempts", 0, "runs a task gets before a failure is final (default SKALD_MAX_ATTEMPTS, else 3)")
	fl.DurationVar(&cfg.RetryBackoff, "retry-backoff", 0, "wait before the first retry, doubling per attempt, less up to a fifth at random (default SKALD_RETRY_BACKOFF, else 2s)")
	fl.DurationVar(&cfg.RetryBackoffMax, "retry-backoff-max", 0, "longest wait before a retry (default SKALD_RETRY_BACKOFF_MAX, else 5m)")
	fl.DurationVar(&cfg.Retention, "task-retention", 0, "delete tasks that ended longer ago than this; negative: keep every task (default SKALD_TASK_RETENTION, else 168h)")
	fl.StringVar(&level, "log-level", "", "DEBUG, INFO, WARN or ERROR (default LOG_LEVEL, else INFO)")
	fl.BoolVar(&jsonLogs, "log-json", false, "log JSON lines instead of text")
	completeWords(c, "mode", "CONTROLLER", "DISPATCHER")
	completeWords(c, "strategy", string(dispatch.LeastTasks), string(dispatch.RoundRobin), string(dispatch.Random))
	completeWords(c, "log-level", "DEBUG", "INFO", "WARN", "ERROR")
	return c
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
	return slog.New(slog.NewTextHandler(w, opts))
}

// completeWords offers words as the values of flag name in shell
// completion.
func completeWords(c *cobra.Command, name string, words ...string) {
	_ = c.RegisterFlagCompletionFunc(name, cobra.FixedCompletions(words, cobra.ShellCompDirectiveNoFileComp))
}
