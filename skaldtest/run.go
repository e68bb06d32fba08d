package skaldtest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/skalds-go/skalds/internal/runner"
	"github.com/skalds-go/skalds/runtime/skald"
	"github.com/skalds-go/skalds/runtime/task"
)

// Timeout bounds every wait of a Task (Update, Wait, Cancel, Await) unless
// Task.Timeout says otherwise: a worker that never gets there fails the
// test instead of hanging it.
const Timeout = 10 * time.Second

// TaskID is the task id a Task's worker sees in its log records.
const TaskID = "test_task"

// Task is one task of a worker class run in-process, without Kafka,
// MongoDB or Redis, by the code a node runs it with: the class's strict
// decoder and validation, the update policies, the delivery of updates
// one at a time, panic recovery, and the hooks in the node's order. Use it
// to unit-test a worker, under the race detector too.
//
// Start one with Run (typed attachments) or RunJSON, push updates with
// Update or UpdateJSON, and end it with Cancel or Wait for it to end by
// itself. Hooks tells which hooks ran, in order, and Logs holds what the
// worker logged through skald.Logger(ctx).
type Task[M any] struct {
	// Logs keeps every record the worker logs, with the attributes a node
	// adds (taskId, className).
	Logs *Logs
	// Timeout bounds each wait; zero means the package's Timeout.
	Timeout time.Duration

	t     testing.TB
	class *skald.Class[M]
	log   *slog.Logger
	done  chan struct{}

	mu       sync.Mutex
	cur      *runner.Run
	hooks    []string
	version  int64
	waiters  map[int64]chan error // Update calls waiting for their version
	raws     map[int64][]byte     // and the attachments they pushed
	restart  []byte               // attachments to restart with, when a restart field changed
	restartV int64
	stopped  bool  // Cancel was called
	failure  error // an update hook failed the task (panic, Terminal, RetryLater)
	outcome  Outcome
}

// Outcome is how a task ended.
type Outcome struct {
	// Status is task.Finished, task.Failed or task.Cancelled, as a node
	// would write it.
	Status task.Status
	// Err is why a Failed task failed: a *skald.HookError naming the hook
	// that returned an error or panicked, or the decode or validation
	// error (codec.Errors) of the attachments it could not start with.
	Err error
	// Kind is, for a Failed task, the errorKind a node would record:
	// task.FailedTerminal after skald.Terminal, task.FailedRetryLater
	// after skald.RetryLater, with RetryAfter its delay.
	Kind       task.FailureKind
	RetryAfter time.Duration
	// Progress and Result are what a node stores with the terminal
	// status: the newest progress the worker reported in its last run
	// and the result it set (JSON, nil when none). Decode them with the
	// generated Decode<P> and Decode<R>.
	Progress, Result []byte
}

func (o Outcome) String() string {
	if o.Err != nil {
		return fmt.Sprintf("%s: %v", o.Status, o.Err)
	}
	return string(o.Status)
}

// Run starts a task of class with attachments m, encoded as a client
// would write them, and returns at once: Init, Before and Main run in the
// background. The task is cancelled at the end of the test if it is still
// running.
func Run[M any](t testing.TB, class *skald.Class[M], m M) *Task[M] {
	t.Helper()
	if class.Encode == nil {
		t.Fatalf("class %s has no Encode; start it with RunJSON", class.Name)
	}
	return RunJSON(t, class, class.Encode(m))
}

// RunJSON starts a task of class with raw attachments, as they would be
// stored. Attachments that do not decode or validate make the task
// Failed, with the errors and their JSON paths in Outcome.Err.
func RunJSON[M any](t testing.TB, class *skald.Class[M], attachments []byte) *Task[M] {
	t.Helper()
	logs := NewLogs(nil)
	k := &Task[M]{
		Logs:    logs,
		t:       t,
		class:   class,
		log:     slog.New(logs).With("taskId", TaskID, "className", class.Name),
		done:    make(chan struct{}),
		waiters: map[int64]chan error{},
		raws:    map[int64][]byte{},
	}
	go k.loop(attachments)
	t.Cleanup(func() {
		select {
		case <-k.done:
		default:
			k.Cancel()
		}
	})
	return k
}

// loop runs the worker, and runs it again with new attachments for as
// long as its updates change a //skald:restart field, as a node does.
func (k *Task[M]) loop(attachments []byte) {
	defer close(k.done)
	cls := runner.Of(k.class)
	restarted := int64(-1) // the version a new run starts with, if any
	for {
		// Release gets the node's default stop grace.
		r := runner.New(k.log, Timeout, runner.Observer{
			Hook:     k.entered,
			Applied:  func(v int64) { k.resolve(v, nil) },
			Rejected: k.resolve,
			Restart:  k.restartWith,
			Fatal: func(v int64, err error) {
				k.mu.Lock()
				if k.failure == nil {
					k.failure = err
				}
				k.mu.Unlock()
				k.resolve(v, err)
				k.stopCurrent()
			},
		})
		k.mu.Lock()
		if k.stopped {
			k.outcome = Outcome{Status: task.Cancelled}
			k.mu.Unlock()
			k.resolveAll(errors.New("the task was cancelled before the update was delivered"))
			return
		}
		k.cur = r
		// An update pushed before the worker started, or while the
		// previous instance was stopping for a restart, goes to this one,
		// as the node would deliver it.
		if v := k.version; v > restarted && k.waiters[v] != nil {
			r.Offer(v, k.raws[v])
		}
		k.mu.Unlock()

		err := r.Begin(cls, attachments)
		if restarted >= 0 {
			k.resolve(restarted, err)
		}
		var rerr error
		if err == nil {
			err, rerr = r.Run()
		}
		if rerr != nil {
			k.log.Error("release failed", "err", rerr)
		}

		k.mu.Lock()
		next, v := k.restart, k.restartV
		k.restart = nil
		progress, result := r.Outputs()
		switch {
		case k.failure != nil:
			k.outcome = failed(k.failure)
		case k.stopped:
			k.outcome = Outcome{Status: task.Cancelled}
		case next != nil && err == nil:
			k.mu.Unlock()
			attachments, restarted = next, v
			continue
		case err != nil:
			k.outcome = failed(err)
		default:
			k.outcome = Outcome{Status: task.Finished}
		}
		k.outcome.Progress, k.outcome.Result = progress, result
		k.mu.Unlock()
		k.resolveAll(errors.New("the worker ended before the update was delivered"))
		return
	}
}

// failed is the outcome of a task that failed with err.
func failed(err error) Outcome {
	kind, after := runner.Classify(err)
	return Outcome{Status: task.Failed, Err: err, Kind: kind, RetryAfter: after}
}

func (k *Task[M]) entered(hook string) {
	k.mu.Lock()
	k.hooks = append(k.hooks, hook)
	k.mu.Unlock()
}

// restartWith stops the running instance; loop starts a new one with the
// attachments of version v once the old one's release returned.
func (k *Task[M]) restartWith(v int64) {
	k.mu.Lock()
	k.restart, k.restartV = k.raws[v], v
	k.mu.Unlock()
	k.stopCurrent()
}

func (k *Task[M]) stopCurrent() {
	k.mu.Lock()
	r := k.cur
	k.mu.Unlock()
	r.Stop()
}

// resolve ends the Update call waiting for version v, and those waiting
// for older versions, which the node drops in favour of the newest.
func (k *Task[M]) resolve(v int64, err error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for w, ch := range k.waiters {
		switch {
		case w == v:
			ch <- err
		case w < v:
			ch <- fmt.Errorf("version %d was superseded by version %d before it was delivered", w, v)
		default:
			continue
		}
		delete(k.waiters, w)
		delete(k.raws, w)
	}
}

func (k *Task[M]) resolveAll(err error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for w, ch := range k.waiters {
		ch <- err
		delete(k.waiters, w)
	}
}

// Update pushes attachments m, encoded as the typed client would write
// them, and waits until the worker took them or refused them. It returns
// nil when the update hook accepted them, or when a //skald:restart field
// changed and the worker restarted with them (Hooks shows the release and
// the new init). Otherwise it returns the rejection, as the node records
// it on the task: codec.Errors with each field's JSON path for attachments
// that do not decode or validate or that change an //skald:immutable
// field, or the update hook's error as a *skald.HookError. A rejected
// update leaves the worker on its attachments.
func (k *Task[M]) Update(m M) error {
	k.t.Helper()
	if k.class.Encode == nil {
		k.t.Fatalf("class %s has no Encode; push updates with UpdateJSON", k.class.Name)
	}
	return k.UpdateJSON(k.class.Encode(m))
}

// UpdateJSON is Update with raw attachments, as another writer might
// store them: use it to test what the decoder refuses, and the paths it
// names.
func (k *Task[M]) UpdateJSON(attachments []byte) error {
	k.t.Helper()
	ch := make(chan error, 1)
	k.mu.Lock()
	if k.finished() {
		k.mu.Unlock()
		return errors.New("the worker is not running; no update was delivered")
	}
	k.version++
	v := k.version
	k.waiters[v] = ch
	k.raws[v] = attachments
	if r := k.cur; r != nil {
		r.Offer(v, attachments)
	}
	k.mu.Unlock()
	select {
	case err := <-ch:
		return err
	case <-k.done:
		select {
		case err := <-ch:
			return err
		default:
			return errors.New("the worker ended before the update was delivered")
		}
	case <-time.After(k.timeout()):
		k.t.Fatalf("update %d was neither applied nor rejected within %s (is the update hook blocked?); hooks so far: %v", v, k.timeout(), k.Hooks())
		return nil
	}
}

func (k *Task[M]) finished() bool {
	select {
	case <-k.done:
		return true
	default:
		return false
	}
}

// Cancel cancels the task as a node does when it is cancelled: the
// context of the running hook is cancelled, updates stop, and Release
// runs. It waits for the worker to end and returns its outcome:
// task.Cancelled, or how the worker had ended already.
func (k *Task[M]) Cancel() Outcome {
	k.t.Helper()
	k.mu.Lock()
	k.stopped = true
	r := k.cur
	k.mu.Unlock()
	if r != nil {
		r.Stop()
	}
	return k.Wait()
}

// Wait waits for the worker to end and returns its outcome. It fails the
// test when the worker does not end within the timeout.
func (k *Task[M]) Wait() Outcome {
	k.t.Helper()
	select {
	case <-k.done:
	case <-time.After(k.timeout()):
		k.t.Fatalf("the worker did not end within %s; it is in its %s hook (hooks so far: %v)", k.timeout(), k.current(), k.Hooks())
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.outcome
}

// Progress returns the newest progress the worker reported through
// skald.ReportProgress (the generated Report<W>Progress), as JSON, or nil
// before the first report. It is the newest report, not only those a
// node's rate limit would have written: a node stores at most one per its
// progress interval, always the newest. Decode it with the generated
// Decode<P>; after the end, Outcome.Progress holds the same.
func (k *Task[M]) Progress() []byte {
	k.mu.Lock()
	r := k.cur
	k.mu.Unlock()
	if r == nil {
		return nil
	}
	p, _ := r.Outputs()
	return p
}

// Done is closed when the worker has ended and its Release returned.
func (k *Task[M]) Done() <-chan struct{} { return k.done }

// Hooks returns the hooks that have run so far, in the order they were
// entered: "init", "before", "main", "update", "after", "release"; a
// restart shows as "release" followed by "init".
func (k *Task[M]) Hooks() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Clone(k.hooks)
}

func (k *Task[M]) current() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.cur == nil {
		return "start"
	}
	return k.cur.Hook()
}

// Await waits for a record of the worker matching m and returns it; it
// fails the test when none comes within the timeout.
func (k *Task[M]) Await(m Match) Record {
	k.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), k.timeout())
	defer cancel()
	r, err := k.Logs.Await(ctx, m)
	if err != nil {
		k.t.Fatalf("the worker logged no matching record within %s (hooks so far: %v)", k.timeout(), k.Hooks())
	}
	return r
}

func (k *Task[M]) timeout() time.Duration {
	if k.Timeout > 0 {
		return k.Timeout
	}
	return Timeout
}
