package soak

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"testing"
	"time"

	ctl "github.com/skalds-go/skalds/controller"
	"github.com/skalds-go/skalds/example/worker"
	"github.com/skalds-go/skalds/runtime/node"
	"github.com/skalds-go/skalds/skaldtest"
)

// The soak's nodes and controllers are this test binary run again with
// roleEnv set: kill -9 needs processes, and re-running the binary that is
// already built costs no build on a 2-core CI machine.
const (
	roleEnv  = "SKALDS_SOAK_ROLE"
	idEnv    = "SKALDS_SOAK_ID"
	kafkaEnv = "SKALDS_SOAK_KAFKA"
	mongoEnv = "SKALDS_SOAK_MONGO"
	redisEnv = "SKALDS_SOAK_REDIS"
)

// Timings shared by the parent, which derives its bounds from them, and
// the children, which run with them.
const (
	nodeTimeout      = 6 * time.Second // twice liveness.Period, the shortest without a warning
	dispatchInterval = 500 * time.Millisecond
	reconcilePeriod  = 2 * time.Second
)

func TestMain(m *testing.M) {
	switch os.Getenv(roleEnv) {
	case "":
		os.Exit(m.Run())
	case "node":
		os.Exit(child(runNode))
	case "controller":
		os.Exit(child(runController))
	default:
		fmt.Fprintf(os.Stderr, "%s=%q: want node or controller\n", roleEnv, os.Getenv(roleEnv))
		os.Exit(2)
	}
}

// child runs f until SIGTERM or SIGINT, logging JSON on stdout, which the
// parent reads.
func child(f func(context.Context, *slog.Logger) error) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if err := f(ctx, log); err != nil {
		log.Error("soak child stopped", "err", err)
		return 1
	}
	return 0
}

func runNode(ctx context.Context, log *slog.Logger) error {
	cfg, err := skaldtest.Config(os.Getenv(kafkaEnv), os.Getenv(mongoEnv), os.Getenv(redisEnv))
	if err != nil {
		return err
	}
	cfg.SkaldID = os.Getenv(idEnv)
	cfg.ReconcilePeriod = reconcilePeriod
	// The controllers' node timeout, from which the node's liveness lease
	// follows: it stops its workers before a controller moves its tasks.
	cfg.NodeTimeout = nodeTimeout
	n, err := node.New(cfg, node.Options{Logger: log, StopGrace: 5 * time.Second})
	if err != nil {
		return err
	}
	worker.Register(n)
	return n.Run(ctx)
}

func runController(ctx context.Context, log *slog.Logger) error {
	infra, err := skaldtest.Config(os.Getenv(kafkaEnv), os.Getenv(mongoEnv), os.Getenv(redisEnv))
	if err != nil {
		return err
	}
	// Its Kafka client id, which the soak's gate cuts.
	infra.SkaldID = os.Getenv(idEnv)
	cfg, err := ctl.LoadConfig(ctl.Config{
		Infra:            infra,
		Mode:             ctl.ModeDispatcher,
		MonitorInterval:  250 * time.Millisecond,
		NodeTimeout:      nodeTimeout,
		DispatchInterval: dispatchInterval,
		RetryBackoff:     200 * time.Millisecond,
		RetryBackoffMax:  time.Second,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	c, err := ctl.New(ctx, cfg, ctl.Options{Logger: log.With("controller", os.Getenv(idEnv)), Listener: ln, Version: "soak"})
	if err != nil {
		return err
	}
	return c.Run(ctx)
}
