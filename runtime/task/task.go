// Package task holds the task document as Python Skalds stores it in
// MongoDB (database skalds, collection tasks, camelCase keys) and the Store
// that reads and writes it. It is the document's only reader and writer:
// nodes (fenced writes), clients (create, assign, update, cancel) and
// controllers (conditional claims, listings, counts) all go through it, so
// that a key, a filter or a version bump is spelled in one place.
//
// MongoDB is the source of truth for a task: its class, attachments,
// executor and status. Kafka events only tell a node to look again. The
// fields that Python Skalds lacks (attachments version, assignment epoch,
// the applied version and the last rejection) are additions; no Python key
// is renamed.
package task

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/skalds-go/skalds/runtime/codec"
	"go.mongodb.org/mongo-driver/v2/bson"
)

// Status is a task's lifecycleStatus.
type Status string

// The statuses, spelled as Python Skalds spells them.
const (
	Created   Status = "Created"
	Assigning Status = "Assigning"
	Running   Status = "Running"
	Paused    Status = "Paused"
	Finished  Status = "Finished"
	Failed    Status = "Failed"
	Cancelled Status = "Cancelled"
)

// Statuses are every status, in the order of a task's life, for reports
// that list each one even when no task has it.
var Statuses = []Status{Created, Assigning, Running, Paused, Finished, Failed, Cancelled}

// Terminal reports whether no node should run a task in this status.
func (s Status) Terminal() bool {
	return s == Finished || s == Failed || s == Cancelled
}

// FailureKind is which kind of failure ended a task: what decides
// whether a controller retries it.
type FailureKind string

// The failure kinds.
const (
	// FailedError: a hook returned an error; retried within the
	// controller's attempt limit, after its backoff.
	FailedError FailureKind = "error"
	// FailedPanic: a hook panicked; retried as FailedError is.
	FailedPanic FailureKind = "panic"
	// FailedStart: the attachments did not decode or validate, or the
	// node lacks the class; retried as FailedError is, since another node
	// or fixed attachments may do.
	FailedStart FailureKind = "start"
	// FailedTerminal: the worker said no run can succeed
	// (skald.Terminal); never retried.
	FailedTerminal FailureKind = "terminal"
	// FailedRetryLater: the worker asked to be retried no sooner than
	// RetryAt (skald.RetryLater); retried within the attempt limit.
	FailedRetryLater FailureKind = "retryLater"
)

// Retryable reports whether a controller may run a task that failed so
// again.
func (k FailureKind) Retryable() bool { return k != FailedTerminal }

// Failure is what a node records of a failed run.
type Failure struct {
	Text    string      // the error, stored as the task's error
	Kind    FailureKind // FailedError when empty
	RetryAt int64       // with FailedRetryLater: not before this, in epoch ms
}

// Mode says where a task comes from.
type Mode string

// The modes, spelled as Python Skalds spells them.
const (
	Active         Mode = "Active"         // declared in an edge node's YAML
	Passive        Mode = "Passive"        // assigned to a node
	PassiveProcess Mode = "PassiveProcess" // run by a single_process node
)

// Task is one document of the tasks collection.
type Task struct {
	// Key is the document's _id as MongoDB holds it. Documents written
	// here have their id as _id (see New), so that reading or writing a
	// task by id is a primary-key lookup on every server: FerretDB uses no
	// other index, and finds a task by its id field only by scanning.
	// Documents written by Python tooling have an ObjectID; they are still
	// found by id, through that scan. A string _id is always the task's
	// id: nothing here writes another.
	Key any `bson:"_id,omitempty" json:"-"`

	ID               string      `bson:"id" json:"id"`
	ClassName        string      `bson:"className" json:"className"`
	Source           string      `bson:"source" json:"source"`
	Name             *string     `bson:"name" json:"name"`
	Description      *string     `bson:"description" json:"description"`
	Executor         *string     `bson:"executor" json:"executor"`
	Dependencies     []string    `bson:"dependencies" json:"dependencies"`
	Mode             Mode        `bson:"mode" json:"mode"`
	IsPersistent     bool        `bson:"isPersistent" json:"isPersistent"`
	CreateDateTime   int64       `bson:"createDateTime" json:"createDateTime"`
	UpdateDateTime   int64       `bson:"updateDateTime" json:"updateDateTime"`
	DeadlineDateTime int64       `bson:"deadlineDateTime" json:"deadlineDateTime"`
	LifecycleStatus  Status      `bson:"lifecycleStatus" json:"lifecycleStatus"`
	Priority         int         `bson:"priority" json:"priority"`
	Attachments      Attachments `bson:"attachments" json:"attachments"`

	// AttachmentsVersion grows by one with every write of the attachments.
	AttachmentsVersion int64 `bson:"attachmentsVersion" json:"attachmentsVersion"`
	// AppliedAttachmentsVersion is the version the running worker has
	// applied (observedGeneration in Kubernetes terms).
	AppliedAttachmentsVersion int64 `bson:"appliedAttachmentsVersion" json:"appliedAttachmentsVersion"`
	// AppliedAttachments are the attachments the running worker applied,
	// once it has handled an update (applied or refused it); absent, the
	// worker runs with Attachments as they were when it started. Checks of
	// immutable fields compare against them.
	AppliedAttachments Attachments `bson:"appliedAttachments,omitempty" json:"appliedAttachments,omitempty"`
	// AttachmentsRejection is the last version a node refused, and why.
	AttachmentsRejection *Rejection `bson:"attachmentsRejection,omitempty" json:"attachmentsRejection,omitempty"`
	// AssignmentEpoch grows by one with every assignment; a node acts on
	// the task only for the epoch it was given.
	AssignmentEpoch int64 `bson:"assignmentEpoch" json:"assignmentEpoch"`
	// Error is why the task failed, when it did.
	Error string `bson:"error,omitempty" json:"error,omitempty"`
	// ErrorKind is which kind of failure ended the task (see FailureKind);
	// absent when it did not fail, or was failed by Python tooling.
	ErrorKind FailureKind `bson:"errorKind,omitempty" json:"errorKind,omitempty"`
	// RetryAt is, after a retry-later failure, the time in epoch ms before
	// which no controller retries the task.
	RetryAt int64 `bson:"retryAt,omitempty" json:"retryAt,omitempty"`
	// Stuck says that a hook of the worker ignored its cancelled context
	// past the node's stop grace, so the node could not confirm that the
	// worker stopped. It is cleared by the next assignment.
	Stuck string `bson:"stuck,omitempty" json:"stuck,omitempty"`
	// Refusal is the last refusal of an assignment by a node at its task
	// limit. The node hands such a task back (Created, no executor), so that
	// it can be assigned elsewhere or later.
	Refusal *Refusal `bson:"refusal,omitempty" json:"refusal,omitempty"`

	// Attempts counts the runs a controller started from Created or
	// Failed. A retry of a Failed task is allowed while it is below the
	// controller's maximum; a failover after node loss does not count,
	// since the task did not fail. Nodes never write it.
	Attempts int `bson:"attempts,omitempty" json:"attempts"`
	// AssignedDateTime is when a controller last assigned the task, in
	// epoch ms (Python's assignedAt only showed the node's last activity).
	AssignedDateTime int64 `bson:"assignedDateTime,omitempty" json:"assignedDateTime,omitempty"`

	// Progress is the newest progress the worker reported, as JSON of its
	// class's progress type (see skald.ReportProgress), written at most
	// once per the node's progress interval and with the terminal status.
	// A start clears it: it belongs to one run.
	Progress Attachments `bson:"progress,omitempty" json:"progress,omitempty"`
	// ProgressDateTime is when Progress was written, in epoch ms.
	ProgressDateTime int64 `bson:"progressDateTime,omitempty" json:"progressDateTime,omitempty"`
	// Result is what the worker set as its result (skald.SetResult), as
	// JSON of its class's result type, stored with the terminal status.
	Result Attachments `bson:"result,omitempty" json:"result,omitempty"`

	// History is the task's most recent transitions and HistoryTotal how
	// many were ever recorded (see History). Reads other than
	// Store.History leave the entries out and keep the count, which is
	// also the task's write counter (see ExpectUnwritten); Create writes
	// the first entry.
	History      []Entry `bson:"history,omitempty" json:"-"`
	HistoryTotal int64   `bson:"historyTotal,omitempty" json:"-"`
}

// Outcome is what a worker produced besides its status: its newest
// progress and its result, as JSON objects; nil leaves a field as it is.
// Rejection, when set, is the refusal of the update that ended the
// worker, stored with its end when its own write failed.
type Outcome struct {
	Progress, Result []byte
	Rejection        *Rejection
}

// Ref addresses one assignment of a task: the task, and the epoch a node
// was given. Fenced writes go through a Ref.
type Ref struct {
	ID    string
	Key   any // the _id, when known; makes the write a primary-key lookup
	Epoch int64
}

// Ref returns the reference to t's current assignment.
func (t *Task) Ref() Ref { return Ref{ID: t.ID, Key: t.Key, Epoch: t.AssignmentEpoch} }

// Refusal records an assignment a node refused because it was at a limit.
type Refusal struct {
	SkaldID string `bson:"skaldId" json:"skaldId"`
	Epoch   int64  `bson:"epoch" json:"epoch"`
	Reason  string `bson:"reason" json:"reason"`
	At      int64  `bson:"at" json:"at"`
}

// Rejection records attachments a node refused; the worker kept running
// with its previous ones.
type Rejection struct {
	Version int64        `bson:"version" json:"version"`
	Message string       `bson:"message" json:"message"`
	Fields  []FieldError `bson:"fields,omitempty" json:"fields,omitempty"`
	At      int64        `bson:"at" json:"at"`
}

// Bounds of a stored Rejection. Its message and paths quote what the
// sender wrote; the decoder already clips each quote, and these caps keep
// the document, the API responses and the logs that show it small however
// the error was produced.
const (
	MaxRejectionMessage = 4096 // bytes of Message
	MaxRejectionFields  = 21   // the decoder's 20 errors and its "too many errors"
	maxFieldText        = 1024 // bytes of a FieldError's Path or Message
)

// Bounded returns r with Message, Fields and each field's texts cut to
// the caps above, each cut text ending in "...".
func (r Rejection) Bounded() Rejection {
	r.Message = codec.ClipText(r.Message, MaxRejectionMessage)
	if len(r.Fields) > MaxRejectionFields {
		r.Fields = r.Fields[:MaxRejectionFields]
	}
	fields := make([]FieldError, len(r.Fields))
	for i, f := range r.Fields {
		fields[i] = FieldError{Path: codec.ClipText(f.Path, maxFieldText), Message: codec.ClipText(f.Message, maxFieldText)}
	}
	if r.Fields != nil {
		r.Fields = fields
	}
	return r
}

// FieldError is one refused field, by JSON path.
type FieldError struct {
	Path    string `bson:"path" json:"path"`
	Message string `bson:"message" json:"message"`
}

// New returns a Created, Passive task with the Python defaults: persistent,
// priority 0 and a deadline seven days out.
func New(id, className, source string, attachments []byte) *Task {
	now := NowMillis()
	return &Task{
		Key:              id,
		ID:               id,
		ClassName:        className,
		Source:           source,
		Mode:             Passive,
		IsPersistent:     true,
		CreateDateTime:   now,
		UpdateDateTime:   now,
		DeadlineDateTime: now + (7 * 24 * time.Hour).Milliseconds(),
		LifecycleStatus:  Created,
		Attachments:      attachments,
		// The first write of the attachments is version 1, so that a
		// worker that has applied nothing yet (0) is visibly behind.
		AttachmentsVersion: 1,
	}
}

// NowMillis is the current time in epoch milliseconds, the unit of every
// time in the task document.
func NowMillis() int64 { return time.Now().UnixMilli() }

// Attachments are a task's parameters as JSON. In MongoDB they are an
// embedded document with the same keys, so tools that read the collection
// see a plain sub-document; null or absent is a nil Attachments.
type Attachments []byte

// MarshalBSONValue stores the JSON object as an embedded document, by
// the strict conversion of AttachmentsBSON, so that every writer of the
// task document refuses what the API refuses.
func (a Attachments) MarshalBSONValue() (byte, []byte, error) {
	if len(a) == 0 || string(a) == "null" {
		return byte(bson.TypeNull), nil, nil
	}
	data, err := AttachmentsBSON(a)
	if err != nil {
		return 0, nil, fmt.Errorf("attachments: %w", err)
	}
	return byte(bson.TypeEmbeddedDocument), data, nil
}

// UnmarshalBSONValue reads an embedded document back as relaxed JSON, the
// form in which numbers stay plain numbers.
func (a *Attachments) UnmarshalBSONValue(typ byte, data []byte) error {
	switch bson.Type(typ) {
	case bson.TypeNull, bson.TypeUndefined:
		*a = nil
		return nil
	case bson.TypeEmbeddedDocument:
		js, err := bson.MarshalExtJSON(bson.Raw(data), false, false)
		if err != nil {
			return err
		}
		*a = js
		return nil
	default:
		return fmt.Errorf("attachments: expected a document, found BSON type %s", bson.Type(typ))
	}
}

// MarshalJSON writes the attachments as they are, or null.
func (a Attachments) MarshalJSON() ([]byte, error) {
	if len(a) == 0 {
		return []byte("null"), nil
	}
	return a, nil
}

// UnmarshalJSON keeps a copy of the raw JSON.
func (a *Attachments) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*a = nil
		return nil
	}
	*a = append((*a)[:0], b...)
	return nil
}

var (
	_ json.Marshaler        = Attachments(nil)
	_ bson.ValueMarshaler   = Attachments(nil)
	_ bson.ValueUnmarshaler = (*Attachments)(nil)
	_ json.Unmarshaler      = (*Attachments)(nil)
)
