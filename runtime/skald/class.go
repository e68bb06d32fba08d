// Package skald holds what generated code and worker authors need from the
// runtime: the typed description of a worker class, its hooks, and the
// per-task logger. It has no infrastructure dependencies, so a package that
// defines workers stays light; the node that runs them lives in
// runtime/node, the client that publishes to them in runtime/client, and
// skaldtest.Run runs them in-process for unit tests.
package skald

import (
	"context"
	"fmt"
	"sync"

	"github.com/skalds-go/skalds/internal/erased"
	"github.com/skalds-go/skalds/runtime/codec"
)

// Hooks are the lifecycle methods of one worker instance, bound to a model
// type M. They mirror Python Skalds: Init receives the decoded attachments
// before anything runs, then Before, Main and After run in order, and Release
// always runs last, also after a cancel or a failure. Main is required.
//
// Each of Before, Main and After runs only if the previous one returned nil
// and the task was not stopped. In particular After does not run when the
// task was cancelled (or reassigned, or its node stopped), even if Main
// returned nil because its context was cancelled: After means "Main
// completed its work", as in Python Skalds, where a cancel interrupts the
// worker before its after handler. Put cleanup that must always happen in
// Release.
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
	// Validate checks a model built in Go, before a client writes it; nil
	// when the model has no validate tags.
	Validate func(M) error
	// New returns the hooks of a fresh worker instance.
	New func() Hooks[M]
	// Changes compares the attachments a task runs with and new ones by
	// the update policy of each field (//skald:restart, //skald:immutable;
	// others are hot). nil means every field is hot.
	Changes func(old, new M) Change
	// JSONSchema is the JSON Schema (2020-12) of the attachments, for forms
	// and for producers in other languages; nil when unknown.
	JSONSchema []byte
	// ProgressSchema and ResultSchema are the JSON Schemas of the types
	// the worker reports as its progress and sets as its result
	// (//skald:worker progress=P result=R); nil when it declares none.
	ProgressSchema, ResultSchema []byte
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

// immutableMsg is the message of the error for a changed immutable field.
const immutableMsg = "may not change while the task runs"

// Err returns the rejection of a change to immutable fields, as
// codec.Errors naming each path, or nil.
func (ch Change) Err() error {
	if len(ch.Immutable) == 0 {
		return nil
	}
	errs := make(codec.Errors, len(ch.Immutable))
	for i, p := range ch.Immutable {
		errs[i] = &codec.FieldError{Path: p, Msg: immutableMsg}
	}
	return errs
}

// Worker is a Class with its model type erased, which is what a node
// registers. Only a *Class[M] is one.
type Worker interface {
	ClassName() string
	erase() *erased.Class
}

// Registrar accepts worker classes; a node is one. Generated packages have a
// Register(Registrar) function that registers all their workers.
type Registrar interface {
	Register(Worker)
}

func init() {
	erased.Of = func(w any) *erased.Class { return w.(Worker).erase() }
}

// ClassName returns c.Name.
func (c *Class[M]) ClassName() string { return c.Name }

// erase returns what the runtime runs: the decoder, the start of an
// instance and the preparation of updates, with M hidden.
func (c *Class[M]) erase() *erased.Class {
	return &erased.Class{
		Name:   c.Name,
		Schema: c.JSONSchema,

		ProgressSchema: c.ProgressSchema,
		ResultSchema:   c.ResultSchema,
		Check: func(b []byte) error {
			_, err := c.Decode(b)
			return err
		},
		Start: c.start,
	}
}

// start decodes the attachments, creates an instance and runs its Init
// hook.
func (c *Class[M]) start(attachments []byte) (*erased.Instance, error) {
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
	// cur is the model the worker has: the one it started with, then each
	// one its update hook accepted. Prepare and apply never overlap (see
	// erased.Instance), and apply runs after its Prepare returned; the
	// mutex makes that ordering visible to the race detector too.
	var mu sync.Mutex
	cur := m
	prepare := func(b []byte) (func(context.Context) error, error) {
		next, err := c.Decode(b)
		if err != nil {
			return nil, err
		}
		mu.Lock()
		old := cur
		mu.Unlock()
		if c.Changes != nil {
			ch := c.Changes(old, next)
			if err := ch.Err(); err != nil {
				return nil, err
			}
			if ch.Restart {
				return nil, erased.ErrRestart
			}
		}
		if h.Update == nil {
			return nil, erased.ErrNoUpdateHandler
		}
		return func(ctx context.Context) error {
			if err := h.Update(ctx, next); err != nil {
				return err
			}
			// Only an accepted update becomes the base of the next
			// comparison: a rejected one leaves the worker as it was.
			mu.Lock()
			cur = next
			mu.Unlock()
			return nil
		}, nil
	}
	return &erased.Instance{Before: h.Before, Main: h.Main, After: h.After, Release: h.Release, Prepare: prepare}, nil
}

// HookError is a failure returned by (or a panic in) one of a worker's hooks.
type HookError struct {
	Hook string // init, before, main, after, release or update
	Err  error
}

func (e *HookError) Error() string { return e.Hook + " hook: " + e.Err.Error() }
func (e *HookError) Unwrap() error { return e.Err }

// The versions of generated code this runtime runs. Generated files check
// them at compile time through EnforceVersion, so that a file generated
// for another runtime fails to build, pointing at the line that says to
// regenerate it, instead of misbehaving at run time.
const (
	// MinGenVersion is the oldest generated-code version this runtime runs.
	MinGenVersion = 1
	// MaxGenVersion is the newest, the one today's skaldgen writes.
	MaxGenVersion = 1
)

// EnforceVersion is used by generated code only: converting a negative
// constant to it does not compile. See MinGenVersion.
type EnforceVersion uint
