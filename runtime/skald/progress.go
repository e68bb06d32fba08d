package skald

import (
	"context"

	"github.com/skalds-go/skalds/internal/erased"
)

// ReportProgress reports progress, the JSON object of the worker's
// progress type, for the task ctx belongs to. Worker code calls the typed
// Report<Worker>Progress that skaldgen generates for
// //skald:worker progress=P, which encodes P and calls this.
//
// It never blocks on the network: the node stores the newest report at
// most once per its progress interval (older ones that were not written
// yet are dropped, since a reader wants the newest), and the newest with
// the task's terminal status. It can be called from any hook, any number
// of times, from any goroutine that has the hook's context. Outside a
// task (a context that no node or skaldtest.Run made) it does nothing.
//
// A report that MongoDB cannot store (a map key that contains "." or
// starts with "$", see task.AttachmentsBSON) is refused at once and
// logged with the task and the paths of the keys to rename; the last good
// report stays the one written. SetResult checks its result the same way.
func ReportProgress(ctx context.Context, progress []byte) {
	if r, ok := ctx.Value(erased.ReporterKey{}).(erased.Reporter); ok {
		r.Progress(progress)
	}
}

// SetResult sets result, the JSON object of the worker's result type, as
// the result of the task ctx belongs to; the last one set is stored with
// the task's terminal status (Finished, Failed or Cancelled). Worker code
// calls the typed Set<Worker>Result that skaldgen generates for
// //skald:worker result=R. Outside a task it does nothing.
func SetResult(ctx context.Context, result []byte) {
	if r, ok := ctx.Value(erased.ReporterKey{}).(erased.Reporter); ok {
		r.Result(result)
	}
}
