package skald

import (
	"context"
	"log/slog"
)

type loggerKey struct{}

// WithLogger returns a context that carries l. The node gives each worker a
// context whose logger already carries the task id, class and epoch, so
// every record a worker writes can be traced to its task.
func WithLogger(ctx context.Context, l *slog.Logger) context.Context {
	return context.WithValue(ctx, loggerKey{}, l)
}

// Logger returns the logger carried by ctx, or slog.Default().
func Logger(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(loggerKey{}).(*slog.Logger); ok {
		return l
	}
	return slog.Default()
}
