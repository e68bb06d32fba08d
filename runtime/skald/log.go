package skald

import (
	"context"
	"log/slog"

	"github.com/skalds-go/skalds/internal/erased"
)

// Logger returns the logger of the task ctx belongs to, or slog.Default()
// outside a task. The node (and skaldtest.Run) give each worker a context
// whose logger already carries the task id, class and epoch, so every
// record a worker writes can be traced to its task.
func Logger(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(erased.LoggerKey{}).(*slog.Logger); ok {
		return l
	}
	return slog.Default()
}
