package liveness_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/skalds-go/skalds/runtime/liveness"
	"github.com/skalds-go/skalds/skaldtest"
)

func redisFor(t *testing.T) *redis.Client {
	t.Helper()
	srv := skaldtest.StartRedisServer(t, nil, "", "")
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// awaitStats waits until the writer has stored n records.
func awaitStats(t *testing.T, w *liveness.LogWriter, n uint64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for w.Stats().Written+w.Stats().Failed < n {
		select {
		case <-ctx.Done():
			t.Fatalf("the writer stored %+v, not %d records", w.Stats(), n)
		case <-time.After(5 * time.Millisecond):
		}
	}
	if st := w.Stats(); st.Failed > 0 {
		t.Fatalf("records failed: %+v", st)
	}
}

// TestTaskLogsBounds writes more records than a task keeps and more tasks
// than are kept in total, and reads back the newest, in order, with their
// attributes, and from a cursor.
func TestTaskLogsBounds(t *testing.T) {
	rdb := redisFor(t)
	reg := liveness.New(rdb, time.Minute)
	w := reg.Logs(liveness.LogLimits{PerTask: 10, Tasks: 3, RecordBytes: 300, Flush: 10 * time.Millisecond}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); w.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	log := slog.New(w.Handler("t1", slog.LevelInfo)).With("epoch", 3)
	log.Debug("below the level")
	for i := range 200 {
		log.Info("frame", "n", i)
	}
	log.Warn(strings.Repeat("é", 400))
	awaitStats(t, w, 201)

	n, err := rdb.XLen(ctx, liveness.TaskLogsKey("t1")).Result()
	if err != nil || n != 10 {
		t.Fatalf("the stream holds %d records (%v); the bound is 10", n, err)
	}
	if ttl := rdb.TTL(ctx, liveness.TaskLogsKey("t1")).Val(); ttl <= 0 || ttl > time.Minute {
		t.Fatalf("the stream's TTL is %v, want the key TTL", ttl)
	}
	recs, err := reg.TaskLogs(ctx, "t1", "", 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 5 {
		t.Fatalf("read %d records, want the last 5", len(recs))
	}
	for i, r := range recs[:4] {
		if r.Msg != "frame" || r.Level != "INFO" || fmt.Sprint(r.Attrs["n"]) != fmt.Sprint(196+i) || fmt.Sprint(r.Attrs["epoch"]) != "3" || r.Time.IsZero() {
			t.Fatalf("record %d: %+v", i, r)
		}
	}
	last := recs[4]
	if last.Level != "WARN" || last.Attrs["truncated"] != true || len(last.Msg) > 300 || !strings.HasPrefix(last.Msg, "éé") {
		t.Fatalf("a record over RecordBytes must be cut and marked: %+v", last)
	}
	after, err := reg.TaskLogs(ctx, "t1", recs[2].ID, 100)
	if err != nil || len(after) != 2 || after[0].ID != recs[3].ID || after[1].ID != recs[4].ID {
		t.Fatalf("after %s: %+v, %v", recs[2].ID, after, err)
	}
	if _, err := reg.TaskLogs(ctx, "t1", "x'; DROP", 10); !errors.Is(err, liveness.ErrBadCursor) {
		t.Fatalf("a bad cursor must be refused by name, got %v", err)
	}
	if none, err := reg.TaskLogs(ctx, "never", "", 10); err != nil || len(none) != 0 {
		t.Fatalf("a task without records: %+v, %v", none, err)
	}

	// Three streams are kept in total: the one written least recently goes.
	for _, id := range []string{"t2", "t3", "t4"} {
		want := w.Stats().Written + 1
		slog.New(w.Handler(id, slog.LevelInfo)).Info("hello")
		awaitStats(t, w, want)
	}
	if rdb.Exists(ctx, liveness.TaskLogsKey("t1")).Val() != 0 {
		t.Fatal("t1's stream outlived the total bound of 3 tasks")
	}
	if k := rdb.ZCard(ctx, liveness.LogsIndexKey).Val(); k != 3 {
		t.Fatalf("the index holds %d tasks, want 3", k)
	}
	for _, id := range []string{"t2", "t3", "t4"} {
		if rdb.Exists(ctx, liveness.TaskLogsKey(id)).Val() != 1 {
			t.Fatalf("%s's stream is gone", id)
		}
	}
}

// TestTaskLogsDropWhenFull fills the buffer of a writer whose loop is not
// running: records are dropped and counted, and the logger never blocks.
func TestTaskLogsDropWhenFull(t *testing.T) {
	rdb := redisFor(t)
	w := liveness.New(rdb, time.Minute).Logs(liveness.LogLimits{Buffer: 8}, nil)
	log := slog.New(w.Handler("t", slog.LevelInfo))
	for i := range 20 {
		log.Info("r", "i", i)
	}
	if st := w.Stats(); st.Dropped != 12 || st.Written != 0 {
		t.Fatalf("stats %+v, want 12 dropped", st)
	}
	// Run writes what the buffer held, and stops after a final flush.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	w.Run(ctx)
	if st := w.Stats(); st.Written != 8 {
		t.Fatalf("stats %+v, want the 8 buffered records written at stop", st)
	}
}

// TestTaskLogsRedisDown writes to a Redis that does not answer: the
// records are counted as failed, one warning says so, and logging never
// blocks.
func TestTaskLogsRedisDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	rdb := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: 100 * time.Millisecond, MaxRetries: -1})
	t.Cleanup(func() { _ = rdb.Close() })
	logs := skaldtest.NewLogs(nil)
	w := liveness.New(rdb, time.Minute).Logs(liveness.LogLimits{Flush: 10 * time.Millisecond}, slog.New(logs))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); w.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	log := slog.New(w.Handler("t", slog.LevelInfo))
	for i := range 3 {
		log.Info("r", "i", i)
	}
	wait, stop := context.WithTimeout(ctx, 10*time.Second)
	defer stop()
	if _, err := logs.Await(wait, skaldtest.Msg("writing task log records to Redis; they are lost, the node's own log still has them (warned once per 30 s)")); err != nil {
		t.Fatal(err)
	}
	if st := w.Stats(); st.Failed == 0 || st.Written != 0 {
		t.Fatalf("stats %+v, want failed records", st)
	}
}
