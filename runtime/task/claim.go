package task

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// ErrConflict is returned by a conditional write whose expected state is
// no longer the task's: someone else changed it first. The caller reads
// the task again and decides afresh.
var ErrConflict = errors.New("task changed concurrently")

// Expect is the state a controller's conditional write requires: the one
// the caller read. A zero Epoch also matches documents written without
// one, as Python tooling writes them.
//
// Every write of a controller is one conditional single-document update
// (findAndModify) filtered on the state it read: status, executor and
// assignment epoch. If another writer moved the task on in between, the
// write matches nothing and returns ErrConflict, instead of overwriting
// the newer state as the Python controller did (lost updates). That is the
// only concurrency control FerretDB and MongoDB share, and what makes
// several controllers safe to run at once.
type Expect struct {
	Key      any // the _id, when known: makes the write a primary-key lookup
	ID       string
	Status   Status
	Executor *string // nil: no executor
	Epoch    int64

	// Unwritten, set by ExpectUnwritten, also requires that nobody wrote
	// the task since it was read: its updateDateTime (which every writer
	// sets, Python's too) and its historyTotal (which every write here
	// that records a transition bumps, so that two writes within one
	// millisecond still differ) are Updated and Entries. A failover move
	// needs it: a node that comes back just as a controller takes it for
	// dead writes Running on the epoch it was given, which changes neither
	// the status, nor the executor, nor the epoch.
	Unwritten        bool
	Updated, Entries int64

	// Backoff is, for a Claim of a Failed task, the wait the caller kept
	// since the failure: what the history's retried entry shows.
	Backoff time.Duration
}

// ExpectOf returns the expectation that t is unchanged in status,
// executor and epoch.
func ExpectOf(t *Task) Expect {
	return Expect{Key: t.Key, ID: t.ID, Status: t.LifecycleStatus, Executor: t.Executor, Epoch: t.AssignmentEpoch}
}

// ExpectUnwritten returns the expectation that nobody wrote t since it
// was read (see Expect.Unwritten): what a controller moving the task of a
// node it takes for dead requires, so that of its move and a Running
// written by that node meanwhile, the second loses. The move fails with
// ErrConflict; the node's write, fenced on the epoch the move bumps,
// fails with ErrFenced and the node does not start (or stops) its worker.
func ExpectUnwritten(t *Task) Expect {
	e := ExpectOf(t)
	e.Unwritten, e.Updated, e.Entries = true, t.UpdateDateTime, t.HistoryTotal
	return e
}

func (e Expect) filter() bson.D {
	f := bson.D{}
	if e.Key != nil {
		f = append(f, bson.E{Key: "_id", Value: e.Key})
	}
	f = append(f, bson.E{Key: "id", Value: e.ID}, bson.E{Key: "lifecycleStatus", Value: e.Status})
	if e.Executor == nil {
		// Matches a null and a missing executor alike.
		f = append(f, bson.E{Key: "executor", Value: nil})
	} else {
		f = append(f, bson.E{Key: "executor", Value: *e.Executor})
	}
	f = append(f, bson.E{Key: "assignmentEpoch", Value: epochFilter(e.Epoch)})
	if e.Unwritten {
		// Zero matches a missing field too, as documents written by
		// Python tooling lack historyTotal.
		f = append(f, bson.E{Key: "updateDateTime", Value: zeroOrMissing(e.Updated)},
			bson.E{Key: "historyTotal", Value: zeroOrMissing(e.Entries)})
	}
	return f
}

// modify applies update to the task if it is still as e says, and returns
// the task as written.
func (s *Store) modify(ctx context.Context, e Expect, update bson.D) (*Task, error) {
	var t Task
	err := s.coll.FindOneAndUpdate(ctx, e.filter(), update,
		options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&t)
	if errors.Is(err, mongo.ErrNoDocuments) {
		if e.Unwritten {
			return nil, fmt.Errorf("task %q (status %s, epoch %d, written at %d): %w", e.ID, e.Status, e.Epoch, e.Updated, ErrConflict)
		}
		return nil, fmt.Errorf("task %q (status %s, epoch %d): %w", e.ID, e.Status, e.Epoch, ErrConflict)
	}
	if err != nil {
		return nil, fmt.Errorf("writing task %q: %w", e.ID, err)
	}
	s.written(ctx, &t)
	return &t, nil
}

// Claim assigns the task to executor if it is still as e says: executor
// set, status Assigning, assignment epoch bumped (which fences off any
// earlier assignee), and with countAttempt the attempt counter bumped. Two
// controllers claiming the same task from the same state cannot both
// succeed, because the first write changes the epoch the second filters
// on.
func (s *Store) Claim(ctx context.Context, e Expect, executor string, countAttempt bool) (*Task, error) {
	return s.modify(ctx, e, s.claimUpdate(e, executor, countAttempt, NowMillis(), nil))
}

// claimUpdate is the update of a claim of the task e expects for executor
// at now; more are extra fields to set.
func (s *Store) claimUpdate(e Expect, executor string, countAttempt bool, now int64, more bson.D) bson.D {
	inc := bson.D{{Key: "assignmentEpoch", Value: int64(1)}}
	if countAttempt {
		inc = append(inc, bson.E{Key: "attempts", Value: 1})
	}
	entry := Entry{Event: EventAssigned, Node: executor, Epoch: e.Epoch + 1}
	if e.Status == Failed {
		entry.Event, entry.BackoffMs = EventRetried, e.Backoff.Milliseconds()
	}
	return s.withEntry(bson.D{
		{Key: "$set", Value: append(bson.D{
			{Key: "executor", Value: executor},
			{Key: "lifecycleStatus", Value: Assigning},
			{Key: "updateDateTime", Value: now},
			{Key: "assignedDateTime", Value: now},
		}, more...)},
		clearedOnAssign,
		{Key: "$inc", Value: inc},
	}, entry)
}

// ClaimRequest is one task of a ClaimAll: the state the caller read, and
// whether the claim counts as an attempt (see Claim).
type ClaimRequest struct {
	Expect       Expect
	CountAttempt bool
}

// ClaimAll is Claim for many tasks given to one executor: one write that
// holds a conditional update per task (each addressed by its _id and the
// state the caller read, as Claim's), then one read of the tasks it
// claimed. It returns, in the order of reqs, each task as written, or nil
// for a task that changed since it was read (Claim's ErrConflict). An
// error means that some statements, the write or the read failed: the
// tasks returned are claimed all the same, and of the others some may be,
// which the caller learns when it reads them again.
//
// The write marks the tasks it claims with a token of its own, which the
// read asks for together with the executor: equalities, which FerretDB
// evaluates in SQL. A dispatch cycle so costs two round trips per node
// however many tasks it gives each, where single claims cost one per
// task; and each update stays a lookup by _id, where one update of a list
// of _ids is a scan on FerretDB.
func (s *Store) ClaimAll(ctx context.Context, executor string, reqs []ClaimRequest) ([]*Task, error) {
	out := make([]*Task, len(reqs))
	if len(reqs) == 0 {
		return out, nil
	}
	token := rand.Text() // no other claim uses it
	now := NowMillis()
	models := make([]mongo.WriteModel, len(reqs))
	for i, r := range reqs {
		models[i] = byKey(r.Expect.filter(), s.claimUpdate(r.Expect, executor, r.CountAttempt, now, bson.D{{Key: "claimToken", Value: token}}))
	}
	what := fmt.Sprintf("claiming %d tasks for %q", len(reqs), executor)
	res, werr := s.coll.BulkWrite(ctx, models, options.BulkWrite().SetOrdered(false))
	if werr == nil && res.MatchedCount == 0 {
		return out, nil
	}
	if werr != nil {
		// Statements may have claimed their tasks all the same: MongoDB
		// goes on after a failed one, FerretDB keeps those before it.
		// The read tells which.
		werr = fmt.Errorf("%s: %w", what, werr)
	}
	got, err := s.find(ctx, what, bson.D{{Key: "executor", Value: executor}, {Key: "claimToken", Value: token}})
	if err != nil {
		return out, errors.Join(werr, err)
	}
	byID := make(map[string]*Task, len(got))
	for i := range got {
		byID[got[i].ID] = &got[i]
	}
	for i, r := range reqs {
		// A task written again since (moved on by another controller)
		// keeps the token but not the epoch of this claim.
		if t := byID[r.Expect.ID]; t != nil && t.AssignmentEpoch == r.Expect.Epoch+1 {
			out[i] = t
			s.pushed(ctx, t.ID, t.Key)
		}
	}
	return out, werr
}

// Release makes the task Created and unassigned, bumping the epoch so that
// a node that still runs it (a partitioned one) stops when it can read
// MongoDB again. With resetAttempts, the retry budget starts afresh, which
// is what a user resetting a task to Created asks for.
func (s *Store) Release(ctx context.Context, e Expect, resetAttempts bool) (*Task, error) {
	unset := bson.D{{Key: "executor", Value: ""}}
	if resetAttempts {
		unset = append(unset, bson.E{Key: "attempts", Value: ""})
		unset = append(unset, clearedOnAssign.Value.(bson.D)...)
	}
	why := "its node is gone"
	if resetAttempts {
		why = "reset to Created"
	}
	return s.modify(ctx, e, s.withEntry(bson.D{
		{Key: "$set", Value: bson.D{
			{Key: "lifecycleStatus", Value: Created},
			{Key: "updateDateTime", Value: NowMillis()},
		}},
		{Key: "$unset", Value: unset},
		{Key: "$inc", Value: bson.D{{Key: "assignmentEpoch", Value: int64(1)}}},
	}, Entry{Event: EventHandedBack, Epoch: e.Epoch + 1, Message: why}))
}

// Cancel marks the task Cancelled if it is still as e says. The epoch is
// kept: the node that runs the task sees Cancelled, stops the worker and
// confirms with a write fenced on that epoch.
func (s *Store) Cancel(ctx context.Context, e Expect) (*Task, error) {
	return s.modify(ctx, e, s.withEntry(bson.D{{Key: "$set", Value: bson.D{
		{Key: "lifecycleStatus", Value: Cancelled},
		{Key: "updateDateTime", Value: NowMillis()},
	}}}, Entry{Event: EventCancelled, Epoch: e.Epoch, Message: "cancel requested"}))
}
