package api

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/skalds-go/skalds/controller/api/wire"
	"github.com/skalds-go/skalds/controller/monitor"
	"github.com/skalds-go/skalds/runtime/codec"
	"github.com/skalds-go/skalds/runtime/event"
	"github.com/skalds-go/skalds/runtime/liveness"
	"github.com/skalds-go/skalds/runtime/task"
)

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func taskResponse(d *task.Task, snap *monitor.Snapshot) wire.Task {
	att := json.RawMessage(d.Attachments)
	if len(att) == 0 {
		att = json.RawMessage("{}")
	}
	mode := d.Mode
	if mode == "" {
		mode = task.Passive
	}
	r := wire.Task{
		ID: d.ID, ClassName: d.ClassName, LifecycleStatus: d.LifecycleStatus, Executor: d.Executor,
		CreateDateTime: d.CreateDateTime, UpdateDateTime: d.UpdateDateTime, Mode: mode,
		Attachments: att, Error: nonEmpty(d.Error), Priority: d.Priority,
		Source: d.Source, Name: d.Name, Description: d.Description, Dependencies: d.Dependencies,
		IsPersistent: d.IsPersistent, DeadlineDateTime: d.DeadlineDateTime,
		AttachmentsVersion: d.AttachmentsVersion, AppliedAttachmentsVersion: d.AppliedAttachmentsVersion,
		AttachmentsRejection: d.AttachmentsRejection, AssignmentEpoch: d.AssignmentEpoch,
		Attempts: d.Attempts, Refusal: d.Refusal, Stuck: nonEmpty(d.Stuck),
		Progress: json.RawMessage(d.Progress), ProgressDateTime: d.ProgressDateTime, Result: json.RawMessage(d.Result),
	}
	if d.AssignedDateTime != 0 {
		r.AssignedDateTime = &d.AssignedDateTime
	}
	r.ErrorKind = d.ErrorKind
	if d.RetryAt != 0 {
		r.RetryAt = &d.RetryAt
	}
	if snap != nil {
		r.Unserved = !d.LifecycleStatus.Terminal() && !snap.Serves(d.ClassName)
		if b, ok := snap.Beats[d.ID]; ok {
			r.Heartbeat = b.Heartbeat
			r.Exception = nonEmpty(b.Exception)
			if !b.Changed.IsZero() {
				ms := b.Changed.UnixMilli()
				r.LastBeat = &ms
			}
		}
	}
	return r
}

func (s *Server) snapshot() *monitor.Snapshot {
	if s.d.Monitor == nil {
		return nil
	}
	return s.d.Monitor.Snapshot()
}

// intParam reads an integer query parameter within [lo, hi].
func intParam(r *http.Request, name string, def, lo, hi int) (int, *fieldError) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		fe := invalid(name, fmt.Sprintf("must be a whole number from %d to %d", lo, hi))
		return 0, &fe
	}
	return n, nil
}

// maxSearch bounds ?q=, a substring of ids, classes, nodes and statuses,
// none of which is longer.
const maxSearch = 256

func (s *Server) listTasks(w http.ResponseWriter, r *http.Request) {
	page, fe := intParam(r, "page", 1, 1, 1<<30)
	if fe != nil {
		s.fail(w, r, http.StatusUnprocessableEntity, "invalid query", *fe)
		return
	}
	size, fe := intParam(r, "pageSize", 20, 1, 100)
	if fe != nil {
		s.fail(w, r, http.StatusUnprocessableEntity, "invalid query", *fe)
		return
	}
	q := r.URL.Query()
	if len(q.Get("q")) > maxSearch {
		s.fail(w, r, http.StatusUnprocessableEntity, "invalid query",
			invalid("q", fmt.Sprintf("is longer than %d bytes; search for a part of an id, class, node or status", maxSearch)))
		return
	}
	docs, total, err := s.d.Store.List(r.Context(), task.Filter{
		Status: q.Get("lifecycleStatus"), ClassName: q.Get("className"), ID: q.Get("id"), Executor: q.Get("executor"),
		Class: q.Get("class"), Search: q.Get("q"),
	}, page, size)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	snap := s.snapshot()
	items := make([]wire.Task, len(docs))
	for i := range docs {
		items[i] = taskResponse(&docs[i], snap)
	}
	s.writeJSON(w, http.StatusOK, wire.TaskList{Items: items, Total: total, Page: page, PageSize: size})
}

func (s *Server) classNames(w http.ResponseWriter, r *http.Request) {
	names, err := s.d.Store.ClassNames(r.Context())
	if err != nil {
		s.internal(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, names)
}

// load reads the task named in the path, answering 404 itself.
func (s *Server) load(w http.ResponseWriter, r *http.Request) (*task.Task, bool) {
	id := r.PathValue("id")
	d, err := s.d.Store.Get(r.Context(), id)
	return d, s.readOK(w, r, id, err)
}

// readOK answers the error of a read of task id, 404 when it is not
// found, and reports whether there was none.
func (s *Server) readOK(w http.ResponseWriter, r *http.Request, id string, err error) bool {
	if errors.Is(err, task.ErrNotFound) {
		s.fail(w, r, http.StatusNotFound, fmt.Sprintf("task %q not found", id))
		return false
	}
	if err != nil {
		s.internal(w, r, err)
		return false
	}
	return true
}

func (s *Server) getTask(w http.ResponseWriter, r *http.Request) {
	if d, ok := s.load(w, r); ok {
		s.writeJSON(w, http.StatusOK, taskResponse(d, s.snapshot()))
	}
}

// taskHistory serves GET /api/tasks/{id}/history.
func (s *Server) taskHistory(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	h, err := s.d.Store.History(r.Context(), id)
	if !s.readOK(w, r, id, err) {
		return
	}
	s.writeJSON(w, http.StatusOK, wire.TaskHistory{TaskID: id, Entries: h.Entries, Total: h.Total, Dropped: h.Dropped()})
}

// checkNewAttachments converts raw attachments as they will be stored
// (see task.AttachmentsBSON), answering 422 with the paths of what cannot
// be stored. Paths are relative to the attachments, like the schema's.
func (s *Server) checkNewAttachments(w http.ResponseWriter, r *http.Request, raw []byte) bool {
	if _, err := task.AttachmentsBSON(raw); err != nil {
		s.fail(w, r, http.StatusUnprocessableEntity, "invalid attachments", fieldErrors(err)...)
		return false
	}
	return true
}

func isObject(raw []byte) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && raw[0] == '{' && json.Valid(raw)
}

// taskURL is the API path of task id, escaped.
func taskURL(id string) string { return "/api/tasks/" + url.PathEscape(id) }

func (s *Server) createTask(w http.ResponseWriter, r *http.Request) {
	var req createRequest
	if !s.decoded(w, r, func(rd *codec.Reader) { decodeCreate(rd, &req) }) {
		return
	}
	var errs []fieldError
	if req.ID != "" {
		if err := task.ValidateID(req.ID); err != nil {
			errs = append(errs, invalid("id", err.Error()))
		}
	}
	if strings.TrimSpace(req.ClassName) == "" {
		errs = append(errs, invalid("className", "required"))
	}
	if req.Priority != nil && (*req.Priority < 0 || *req.Priority > 10) {
		errs = append(errs, invalid("priority", "must be from 0 to 10"))
	}
	if req.Mode != "" && task.Mode(req.Mode) != task.Passive {
		errs = append(errs, invalid("mode", "only Passive tasks can be created here; Active tasks come from an edge node's YAML"))
	}
	if req.Attachments != nil && !isObject(req.Attachments) {
		errs = append(errs, invalid("attachments", "must be a JSON object"))
	}
	if len(errs) > 0 {
		s.fail(w, r, http.StatusUnprocessableEntity, "invalid task", errs...)
		return
	}
	// A task without attachments runs with an empty object: that is what
	// the class's schema must accept.
	effective := req.Attachments
	if effective == nil {
		effective = []byte("{}")
	}
	if !s.checkNewAttachments(w, r, effective) || !s.checkAttachments(w, r, req.ClassName, effective) {
		return
	}
	id := req.ID
	if id == "" {
		id = newID()
	}
	source := req.Source
	if source == "" {
		source = "api"
	}
	d := task.New(id, req.ClassName, source, req.Attachments)
	d.Name, d.Description, d.Dependencies = req.Name, req.Description, req.Dependencies
	if req.Priority != nil {
		d.Priority = *req.Priority
	}
	if req.DeadlineDateTime != nil {
		d.DeadlineDateTime = *req.DeadlineDateTime
	}
	if req.IsPersistent != nil {
		d.IsPersistent = *req.IsPersistent
	}
	err := s.d.Store.Create(r.Context(), d)
	var dup *task.DuplicateIDError
	if errors.As(err, &dup) {
		s.fail(w, r, http.StatusConflict, dup.Error())
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	if req.Executor != "" {
		// An explicit placement goes through the same conditional claim as
		// the dispatcher's, so the two cannot both assign the task.
		claimed, err := s.d.Store.Claim(r.Context(), task.ExpectOf(d), req.Executor, true)
		if err == nil {
			d = claimed
			s.publish(r.Context(), event.TopicAssign, id)
		} else if !errors.Is(err, task.ErrConflict) {
			s.internal(w, r, err)
			return
		}
	} else if s.d.Dispatcher != nil {
		s.d.Dispatcher.Kick()
	}
	if cur, err := s.d.Store.Get(r.Context(), id); err == nil {
		d = cur
	}
	w.Header().Set("Location", taskURL(id))
	s.writeJSON(w, http.StatusCreated, taskResponse(d, s.snapshot()))
}

func newID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return "task-" + hex.EncodeToString(b)
}

// publish sends an event about id. A failure is logged, not returned: the
// change is in MongoDB, and the node converges at its next reconcile.
func (s *Server) publish(ctx context.Context, topic, id string) {
	if s.d.Publisher == nil {
		return
	}
	if err := s.d.Publisher.Publish(ctx, topic, event.NewTaskEvent(id)); err != nil {
		s.log.Warn("publishing an event; nodes see the change at their next reconcile", "topic", topic, "taskId", id, "err", err)
	}
}

// conflictRetries bounds the read-check-write loops of status changes; a
// task that changes this often under a user's request is reported as a
// conflict instead.
const conflictRetries = 5

func (s *Server) setStatus(w http.ResponseWriter, r *http.Request) {
	var status string
	if !s.decoded(w, r, func(rd *codec.Reader) { decodeStatus(rd, &status) }) {
		return
	}
	if task.Status(status) != task.Created && task.Status(status) != task.Cancelled {
		s.fail(w, r, http.StatusUnprocessableEntity, "invalid body",
			invalid("lifecycleStatus", "must be \"Created\" (run the task again) or \"Cancelled\""))
		return
	}
	if task.Status(status) == task.Cancelled {
		s.cancel(w, r, "Task status updated to Cancelled")
		return
	}
	s.reset(w, r)
}

func (s *Server) deleteTask(w http.ResponseWriter, r *http.Request) {
	s.cancel(w, r, "Task cancelled successfully")
}

// cancel marks the task Cancelled, conditional on the state it read, and
// tells its node. Cancelling a cancelled task succeeds (it is idempotent);
// a finished task cannot be cancelled.
func (s *Server) cancel(w http.ResponseWriter, r *http.Request, msg string) {
	for range conflictRetries {
		d, ok := s.load(w, r)
		if !ok {
			return
		}
		switch d.LifecycleStatus {
		case task.Cancelled:
			s.writeJSON(w, http.StatusOK, succeeded("Task was already cancelled",
				wire.TaskStatus{TaskID: d.ID, Status: task.Cancelled}))
			return
		case task.Finished:
			s.fail(w, r, http.StatusConflict, fmt.Sprintf("task %q has finished; there is nothing to cancel", d.ID))
			return
		}
		_, err := s.d.Store.Cancel(r.Context(), task.ExpectOf(d))
		if errors.Is(err, task.ErrConflict) {
			continue
		}
		if err != nil {
			s.internal(w, r, err)
			return
		}
		s.publish(r.Context(), event.TopicCancel, d.ID)
		s.writeJSON(w, http.StatusOK, succeeded(msg, wire.TaskStatus{TaskID: d.ID, Status: task.Cancelled}))
		return
	}
	s.fail(w, r, http.StatusConflict, "the task kept changing; try again")
}

// reset makes a task that has ended (Finished, Failed or Cancelled)
// Created and unassigned with a fresh retry budget. The epoch moves on, so
// a worker still running it elsewhere stops instead of running alongside
// the next assignment (Python's reset raced with the dispatcher and could
// run a task twice). A task that has not ended is refused with 409 and left
// as it is: resetting a running task restarted it under a new epoch, which
// is a cancel and a run, not a retry.
func (s *Server) reset(w http.ResponseWriter, r *http.Request) {
	for range conflictRetries {
		d, ok := s.load(w, r)
		if !ok {
			return
		}
		if d.LifecycleStatus == task.Created && d.Executor == nil {
			s.writeJSON(w, http.StatusOK, succeeded("Task status updated to Created",
				wire.TaskStatus{TaskID: d.ID, Status: task.Created}))
			return
		}
		if !d.LifecycleStatus.Terminal() {
			s.fail(w, r, http.StatusConflict, fmt.Sprintf(
				"task %q is %s; only a Finished, Failed or Cancelled task can be retried (cancel it first to run it again); nothing was changed",
				d.ID, d.LifecycleStatus))
			return
		}
		_, err := s.d.Store.Release(r.Context(), task.ExpectOf(d), true)
		if errors.Is(err, task.ErrConflict) {
			continue
		}
		if err != nil {
			s.internal(w, r, err)
			return
		}
		if d.Executor != nil {
			// The old node re-reads the task on any event and stops the
			// worker whose epoch moved on. Not task.cancel: nodes honour a
			// bare cancel as Python's do, and one that arrives after the
			// dispatcher has given the task to the same node again would
			// cancel the new run. task.assign only says "look again".
			s.publish(r.Context(), event.TopicAssign, d.ID)
		}
		if s.d.Dispatcher != nil {
			s.d.Dispatcher.Kick()
		}
		s.writeJSON(w, http.StatusOK, succeeded("Task status updated to Created",
			wire.TaskStatus{TaskID: d.ID, Status: task.Created}))
		return
	}
	s.fail(w, r, http.StatusConflict, "the task kept changing; try again")
}

// parseWait reads ?wait=, as a Go duration ("5s", "500ms") or seconds,
// from 0 to limit; anything else (NaN, Inf, 1e30, negatives, more than
// limit) is an error that says what to send.
func parseWait(v string, limit time.Duration) (time.Duration, error) {
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		secs, ferr := strconv.ParseFloat(v, 64)
		switch {
		case ferr != nil && !errors.Is(ferr, strconv.ErrRange):
			return 0, fmt.Errorf("wait=%q is not a duration (5s, 500ms) or a number of seconds", v)
		case math.IsNaN(secs):
			return 0, fmt.Errorf("wait=%q is not a number; give a duration such as 5s or a number of seconds", v)
		case secs < 0:
			return 0, fmt.Errorf("wait=%q is negative; give a duration from 0 to %s", v, limit)
		case math.IsInf(secs, 1) || secs > limit.Seconds():
			// Checked before the conversion, which would overflow.
			return 0, fmt.Errorf("wait=%q is longer than the maximum %s; wait at most %s and poll after", v, limit, limit)
		}
		d = time.Duration(secs * float64(time.Second))
	}
	if d < 0 {
		return 0, fmt.Errorf("wait=%q is negative; give a duration from 0 to %s", v, limit)
	}
	if d > limit {
		return 0, fmt.Errorf("wait=%q is longer than the maximum %s; wait at most %s and poll after", v, limit, limit)
	}
	return d, nil
}

// The states of an attachment update in its response.
const (
	stateStored   = wire.StateStored   // written; no running worker to apply it (or no wait asked)
	stateApplied  = wire.StateApplied  // the worker applied it
	stateRejected = wire.StateRejected // the worker refused it and kept its previous attachments
	statePending  = wire.StatePending  // the wait ended before the worker answered
)

func (s *Server) setAttachments(w http.ResponseWriter, r *http.Request) {
	wait, err := parseWait(r.URL.Query().Get("wait"), s.opts.MaxWait)
	if err != nil {
		s.fail(w, r, http.StatusBadRequest, "invalid query", invalid("wait", err.Error()))
		return
	}
	var att []byte
	if !s.decoded(w, r, func(rd *codec.Reader) { decodeAttachments(rd, &att) }) {
		return
	}
	if !isObject(att) {
		s.fail(w, r, http.StatusUnprocessableEntity, "invalid body", invalid("$.attachments", "must be a JSON object"))
		return
	}
	if !s.checkNewAttachments(w, r, att) {
		return
	}
	id := r.PathValue("id")
	// Each MongoDB call is bounded on its own: the request as a whole
	// may wait for the worker.
	ctx, cancel := s.storeCtx(r)
	cur, ok := s.load(w, r.WithContext(ctx))
	cancel()
	if !ok {
		return
	}
	// The class of a task never changes, so checking against the class
	// read here cannot race with the write below.
	if !s.checkAttachments(w, r, cur.ClassName, att) {
		return
	}
	ctx, cancel = s.storeCtx(r)
	d, err := s.d.Store.SetAttachments(ctx, id, att)
	if err != nil && !errors.Is(err, task.ErrNotFound) {
		s.internal(w, r.WithContext(ctx), err)
	}
	cancel()
	if errors.Is(err, task.ErrNotFound) {
		s.fail(w, r, http.StatusNotFound, fmt.Sprintf("task %q not found", id))
	}
	if err != nil {
		return
	}
	s.publish(r.Context(), event.TopicUpdateAttachment, id)
	version := d.AttachmentsVersion
	state := stateStored
	if wait > 0 && running(d) {
		state = s.awaitApplied(r.Context(), d, wait)
	}
	data := wire.AttachmentsUpdate{
		TaskID: id, Attachments: json.RawMessage(att), AttachmentsVersion: version,
		AppliedAttachmentsVersion: d.AppliedAttachmentsVersion, LifecycleStatus: d.LifecycleStatus, State: state,
	}
	switch state {
	case stateApplied:
		s.writeJSON(w, http.StatusOK, succeeded("Attachments applied by the worker", data))
	case stateRejected:
		data.Rejection = d.AttachmentsRejection
		s.writeJSON(w, http.StatusUnprocessableEntity, success{Success: false,
			Message: "The worker rejected the attachments and keeps its previous ones: " + d.AttachmentsRejection.Message, Data: data})
	case statePending:
		// The write succeeded: the client polls the task until its
		// appliedAttachmentsVersion reaches the version answered here.
		w.Header().Set("Location", taskURL(id))
		s.writeJSON(w, http.StatusAccepted, succeeded(fmt.Sprintf(
			"Attachments stored as version %d; the worker has not applied them yet: poll GET %s until appliedAttachmentsVersion is %d or more",
			version, taskURL(id), version), data))
	default:
		msg := "Attachments updated"
		if wait > 0 {
			msg = "Attachments stored; the task is not running, so its next run uses them"
		}
		s.writeJSON(w, http.StatusOK, succeeded(msg, data))
	}
}

// running reports whether a worker is (about to be) running the task, so
// that waiting for it to apply an update makes sense.
func running(d *task.Task) bool {
	return d.Executor != nil && (d.LifecycleStatus == task.Assigning || d.LifecycleStatus == task.Running)
}

// awaitApplied waits, on the event feed's polls, until the worker of d
// applied or rejected the version d was written with, the task stopped
// running, wait passed or ctx ended, and returns the state. It updates d
// to what the last poll saw. It reads nothing from MongoDB itself: any
// number of waiting requests cost the feed's one poll.
func (s *Server) awaitApplied(ctx context.Context, d *task.Task, wait time.Duration) string {
	version := d.AttachmentsVersion
	timer := time.NewTimer(wait)
	defer timer.Stop()
	// A poll that was under way when the write was made may not show it;
	// only the polls that start after it count.
	start, polled := s.feed.next()
	for {
		select {
		case <-ctx.Done():
			return statePending
		case <-timer.C:
			return statePending
		case <-s.done:
			return statePending
		case <-polled:
		}
		var n uint64
		n, polled = s.feed.next()
		if n < start+2 {
			continue
		}
		st, listed := s.feed.get(d.ID)
		if !listed {
			// Not among the tasks that can change: it finished.
			return stateStored
		}
		d.LifecycleStatus, d.Executor = st.LifecycleStatus, st.Executor
		d.AppliedAttachmentsVersion, d.AttachmentsRejection = st.AppliedAttachmentsVersion, st.AttachmentsRejection
		switch {
		case st.AppliedAttachmentsVersion >= version:
			return stateApplied
		case st.AttachmentsRejection != nil && st.AttachmentsRejection.Version >= version:
			return stateRejected
		case !running(d):
			return stateStored
		}
	}
}

func (s *Server) taskHeartbeat(w http.ResponseWriter, r *http.Request) {
	d, ok := s.load(w, r)
	if !ok {
		return
	}
	snap := s.snapshot()
	var b monitor.TaskBeat
	found := false
	if snap != nil {
		b, found = snap.Beats[d.ID]
	}
	if !found && s.d.Redis != nil {
		// Not listed by any online node: read the keys directly, so that
		// the terminal code of a finished run is visible too.
		beats, err := liveness.New(s.d.Redis, 0).Beats(r.Context(), []string{d.ID})
		if err != nil {
			s.internal(w, r, err)
			return
		}
		b = monitor.TaskBeat{Beat: beats[0]}
		if b.Present {
			b.History = []int{b.Heartbeat}
		}
	}
	lastUpdate := time.Now().UnixMilli()
	if snap != nil && found {
		lastUpdate = snap.At.UnixMilli()
	}
	hist := b.History
	if hist == nil {
		hist = []int{}
	}
	s.writeJSON(w, http.StatusOK, wire.TaskHeartbeat{
		TaskID: d.ID, Heartbeat: b.Heartbeat, Status: d.LifecycleStatus,
		IsAlive: b.Alive(), IsAssigning: d.LifecycleStatus == task.Assigning,
		Error: nonEmpty(d.Error), Exception: nonEmpty(b.Exception),
		LastUpdate: lastUpdate, HeartbeatHistory: hist,
	})
}
