// Package retention deletes the tasks that ended long ago. Python Skalds
// never removes a task, so the collection grows for ever, and FerretDB,
// which scans for most queries, slows down as it grows: load tests saw
// updates fall from 49/s on 20 tasks to 4/s on 513. A controller runs the
// retention loop beside its dispatcher, off the hot path: every Interval
// it deletes the Finished, Failed and Cancelled tasks whose last write is
// older than Age, a bounded batch per round trip, so that requests and
// claims interleave with it.
package retention

import (
	"context"
	"log/slog"
	"time"

	"github.com/skalds-go/skalds/controller/metrics"
)

// Options say what is kept and how fast the rest goes.
type Options struct {
	// Age is how long an ended task is kept after its last write.
	Age time.Duration
	// Interval is the time between sweeps; zero means 10 min.
	Interval time.Duration
	// Batch is the most tasks one delete removes; zero means 1000.
	Batch  int
	Logger *slog.Logger
	// Metrics counts the deleted tasks; nil counts nothing.
	Metrics *metrics.Metrics
}

// Deleter is what retention needs of the task store.
type Deleter interface {
	DeleteEnded(ctx context.Context, before int64, limit int) (int64, error)
}

// Retention is the loop.
type Retention struct {
	store Deleter
	opts  Options
}

// New returns the loop for store; opts.Age must be positive.
func New(store Deleter, opts Options) *Retention {
	if opts.Interval <= 0 {
		opts.Interval = 10 * time.Minute
	}
	if opts.Batch <= 0 {
		opts.Batch = 1000
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Retention{store: store, opts: opts}
}

// Run sweeps at once and then every Interval until ctx ends.
func (r *Retention) Run(ctx context.Context) {
	r.opts.Logger.Info("retention: deleting ended tasks older than the retention age",
		"age", r.opts.Age, "interval", r.opts.Interval, "batch", r.opts.Batch)
	t := time.NewTicker(r.opts.Interval)
	defer t.Stop()
	for {
		_, _ = r.Sweep(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Sweep deletes every task that ended before now minus Age, batch by
// batch, and returns how many it deleted. An error ends the sweep (the
// next one carries on) and is logged.
func (r *Retention) Sweep(ctx context.Context) (int64, error) {
	before := time.Now().Add(-r.opts.Age).UnixMilli()
	var total int64
	batches := 0
	for ctx.Err() == nil {
		n, err := r.store.DeleteEnded(ctx, before, r.opts.Batch)
		total += n
		r.opts.Metrics.Deleted(n)
		if err != nil {
			if ctx.Err() == nil {
				r.opts.Logger.Warn("retention: deleting ended tasks; retrying at the next sweep",
					"deleted", total, "err", err, "nextSweepIn", r.opts.Interval)
			}
			return total, err
		}
		batches++
		if n < int64(r.opts.Batch) {
			break
		}
	}
	if total > 0 {
		r.opts.Logger.Info("retention: deleted ended tasks", "deleted", total, "batches", batches,
			"endedBefore", time.UnixMilli(before).UTC().Format(time.RFC3339))
	}
	return total, ctx.Err()
}
