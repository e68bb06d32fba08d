package task

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/skalds-go/skalds/runtime/codec"
)

// The events of a task's history, one per transition.
const (
	EventCreated        = "created"        // inserted
	EventAssigned       = "assigned"       // given to Node at Epoch
	EventStarted        = "started"        // Node's worker runs attachments Version
	EventRestarted      = "restarted"      // started again for a //skald:restart field
	EventUpdateApplied  = "updateApplied"  // the worker took attachments Version
	EventUpdateRejected = "updateRejected" // the worker refused Version, at Paths
	EventFailed         = "failed"         // with ErrorKind and Message
	EventRetried        = "retried"        // a Failed task given another run after Backoff
	EventHandedBack     = "handedBack"     // unassigned, Created again (Message says why)
	EventRefused        = "refused"        // handed back by a node at its limit
	EventCancelled      = "cancelled"      // by a user, or confirmed by the node
	EventFinished       = "finished"
	EventStuck          = "stuck"  // a hook ignored its cancelled context
	EventStatus         = "status" // a status written by hand (Status)
)

// Entry is one transition of a task, written by the same write that makes
// it, so a history costs no round trip of its own.
type Entry struct {
	At        int64       `bson:"at" json:"at"` // epoch ms
	Event     string      `bson:"event" json:"event"`
	Node      string      `bson:"node,omitempty" json:"node,omitempty"`
	Epoch     int64       `bson:"epoch" json:"epoch"`
	Version   int64       `bson:"version,omitempty" json:"version,omitempty"` // attachments version, where the writer knows it
	Status    Status      `bson:"status,omitempty" json:"status,omitempty"`
	ErrorKind FailureKind `bson:"errorKind,omitempty" json:"errorKind,omitempty"`
	Message   string      `bson:"message,omitempty" json:"message,omitempty"`
	Paths     []string    `bson:"paths,omitempty" json:"paths,omitempty"`
	BackoffMs int64       `bson:"backoffMs,omitempty" json:"backoffMs,omitempty"`
}

// Bounds of the history. The limit is per store (KeepHistory); an entry's
// texts are cut so that a task's history stays a few kilobytes.
const (
	DefaultHistory    = 50
	maxEntryMessage   = 256
	maxEntryPaths     = 5
	maxEntryPathBytes = 128
)

// History is a task's recorded transitions, oldest first: the most recent
// ones, and how many older ones were dropped to keep it bounded.
type History struct {
	Entries []Entry `bson:"history" json:"entries"`
	Total   int64   `bson:"historyTotal" json:"total"`
}

// Dropped is how many entries were written and are no longer kept.
func (h History) Dropped() int64 { return max(h.Total-int64(len(h.Entries)), 0) }

// KeepHistory sets how many entries a write of this store leaves in a
// task's history (DefaultHistory when n <= 0); older ones are dropped and
// counted. Call it before the store is used.
func (s *Store) KeepHistory(n int) {
	if n <= 0 {
		n = DefaultHistory
	}
	s.keep = n
}

// SetNode names the node this store writes for: the entries of its writes
// carry it. Call it before the store is used.
func (s *Store) SetNode(id string) { s.node = id }

func (s *Store) limit() int {
	if s.keep <= 0 {
		return DefaultHistory
	}
	return s.keep
}

// entry completes e with the time, the store's node (unless e names one)
// and bounded texts.
func (s *Store) entry(e Entry) Entry {
	e.At = NowMillis()
	if e.Node == "" {
		e.Node = s.node
	}
	e.Message = codec.ClipText(e.Message, maxEntryMessage)
	if len(e.Paths) > maxEntryPaths {
		e.Paths = e.Paths[:maxEntryPaths]
	}
	for i, p := range e.Paths {
		e.Paths[i] = codec.ClipText(p, maxEntryPathBytes)
	}
	return e
}

// withEntry adds to update the push of e onto the history and the count
// of every entry written. $slice cuts the history to the store's limit in
// the same write on MongoDB; FerretDB v1.24 accepts it but keeps every
// entry, so the store also trims (see trim), which bounds the history on
// both.
func (s *Store) withEntry(update bson.D, e Entry) bson.D {
	out := make(bson.D, 0, len(update)+2)
	inc := bson.D{{Key: "historyTotal", Value: int64(1)}}
	for _, op := range update {
		if op.Key == "$inc" {
			inc = append(op.Value.(bson.D), inc...)
			continue
		}
		out = append(out, op)
	}
	return append(out,
		bson.E{Key: "$push", Value: bson.D{{Key: "history", Value: bson.D{
			{Key: "$each", Value: bson.A{s.entry(e)}},
			{Key: "$slice", Value: -s.limit()},
		}}}},
		bson.E{Key: "$inc", Value: inc})
}

// pushes reports whether update adds a history entry: a progress write,
// say, does not, and does not count towards a trim.
func pushes(update bson.D) bool {
	for _, op := range update {
		if op.Key == "$push" {
			return true
		}
	}
	return false
}

// statusEvent is the event of a status write.
func statusEvent(status Status) string {
	switch status {
	case Finished:
		return EventFinished
	case Cancelled:
		return EventCancelled
	case Failed:
		return EventFailed
	case Created:
		return EventHandedBack
	default:
		return EventStatus
	}
}

// noHistory leaves the history out of the reads that do not show it: a
// listing of many tasks, or a task read to act on, stays as small as it
// was before tasks had one. Only finds take it: FerretDB refuses a
// projection in findAndModify, so a write returns the whole document.
var noHistory = bson.D{{Key: "history", Value: 0}}

// History reads the history of task id.
func (s *Store) History(ctx context.Context, id string) (*History, error) {
	for _, filter := range byID(id) {
		var h History
		err := s.coll.FindOne(ctx, filter, options.FindOne().SetProjection(bson.D{
			{Key: "history", Value: 1}, {Key: "historyTotal", Value: 1},
		})).Decode(&h)
		if errors.Is(err, mongo.ErrNoDocuments) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading the history of task %q: %w", id, err)
		}
		if h.Entries == nil {
			h.Entries = []Entry{}
		}
		return &h, nil
	}
	return nil, fmt.Errorf("%w: %q", ErrNotFound, id)
}

// String is one line of the entry, as the CLI prints it.
func (e Entry) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s  %-14s epoch %d", time.UnixMilli(e.At).UTC().Format("2006-01-02 15:04:05.000"), e.Event, e.Epoch)
	if e.Node != "" {
		fmt.Fprintf(&b, "  node %s", e.Node)
	}
	if e.Version != 0 {
		fmt.Fprintf(&b, "  v%d", e.Version)
	}
	if e.Status != "" {
		fmt.Fprintf(&b, "  %s", e.Status)
	}
	if e.ErrorKind != "" {
		fmt.Fprintf(&b, "  [%s]", e.ErrorKind)
	}
	if e.BackoffMs != 0 {
		fmt.Fprintf(&b, "  after %s", time.Duration(e.BackoffMs)*time.Millisecond)
	}
	if len(e.Paths) > 0 {
		fmt.Fprintf(&b, "  at %s", strings.Join(e.Paths, ", "))
	}
	if e.Message != "" {
		fmt.Fprintf(&b, "  %s", strings.SplitN(e.Message, "\n", 2)[0])
	}
	return b.String()
}

// trimEvery is how many entries this store pushes onto a task's history,
// through writes that do not return the document, before it trims it.
func (s *Store) trimEvery() int { return max(s.limit()/2, 1) }

// pushed counts an entry pushed onto task id's history by a write that
// did not return the document, and trims the history once trimEvery of
// them were written here since the last trim. A task's history so stays
// within its limit plus trimEvery per writing process, at the cost of two
// round trips every trimEvery writes.
func (s *Store) pushed(ctx context.Context, id string, key any) {
	s.trimMu.Lock()
	if s.pushes == nil {
		s.pushes = map[string]int{}
	}
	s.pushes[id]++
	due := s.pushes[id] >= s.trimEvery()
	if due {
		delete(s.pushes, id)
	}
	s.trimMu.Unlock()
	if !due {
		return
	}
	filter := bson.D{{Key: "id", Value: id}}
	if key != nil {
		filter = bson.D{{Key: "_id", Value: key}}
	}
	var h History
	if err := s.coll.FindOne(ctx, filter, options.FindOne().SetProjection(bson.D{
		{Key: "history", Value: 1}, {Key: "historyTotal", Value: 1},
	})).Decode(&h); err != nil {
		return // the next due trim tries again
	}
	s.trim(ctx, filter, h)
}

// ended forgets the count of task id, whose run ended: a node that ran
// many short tasks keeps no count per task it ever ran.
func (s *Store) ended(id string) {
	s.trimMu.Lock()
	delete(s.pushes, id)
	s.trimMu.Unlock()
}

// written trims the history of t, a document a write returned, if it is
// over the limit, and drops it from t: callers act on the task, not on
// its history. HistoryTotal stays, as the reads that leave the history
// out keep it: a caller may expect it unchanged (ExpectUnwritten).
func (s *Store) written(ctx context.Context, t *Task) {
	filter := bson.D{{Key: "id", Value: t.ID}}
	if t.Key != nil {
		filter = bson.D{{Key: "_id", Value: t.Key}}
	}
	s.trim(ctx, filter, History{Entries: t.History, Total: t.HistoryTotal})
	t.History = nil
}

// trim keeps the newest entries of h, the history of the task filter
// finds, if it is over the limit: only while no entry was added since h
// was read (historyTotal unchanged), so that none is lost. One that was
// is trimmed by a later write. Errors are dropped for the same reason.
func (s *Store) trim(ctx context.Context, filter bson.D, h History) {
	n := s.limit()
	if len(h.Entries) <= n {
		return
	}
	filter = append(filter, bson.E{Key: "historyTotal", Value: h.Total})
	_, _ = s.coll.UpdateOne(ctx, filter, bson.D{{Key: "$set", Value: bson.D{
		{Key: "history", Value: h.Entries[len(h.Entries)-n:]},
	}}})
}
