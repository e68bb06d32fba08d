// Package erased holds a worker class with its model type erased, as the
// runtime holds it, apart from package skald so that worker authors do
// not see it: package skald builds one from a skald.Class[M], and
// internal/runner runs it.
package erased

import (
	"context"
	"errors"
)

// Class is a worker class with its model type erased.
type Class struct {
	Name string
	// Schema is the JSON Schema of the attachments, or nil.
	Schema []byte
	// ProgressSchema and ResultSchema are the JSON Schemas of the
	// worker's progress and result types, or nil when it declares none.
	ProgressSchema, ResultSchema []byte
	// Check decodes and validates attachments without starting anything.
	Check func(attachments []byte) error
	// Start decodes the attachments, creates an instance and runs its
	// Init hook. A decode or validation error is returned as is, so that
	// the caller can record the field paths.
	Start func(attachments []byte) (*Instance, error)
}

// Instance is one started worker.
type Instance struct {
	Before, Main, After, Release func(context.Context) error

	// Prepare decodes and validates new attachments, checks them against
	// the model the worker has by the update policies, and returns the
	// call of the typed update handler, without running it. A rejected
	// update leaves the running worker untouched.
	//
	// Changed immutable fields give codec.Errors naming each path; a
	// changed restart field gives ErrRestart, which the caller handles by
	// restarting the worker with the attachments. Both come with a nil
	// apply. The model that later updates are compared with becomes the
	// new one only when apply succeeds. Calls must not overlap, and apply
	// must be called before the next Prepare: updates are compared in the
	// order they are applied.
	Prepare func(attachments []byte) (apply func(context.Context) error, err error)
}

// ErrRestart is returned by Instance.Prepare, with a nil apply, when new
// attachments change a field marked //skald:restart. They are valid, but
// the running instance cannot take them: the worker must be stopped
// (cancel its context and run its release hook, as for a cancel, but
// without marking the task cancelled) and a new instance started with the
// new attachments. The old instance is left untouched by Prepare.
var ErrRestart = errors.New("attachments change a //skald:restart field; the worker must restart with them")

// ErrNoUpdateHandler rejects an update for a worker without //skald:update.
var ErrNoUpdateHandler = errors.New("worker has no update handler; add a //skald:update method to accept attachment changes while it runs")

// Of returns the erased class of a skald.Worker. Package skald sets it,
// since only it can see how a Class[M] is erased; anything that imports
// internal/erased to run workers also imports package skald for the
// Worker type, so it is set before use.
var Of func(w any) *Class

// LoggerKey is the context key of a task's logger, which skald.Logger
// reads and internal/runner sets.
type LoggerKey struct{}

// ReporterKey is the context key of what a hook's reports go to, which
// skald.ReportProgress and skald.SetResult read and internal/runner sets.
type ReporterKey struct{}

// Reporter takes a worker's progress and result, each a JSON object.
type Reporter interface {
	Progress(raw []byte)
	Result(raw []byte)
}
