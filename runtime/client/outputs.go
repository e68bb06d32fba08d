package client

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/skalds-go/skalds/runtime/task"
)

// ErrNoProgress is returned for a task whose worker has reported no
// progress in its current run (or whose run has not started).
var ErrNoProgress = errors.New("no progress reported yet")

// ErrNoResult is returned for a task that has not ended, or whose worker
// set no result.
var ErrNoResult = errors.New("no result stored; the task has not ended, or its worker set none")

// Progress is a task's newest stored progress, decoded.
type Progress[P any] struct {
	Value P
	// At is when the node stored it.
	At time.Time
	// Status is the task's status when it was read: once it is terminal,
	// Value is the last progress of the run.
	Status task.Status
}

// ProgressReader reads the progress of one worker class's tasks as its
// progress type P. A generated <Worker>Client embeds one when the worker
// declares progress=P.
type ProgressReader[P any] struct {
	c      *Client
	decode func([]byte) (P, error)
}

// NewProgressReader returns the reader of progress decoded by decode.
func NewProgressReader[P any](c *Client, decode func([]byte) (P, error)) *ProgressReader[P] {
	return &ProgressReader[P]{c: c, decode: decode}
}

// Progress reads task id's newest stored progress. It returns an error
// wrapping ErrNoProgress when there is none yet.
func (r *ProgressReader[P]) Progress(ctx context.Context, id string) (Progress[P], error) {
	t, err := r.c.store.Get(ctx, id)
	if err != nil {
		return Progress[P]{}, err
	}
	return r.of(t)
}

func (r *ProgressReader[P]) of(t *task.Task) (Progress[P], error) {
	if t.Progress == nil {
		return Progress[P]{Status: t.LifecycleStatus}, fmt.Errorf("task %q (%s): %w", t.ID, t.LifecycleStatus, ErrNoProgress)
	}
	v, err := r.decode(t.Progress)
	if err != nil {
		return Progress[P]{Status: t.LifecycleStatus}, fmt.Errorf("task %q: the stored progress does not fit the progress type (was the worker changed?): %w", t.ID, err)
	}
	return Progress[P]{Value: v, At: time.UnixMilli(t.ProgressDateTime), Status: t.LifecycleStatus}, nil
}

// WatchProgress polls task id every interval (zero means 500 ms) and calls
// f with each progress stored since the last poll, from this goroutine:
// while f runs nothing is read, so a slow f sees fewer, newer reports and
// nothing piles up. It returns nil once the task is in a terminal status,
// after f saw its last progress; ctx's error when ctx ends; and the read's
// error when the task cannot be read (a missing task: task.ErrNotFound).
// Polling costs one primary-key read of the task per interval.
func (r *ProgressReader[P]) WatchProgress(ctx context.Context, id string, interval time.Duration, f func(Progress[P])) error {
	if interval <= 0 {
		interval = 500 * time.Millisecond
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	var seenAt int64
	var seen []byte
	for {
		t, err := r.c.store.Get(ctx, id)
		if err != nil {
			return err
		}
		if t.Progress != nil && (t.ProgressDateTime != seenAt || string(t.Progress) != string(seen)) {
			seenAt, seen = t.ProgressDateTime, t.Progress
			p, err := r.of(t)
			if err != nil {
				return err
			}
			f(p)
		}
		if t.LifecycleStatus.Terminal() {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("watching the progress of task %q: %w", id, ctx.Err())
		case <-tick.C:
		}
	}
}

// ResultReader reads the result of one worker class's tasks as its result
// type R. A generated <Worker>Client embeds one when the worker declares
// result=R.
type ResultReader[R any] struct {
	c      *Client
	decode func([]byte) (R, error)
}

// NewResultReader returns the reader of results decoded by decode.
func NewResultReader[R any](c *Client, decode func([]byte) (R, error)) *ResultReader[R] {
	return &ResultReader[R]{c: c, decode: decode}
}

// Result reads task id's result, stored with its terminal status. It
// returns an error wrapping ErrNoResult when there is none (yet).
func (r *ResultReader[R]) Result(ctx context.Context, id string) (R, error) {
	var zero R
	t, err := r.c.store.Get(ctx, id)
	if err != nil {
		return zero, err
	}
	if t.Result == nil {
		return zero, fmt.Errorf("task %q (%s): %w", id, t.LifecycleStatus, ErrNoResult)
	}
	v, err := r.decode(t.Result)
	if err != nil {
		return zero, fmt.Errorf("task %q: the stored result does not fit the result type (was the worker changed?): %w", id, err)
	}
	return v, nil
}
