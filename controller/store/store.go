// Package store is the controller's access to the tasks collection. It
// reads the same documents as runtime/task, but adds the queries a
// controller needs (the dispatch candidates, paged listings, counts by
// status) and the conditional writes that make several controllers safe
// to run at once.
//
// Every write of the controller is one conditional single-document update
// (findAndModify) filtered on the state the controller read: status,
// executor and assignment epoch. If another writer moved the task on in
// between, the write matches nothing and returns ErrConflict, instead of
// overwriting the newer state as the Python controller did (lost updates).
// That is the only concurrency control FerretDB and MongoDB share.
package store

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/skalds-go/skalds/runtime/task"
)

// ErrConflict is returned by a conditional write whose expected state is
// no longer the task's: someone else changed it first.
var ErrConflict = errors.New("task changed concurrently")

// Doc is a task document with the fields only the controller writes.
// They are additions to the Python document; nodes ignore them.
type Doc struct {
	task.Task `bson:",inline"`
	// Attempts counts the runs the controller started from Created or
	// Failed. A retry of a Failed task is allowed while it is below the
	// configured maximum; a failover after node loss does not count,
	// since the task did not fail.
	Attempts int `bson:"attempts,omitempty" json:"attempts"`
	// AssignedDateTime is when the controller last assigned the task, in
	// epoch ms (Python's assignedAt only showed the node's last activity).
	AssignedDateTime int64 `bson:"assignedDateTime,omitempty" json:"assignedDateTime,omitempty"`
}

// Expect is the state a conditional write requires: the one the caller
// read. A zero Epoch also matches documents written without one, as
// Python tooling writes them.
type Expect struct {
	Key      any // the _id, when known: makes the write a primary-key lookup
	ID       string
	Status   task.Status
	Executor *string // nil: no executor
	Epoch    int64
}

// ExpectOf returns the expectation that d is unchanged.
func ExpectOf(d *Doc) Expect {
	return Expect{Key: d.Key, ID: d.ID, Status: d.LifecycleStatus, Executor: d.Executor, Epoch: d.AssignmentEpoch}
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
	if e.Epoch == 0 {
		f = append(f, bson.E{Key: "assignmentEpoch", Value: bson.D{{Key: "$in", Value: bson.A{int64(0), nil}}}})
	} else {
		f = append(f, bson.E{Key: "assignmentEpoch", Value: e.Epoch})
	}
	return f
}

// Store reads and writes the tasks collection.
type Store struct {
	client *mongo.Client
	coll   *mongo.Collection
}

// Open connects to MongoDB and makes sure the unique index on id exists,
// as nodes do, so that the controller may start first.
func Open(ctx context.Context, uri, dbName string) (*Store, error) {
	client, coll, err := task.Connect(ctx, uri, dbName)
	if err != nil {
		return nil, err
	}
	return &Store{client: client, coll: coll}, nil
}

// Close disconnects.
func (s *Store) Close(ctx context.Context) error { return s.client.Disconnect(ctx) }

// Ping checks that MongoDB answers, for the health endpoint.
func (s *Store) Ping(ctx context.Context) error { return s.client.Ping(ctx, nil) }

// passive matches Passive tasks, and documents without a mode, which
// Python reads as Passive.
var passive = bson.E{Key: "mode", Value: bson.D{{Key: "$in", Value: bson.A{task.Passive, nil}}}}

// Pending returns every Passive task the dispatcher may act on: the ones
// waiting (Created), the ones some node holds (Assigning, Running), whose
// node may have died, and the Failed ones, which may be due for a retry.
// It is one query (a scan on FerretDB), so that a dispatch cycle sees one
// consistent picture, node loads included.
func (s *Store) Pending(ctx context.Context) ([]Doc, error) {
	cur, err := s.coll.Find(ctx, bson.D{
		passive,
		{Key: "lifecycleStatus", Value: bson.D{{Key: "$in", Value: bson.A{task.Created, task.Assigning, task.Running, task.Failed}}}},
	})
	if err != nil {
		return nil, fmt.Errorf("listing pending tasks: %w", err)
	}
	var out []Doc
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("listing pending tasks: %w", err)
	}
	return out, nil
}

// Get reads one task; a missing id gives task.ErrNotFound.
func (s *Store) Get(ctx context.Context, id string) (*Doc, error) {
	var d Doc
	err := s.coll.FindOne(ctx, bson.D{{Key: "id", Value: id}}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, fmt.Errorf("%w: %q", task.ErrNotFound, id)
	}
	if err != nil {
		return nil, fmt.Errorf("reading task %q: %w", id, err)
	}
	return &d, nil
}

// Create inserts d; an existing id gives a *task.DuplicateIDError.
func (s *Store) Create(ctx context.Context, d *Doc) error {
	_, err := s.coll.InsertOne(ctx, d)
	if mongo.IsDuplicateKeyError(err) {
		return &task.DuplicateIDError{ID: d.ID}
	}
	if err != nil {
		return fmt.Errorf("creating task %q: %w", d.ID, err)
	}
	return nil
}

// modify applies update to the task if it is still as e says, and returns
// the task as written.
func (s *Store) modify(ctx context.Context, e Expect, update bson.D) (*Doc, error) {
	var d Doc
	err := s.coll.FindOneAndUpdate(ctx, e.filter(), update,
		options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, fmt.Errorf("task %q (status %s, epoch %d): %w", e.ID, e.Status, e.Epoch, ErrConflict)
	}
	if err != nil {
		return nil, fmt.Errorf("writing task %q: %w", e.ID, err)
	}
	return &d, nil
}

var clearedOnAssign = bson.E{Key: "$unset", Value: bson.D{
	{Key: "error", Value: ""}, {Key: "stuck", Value: ""}, {Key: "refusal", Value: ""},
}}

// Claim assigns the task to executor if it is still as e says: executor
// set, status Assigning, assignment epoch bumped (which fences off any
// earlier assignee), and with countAttempt the attempt counter bumped. Two
// controllers claiming the same task from the same state cannot both
// succeed, because the first write changes the epoch the second filters
// on.
func (s *Store) Claim(ctx context.Context, e Expect, executor string, countAttempt bool) (*Doc, error) {
	now := task.NowMillis()
	inc := bson.D{{Key: "assignmentEpoch", Value: int64(1)}}
	if countAttempt {
		inc = append(inc, bson.E{Key: "attempts", Value: 1})
	}
	return s.modify(ctx, e, bson.D{
		{Key: "$set", Value: bson.D{
			{Key: "executor", Value: executor},
			{Key: "lifecycleStatus", Value: task.Assigning},
			{Key: "updateDateTime", Value: now},
			{Key: "assignedDateTime", Value: now},
		}},
		clearedOnAssign,
		{Key: "$inc", Value: inc},
	})
}

// Release makes the task Created and unassigned, bumping the epoch so that
// a node that still runs it (a partitioned one) stops when it can read
// MongoDB again. With resetAttempts, the retry budget starts afresh, which
// is what a user resetting a task to Created asks for.
func (s *Store) Release(ctx context.Context, e Expect, resetAttempts bool) (*Doc, error) {
	set := bson.D{
		{Key: "lifecycleStatus", Value: task.Created},
		{Key: "updateDateTime", Value: task.NowMillis()},
	}
	unset := bson.D{{Key: "executor", Value: ""}}
	if resetAttempts {
		unset = append(unset, bson.E{Key: "attempts", Value: ""}, bson.E{Key: "error", Value: ""},
			bson.E{Key: "stuck", Value: ""}, bson.E{Key: "refusal", Value: ""})
	}
	return s.modify(ctx, e, bson.D{
		{Key: "$set", Value: set},
		{Key: "$unset", Value: unset},
		{Key: "$inc", Value: bson.D{{Key: "assignmentEpoch", Value: int64(1)}}},
	})
}

// Cancel marks the task Cancelled if it is still as e says. The epoch is
// kept: the node that runs the task sees Cancelled, stops the worker and
// confirms with a write fenced on that epoch.
func (s *Store) Cancel(ctx context.Context, e Expect) (*Doc, error) {
	return s.modify(ctx, e, bson.D{{Key: "$set", Value: bson.D{
		{Key: "lifecycleStatus", Value: task.Cancelled},
		{Key: "updateDateTime", Value: task.NowMillis()},
	}}})
}

// SetAttachments replaces the attachments and bumps their version; the
// result carries the new version, for waiting until it is applied.
func (s *Store) SetAttachments(ctx context.Context, id string, attachments []byte) (*Doc, error) {
	var d Doc
	err := s.coll.FindOneAndUpdate(ctx,
		bson.D{{Key: "id", Value: id}},
		bson.D{
			{Key: "$set", Value: bson.D{
				{Key: "attachments", Value: task.Attachments(attachments)},
				{Key: "updateDateTime", Value: task.NowMillis()},
			}},
			{Key: "$inc", Value: bson.D{{Key: "attachmentsVersion", Value: int64(1)}}},
		},
		options.FindOneAndUpdate().SetReturnDocument(options.After),
	).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, fmt.Errorf("%w: %q", task.ErrNotFound, id)
	}
	if err != nil {
		return nil, fmt.Errorf("updating attachments of task %q: %w", id, err)
	}
	return &d, nil
}

// Filter selects tasks for List. Empty fields select everything.
type Filter struct {
	Status    string // case-insensitive substring of lifecycleStatus
	ClassName string // case-insensitive substring of className
	ID        string // case-insensitive substring of id
	Executor  string // exact executor
}

func (f Filter) query() bson.D {
	q := bson.D{}
	sub := func(key, v string) {
		if v != "" {
			// Quoted: user input is a literal, never a pattern (the
			// Python API passed it through unescaped).
			q = append(q, bson.E{Key: key, Value: bson.D{
				{Key: "$regex", Value: regexp.QuoteMeta(v)},
				{Key: "$options", Value: "i"},
			}})
		}
	}
	sub("lifecycleStatus", f.Status)
	sub("className", f.ClassName)
	sub("id", f.ID)
	if f.Executor != "" {
		q = append(q, bson.E{Key: "executor", Value: f.Executor})
	}
	return q
}

// List returns one page of the tasks that match f, newest first, and the
// number of all matches.
func (s *Store) List(ctx context.Context, f Filter, page, pageSize int) ([]Doc, int64, error) {
	q := f.query()
	total, err := s.coll.CountDocuments(ctx, q)
	if err != nil {
		return nil, 0, fmt.Errorf("counting tasks: %w", err)
	}
	cur, err := s.coll.Find(ctx, q, options.Find().
		SetSort(bson.D{{Key: "createDateTime", Value: -1}, {Key: "id", Value: 1}}).
		SetSkip(int64((page-1)*pageSize)).
		SetLimit(int64(pageSize)))
	if err != nil {
		return nil, 0, fmt.Errorf("listing tasks: %w", err)
	}
	out := []Doc{}
	if err := cur.All(ctx, &out); err != nil {
		return nil, 0, fmt.Errorf("listing tasks: %w", err)
	}
	return out, total, nil
}

// ByExecutor returns the tasks assigned to executor that are not terminal.
func (s *Store) ByExecutor(ctx context.Context, executor string) ([]Doc, error) {
	cur, err := s.coll.Find(ctx, bson.D{
		{Key: "executor", Value: executor},
		{Key: "lifecycleStatus", Value: bson.D{{Key: "$in", Value: bson.A{task.Created, task.Assigning, task.Running}}}},
	}, options.Find().SetSort(bson.D{{Key: "id", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("listing tasks of %q: %w", executor, err)
	}
	out := []Doc{}
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("listing tasks of %q: %w", executor, err)
	}
	return out, nil
}

// Recent returns the tasks that are not terminal or were updated since
// the given time (epoch ms): the tasks that can change, which is what the
// event stream diffs.
func (s *Store) Recent(ctx context.Context, since int64) ([]Doc, error) {
	cur, err := s.coll.Find(ctx, bson.D{{Key: "$or", Value: bson.A{
		bson.D{{Key: "lifecycleStatus", Value: bson.D{{Key: "$in", Value: bson.A{task.Created, task.Assigning, task.Running, task.Paused}}}}},
		bson.D{{Key: "updateDateTime", Value: bson.D{{Key: "$gte", Value: since}}}},
	}}})
	if err != nil {
		return nil, fmt.Errorf("listing recent tasks: %w", err)
	}
	var out []Doc
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("listing recent tasks: %w", err)
	}
	return out, nil
}

// ClassNames returns the distinct non-empty class names, sorted.
func (s *Store) ClassNames(ctx context.Context) ([]string, error) {
	res := s.coll.Distinct(ctx, "className", bson.D{})
	if err := res.Err(); err != nil {
		return nil, fmt.Errorf("listing class names: %w", err)
	}
	var raw []any
	if err := res.Decode(&raw); err != nil {
		return nil, fmt.Errorf("listing class names: %w", err)
	}
	out := []string{}
	for _, v := range raw {
		if s, ok := v.(string); ok && s != "" {
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out, nil
}

// CountByStatus returns the number of tasks per lifecycleStatus.
func (s *Store) CountByStatus(ctx context.Context) (map[string]int64, error) {
	cur, err := s.coll.Aggregate(ctx, bson.A{
		bson.D{{Key: "$group", Value: bson.D{
			{Key: "_id", Value: "$lifecycleStatus"},
			{Key: "count", Value: bson.D{{Key: "$sum", Value: 1}}},
		}}},
	})
	if err != nil {
		return nil, fmt.Errorf("counting tasks by status: %w", err)
	}
	var rows []struct {
		Status any   `bson:"_id"`
		Count  int64 `bson:"count"`
	}
	if err := cur.All(ctx, &rows); err != nil {
		return nil, fmt.Errorf("counting tasks by status: %w", err)
	}
	out := map[string]int64{}
	for _, r := range rows {
		s, _ := r.Status.(string)
		out[s] += r.Count
	}
	return out, nil
}

// Activity counts what happened to tasks since a moment, for the
// recent-activity analytics.
type Activity struct {
	Created  int64 // tasks created since
	Updated  int64 // tasks written since, whatever changed
	Finished int64 // tasks Finished whose last write is since
	Failed   int64 // tasks Failed whose last write is since
}

// ActivitySince counts the task activity since the given time (epoch ms).
// The times are the writers' clocks, as stored in the documents.
func (s *Store) ActivitySince(ctx context.Context, since int64) (Activity, error) {
	var a Activity
	after := bson.D{{Key: "$gte", Value: since}}
	for _, q := range []struct {
		dst    *int64
		filter bson.D
	}{
		{&a.Created, bson.D{{Key: "createDateTime", Value: after}}},
		{&a.Updated, bson.D{{Key: "updateDateTime", Value: after}}},
		{&a.Finished, bson.D{{Key: "updateDateTime", Value: after}, {Key: "lifecycleStatus", Value: task.Finished}}},
		{&a.Failed, bson.D{{Key: "updateDateTime", Value: after}, {Key: "lifecycleStatus", Value: task.Failed}}},
	} {
		n, err := s.coll.CountDocuments(ctx, q.filter)
		if err != nil {
			return a, fmt.Errorf("counting recent task activity: %w", err)
		}
		*q.dst = n
	}
	return a, nil
}
