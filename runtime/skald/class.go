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
}

// Registrar accepts worker classes; a node is one. Generated packages have a
// Register(Registrar) function that registers all their workers.
type Registrar interface {
	Register(Worker)
}

// ErrNoUpdateHandler rejects an update for a worker without //skald:update.
var ErrNoUpdateHandler = errors.New("worker has no update handler; add a //skald:update method to accept attachment changes while it runs")

// ClassName returns c.Name.
func (c *Class[M]) ClassName() string { return c.Name }

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
	in.prepare = func(b []byte) (func(context.Context) error, error) {
		m, err := c.Decode(b)
		if err != nil {
			return nil, err
		}
		if h.Update == nil {
			return nil, ErrNoUpdateHandler
		}
		return func(ctx context.Context) error { return h.Update(ctx, m) }, nil
	}
	return in, nil
}

// Instance is one running worker with its model type erased.
type Instance struct {
	Before, Main, After, Release func(context.Context) error

	mu      sync.Mutex // serialises Prepare with itself; updates are ordered
	prepare func([]byte) (func(context.Context) error, error)
}

// Prepare decodes and validates new attachments and returns the call of the
// typed update handler, without running it. A rejected update leaves the
// running worker untouched.
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
