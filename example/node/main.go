// Command node is the node-mode Skald skald_123 of the seed story. It runs
// MySimpleWorker tasks assigned to it until SIGINT or SIGTERM, then stops
// its workers gracefully and hands their tasks back.
//
// Servers come from the Python environment variables (KAFKA_HOST,
// KAFKA_PORT, MONGO_HOST, REDIS_HOST, REDIS_PORT, ...); `go run
// ./embedded/cmd/skald-dev` prints the values for the embedded dev stack.
package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/skalds-go/skalds/example/worker"
	"github.com/skalds-go/skalds/runtime/config"
	"github.com/skalds-go/skalds/runtime/node"
	"github.com/skalds-go/skalds/tracing"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))

	// Off unless OTEL_EXPORTER_OTLP_ENDPOINT (or ..._TRACES_ENDPOINT) is
	// set: then every hook is a span, in the trace of the client call
	// that caused it.
	tp, shutdown, err := tracing.FromEnv(ctx, "skalds-node")
	if err != nil {
		log.Error("configuring tracing", "err", err)
		os.Exit(2)
	}
	defer shutdown(context.Background())
	n, err := node.New(config.Config{SkaldID: "skald_123", Mode: config.ModeNode, LogLevel: "DEBUG"},
		node.Options{Logger: log, TracerProvider: tp})
	if err != nil {
		log.Error("configuring the node", "err", err)
		os.Exit(2)
	}
	worker.Register(n)
	if err := n.Run(ctx); err != nil {
		log.Error("node stopped with an error", "err", err)
		os.Exit(1)
	}
}
