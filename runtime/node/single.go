package node

import (
	"context"
	"errors"
	"fmt"

	"go.opentelemetry.io/otel/trace"

	"github.com/skalds-go/skalds/runtime/backoff"
	"github.com/skalds-go/skalds/runtime/liveness"
	"github.com/skalds-go/skalds/runtime/task"
)

// ErrStopped is what RunSingle returns when its context ended before the
// worker did: the worker was cancelled and its release hook ran.
var ErrStopped = errors.New("the worker was stopped before it finished")

// FailedError is what RunSingle returns when the worker failed: a hook
// returned an error or panicked, or the worker could not start.
type FailedError struct {
	TaskID string
	Reason string // the error text, as a node would store it on the task
}

func (e *FailedError) Error() string { return "task " + e.TaskID + " failed: " + e.Reason }

// Exit codes of a single_process Skald, for ExitCode.
const (
	ExitFinished = 0 // the worker finished
	ExitFailed   = 1 // the worker failed
	ExitConfig   = 2 // the Skald could not start: configuration, YAML or connection
	ExitStopped  = 3 // the Skald was stopped (SIGTERM) before the worker finished
)

// ExitCode maps what RunSingle (or Run in single_process mode) returned to
// a process exit status, so that a container runtime sees the outcome: a
// Kubernetes Job retries a failed worker and not a finished one.
//
//	err := n.Run(ctx)
//	os.Exit(node.ExitCode(err))
func ExitCode(err error) int {
	var failed *FailedError
	switch {
	case err == nil:
		return ExitFinished
	case errors.As(err, &failed):
		return ExitFailed
	case errors.Is(err, ErrStopped):
		return ExitStopped
	default:
		return ExitConfig
	}
}

// RunSingle runs the first worker of YAML_FILE in the foreground, as
// Python Skalds' single_process mode does for one worker per container: it
// returns nil when the worker finished, a *FailedError when it failed and
// ErrStopped when ctx ended first (after cancelling the worker and running
// its release hook). Any other error means it could not start; ExitCode
// turns all of these into an exit status.
//
// Like Python Skalds, it neither reads nor writes MongoDB and takes no
// events; it writes the task's heartbeat keys to Redis unless REDIS_HOST is
// empty, and there, like a node, a copy of the worker's log records
// (task:{id}:logs, bounded by Options.TaskLogs; Options.NoTaskLogs keeps
// them out).
func (n *Node) RunSingle(ctx context.Context) error {
	defer n.logs.close()
	tasks, err := n.loadYAML()
	if err != nil {
		return err
	}
	e := tasks[0]
	if !n.cfg.RedisDisabled {
		rdb, err := liveness.Dial(n.cfg, n.log)
		if err != nil {
			return err
		}
		defer rdb.Close()
		redisUp := backoff.Dependency{Name: "redis", Addr: n.cfg.RedisAddr(),
			Check:   liveness.Check(n.cfg) + ", or REDIS_HOST empty to run without Redis",
			Connect: func(ctx context.Context) error { return rdb.Ping(ctx).Err() }}
		if err := backoff.WaitFor(ctx, n.log, n.opts.StartRetry, redisUp); err != nil {
			return err
		}
		n.reg = liveness.New(rdb, n.cfg.RedisKeyTTL)
		if !n.opts.NoTaskLogs {
			// The worker's records go to task:{id}:logs as in the other
			// modes, with the same bounds. The writer outlives the worker,
			// so that its release hook's records and its outcome are kept.
			n.tlogs = n.reg.Logs(n.opts.TaskLogs, n.log)
			logsCtx, stopLogs := context.WithCancel(context.WithoutCancel(ctx))
			logsDone := make(chan struct{})
			go func() { defer close(logsDone); n.tlogs.Run(logsCtx) }()
			defer func() { stopLogs(); <-logsDone }()
		}
	}
	// Stopping a single process cancels its task, as SIGTERM does in
	// Python Skalds (heartbeat -2); nothing is handed back.
	n.opts.OnShutdown = CancelTasks
	n.log.Info("starting single process worker", "config", n.cfg.String(), "taskId", e.id, "className", e.className)

	t := task.New(e.id, e.className, "YAML", e.attachments)
	t.Mode = task.PassiveProcess
	t.Executor = &n.cfg.SkaldID
	r := n.start(t, trace.SpanContext{})
	n.launch(ctx, []*run{r})

	beats, stopBeats := context.WithCancel(context.Background())
	defer stopBeats()
	go n.every(beats, liveness.Period, func(ctx context.Context) {
		n.beatMu.Lock()
		defer n.beatMu.Unlock()
		if n.lookup(e.id) == nil {
			return
		}
		if err := n.reg.TaskBeats(ctx, []string{e.id}); err != nil && ctx.Err() == nil {
			n.log.Warn("task heartbeat", "err", err)
		}
	})

	select {
	case <-r.done:
	case <-ctx.Done():
		r.requestStop(stopShutdown, nil)
		if !n.awaitStop(r) {
			return fmt.Errorf("%w, but its %s hook did not return within %s", ErrStopped, r.hook(), n.grace)
		}
	}
	switch r.status {
	case task.Finished:
		return nil
	case task.Failed:
		return &FailedError{TaskID: e.id, Reason: r.text}
	default:
		return ErrStopped
	}
}
