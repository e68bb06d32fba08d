// Package skald holds what generated code and worker authors need from the
// runtime: the typed description of a worker class, its hooks, and the
// per-task logger. It has no infrastructure dependencies, so a package that
// defines workers stays light; the node that runs them lives in
// runtime/node, and the client that publishes to them in runtime/client.
package skald

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/skalds-go/skalds/runtime/codec"
)

// Hooks are the lifecycle methods of one worker instance, bound to a model
// type M. They mirror Python Skalds: Init receives the decoded attachments
// before anything runs, then Before, Main and After run in order, and Release
// always runs last, also after a cancel or a failure. Main is required.
//
// Update receives every accepted change of the attachments while the task
// runs. Updates are delivered one at a time and in order, but concurrently
// with Main: the worker decides how it shares state with its main loop.
type Hooks[M any] struct {
	Init    func(M) error
	Before  func(context.Context) error
	Main    func(context.Context) error
	After   func(context.Context) error
	Release func(context.Context) error
	Update  func(context.Context, M) error
}

// Class describes a worker class to the runtime. skaldgen generates one per
// //skald:worker type; writing one by hand is possible but loses the
// compile-time checks the generator adds.
type Class[M any] struct {
	// Name is the class name stored in a task's className.
	Name string
	// Decode strictly decodes and validates attachments from JSON. Errors
	// name the field by its JSON path.
	Decode func([]byte) (M, error)
	// Encode writes attachments as JSON with the model's json key names.
	Encode func(M) []byte
	// Validate checks a model built in Go, before a client writes it.
	Validate func(M) error
	// New returns the hooks of a fresh worker instance.
	New func() Hooks[M]
	// Changes compares the attachments a task runs with and new ones by
	// the update policy of each field (//skald:restart, //skald:immutable;
	// others are hot). nil means every field is hot.
	Changes func(old, new M) Change
	// Schema is the JSON Schema (2020-12) of the attachments, for forms
	// and for producers in other languages; nil when unknown.
	JSONSchema []byte
}

// Change is what a new version of the attachments means to a running
// task, by the update policies of the fields that differ.
type Change struct {
	// Restart is set when a //skald:restart field changed: the worker
	// must be stopped and started again with the new attachments.
	Restart bool
	// Immutable holds the JSON paths of changed //skald:immutable fields,
	// such as "$.cameraId"; any makes the new attachments unacceptable.
	Immutable []string
}

// ImmutableMsg is the message of the error for a changed immutable field.
const ImmutableMsg = "may not change while the task runs"

// Err returns the rejection of a change to immutable fields, as
// codec.Errors naming each path, or nil.
func (ch Change) Err() error {
	if len(ch.Immutable) == 0 {
		return nil
	}
	errs := make(codec.Errors, len(ch.Immutable))
	for i, p := range ch.Immutable {
		errs[i] = &codec.FieldError{Path: p, Msg: ImmutableMsg}
	}
	return errs
}

// Worker is a Class with its model type erased, which is what a node holds.
type Worker interface {
	ClassName() string
	// Start decodes the attachments, creates an instance and runs its Init
	// hook. A decode or validation error is returned as is, so the caller
	// can record the field paths.
	Start(attachments []byte) (*Instance, error)
	// Check decodes and validates attachments without starting anything.
	Check(attachments []byte) error
	// Schema returns the JSON Schema of the class's attachments, or nil.
	Schema() []byte
}

// Registrar accepts worker classes; a node is one. Generated packages have a
// Register(Registrar) function that registers all their workers.
type Registrar interface {
	Register(Worker)
}

// ErrRestart is returned by Instance.Prepare, with a nil apply, when new
// attachments change a field marked //skald:restart. They are valid, but
// the running instance cannot take them: the node must stop the worker
// (cancel its context and run its release hook, as for a cancel, but
// without marking the task cancelled) and start a new instance of the same
// class with Worker.Start and the new attachments, then report them as
// applied. The old instance is left untouched by Prepare.
var ErrRestart = errors.New("attachments change a //skald:restart field; the worker must restart with them")

// ErrNoUpdateHandler rejects an update for a worker without //skald:update.
var ErrNoUpdateHandler = errors.New("worker has no update handler; add a //skald:update method to accept attachment changes while it runs")

// ClassName returns c.Name.
func (c *Class[M]) ClassName() string { return c.Name }

// Schema returns c.JSONSchema, so that a node can publish the schema of
// each class it runs.
func (c *Class[M]) Schema() []byte { return c.JSONSchema }

// CheckUpdate compares the attachments a task has now (JSON, as stored)
// with next by the update policies, and returns codec.Errors naming every
// changed immutable field, or nil. A client calls it before writing an
// update, so that a change the node would reject is refused at once.
// Current attachments that do not decode are not compared: nothing can run
// with them, so replacing them is allowed.
func (c *Class[M]) CheckUpdate(current []byte, next M) error {
	if c.Changes == nil {
		return nil
	}
	old, err := c.Decode(current)
	if err != nil {
		return nil
	}
	return c.Changes(old, next).Err()
}

// Check decodes and validates attachments.
func (c *Class[M]) Check(attachments []byte) error {
	_, err := c.Decode(attachments)
	return err
}

// Start implements Worker.
func (c *Class[M]) Start(attachments []byte) (*Instance, error) {
	m, err := c.Decode(attachments)
	if err != nil {
		return nil, err
	}
	h := c.New()
	if h.Main == nil {
		return nil, fmt.Errorf("worker class %s has no main hook", c.Name)
	}
	if h.Init != nil {
		if err := h.Init(m); err != nil {
			return nil, &HookError{Hook: "init", Err: err}
		}
	}
	in := &Instance{
		Before:  h.Before,
		Main:    h.Main,
		After:   h.After,
		Release: h.Release,
	}
	// cur is the model the worker has: the one it started with, then each
	// one its update hook accepted. It is guarded by in.mu.
	cur := m
	in.prepare = func(b []byte) (func(context.Context) error, error) {
		next, err := c.Decode(b)
		if err != nil {
			return nil, err
		}
		if c.Changes != nil {
			ch := c.Changes(cur, next)
			if err := ch.Err(); err != nil {
				return nil, err
			}
			if ch.Restart {
				return nil, ErrRestart
			}
		}
		if h.Update == nil {
			return nil, ErrNoUpdateHandler
		}
		return func(ctx context.Context) error {
			if err := h.Update(ctx, next); err != nil {
				return err
			}
			// Only an accepted update becomes the base of the next
			// comparison: a rejected one leaves the worker as it was.
			in.mu.Lock()
			cur = next
			in.mu.Unlock()
			return nil
		}, nil
	}
	return in, nil
}

// Instance is one running worker with its model type erased.
type Instance struct {
	Before, Main, After, Release func(context.Context) error

	mu      sync.Mutex // serialises Prepare with itself; updates are ordered
	prepare func([]byte) (func(context.Context) error, error)
}

// Prepare decodes and validates new attachments, checks them against the
// model the worker has by the update policies, and returns the call of the
// typed update handler, without running it. A rejected update leaves the
// running worker untouched.
//
// Changed immutable fields give codec.Errors naming each path ("may not
// change while the task runs"); a changed restart field gives ErrRestart,
// which the caller handles by restarting the worker with attachments.
// Both come with a nil apply. The model that later updates are compared
// with becomes the new one only when apply succeeds, so an update the
// handler refuses does not count as applied. Call apply before the next
// Prepare: updates are compared in the order they are applied.
func (in *Instance) Prepare(attachments []byte) (apply func(context.Context) error, err error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.prepare(attachments)
}

// HookError is a failure returned by (or a panic in) one of a worker's hooks.
type HookError struct {
	Hook string // init, before, main, after, release or update
	Err  error
}

func (e *HookError) Error() string { return e.Hook + " hook: " + e.Err.Error() }
func (e *HookError) Unwrap() error { return e.Err }
