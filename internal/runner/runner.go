// Package runner runs one worker instance: it decodes the attachments,
// runs the hooks in their order with panics recovered, and delivers
// updates one at a time, each checked by the update policies first. The
// node and the in-process test kit (skaldtest.Run) both run workers
// through it, so that what a worker's unit test sees is what a node does.
package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/skalds-go/skalds/internal/erased"
	"github.com/skalds-go/skalds/internal/telemetry"
	"github.com/skalds-go/skalds/runtime/codec"
	"github.com/skalds-go/skalds/runtime/skald"
	"github.com/skalds-go/skalds/runtime/task"
)

// Of returns the erased class of w.
func Of(w skald.Worker) *erased.Class { return erased.Of(w) }

// prepare is Instance.Prepare with a panic in the decoder turned into an
// error.
func prepare(in *erased.Instance, raw []byte) (apply func(context.Context) error, err error) {
	defer func() {
		if p := recover(); p != nil {
			apply, err = nil, fmt.Errorf("decoding the attachments panicked: %v", p)
		}
	}()
	return in.Prepare(raw)
}

// Panic is a recovered panic of a hook, with the stack where it happened;
// its text is what a Failed task's error field shows.
type Panic struct {
	Value any
	Stack []byte
}

func (p *Panic) Error() string { return fmt.Sprintf("panic: %v\n%s", p.Value, p.Stack) }

// Observer is told what a Run does. Every field may be nil. The update
// callbacks are called from the delivering goroutine, one at a time and in
// order.
type Observer struct {
	// Hook is called as each hook starts: init, before, main, after,
	// update, release.
	Hook func(name string)
	// HookDone is called as each hook returns, with how long it ran and
	// what it returned (a panic as a *Panic inside a *skald.HookError).
	HookDone func(name string, took time.Duration, err error)
	// Applied: the update hook accepted version.
	Applied func(version int64)
	// Rejected: version was refused (decode, validation, an immutable
	// field, no update hook, or the update hook returned an error) and
	// the worker keeps its attachments. Not called when the worker was
	// already stopping.
	Rejected func(version int64, err error)
	// Restart: version changes a //skald:restart field; the instance is
	// left untouched and the caller must stop it and start a new one.
	Restart func(version int64)
	// Fatal: the update hook with version panicked (the worker's state
	// can no longer be trusted) or returned skald.Terminal or
	// skald.RetryLater (the worker's call); the caller must fail the
	// task, with the kind Classify gives err.
	Fatal func(version int64, err error)
	// Progress: store raw, the newest progress the worker reported. It is
	// called at most once per ProgressEvery, never concurrently with
	// itself, and never after Run returned; reports made meanwhile are
	// coalesced, the newest wins; a report that cannot be stored (see
	// reports.storable) is refused and never reaches it. The newest
	// report, written or not, is also in Outputs once Run returned, and
	// Unwritten tells whether the terminal write must carry it.
	Progress func(progress task.Converted)
	// ProgressEvery is the least time between two Progress calls;
	// DefaultProgressEvery when zero.
	ProgressEvery time.Duration
	// Returned is called once the last hook (release) has returned,
	// before Run waits for a Progress call under way. A stop grace is
	// for the hooks: a progress write that queues behind a busy store
	// does not make a worker stuck.
	Returned func()
}

// DefaultProgressEvery is how often at most a worker's progress is stored
// unless configured otherwise: one write per second per reporting task.
const DefaultProgressEvery = time.Second

// Classify says which kind of failure err, returned by Begin or Run, is,
// and with task.FailedRetryLater the delay the worker asked for. The
// markers are found anywhere in err's chain, so a hook may wrap them in
// its own errors; a panic beats Terminal, which beats RetryLater. An error
// outside any hook is a failure to start.
func Classify(err error) (task.FailureKind, time.Duration) {
	var (
		p    *Panic
		term *skald.TerminalError
		rl   *skald.RetryLaterError
		hook *skald.HookError
	)
	switch {
	case err == nil:
		return "", 0
	case errors.As(err, &p):
		return task.FailedPanic, 0
	case errors.As(err, &term):
		return task.FailedTerminal, 0
	case errors.As(err, &rl):
		return task.FailedRetryLater, rl.After
	case errors.As(err, &hook):
		return task.FailedError, 0
	default:
		return task.FailedStart, 0
	}
}

// Run is one run of a worker instance, from Begin to the end of Run.
type Run struct {
	ctx    context.Context
	cancel context.CancelFunc
	grace  time.Duration
	obs    Observer
	inst   *erased.Instance
	hook   atomic.Pointer[string]

	mu         sync.Mutex
	pending    *update // newest update not yet delivered; older ones are dropped
	accept     bool    // the worker has started and takes updates
	delivering bool    // a deliver goroutine is running
	closed     bool    // the worker has ended and takes no more updates
	stopped    bool    // Stop was called
	updating   sync.WaitGroup

	rep reports

	// tr is nil without tracing: an idle worker is one of many, and its
	// Run is kept for as long as it runs.
	tr *traced
}

// traced is a Run's tracing state.
type traced struct {
	Tracing
	stop    trace.SpanContext // the remote parent of release, under Run.mu
	restart trace.SpanContext // the span of the update that asked for a restart, under Run.mu
}

// Tracing is what a Run needs to make each hook a span; see Run.Trace.
type Tracing struct {
	// Tracer makes the spans; nil turns tracing off.
	Tracer trace.Tracer
	// Start is the remote parent of the start hooks (init, before, main,
	// after): the trace context of the event that started the worker, or
	// the zero SpanContext when it had none, in which case init is the
	// root of a trace and the other start hooks are its children.
	Start trace.SpanContext
	// Version is the attachments version the worker starts with.
	Version int64
	// Attrs are set on every span: the task's id, class and epoch.
	Attrs []attribute.KeyValue
}

// reports is the Reporter of a Run: it keeps the newest progress and
// result and rate-limits the Progress calls.
type reports struct {
	obs *Observer
	log *slog.Logger

	mu       sync.Mutex
	refused  *refused       // made at the first refusal: most workers never have one
	progress task.Converted // newest progress reported, converted once
	result   []byte         // newest result set
	unsent   bool           // progress has not been passed to obs.Progress
	armed    bool           // a flush is scheduled or running
	closed   bool           // Run returned: no more flushes
	last     time.Time      // when the last flush started
	flushing sync.WaitGroup
}

func (p *reports) Progress(raw []byte) {
	raw = append([]byte(nil), raw...)
	c, ok := p.storable("progress", raw)
	if !ok {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.progress, p.unsent = c, true
	if p.armed || p.closed || p.obs.Progress == nil {
		return
	}
	p.armed = true
	p.flushing.Add(1)
	time.AfterFunc(time.Until(p.last.Add(p.every())), p.flush)
}

func (p *reports) Result(raw []byte) {
	if _, ok := p.storable("result", raw); !ok {
		return
	}
	raw = append([]byte(nil), raw...)
	p.mu.Lock()
	p.result = raw
	p.mu.Unlock()
}

// storable converts raw as the write will (task.Convert), so that a
// report MongoDB cannot store, such as a map key with "." or one that
// starts with "$", is refused when it is made, with the paths logged, and
// the newest good one stays what is written, instead of a write that fails
// later and loses it. A progress is written as converted here. Refusals
// of each kind are logged at most once per refusalLogEvery, since a worker
// may report in a loop.
func (p *reports) storable(what string, raw []byte) (task.Converted, bool) {
	c, err := task.Convert(raw)
	if err == nil {
		return c, true
	}
	p.mu.Lock()
	if p.refused == nil {
		p.refused = new(refused)
	}
	rf := &p.refused.progress
	if what == "result" {
		rf = &p.refused.result
	}
	now := time.Now()
	if !rf.loggedAt.IsZero() && now.Sub(rf.loggedAt) < refusalLogEvery {
		rf.unlogged++
		p.mu.Unlock()
		return task.Converted{}, false
	}
	more := rf.unlogged
	rf.loggedAt, rf.unlogged = now, 0
	p.mu.Unlock()
	var paths []string
	var errs codec.Errors
	if errors.As(err, &errs) {
		for _, fe := range errs {
			paths = append(paths, fe.Path)
		}
	}
	if p.log != nil {
		p.log.Error(what+" refused: it cannot be stored; the last good one stays",
			"paths", strings.Join(paths, " "), "refusedSinceLastLogged", more, "err", err)
	}
	return task.Converted{}, false
}

// refused counts a worker's refused reports, for their log records.
type refused struct{ progress, result refusals }

// refusals are the refused reports of one kind.
type refusals struct {
	loggedAt time.Time // when a refusal was last logged
	unlogged int       // refusals not logged since
}

// refusalLogEvery is the least time between two log records of refused
// reports of one kind and one worker.
const refusalLogEvery = time.Second

func (p *reports) every() time.Duration {
	if p.obs.ProgressEvery > 0 {
		return p.obs.ProgressEvery
	}
	return DefaultProgressEvery
}

// flush passes the newest progress on, then schedules the next flush if
// reports came in meanwhile, one interval after this one started.
func (p *reports) flush() {
	defer p.flushing.Done()
	p.mu.Lock()
	if p.closed {
		// The terminal write carries what is left (Unwritten).
		p.mu.Unlock()
		return
	}
	raw, send := p.progress, p.unsent
	p.unsent = false
	p.last = time.Now()
	p.mu.Unlock()
	if send {
		p.obs.Progress(raw)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.unsent && !p.closed {
		p.flushing.Add(1)
		time.AfterFunc(time.Until(p.last.Add(p.every())), p.flush)
		return
	}
	p.armed = false
}

// close stops the flushes and waits for one that is running.
func (p *reports) close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.flushing.Wait()
}

// Unwritten returns the newest progress when it has not been passed to
// Observer.Progress, or nil: what the terminal write must add so that the
// stored progress is the newest, without writing again what is stored.
func (r *Run) Unwritten() []byte {
	r.rep.mu.Lock()
	defer r.rep.mu.Unlock()
	if !r.rep.unsent {
		return nil
	}
	return r.rep.progress.JSON
}

// Outputs returns the newest progress the worker reported and the result
// it set, each nil when there was none. After Run returned they are
// final; the progress may not have reached Observer.Progress yet.
func (r *Run) Outputs() (progress, result []byte) {
	r.rep.mu.Lock()
	defer r.rep.mu.Unlock()
	return r.rep.progress.JSON, r.rep.result
}

type update struct {
	version int64
	raw     []byte
	parent  trace.SpanContext // the trace context of the event that brought it
}

// New returns a run whose hooks get contexts that carry log, the task's
// logger, for skald.Logger. Release gets a context that is not cancelled,
// bounded by grace.
func New(log *slog.Logger, grace time.Duration, obs Observer) *Run {
	r := &Run{grace: grace, obs: obs}
	r.rep.obs, r.rep.log = &r.obs, log
	ctx := context.WithValue(context.Background(), erased.LoggerKey{}, log)
	ctx = context.WithValue(ctx, erased.ReporterKey{}, erased.Reporter(&r.rep))
	r.ctx, r.cancel = context.WithCancel(ctx)
	return r
}

// Trace makes every hook a span of t.Tracer, child of the trace context of
// what caused it: the event that started the worker for the start hooks,
// the event that brought an update for update (see OfferFrom), the event
// that stopped the worker for release (see TraceStop). A hook's context
// carries its span, so that spans the worker makes are its children.
// Call it before Begin; without it there are no spans, at no cost.
func (r *Run) Trace(t Tracing) {
	if t.Tracer == nil {
		r.tr = nil
		return
	}
	r.tr = &traced{Tracing: t}
}

// span starts the span of hook, child of parent (remote), or returns ctx
// and an absent span when tracing is off.
func (r *Run) span(ctx context.Context, hook string, parent trace.SpanContext, version int64) (context.Context, telemetry.Span) {
	if r.tr == nil {
		return ctx, telemetry.Span{}
	}
	if parent.IsValid() {
		// Received ones are remote already; a restart's parent, the
		// update span of the previous instance, is not.
		ctx = trace.ContextWithSpanContext(ctx, parent)
	}
	attrs := make([]attribute.KeyValue, 0, len(r.tr.Attrs)+2)
	attrs = append(attrs, r.tr.Attrs...)
	attrs = append(attrs, telemetry.Hook.String(hook), telemetry.Version.Int64(version))
	return telemetry.StartAttrs(ctx, r.tr.Tracer, "skalds.hook."+hook, trace.SpanKindConsumer, attrs...)
}

// RestartTrace returns the span context of the update hook's span that
// asked for a restart (Observer.Restart), to be the parent of the new
// instance's start hooks: an update that restarts the worker stays one
// trace. It is the zero SpanContext without tracing or restart.
func (r *Run) RestartTrace() trace.SpanContext {
	if r.tr == nil {
		return trace.SpanContext{}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.tr.restart
}

// Context is the context the hooks (other than release) run with.
func (r *Run) Context() context.Context { return r.ctx }

// Hook returns the hook running now, or the last one that ran; "" before
// Begin.
func (r *Run) Hook() string {
	if h := r.hook.Load(); h != nil {
		return *h
	}
	return ""
}

// Begin decodes the attachments and runs the init hook, with a panic in
// either turned into a *skald.HookError. It returns an error wrapping the
// decode or validation error (codec.Errors) when the attachments do not
// fit.
//
// Decoding is the deepest call chain a worker's goroutine makes, and its
// stack keeps the size that chain needed (the runtime shrinks a stack only
// when less than a quarter of it is in use, and a parked worker uses more):
// the span machinery lives in beginTraced, so that without tracing it adds
// no frame or local to that chain.
func (r *Run) Begin(cls *erased.Class, attachments []byte) error {
	if r.tr != nil {
		return r.beginTraced(cls, attachments)
	}
	return r.begin(cls, attachments)
}

// beginTraced is Begin in the init hook's span. When the worker was not
// started by a traced event, init is the root of a trace and the other
// start hooks join it.
//
//go:noinline
func (r *Run) beginTraced(cls *erased.Class, attachments []byte) error {
	_, sp := r.span(r.ctx, "init", r.tr.Start, r.tr.Version)
	if !r.tr.Start.IsValid() {
		r.tr.Start = sp.Context()
	}
	err := r.begin(cls, attachments)
	sp.End(err)
	return err
}

func (r *Run) begin(cls *erased.Class, attachments []byte) (err error) {
	r.enter("init")
	if r.obs.HookDone != nil {
		start := time.Now()
		defer func() { r.obs.HookDone("init", time.Since(start), err) }()
	}
	defer func() {
		if p := recover(); p != nil {
			err = &skald.HookError{Hook: "init", Err: &Panic{Value: p, Stack: debug.Stack()}}
		}
	}()
	inst, err := cls.Start(attachments)
	if err != nil {
		return fmt.Errorf("cannot start: %w", err)
	}
	r.inst = inst
	return nil
}

// Run runs Before, Main and After in order, each only if the run was not
// stopped and the previous one returned nil, while delivering updates;
// then, whatever happened, Release, after the last update returned. It
// returns the error of the hook that failed, and that of Release apart.
// Call it once, after Begin succeeded.
//
// After does not run when the run was stopped (cancelled, reassigned,
// shut down), even when Main returned nil because of it: as in Python
// Skalds, where a cancel interrupts the worker, After means "Main
// completed". Cleanup that must always happen belongs in Release.
func (r *Run) Run() (err, releaseErr error) {
	r.mu.Lock()
	r.accept = true
	r.kick()
	r.mu.Unlock()

	in := r.inst
	for _, h := range []struct {
		name string
		f    func(context.Context) error
	}{{"before", in.Before}, {"main", in.Main}, {"after", in.After}} {
		if r.ctx.Err() != nil {
			break
		}
		// A dispatch here, not in a function of its own: that would be
		// one more frame under main for the worker's whole life.
		switch {
		case h.f == nil:
		case r.tr != nil:
			err = r.callTraced(r.ctx, h.name, h.f)
		default:
			err = r.invoke(r.ctx, h.name, h.f)
		}
		if err != nil {
			break
		}
	}
	// No update may run alongside or after release.
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	r.cancel()
	r.updating.Wait()

	// Release always runs, with a context that is not cancelled (see
	// release), so that it can still close what it opened. It may still
	// report; what it reports is in Outputs, for the terminal write.
	releaseErr = r.release(in.Release)
	if r.obs.Returned != nil {
		r.obs.Returned()
	}
	r.rep.close()
	return err, releaseErr
}

// Stop cancels the run's context and delivers no more updates. It may be
// called any number of times, from any goroutine.
func (r *Run) Stop() {
	r.mu.Lock()
	r.stopped = true
	r.mu.Unlock()
	r.cancel()
}

// TraceStop records parent, the trace context of the event that is about
// to stop the run, as the parent of the release hook's span (see Trace).
// Call it before Stop; the first valid parent counts.
func (r *Run) TraceStop(parent trace.SpanContext) {
	if r.tr == nil {
		return
	}
	r.mu.Lock()
	if !r.tr.stop.IsValid() {
		r.tr.stop = parent
	}
	r.mu.Unlock()
}

// Offer queues attachments version for the worker, replacing an older
// queued one: a worker needs the newest, not each step. They are delivered
// once the worker has begun, unless it ended or was stopped first.
func (r *Run) Offer(version int64, attachments []byte) {
	r.OfferFrom(trace.SpanContext{}, version, attachments)
}

// OfferFrom is Offer of attachments that an event with trace context
// parent brought: the update hook's span is its child (see Trace).
func (r *Run) OfferFrom(parent trace.SpanContext, version int64, attachments []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pending = &update{version: version, raw: attachments, parent: parent}
	r.kick()
}

// kick starts a delivery goroutine when there is an update to deliver and
// none is running. The caller holds r.mu. A goroutine per delivery rather
// than per worker keeps idle workers small.
func (r *Run) kick() {
	if r.pending == nil || !r.accept || r.delivering || r.closed || r.stopped {
		return
	}
	r.delivering = true
	r.updating.Add(1)
	go r.deliver()
}

// deliver applies queued updates one at a time until none is left.
func (r *Run) deliver() {
	defer r.updating.Done()
	for {
		r.mu.Lock()
		u := r.pending
		r.pending = nil
		if u == nil || r.closed || r.stopped {
			r.delivering = false
			r.mu.Unlock()
			return
		}
		r.mu.Unlock()
		r.apply(u)
	}
}

// apply checks one update and runs the worker's update hook with it.
func (r *Run) apply(u *update) {
	var (
		restart bool
		err     error
	)
	if r.tr != nil {
		restart, err = r.applyTraced(u)
	} else {
		restart, err = r.runUpdate(r.ctx, u.raw)
	}
	if restart {
		if r.obs.Restart != nil {
			r.obs.Restart(u.version)
		}
		return
	}
	switch kind, _ := Classify(err); {
	case kind == task.FailedPanic || kind == task.FailedTerminal || kind == task.FailedRetryLater:
		if r.obs.Fatal != nil {
			r.obs.Fatal(u.version, err)
		}
	case err != nil:
		if r.ctx.Err() == nil && r.obs.Rejected != nil {
			r.obs.Rejected(u.version, err)
		}
	case r.obs.Applied != nil:
		r.obs.Applied(u.version)
	}
}

// runUpdate checks raw against the running instance and runs the update
// hook with it. restart says that a field that needs a restart changed:
// the hook did not run.
func (r *Run) runUpdate(ctx context.Context, raw []byte) (restart bool, err error) {
	f, err := prepare(r.inst, raw)
	if errors.Is(err, erased.ErrRestart) {
		return true, nil
	}
	if err == nil {
		err = r.invoke(ctx, "update", f)
	}
	return false, err
}

// applyTraced is runUpdate in the update hook's span, child of the event
// that brought the update. The span covers the checks too, so that a
// rejected update shows in the trace of the call that made it, with the
// reason; the span of an update that restarts the worker is the parent of
// the new instance's start hooks (see RestartTrace).
//
//go:noinline
func (r *Run) applyTraced(u *update) (restart bool, err error) {
	ctx, sp := r.span(r.ctx, "update", u.parent, u.version)
	restart, err = r.runUpdate(ctx, u.raw)
	if restart {
		sp.Set(restartAttr)
		r.mu.Lock()
		r.tr.restart = sp.Context()
		r.mu.Unlock()
	}
	sp.End(err)
	return restart, err
}

func (r *Run) enter(hook string) {
	r.hook.Store(&hook)
	if r.obs.Hook != nil {
		r.obs.Hook(hook)
	}
}

// restartAttr marks the span of an update that restarts the worker.
var restartAttr = attribute.Bool("skalds.update.restart", true)

// callTraced is invoke in the hook's span (see Trace): release's parent
// is the event that stopped the worker (see TraceStop), the other hooks'
// the start's. Without tracing the hooks are invoked directly: the frames
// under a hook stay on the worker's stack for as long as it runs, main's
// for the worker's whole life, and they carry no span machinery then.
//
//go:noinline
func (r *Run) callTraced(ctx context.Context, hook string, f func(context.Context) error) error {
	parent := r.tr.Start
	if hook == "release" {
		r.mu.Lock()
		if r.tr.stop.IsValid() {
			parent = r.tr.stop
		}
		r.mu.Unlock()
	}
	ctx, sp := r.span(ctx, hook, parent, r.tr.Version)
	err := r.invoke(ctx, hook, f)
	sp.End(err)
	return err
}

// release runs the release hook f, if any. It runs after a cancel too:
// it gets a live context, bounded by the stop grace, so that it can still
// close what it opened.
func (r *Run) release(f func(context.Context) error) error {
	if f == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.ctx), r.grace)
	defer cancel()
	if r.tr != nil {
		return r.callTraced(ctx, "release", f)
	}
	return r.invoke(ctx, "release", f)
}

// invoke runs hook f with ctx, turning a returned error or a panic into a
// *skald.HookError.
func (r *Run) invoke(ctx context.Context, hook string, f func(context.Context) error) (err error) {
	r.enter(hook)
	if r.obs.HookDone != nil {
		start := time.Now()
		defer func() { r.obs.HookDone(hook, time.Since(start), err) }()
	}
	defer func() {
		if p := recover(); p != nil {
			err = &skald.HookError{Hook: hook, Err: &Panic{Value: p, Stack: debug.Stack()}}
		}
	}()
	if err := f(ctx); err != nil {
		return &skald.HookError{Hook: hook, Err: err}
	}
	return nil
}
