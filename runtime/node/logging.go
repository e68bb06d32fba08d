package node

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"gopkg.in/natefinch/lumberjack.v2"

	"github.com/skalds-go/skalds/runtime/config"
)

// logFiles opens the log files that LOG_PATH, LOG_SPLIT_WITH_WORKER_ID and
// LOG_ROTATION_MB ask for: one for the node and, when split, one per task,
// each rotated by size as Python Skalds does.
type logFiles struct {
	cfg  config.Config
	mu   sync.Mutex
	node io.Closer
}

// level maps LOG_LEVEL (Python's names) to a slog level.
func level(s string) slog.Level {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "DEBUG", "TRACE":
		return slog.LevelDebug
	case "WARNING", "WARN":
		return slog.LevelWarn
	case "ERROR", "CRITICAL", "FATAL":
		return slog.LevelError
	default:
		return slog.LevelInfo
	}
}

func (l *logFiles) file(name string) *lumberjack.Logger {
	// Task ids may contain path separators; a file name may not.
	name = strings.NewReplacer("/", "_", `\`, "_").Replace(name)
	return &lumberjack.Logger{
		Filename: filepath.Join(l.cfg.LogPath, name+".log"),
		MaxSize:  max(1, l.cfg.LogRotationMB),
	}
}

func (l *logFiles) opts() *slog.HandlerOptions {
	return &slog.HandlerOptions{Level: level(l.cfg.LogLevel)}
}

// nodeLogger is the logger of a node built without Options.Logger: text
// on stderr, and in LOG_PATH/<SKALD_ID>.log when LOG_PATH is set.
func (l *logFiles) nodeLogger() *slog.Logger {
	h := slog.Handler(slog.NewTextHandler(os.Stderr, l.opts()))
	if l.cfg.LogPath != "" {
		f := l.file(l.cfg.SkaldID)
		l.mu.Lock()
		l.node = f
		l.mu.Unlock()
		h = slog.NewMultiHandler(h, slog.NewTextHandler(f, l.opts()))
	}
	return slog.New(h)
}

// taskLogger returns base, and also a copy of every record in
// LOG_PATH/<SKALD_ID>_<task id>.log when LOG_SPLIT_WITH_WORKER_ID is set.
// The returned function closes that file.
func (l *logFiles) taskLogger(base *slog.Logger, taskID string) (*slog.Logger, func()) {
	if !l.cfg.LogSplitWithWorkerID || l.cfg.LogPath == "" {
		return base, func() {}
	}
	f := l.file(l.cfg.SkaldID + "_" + taskID)
	// The file handler gets the attribute base already carries, so that
	// the file's records are as complete as the node's; the caller adds
	// the task's to both.
	fh := slog.NewTextHandler(f, l.opts()).WithAttrs([]slog.Attr{slog.String("skaldId", l.cfg.SkaldID)})
	return slog.New(slog.NewMultiHandler(base.Handler(), fh)), func() { _ = f.Close() }
}

// taskLogLimits fills the bounds of the task logs kept in Redis that
// opts leaves unset from SKALD_TASK_LOG_RECORDS (records per task; 0
// keeps none) and SKALD_TASK_LOG_TASKS (tasks in total).
func taskLogLimits(opts *Options) error {
	e := config.NewEnv(os.LookupEnv)
	if v, ok := os.LookupEnv("SKALD_TASK_LOG_RECORDS"); ok && strings.TrimSpace(v) == "0" && opts.TaskLogs.PerTask == 0 {
		opts.NoTaskLogs = true
		return nil
	}
	e.Int(&opts.TaskLogs.PerTask, "SKALD_TASK_LOG_RECORDS", 0)
	e.Int(&opts.TaskLogs.Tasks, "SKALD_TASK_LOG_TASKS", 0)
	if opts.TaskLogs.PerTask < 0 {
		e.Errorf("SKALD_TASK_LOG_RECORDS=%d is negative; give the records kept per task, or 0 to keep none", opts.TaskLogs.PerTask)
	}
	if opts.TaskLogs.Tasks < 0 {
		e.Errorf("SKALD_TASK_LOG_TASKS=%d is negative; give the most tasks whose logs are kept", opts.TaskLogs.Tasks)
	}
	return e.Err("node")
}

func (l *logFiles) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.node != nil {
		_ = l.node.Close()
		l.node = nil
	}
}
