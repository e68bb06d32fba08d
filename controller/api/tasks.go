package api

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/skalds-go/skalds/controller/monitor"
	"github.com/skalds-go/skalds/runtime/event"
	"github.com/skalds-go/skalds/runtime/liveness"
	"github.com/skalds-go/skalds/runtime/task"
)

// maxBody bounds request bodies; attachments are parameters, not payloads.
const maxBody = 4 << 20

// TaskResponse is Python's TaskResponse with the Go additions after it.
type TaskResponse struct {
	ID              string          `json:"id"`
	ClassName       string          `json:"className"`
	LifecycleStatus task.Status     `json:"lifecycleStatus"`
	Executor        *string         `json:"executor"`
	CreateDateTime  int64           `json:"createDateTime"`
	UpdateDateTime  int64           `json:"updateDateTime"`
	Mode            task.Mode       `json:"mode"`
	Attachments     json.RawMessage `json:"attachments"`
	Heartbeat       int             `json:"heartbeat"`
	Error           *string         `json:"error"`
	Exception       *string         `json:"exception"`
	Priority        int             `json:"priority"`

	Source                    string          `json:"source"`
	Name                      *string         `json:"name"`
	Description               *string         `json:"description"`
	Dependencies              []string        `json:"dependencies"`
	IsPersistent              bool            `json:"isPersistent"`
	DeadlineDateTime          int64           `json:"deadlineDateTime"`
	AttachmentsVersion        int64           `json:"attachmentsVersion"`
	AppliedAttachmentsVersion int64           `json:"appliedAttachmentsVersion"`
	AttachmentsRejection      *task.Rejection `json:"attachmentsRejection"`
	AssignmentEpoch           int64           `json:"assignmentEpoch"`
	Attempts                  int             `json:"attempts"`
	AssignedDateTime          *int64          `json:"assignedDateTime"`
	Refusal                   *task.Refusal   `json:"refusal"`
	Stuck                     *string         `json:"stuck"`
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func taskResponse(d *task.Task, snap *monitor.Snapshot) TaskResponse {
	att := json.RawMessage(d.Attachments)
	if len(att) == 0 {
		att = json.RawMessage("{}")
	}
	mode := d.Mode
	if mode == "" {
		mode = task.Passive
	}
	r := TaskResponse{
		ID: d.ID, ClassName: d.ClassName, LifecycleStatus: d.LifecycleStatus, Executor: d.Executor,
		CreateDateTime: d.CreateDateTime, UpdateDateTime: d.UpdateDateTime, Mode: mode,
		Attachments: att, Error: nonEmpty(d.Error), Priority: d.Priority,
		Source: d.Source, Name: d.Name, Description: d.Description, Dependencies: d.Dependencies,
		IsPersistent: d.IsPersistent, DeadlineDateTime: d.DeadlineDateTime,
		AttachmentsVersion: d.AttachmentsVersion, AppliedAttachmentsVersion: d.AppliedAttachmentsVersion,
		AttachmentsRejection: d.AttachmentsRejection, AssignmentEpoch: d.AssignmentEpoch,
		Attempts: d.Attempts, Refusal: d.Refusal, Stuck: nonEmpty(d.Stuck),
	}
	if d.AssignedDateTime != 0 {
		r.AssignedDateTime = &d.AssignedDateTime
	}
	if snap != nil {
		if b, ok := snap.Beats[d.ID]; ok {
			r.Heartbeat = b.Heartbeat
			r.Exception = nonEmpty(b.Exception)
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
	docs, total, err := s.d.Store.List(r.Context(), task.Filter{
		Status: q.Get("lifecycleStatus"), ClassName: q.Get("className"), ID: q.Get("id"), Executor: q.Get("executor"),
	}, page, size)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	snap := s.snapshot()
	items := make([]TaskResponse, len(docs))
	for i := range docs {
		items[i] = taskResponse(&docs[i], snap)
	}
	s.writeJSON(w, http.StatusOK, map[string]any{"items": items, "total": total, "page": page, "pageSize": size})
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
	if errors.Is(err, task.ErrNotFound) {
		s.fail(w, r, http.StatusNotFound, fmt.Sprintf("task %q not found", id))
		return nil, false
	}
	if err != nil {
		s.internal(w, r, err)
		return nil, false
	}
	return d, true
}

func (s *Server) getTask(w http.ResponseWriter, r *http.Request) {
	if d, ok := s.load(w, r); ok {
		s.writeJSON(w, http.StatusOK, taskResponse(d, s.snapshot()))
	}
}

// decodeBody reads a JSON object body into a map of raw values, with the
// snake_case spellings Python accepted renamed to camelCase.
func decodeBody(r *http.Request, aliases map[string]string) (map[string]json.RawMessage, *fieldError) {
	data, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		fe := invalid("$", "reading the body: "+err.Error())
		return nil, &fe
	}
	if len(data) > maxBody {
		fe := invalid("$", fmt.Sprintf("body larger than %d bytes", maxBody))
		return nil, &fe
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil || m == nil {
		fe := invalid("$", "the body must be a JSON object")
		return nil, &fe
	}
	for snake, camel := range aliases {
		if v, ok := m[snake]; ok {
			if _, both := m[camel]; !both {
				m[camel] = v
			}
			delete(m, snake)
		}
	}
	return m, nil
}

func isObject(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && raw[0] == '{' && json.Valid(raw)
}

// createRequest is the body of POST /api/tasks.
type createRequest struct {
	ID               string          `json:"id"`
	ClassName        string          `json:"className"`
	Source           string          `json:"source"`
	Name             *string         `json:"name"`
	Description      *string         `json:"description"`
	Priority         *int            `json:"priority"`
	Attachments      json.RawMessage `json:"attachments"`
	Mode             string          `json:"mode"`
	Executor         string          `json:"executor"`
	DeadlineDateTime *int64          `json:"deadlineDateTime"`
	Dependencies     []string        `json:"dependencies"`
	IsPersistent     *bool           `json:"isPersistent"`
}

var createAliases = map[string]string{
	"class_name": "className", "deadline_date_time": "deadlineDateTime", "is_persistent": "isPersistent",
}

func (s *Server) createTask(w http.ResponseWriter, r *http.Request) {
	m, fe := decodeBody(r, createAliases)
	if fe != nil {
		s.fail(w, r, http.StatusUnprocessableEntity, "invalid body", *fe)
		return
	}
	raw, _ := json.Marshal(m)
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var req createRequest
	if err := dec.Decode(&req); err != nil {
		s.fail(w, r, http.StatusUnprocessableEntity, "invalid body", invalid("$", err.Error()))
		return
	}
	var errs []fieldError
	if strings.TrimSpace(req.ClassName) == "" {
		errs = append(errs, invalid("className", "required"))
	}
	if req.Priority != nil && (*req.Priority < 0 || *req.Priority > 10) {
		errs = append(errs, invalid("priority", "must be from 0 to 10"))
	}
	if req.Mode != "" && task.Mode(req.Mode) != task.Passive {
		errs = append(errs, invalid("mode", "only Passive tasks can be created here; Active tasks come from an edge node's YAML"))
	}
	if len(req.Attachments) > 0 && string(req.Attachments) != "null" && !isObject(req.Attachments) {
		errs = append(errs, invalid("attachments", "must be a JSON object"))
	}
	if len(errs) > 0 {
		s.fail(w, r, http.StatusUnprocessableEntity, "invalid task", errs...)
		return
	}
	// A task without attachments runs with an empty object: that is what
	// the class's schema must accept.
	effective := []byte(req.Attachments)
	if len(effective) == 0 || string(effective) == "null" {
		effective = []byte("{}")
	}
	if !s.checkAttachments(w, r, req.ClassName, effective) {
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
	var att []byte
	if string(req.Attachments) != "null" {
		att = req.Attachments
	}
	d := task.New(id, req.ClassName, source, att)
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
	w.Header().Set("Location", "/api/tasks/"+id)
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
	m, fe := decodeBody(r, map[string]string{"lifecycle_status": "lifecycleStatus"})
	if fe != nil {
		s.fail(w, r, http.StatusUnprocessableEntity, "invalid body", *fe)
		return
	}
	var status string
	if err := json.Unmarshal(m["lifecycleStatus"], &status); err != nil ||
		(task.Status(status) != task.Created && task.Status(status) != task.Cancelled) {
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
			s.writeJSON(w, http.StatusOK, success{true, "Task was already cancelled",
				map[string]any{"taskId": d.ID, "status": task.Cancelled}})
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
		s.writeJSON(w, http.StatusOK, success{true, msg, map[string]any{"taskId": d.ID, "status": task.Cancelled}})
		return
	}
	s.fail(w, r, http.StatusConflict, "the task kept changing; try again")
}

// reset makes the task Created and unassigned with a fresh retry budget.
// The epoch moves on, so a worker still running it elsewhere stops instead
// of running alongside the next assignment (Python's reset raced with the
// dispatcher and could run a task twice).
func (s *Server) reset(w http.ResponseWriter, r *http.Request) {
	for range conflictRetries {
		d, ok := s.load(w, r)
		if !ok {
			return
		}
		if d.LifecycleStatus == task.Created && d.Executor == nil {
			s.writeJSON(w, http.StatusOK, success{true, "Task status updated to Created",
				map[string]any{"taskId": d.ID, "status": task.Created}})
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
			// Any event makes the old node re-read the task and stop it.
			s.publish(r.Context(), event.TopicCancel, d.ID)
		}
		if s.d.Dispatcher != nil {
			s.d.Dispatcher.Kick()
		}
		s.writeJSON(w, http.StatusOK, success{true, "Task status updated to Created",
			map[string]any{"taskId": d.ID, "status": task.Created}})
		return
	}
	s.fail(w, r, http.StatusConflict, "the task kept changing; try again")
}

// parseWait reads ?wait=, as a Go duration ("5s", "500ms") or seconds.
func parseWait(v string, limit time.Duration) (time.Duration, error) {
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		secs, ferr := strconv.ParseFloat(v, 64)
		if ferr != nil {
			return 0, fmt.Errorf("wait=%q is not a duration (5s, 500ms) or a number of seconds", v)
		}
		d = time.Duration(secs * float64(time.Second))
	}
	if d < 0 {
		return 0, fmt.Errorf("wait=%q is negative", v)
	}
	return min(d, limit), nil
}

// The states of an attachment update in its response.
const (
	stateStored   = "stored"   // written; no running worker to apply it (or no wait asked)
	stateApplied  = "applied"  // the worker applied it
	stateRejected = "rejected" // the worker refused it and kept its previous attachments
	statePending  = "pending"  // the wait ended before the worker answered
)

func (s *Server) setAttachments(w http.ResponseWriter, r *http.Request) {
	wait, err := parseWait(r.URL.Query().Get("wait"), s.opts.MaxWait)
	if err != nil {
		s.fail(w, r, http.StatusUnprocessableEntity, "invalid query", invalid("wait", err.Error()))
		return
	}
	m, fe := decodeBody(r, nil)
	if fe != nil {
		s.fail(w, r, http.StatusUnprocessableEntity, "invalid body", *fe)
		return
	}
	att, ok := m["attachments"]
	if !ok || !isObject(att) {
		s.fail(w, r, http.StatusUnprocessableEntity, "invalid body", invalid("attachments", "required, a JSON object"))
		return
	}
	id := r.PathValue("id")
	cur, ok := s.load(w, r)
	if !ok {
		return
	}
	// The class of a task never changes, so checking against the class
	// read here cannot race with the write below.
	if !s.checkAttachments(w, r, cur.ClassName, att) {
		return
	}
	d, err := s.d.Store.SetAttachments(r.Context(), id, att)
	if errors.Is(err, task.ErrNotFound) {
		s.fail(w, r, http.StatusNotFound, fmt.Sprintf("task %q not found", id))
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	s.publish(r.Context(), event.TopicUpdateAttachment, id)
	version := d.AttachmentsVersion
	state := stateStored
	if wait > 0 && running(d) {
		d, state, err = s.awaitApplied(r.Context(), id, version, wait)
		if err != nil {
			s.internal(w, r, err)
			return
		}
	}
	data := map[string]any{
		"taskId": id, "attachments": json.RawMessage(att), "attachmentsVersion": version,
		"appliedAttachmentsVersion": d.AppliedAttachmentsVersion, "lifecycleStatus": d.LifecycleStatus, "state": state,
	}
	switch state {
	case stateApplied:
		s.writeJSON(w, http.StatusOK, success{true, "Attachments applied by the worker", data})
	case stateRejected:
		data["rejection"] = d.AttachmentsRejection
		s.writeJSON(w, http.StatusUnprocessableEntity, success{false,
			"The worker rejected the attachments and keeps its previous ones: " + d.AttachmentsRejection.Message, data})
	case statePending:
		s.writeJSON(w, http.StatusAccepted, success{true, "Attachments stored; the worker has not applied them yet", data})
	default:
		msg := "Attachments updated"
		if wait > 0 {
			msg = "Attachments stored; the task is not running, so its next run uses them"
		}
		s.writeJSON(w, http.StatusOK, success{true, msg, data})
	}
}

// running reports whether a worker is (about to be) running the task, so
// that waiting for it to apply an update makes sense.
func running(d *task.Task) bool {
	return d.Executor != nil && (d.LifecycleStatus == task.Assigning || d.LifecycleStatus == task.Running)
}

// awaitApplied polls the task until its worker applied version, rejected
// it, stopped running, or wait passed.
func (s *Server) awaitApplied(ctx context.Context, id string, version int64, wait time.Duration) (*task.Task, string, error) {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var last *task.Task
	for {
		d, err := s.d.Store.Get(ctx, id)
		switch {
		case err == nil:
			last = d
			if d.AppliedAttachmentsVersion >= version {
				return d, stateApplied, nil
			}
			if rj := d.AttachmentsRejection; rj != nil && rj.Version >= version {
				return d, stateRejected, nil
			}
			if !running(d) {
				return d, stateStored, nil
			}
		case ctx.Err() == nil:
			return nil, "", err
		}
		select {
		case <-ctx.Done():
			if last == nil {
				return nil, "", ctx.Err()
			}
			return last, statePending, nil
		case <-tick.C:
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
	s.writeJSON(w, http.StatusOK, map[string]any{
		"taskId": d.ID, "heartbeat": b.Heartbeat, "status": d.LifecycleStatus,
		"isAlive": b.Alive(), "isAssigning": d.LifecycleStatus == task.Assigning,
		"error": nonEmpty(d.Error), "exception": nonEmpty(b.Exception),
		"lastUpdate": lastUpdate, "heartbeatHistory": hist,
	})
}
