package liveness

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// TaskLogsKey is the stream of a task's most recent log records: what its
// worker wrote through skald.Logger, kept so that they can be read without
// access to the node. It sits beside Python's task:{id}:* keys, which
// Python tooling leaves alone. A stream rather than a list, so that every
// record has an id that orders it and that a follower resumes after.
func TaskLogsKey(task string) string { return "task:" + task + ":logs" }

// LogsIndexKey is a sorted set of the tasks that have a log stream, scored
// by their last write (epoch ms): what bounds the streams kept in total.
const LogsIndexKey = "skalds:logs:index"

// logField is the stream field of a record: its slog JSON line.
const logField = "r"

// LogLimits bound what task logs cost. Zero fields take the defaults.
type LogLimits struct {
	// PerTask is the most records kept per task; older ones are trimmed.
	// Zero means 500.
	PerTask int
	// Tasks is the most task log streams kept in total; the streams of the
	// tasks that wrote least recently go first. Zero means 1000.
	Tasks int
	// RecordBytes caps a record's JSON; a longer message is cut and the
	// record marked "truncated". Zero means 2048.
	RecordBytes int
	// Buffer is how many records a node holds for writing; when Redis is
	// slower than the workers, records beyond it are dropped and counted
	// rather than slow the workers down. Zero means 4096.
	Buffer int
	// Flush is the longest a record waits in the buffer. Zero means 200 ms.
	Flush time.Duration
}

func (l LogLimits) withDefaults() LogLimits {
	if l.PerTask <= 0 {
		l.PerTask = 500
	}
	if l.Tasks <= 0 {
		l.Tasks = 1000
	}
	if l.RecordBytes <= 0 {
		l.RecordBytes = 2048
	}
	if l.Buffer <= 0 {
		l.Buffer = 4096
	}
	if l.Flush <= 0 {
		l.Flush = 200 * time.Millisecond
	}
	return l
}

// logBatch is the most records written in one pipeline.
const logBatch = 256

type logEntry struct {
	task string
	line []byte
}

// LogWriter copies task log records to Redis. Workers never wait for it:
// a record is put in a bounded buffer, and a background loop (Run) writes
// the buffer in pipelined batches. A nil *LogWriter keeps nothing.
type LogWriter struct {
	r      *Registry
	lim    LogLimits
	ch     chan logEntry
	errLog *slog.Logger

	written, dropped, failed atomic.Uint64
	lastWarn                 time.Time // of a failed batch; only Run's goroutine touches it
}

// warnEvery spaces the warnings about failed batches: in a Redis outage
// every flush fails, and one line per 200 ms would bury the node's log.
const warnEvery = 30 * time.Second

// Logs returns a writer of task log records bounded by lim. Its Run loop
// must be running for records to reach Redis. errLog receives the
// writer's own troubles (a failed batch), never task records.
func (r *Registry) Logs(lim LogLimits, errLog *slog.Logger) *LogWriter {
	if r == nil {
		return nil
	}
	lim = lim.withDefaults()
	return &LogWriter{r: r, lim: lim, ch: make(chan logEntry, lim.Buffer), errLog: errLog}
}

// LogStats counts a writer's records since it was made.
type LogStats struct {
	Written uint64 // stored in Redis
	Dropped uint64 // not stored: the buffer was full
	Failed  uint64 // not stored: Redis refused or did not answer
}

// Stats returns what the writer has done so far.
func (w *LogWriter) Stats() LogStats {
	if w == nil {
		return LogStats{}
	}
	return LogStats{Written: w.written.Load(), Dropped: w.dropped.Load(), Failed: w.failed.Load()}
}

// Handler returns a slog handler that keeps the records at level or above
// in task's log stream, as JSON lines. Attributes and groups added with
// With are kept; the task id is the key, so a record need not carry it.
func (w *LogWriter) Handler(task string, level slog.Leveler) slog.Handler {
	if w == nil {
		return slog.DiscardHandler
	}
	return slog.NewJSONHandler(&logSink{w: w, task: task}, &slog.HandlerOptions{Level: level})
}

// logSink receives one JSON line per record from the handler.
type logSink struct {
	w    *LogWriter
	task string
}

func (s *logSink) Write(p []byte) (int, error) {
	line := bytes.TrimRight(p, "\n")
	if len(line) > s.w.lim.RecordBytes {
		line = truncate(line, s.w.lim.RecordBytes)
	} else {
		// The handler reuses its buffer once Write returns.
		line = bytes.Clone(line)
	}
	select {
	case s.w.ch <- logEntry{task: s.task, line: line}:
	default:
		s.w.dropped.Add(1)
	}
	return len(p), nil
}

// truncate returns a record whose JSON fits in max bytes: its time, level
// and message (cut), marked truncated, and its other attributes dropped.
func truncate(line []byte, max int) []byte {
	var v struct {
		Time  string `json:"time"`
		Level string `json:"level"`
		Msg   string `json:"msg"`
	}
	_ = json.Unmarshal(line, &v)
	room := max - len(v.Time) - len(v.Level) - 64
	if room < 0 {
		room = 0
	}
	if len(v.Msg) > room {
		// Cut on a rune boundary, so that the JSON stays valid UTF-8.
		cut := room
		for cut > 0 && cut < len(v.Msg) && v.Msg[cut]&0xC0 == 0x80 {
			cut--
		}
		v.Msg = v.Msg[:cut]
	}
	out, _ := json.Marshal(map[string]any{"time": v.Time, "level": v.Level, "msg": v.Msg, "truncated": true})
	return out
}

// Run writes buffered records until ctx ends, then writes what is left
// (for up to 5 s) and returns.
func (w *LogWriter) Run(ctx context.Context) {
	if w == nil {
		return
	}
	tick := time.NewTicker(w.lim.Flush)
	defer tick.Stop()
	batch := make([]logEntry, 0, logBatch)
	for {
		select {
		case e := <-w.ch:
			batch = append(batch, e)
			if len(batch) < logBatch {
				continue
			}
		case <-tick.C:
		case <-ctx.Done():
			final, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			for {
				select {
				case e := <-w.ch:
					batch = append(batch, e)
					if len(batch) == logBatch {
						w.flush(final, batch)
						batch = batch[:0]
					}
					continue
				default:
				}
				break
			}
			w.flush(final, batch)
			return
		}
		if len(batch) > 0 {
			w.flush(ctx, batch)
			batch = batch[:0]
		}
	}
}

// trimLogsScript keeps at most ARGV[1] streams in LogsIndexKey, deleting
// those written least recently, and forgets index entries older than the
// key TTL (ARGV[2], ms before now, ARGV[3]), whose streams have expired.
// The stream key is built here as TaskLogsKey builds it.
var trimLogsScript = redis.NewScript(`
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. (tonumber(ARGV[3]) - tonumber(ARGV[2])))
local excess = redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[1])
if excess > 0 then
  local old = redis.call('ZRANGE', KEYS[1], 0, excess - 1)
  for _, id in ipairs(old) do
    redis.call('DEL', 'task:' .. id .. ':logs')
  end
  redis.call('ZREMRANGEBYRANK', KEYS[1], 0, excess - 1)
  return excess
end
return 0`)

// flush writes one batch: the records, each stream's TTL and the index in
// one pipeline, then the total bound.
func (w *LogWriter) flush(ctx context.Context, batch []logEntry) {
	if len(batch) == 0 {
		return
	}
	now := time.Now().UnixMilli()
	touched := map[string]bool{}
	_, err := w.r.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, e := range batch {
			// Exact trimming: approximate (~) would keep up to a whole
			// stream node (100 records) more than the bound.
			p.XAdd(ctx, &redis.XAddArgs{Stream: TaskLogsKey(e.task), MaxLen: int64(w.lim.PerTask), Values: []any{logField, e.line}})
			touched[e.task] = true
		}
		for task := range touched {
			p.Expire(ctx, TaskLogsKey(task), w.ttl())
			p.ZAdd(ctx, LogsIndexKey, redis.Z{Score: float64(now), Member: task})
		}
		return nil
	})
	if err == nil {
		err = trimLogsScript.Run(ctx, w.r.rdb, []string{LogsIndexKey}, w.lim.Tasks, w.ttl().Milliseconds(), now).Err()
		w.written.Add(uint64(len(batch)))
	} else {
		w.failed.Add(uint64(len(batch)))
	}
	if err != nil && ctx.Err() == nil && w.errLog != nil && time.Since(w.lastWarn) >= warnEvery {
		w.lastWarn = time.Now()
		w.errLog.Warn("writing task log records to Redis; they are lost, the node's own log still has them (warned once per 30 s)",
			"records", len(batch), "failedSoFar", w.failed.Load(), "err", err)
	}
}

func (w *LogWriter) ttl() time.Duration {
	if w.r.ttl > 0 {
		return w.r.ttl
	}
	return time.Hour
}

// ErrBadCursor is returned by TaskLogs for an after that is not a record
// id.
var ErrBadCursor = errors.New("not a log record id")

// LogRecord is one record of a task's log as read back.
type LogRecord struct {
	// ID orders the records of a task; read after it to follow the log.
	ID    string         `json:"id"`
	Time  time.Time      `json:"time"`
	Level string         `json:"level"`
	Msg   string         `json:"msg"`
	Attrs map[string]any `json:"attrs,omitempty"`
}

// TaskLogs returns up to limit records of task's log, oldest first: the
// most recent ones when after is empty, else those that follow the record
// whose ID is after. A task without records (none written, or expired)
// has an empty log, not an error.
func (r *Registry) TaskLogs(ctx context.Context, task, after string, limit int) ([]LogRecord, error) {
	if limit <= 0 {
		return []LogRecord{}, nil
	}
	var msgs []redis.XMessage
	var err error
	if after == "" {
		msgs, err = r.rdb.XRevRangeN(ctx, TaskLogsKey(task), "+", "-", int64(limit)).Result()
		for i, j := 0, len(msgs)-1; i < j; i, j = i+1, j-1 {
			msgs[i], msgs[j] = msgs[j], msgs[i]
		}
	} else {
		if !validStreamID(after) {
			return nil, fmt.Errorf("%w: after %q is not one; give the id of a record read before, like 1700000000000-0", ErrBadCursor, after)
		}
		msgs, err = r.rdb.XRangeN(ctx, TaskLogsKey(task), "("+after, "+", int64(limit)).Result()
	}
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	out := make([]LogRecord, 0, len(msgs))
	for _, m := range msgs {
		out = append(out, parseRecord(m))
	}
	return out, nil
}

// validStreamID reports whether s is a stream id, ms-seq.
func validStreamID(s string) bool {
	ms, seq, ok := bytes.Cut([]byte(s), []byte("-"))
	if !ok {
		return false
	}
	_, e1 := strconv.ParseUint(string(ms), 10, 64)
	_, e2 := strconv.ParseUint(string(seq), 10, 64)
	return e1 == nil && e2 == nil
}

// parseRecord reads one stream entry. An entry that is not a JSON record
// (written by something else) is returned with its raw text as message.
func parseRecord(m redis.XMessage) LogRecord {
	rec := LogRecord{ID: m.ID}
	raw, _ := m.Values[logField].(string)
	var v map[string]any
	if json.Unmarshal([]byte(raw), &v) != nil {
		rec.Msg = raw
		return rec
	}
	if s, ok := v["time"].(string); ok {
		rec.Time, _ = time.Parse(time.RFC3339Nano, s)
	}
	rec.Level, _ = v["level"].(string)
	rec.Msg, _ = v["msg"].(string)
	delete(v, "time")
	delete(v, "level")
	delete(v, "msg")
	if len(v) > 0 {
		rec.Attrs = v
	}
	return rec
}
