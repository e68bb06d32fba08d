package task

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/skalds-go/skalds/internal/inflight"
	"github.com/skalds-go/skalds/runtime/config"
)

// Collection is the collection Python Skalds keeps its tasks in.
const Collection = "tasks"

// ErrNotFound is returned for a task id that is not in the collection.
var ErrNotFound = errors.New("task not found")

// ErrFenced is returned by a fenced write whose epoch is no longer the
// task's: the task was reassigned, and the writer must stop acting on it.
var ErrFenced = errors.New("task was reassigned (assignment epoch moved on)")

// Unreachable reports whether err says that MongoDB did not answer (a
// timeout, a broken link, no server to select): the same request may
// succeed once it answers again. Other errors (a refused document, a
// missing permission) come back the same however often it is made.
func Unreachable(err error) bool {
	return err != nil && (errors.Is(err, context.DeadlineExceeded) || mongo.IsTimeout(err) || mongo.IsNetworkError(err) ||
		strings.Contains(err.Error(), "server selection error"))
}

// DuplicateIDError is returned by Create for an id that already exists.
type DuplicateIDError struct{ ID string }

func (e *DuplicateIDError) Error() string {
	return fmt.Sprintf("task %q already exists; pick another id or update the existing task", e.ID)
}

// Store reads and writes task documents. Every method is one
// single-document operation, the subset that behaves the same on MongoDB
// and on FerretDB.
type Store struct {
	client *mongo.Client
	coll   *mongo.Collection
	keep   int    // entries kept in a task's history; see KeepHistory
	node   string // the node this store writes for; see SetNode

	trimMu sync.Mutex
	pushes map[string]int // entries pushed per task since its last trim here

	// scans is set for a server that reads every document of the
	// collection to match a filter on _id and other fields (FerretDB on
	// SQLite): see fencedMany.
	scans bool
	// listScans is set for a server that reads every document of the
	// collection to match a list of _ids (FerretDB, on both backends):
	// see GetMany.
	listScans bool
}

// Open connects to MongoDB at uri and makes sure the unique index on id
// exists. Close releases the connection.
func Open(ctx context.Context, uri, dbName string) (*Store, error) {
	client, coll, err := Connect(ctx, uri, dbName)
	if err != nil {
		return nil, err
	}
	return &Store{client: client, coll: coll,
		scans:     scansFor(ctx, coll, bson.D{{Key: "_id", Value: "-"}, {Key: "executor", Value: "-"}}),
		listScans: scansFor(ctx, coll, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: bson.A{"-", "."}}}}}),
	}, nil
}

// scansFor asks the server, through explain, whether it matches filter
// by reading the whole collection. FerretDB says so in its
// filterPushdown: for a filter on _id and another field, false on SQLite,
// which uses its index for a filter on _id alone, true on PostgreSQL; for
// a list of _ids ($in), false on both. MongoDB, which serves all of them
// with its index, does not say. An answer that cannot be had counts as no.
func scansFor(ctx context.Context, coll *mongo.Collection, filter bson.D) bool {
	var res struct {
		FilterPushdown *bool `bson:"filterPushdown"`
	}
	err := coll.Database().RunCommand(ctx, bson.D{
		{Key: "explain", Value: bson.D{
			{Key: "find", Value: coll.Name()},
			{Key: "filter", Value: filter},
		}},
		{Key: "verbosity", Value: "queryPlanner"},
	}).Decode(&res)
	return err == nil && res.FilterPushdown != nil && !*res.FilterPushdown
}

// Connect connects to MongoDB at uri and returns the tasks collection of
// dbName, after making sure its unique index on id exists, whoever starts
// first: a node, a client or a controller. It is what every store of the
// collection opens with.
func Connect(ctx context.Context, uri, dbName string) (*mongo.Client, *mongo.Collection, error) {
	opts := options.Client().ApplyURI(uri).
		SetServerSelectionTimeout(5 * time.Second).
		SetConnectTimeout(5 * time.Second)
	client, err := mongo.Connect(opts)
	if err != nil {
		// The driver quotes bad parts of the URI, the password included.
		return nil, nil, fmt.Errorf("mongo %s (check MONGO_HOST): %w", config.MaskURI(uri), config.MaskError(err, uri))
	}
	coll := client.Database(dbName).Collection(Collection)
	_, err = coll.Indexes().CreateOne(ctx, mongo.IndexModel{
		Keys:    bson.D{{Key: "id", Value: 1}},
		Options: options.Index().SetUnique(true).SetName("id_1"),
	})
	if err != nil {
		_ = client.Disconnect(context.Background())
		if refusedCredentials(err) {
			return nil, nil, fmt.Errorf("mongo %s refused the credentials of user %s: check the user name and password in MONGO_HOST, "+
				"and its authSource and authMechanism (on MongoDB a SCRAM user, usually authSource=admin; on FerretDB v1 "+
				"authMechanism=PLAIN with a PostgreSQL role and its password): %w",
				config.MaskURI(uri), uriUser(uri), config.MaskError(err, uri))
		}
		return nil, nil, fmt.Errorf("mongo: creating the unique index on tasks.id (is MONGO_HOST reachable?): %w", config.MaskError(err, uri))
	}
	return client, coll, nil
}

// refusedCredentials tells whether err says that the server refused the
// URI's credentials: MongoDB's AuthenticationFailed (code 18, in the
// handshake or in reply to a command), or FerretDB on PostgreSQL passing on
// PostgreSQL's refusal of the role (SQLSTATE 28P01, a wrong password, or
// 28000, an unknown role) in an internal error.
func refusedCredentials(err error) bool {
	var se mongo.ServerError
	if errors.As(err, &se) && se.HasErrorCode(18) {
		return true
	}
	text := err.Error()
	for _, sign := range []string{"AuthenticationFailed", "auth error", "(SQLSTATE 28P01)", "(SQLSTATE 28000)"} {
		if strings.Contains(text, sign) {
			return true
		}
	}
	return false
}

// uriUser is the user name in a MongoDB URI, or "(none)".
func uriUser(uri string) string {
	if u, err := url.Parse(uri); err == nil && u.User != nil && u.User.Username() != "" {
		return u.User.Username()
	}
	return "(none)"
}

// Close disconnects from MongoDB.
func (s *Store) Close(ctx context.Context) error { return s.client.Disconnect(ctx) }

// Ping checks that MongoDB answers, for health checks.
func (s *Store) Ping(ctx context.Context) error { return s.client.Ping(ctx, nil) }

// Create inserts t. An existing id gives a *DuplicateIDError.
func (s *Store) Create(ctx context.Context, t *Task) error {
	if err := ValidateID(t.ID); err != nil {
		return err
	}
	if t.ClassName == "" {
		return errors.New("task: className is required")
	}
	if t.Key == nil {
		t.Key = t.ID
	}
	if t.History == nil {
		e := Entry{Event: EventCreated, Epoch: t.AssignmentEpoch, Version: t.AttachmentsVersion, Status: t.LifecycleStatus}
		if t.Executor != nil {
			e.Node = *t.Executor
		}
		t.History, t.HistoryTotal = []Entry{s.entry(e)}, 1
	}
	_, err := s.coll.InsertOne(ctx, t)
	if mongo.IsDuplicateKeyError(err) {
		return &DuplicateIDError{ID: t.ID}
	}
	if err != nil {
		return fmt.Errorf("creating task %q: %w", t.ID, err)
	}
	return nil
}

// Get reads one task by id: by its _id first, a primary-key lookup, then,
// for a document whose _id is not its id (written by Python tooling), by
// the id field.
func (s *Store) Get(ctx context.Context, id string) (*Task, error) {
	for _, filter := range byID(id) {
		var t Task
		err := s.coll.FindOne(ctx, filter, options.FindOne().SetProjection(noHistory)).Decode(&t)
		if errors.Is(err, mongo.ErrNoDocuments) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading task %q: %w", id, err)
		}
		return &t, nil
	}
	return nil, fmt.Errorf("%w: %q", ErrNotFound, id)
}

// byID are the filters that find task id, cheapest first: its _id, which
// is its id for every document written here, then its id field.
func byID(id string) [2]bson.D {
	return [2]bson.D{{{Key: "_id", Value: id}}, {{Key: "id", Value: id}}}
}

// updateByID applies update to task id (found as Get finds it) and
// returns the task as written; what names the write in errors.
func (s *Store) updateByID(ctx context.Context, what, id string, update bson.D) (*Task, error) {
	for _, filter := range byID(id) {
		var t Task
		err := s.coll.FindOneAndUpdate(ctx, filter, update,
			options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&t)
		if errors.Is(err, mongo.ErrNoDocuments) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%s task %q: %w", what, id, err)
		}
		s.written(ctx, &t)
		return &t, nil
	}
	return nil, fmt.Errorf("%w: %q", ErrNotFound, id)
}

// ListByExecutor returns the tasks assigned to executor whose status says
// they should run (Created, Assigning, Running), by id: what a node
// converges on at start, and what a controller shows as a node's tasks.
// They are sorted here rather than by the server, which would sort the
// whole result in memory on FerretDB too.
func (s *Store) ListByExecutor(ctx context.Context, executor string) ([]Task, error) {
	out, err := s.find(ctx, fmt.Sprintf("listing tasks of %q", executor), bson.D{
		{Key: "executor", Value: executor},
		{Key: "lifecycleStatus", Value: bson.D{{Key: "$in", Value: bson.A{Created, Assigning, Running}}}},
	})
	slices.SortFunc(out, func(a, b Task) int { return strings.Compare(a.ID, b.ID) })
	return out, err
}

// Assign sets the executor, moves the task to Assigning and bumps the
// assignment epoch, which fences off any previous assignee. It returns the
// new epoch.
func (s *Store) Assign(ctx context.Context, id, executor string) (int64, error) {
	// The epoch of the entry is not known before the write: 0 says so,
	// and the task's own epoch, read with it, is the one given.
	t, err := s.updateByID(ctx, "assigning", id, s.withEntry(bson.D{
		{Key: "$set", Value: bson.D{
			{Key: "executor", Value: executor},
			{Key: "lifecycleStatus", Value: Assigning},
			{Key: "updateDateTime", Value: NowMillis()},
		}},
		clearedOnAssign,
		{Key: "$inc", Value: bson.D{{Key: "assignmentEpoch", Value: int64(1)}}},
	}, Entry{Event: EventAssigned, Node: executor}))
	if err != nil {
		return 0, err
	}
	return t.AssignmentEpoch, nil
}

// clearedOnAssign is the part of an assignment's update that drops what an
// earlier attempt left: its failure, stuck note and refusal.
var clearedOnAssign = unset("error", "errorKind", "retryAt", "stuck", "refusal")

// clearedOnRun is what a run of the worker replaces: what clearedOnAssign
// drops, and the outputs of an earlier run.
var clearedOnRun = unsetAlso(clearedOnAssign, "progress", "progressDateTime", "result")

// unset is an $unset of fields.
func unset(fields ...string) bson.E {
	d := make(bson.D, len(fields))
	for i, f := range fields {
		d[i] = bson.E{Key: f, Value: ""}
	}
	return bson.E{Key: "$unset", Value: d}
}

// unsetAlso is u with more fields.
func unsetAlso(u bson.E, fields ...string) bson.E {
	more := unset(fields...)
	return bson.E{Key: "$unset", Value: append(append(bson.D{}, u.Value.(bson.D)...), more.Value.(bson.D)...)}
}

// SetAttachments replaces the attachments and bumps their version. It
// returns the task as written, whose AttachmentsVersion is the one to wait
// for. The caller validates the attachments first.
func (s *Store) SetAttachments(ctx context.Context, id string, attachments []byte) (*Task, error) {
	return s.updateByID(ctx, "updating the attachments of", id, bson.D{
		{Key: "$set", Value: bson.D{
			{Key: "attachments", Value: Attachments(attachments)},
			{Key: "updateDateTime", Value: NowMillis()},
		}},
		{Key: "$inc", Value: bson.D{{Key: "attachmentsVersion", Value: int64(1)}}},
	})
}

// SetStatus writes a status without fencing, for users and controllers;
// a node uses Report.
func (s *Store) SetStatus(ctx context.Context, id string, status Status) error {
	_, err := s.updateByID(ctx, "setting the status of", id, s.withEntry(bson.D{{Key: "$set", Value: bson.D{
		{Key: "lifecycleStatus", Value: status},
		{Key: "updateDateTime", Value: NowMillis()},
	}}}, Entry{Event: EventStatus, Status: status}))
	return err
}

// Report is a node's status write: it applies only while the epoch of ref
// is still the task's assignment epoch, and otherwise returns ErrFenced. A
// failure text is stored with Failed and cleared otherwise. Only Cancelled
// may be written over Cancelled: a cancel is final, so a worker that
// finished or failed while being cancelled stays Cancelled (ErrFenced).
//
// out, when given, is stored in the same write: the worker's newest
// progress and its result, so that a reader who sees the terminal status
// also sees what the worker produced.
func (s *Store) Report(ctx context.Context, ref Ref, status Status, failure string, out ...Outcome) error {
	if status == Cancelled {
		return s.report(ctx, ref, status, failure, nil, out...)
	}
	return s.report(ctx, ref, status, failure, []bson.E{notCancelled}, out...)
}

// CancelRunning is Report of Cancelled for a task that has not ended: it
// applies only while the task is Created, Assigning or Running in ref's
// epoch (ErrFenced otherwise). A cancel that reaches a node as an event
// alone (Python tooling's bare task.cancel) ends the run under way, never
// one that finished or failed meanwhile, also when the node writes it
// again after a failure.
func (s *Store) CancelRunning(ctx context.Context, ref Ref) error {
	return s.report(ctx, ref, Cancelled, "", []bson.E{runnable})
}

func (s *Store) report(ctx context.Context, ref Ref, status Status, failure string, conds []bson.E, out ...Outcome) error {
	now := NowMillis()
	set := bson.D{
		{Key: "lifecycleStatus", Value: status},
		{Key: "updateDateTime", Value: now},
	}
	for _, o := range out {
		set = o.appendSet(set, now)
	}
	update := bson.D{{Key: "$set", Value: set}}
	if failure != "" {
		update[0].Value = append(set, bson.E{Key: "error", Value: failure}, bson.E{Key: "errorKind", Value: FailedError})
		update = append(update, bson.E{Key: "$unset", Value: bson.D{{Key: "retryAt", Value: ""}}})
	} else {
		update = append(update, clearedFailure)
	}
	e := Entry{Event: statusEvent(status), Epoch: ref.Epoch, Message: failure}
	if e.Event == EventStatus {
		e.Status = status
	}
	if failure != "" {
		e.ErrorKind = FailedError
	}
	update = s.withEntry(update, e)
	defer s.ended(ref.ID)
	return s.fenced(ctx, ref, update, conds...)
}

// clearedFailure drops what a failure recorded.
var clearedFailure = bson.E{Key: "$unset", Value: bson.D{
	{Key: "error", Value: ""}, {Key: "errorKind", Value: ""}, {Key: "retryAt", Value: ""},
}}

// Fail records that the worker of ref failed, with the kind of failure
// that decides whether and when a controller retries it; fenced as Report
// is, and never over Cancelled.
// out, when given, is stored in the same write, as with Report.
func (s *Store) Fail(ctx context.Context, ref Ref, f Failure, out ...Outcome) error {
	if f.Kind == "" {
		f.Kind = FailedError
	}
	now := NowMillis()
	set := bson.D{
		{Key: "lifecycleStatus", Value: Failed},
		{Key: "updateDateTime", Value: now},
		{Key: "error", Value: f.Text},
		{Key: "errorKind", Value: f.Kind},
	}
	for _, o := range out {
		set = o.appendSet(set, now)
	}
	update := bson.D{{Key: "$set", Value: set}}
	if f.RetryAt > 0 {
		update[0].Value = append(set, bson.E{Key: "retryAt", Value: f.RetryAt})
	} else {
		update = append(update, bson.E{Key: "$unset", Value: bson.D{{Key: "retryAt", Value: ""}}})
	}
	defer s.ended(ref.ID)
	return s.fenced(ctx, ref, s.withEntry(update, Entry{Event: EventFailed, Epoch: ref.Epoch, ErrorKind: f.Kind, Message: f.Text}), notCancelled)
}

// Started records, in one write, that the worker of ref runs with
// attachments version: status Running, the applied version, and nothing
// left from an earlier attempt (see clearedOnStart). It applies only while
// the task is Created, Assigning or Running in ref's epoch (ErrFenced
// otherwise).
func (s *Store) Started(ctx context.Context, ref Ref, version int64) error {
	return s.started(ctx, ref, version, EventStarted)
}

// Restarted is Started for a worker started again because a
// //skald:restart field changed; only its history entry differs.
func (s *Store) Restarted(ctx context.Context, ref Ref, version int64) error {
	return s.started(ctx, ref, version, EventRestarted)
}

func (s *Store) started(ctx context.Context, ref Ref, version int64, event string) error {
	return s.fenced(ctx, ref, s.running(ref.Epoch, version, event, clearedOnStart), runnable)
}

// running is the update of a write of Running in epoch with attachments
// version: the status, the applied version, what cleared drops, and the
// history entry of event.
func (s *Store) running(epoch, version int64, event string, cleared bson.E) bson.D {
	return s.withEntry(bson.D{
		{Key: "$set", Value: bson.D{
			{Key: "lifecycleStatus", Value: Running},
			{Key: "appliedAttachmentsVersion", Value: version},
			{Key: "updateDateTime", Value: NowMillis()},
		}},
		cleared,
	}, Entry{Event: event, Epoch: epoch, Version: version})
}

// runnable is the condition of a start and of a hand-back: the task is
// one a node runs (Created, Assigning or Running), as it was when the
// node read it. A task that ended meanwhile in the same epoch stays
// ended: a node that read it Running just before its worker's outcome
// landed must not start it again over Finished or Failed, nor make it
// Created for another node when it shuts down.
var runnable = bson.E{Key: "lifecycleStatus", Value: bson.D{{Key: "$in", Value: bson.A{Created, Assigning, Running}}}}

// StartedAgain is Started for a worker that already runs while its task
// reads Assigning in the worker's epoch (a worker starts only once its
// Running write landed, so another writer set it back without a new
// epoch): it applies only while the task is still Assigning in ref's
// epoch, so that it never repeats a start that did land, and it keeps what
// the worker wrote since (applied attachments, a rejection). Without it,
// the task would read Assigning for as long as the worker runs, and its
// progress writes, which apply only while Running, would all be fenced.
func (s *Store) StartedAgain(ctx context.Context, ref Ref, version int64) error {
	return s.fenced(ctx, ref, s.running(ref.Epoch, version, EventStarted, clearedOnRun),
		bson.E{Key: "lifecycleStatus", Value: Assigning})
}

// appendSet adds o's fields to the $set of a write made at now.
func (o Outcome) appendSet(set bson.D, now int64) bson.D {
	if o.Progress != nil {
		set = progressSet(set, Attachments(o.Progress), now)
	}
	if o.Result != nil {
		set = append(set, bson.E{Key: "result", Value: Attachments(o.Result)})
	}
	if o.Rejection != nil {
		r := o.Rejection.Bounded()
		r.At = now
		set = append(set, bson.E{Key: "attachmentsRejection", Value: r})
	}
	return set
}

// Progress stores the newest progress of the worker of ref, a JSON
// object. It is fenced like every write of a node, and applies only while
// the task is Running, so that a report that was on its way when the
// worker ended never lands over the terminal write (ErrFenced then).
func (s *Store) Progress(ctx context.Context, ref Ref, progress []byte) error {
	c, err := Convert(progress)
	if err != nil {
		return fmt.Errorf("progress of task %q: %w", ref.ID, err)
	}
	return s.StoreProgress(ctx, ref, c)
}

// StoreProgress is Progress for a progress converted already, as a
// worker's reports are when they are made (see Convert).
func (s *Store) StoreProgress(ctx context.Context, ref Ref, progress Converted) error {
	return s.fenced(ctx, ref, bson.D{{Key: "$set", Value: progressSet(nil, progress.Doc, NowMillis())}},
		bson.E{Key: "lifecycleStatus", Value: Running})
}

// progressSet appends to set the fields that store doc as the progress,
// reported at now.
func progressSet(set bson.D, doc any, now int64) bson.D {
	return append(set, bson.E{Key: "progress", Value: doc}, bson.E{Key: "progressDateTime", Value: now})
}

// clearedOnStart is what a start drops: what clearedOnRun drops, and a
// rejection of attachments older than the ones it starts with (or, from a
// writer that does not bump the version, replaced by them).
var clearedOnStart = unsetAlso(clearedOnRun, "attachmentsRejection", "appliedAttachments")

// StartedAll is Started for many tasks in one write: tasks that share an
// assignment epoch and an attachments version, each addressed by its _id
// (Ref.Key, which must be set). It returns how many it updated; fewer than
// len(refs) means some were fenced, and Started tells which. A node
// starting a burst of tasks saves a round trip, and on servers that scan
// for conditional updates a scan, per task.
func (s *Store) StartedAll(ctx context.Context, refs []Ref, version int64) (int64, error) {
	return s.startedMany(ctx, refs, version, runnable)
}

// StartedFrom is StartedAll for tasks that executor read in status from
// (Created, Assigning or Running, not Cancelled). The filter also names
// the executor and that status: plain equalities, which FerretDB on
// PostgreSQL evaluates in SQL, so that only this node's documents in that
// status reach its filter in Go, instead of every document of the epoch.
// It is stricter than StartedAll, never looser: a task whose status or
// executor changed since it was read is not matched, and Started tells the
// caller which.
func (s *Store) StartedFrom(ctx context.Context, executor string, from Status, refs []Ref, version int64) (int64, error) {
	if from == Cancelled {
		return 0, errors.New("task: a cancelled task is not started")
	}
	return s.startedMany(ctx, refs, version,
		bson.E{Key: "executor", Value: executor}, bson.E{Key: "lifecycleStatus", Value: from})
}

// startedMany writes Running for refs under conds.
func (s *Store) startedMany(ctx context.Context, refs []Ref, version int64, conds ...bson.E) (int64, error) {
	var epoch int64
	if len(refs) > 0 {
		epoch = refs[0].Epoch
	}
	return s.fencedMany(ctx, "reporting Running", refs, s.running(epoch, version, EventStarted, clearedOnStart), conds...)
}

// fencedMany applies update, in one write, to the tasks of refs that are
// still in the epoch of refs (one for all) and meet conds, each addressed
// by its _id (Ref.Key, which must be set). It returns how many matched;
// fewer than len(refs) means some were fenced, and the single-task write
// tells which.
//
// The write is one update command that holds a statement per task, each
// filtered by that task's _id: a lookup by index on MongoDB and on
// FerretDB on PostgreSQL, where one statement for a list of _ids reads
// every document that the other conditions select, so that a node
// starting thousands of tasks in chunks read the collection once per
// chunk, and the work grew with the square of the tasks. On a server that
// reads the whole collection for any such filter (FerretDB on SQLite; see
// scansKeyed), that would be a read of the collection per task: there the
// write is one statement for the list, one read per write.
func (s *Store) fencedMany(ctx context.Context, what string, refs []Ref, update bson.D, conds ...bson.E) (int64, error) {
	if len(refs) == 0 {
		return 0, nil
	}
	keys := make(bson.A, len(refs))
	for i, r := range refs {
		if r.Key == nil || r.Epoch != refs[0].Epoch {
			return 0, errors.New("task: a write of many tasks needs refs with keys and one epoch")
		}
		keys[i] = r.Key
	}
	var matched int64
	if s.scans {
		// The list comes last: FerretDB matches in order, and rejects other
		// documents on the cheap conditions before searching the list.
		filter := append(bson.D{{Key: "assignmentEpoch", Value: epochFilter(refs[0].Epoch)}}, conds...)
		filter = append(filter, bson.E{Key: "_id", Value: bson.D{{Key: "$in", Value: keys}}})
		res, err := s.coll.UpdateMany(ctx, filter, update)
		if err != nil {
			return 0, fmt.Errorf("%s: %d tasks: %w", what, len(refs), err)
		}
		matched = res.MatchedCount
	} else {
		models := make([]mongo.WriteModel, len(refs))
		for i, key := range keys {
			filter := append(bson.D{{Key: "_id", Value: key}, {Key: "assignmentEpoch", Value: epochFilter(refs[0].Epoch)}}, conds...)
			models[i] = byKey(filter, update)
		}
		res, err := s.coll.BulkWrite(ctx, models, options.BulkWrite().SetOrdered(false))
		if err != nil {
			return 0, fmt.Errorf("%s: %d tasks: %w", what, len(refs), err)
		}
		matched = res.MatchedCount
	}
	for _, r := range refs {
		if pushes(update) {
			s.pushed(ctx, r.ID, r.Key)
		}
	}
	return matched, nil
}

// byKey is one statement of a write of many tasks: update, applied to
// the task that filter finds by its _id. It is sent as a multi-document
// update, which on MongoDB and FerretDB alike changes the one document an
// _id matches: FerretDB v1 keeps a PostgreSQL connection for each
// single-document statement until the whole command has run, so that a
// command of more statements than its pool holds (50) waits forever, and
// it frees the connection of a multi-document one at once.
func byKey(filter, update bson.D) mongo.WriteModel {
	return mongo.NewUpdateManyModel().SetFilter(filter).SetUpdate(update)
}

// Applied records that the worker of ref runs with attachments version,
// and clears the rejection it supersedes. A node delivers a task's updates
// one at a time and in order, so any rejection on record came before this
// update; keeping it would report a refusal of attachments the worker has
// since moved past. Python writers never bump the version, so the stale
// rejection can carry the very version now applied: only removing it tells
// a reader that the newest attachments were taken.
//
// applied are the attachments the worker now runs with, recorded as
// appliedAttachments: another writer may store attachments the node then
// refuses, and whoever checks a change against the running ones must not
// read those.
func (s *Store) Applied(ctx context.Context, ref Ref, version int64, applied Attachments) error {
	return s.fenced(ctx, ref, s.withEntry(bson.D{
		{Key: "$set", Value: bson.D{{Key: "appliedAttachmentsVersion", Value: version}, {Key: "appliedAttachments", Value: applied}}},
		{Key: "$unset", Value: bson.D{{Key: "attachmentsRejection", Value: ""}}},
	}, Entry{Event: EventUpdateApplied, Epoch: ref.Epoch, Version: version}))
}

// Reject records that the worker of ref refused attachments version r,
// and running, the attachments it keeps (see Applied): from now on the
// stored attachments are not the running ones.
func (s *Store) Reject(ctx context.Context, ref Ref, r Rejection, running Attachments) error {
	r = r.Bounded()
	r.At = NowMillis()
	e := Entry{Event: EventUpdateRejected, Epoch: ref.Epoch, Version: r.Version, Message: r.Message}
	for _, f := range r.Fields {
		e.Paths = append(e.Paths, f.Path)
	}
	return s.fenced(ctx, ref, s.withEntry(bson.D{{Key: "$set", Value: bson.D{
		{Key: "attachmentsRejection", Value: r},
		{Key: "appliedAttachments", Value: running},
	}}}, e))
}

// MarkStuck records that the worker of ref did not stop in time; note says
// which hook and for how long.
func (s *Store) MarkStuck(ctx context.Context, ref Ref, note string) error {
	return s.fenced(ctx, ref, s.withEntry(bson.D{{Key: "$set", Value: bson.D{
		{Key: "stuck", Value: note},
		{Key: "updateDateTime", Value: NowMillis()},
	}}}, Entry{Event: EventStuck, Epoch: ref.Epoch, Message: note}))
}

// Refuse hands the task of ref back (Created, no executor) with the
// reason, for a node that is at its task limit. The task stays visible as
// refused instead of waiting silently in a queue.
func (s *Store) Refuse(ctx context.Context, ref Ref, r Refusal) error {
	r.At = NowMillis()
	r.Epoch = ref.Epoch
	return s.fenced(ctx, ref, s.withEntry(bson.D{
		{Key: "$set", Value: bson.D{
			{Key: "lifecycleStatus", Value: Created},
			{Key: "refusal", Value: r},
			{Key: "updateDateTime", Value: NowMillis()},
		}},
		{Key: "$unset", Value: bson.D{{Key: "executor", Value: ""}}},
	}, Entry{Event: EventRefused, Node: r.SkaldID, Epoch: ref.Epoch, Message: r.Reason}), notCancelled)
}

// notCancelled is the extra condition of a node's writes that would move a
// task out of Cancelled: a user's cancel is final, also when it lands
// between a node's read and its write.
var notCancelled = bson.E{Key: "lifecycleStatus", Value: bson.D{{Key: "$ne", Value: Cancelled}}}

func epochFilter(epoch int64) any {
	// Tasks assigned by Python tooling have no epoch at all.
	return zeroOrMissing(epoch)
}

// zeroOrMissing matches v, and when v is zero also a missing or null
// field: one of the additions Python tooling does not write.
func zeroOrMissing(v int64) any {
	if v == 0 {
		return bson.D{{Key: "$in", Value: bson.A{int64(0), nil}}}
	}
	return v
}

func (s *Store) fenced(ctx context.Context, ref Ref, update bson.D, conds ...bson.E) error {
	filter := bson.D{{Key: "id", Value: ref.ID}, {Key: "assignmentEpoch", Value: epochFilter(ref.Epoch)}}
	if ref.Key != nil {
		filter = append(bson.D{{Key: "_id", Value: ref.Key}}, filter...)
	}
	filter = append(filter, conds...)
	res, err := s.coll.UpdateOne(ctx, filter, update)
	if err != nil {
		return fmt.Errorf("writing task %q: %w", ref.ID, err)
	}
	if res.MatchedCount == 0 {
		return fmt.Errorf("task %q, epoch %d: %w", ref.ID, ref.Epoch, ErrFenced)
	}
	if pushes(update) {
		s.pushed(ctx, ref.ID, ref.Key)
	}
	return nil
}

// HandBack unassigns the task of ref and makes it Created again, so that
// a controller can give it to another node. A node does this for its tasks
// when it shuts down. A task that ended is not handed back (ErrFenced):
// made Created again, a finished or failed task would run once more.
func (s *Store) HandBack(ctx context.Context, ref Ref) error {
	return s.fenced(ctx, ref, s.handBack(ref.Epoch), runnable)
}

func (s *Store) handBack(epoch int64) bson.D {
	return s.withEntry(bson.D{
		{Key: "$set", Value: bson.D{
			{Key: "lifecycleStatus", Value: Created},
			{Key: "updateDateTime", Value: NowMillis()},
		}},
		{Key: "$unset", Value: bson.D{{Key: "executor", Value: ""}}},
	}, Entry{Event: EventHandedBack, Epoch: epoch, Message: "the node stopped"})
}

// HandBackAll is HandBack for many tasks of executor in one write: tasks
// that share an assignment epoch, each addressed by its _id (Ref.Key,
// which must be set). It returns how many it handed back; fewer than
// len(refs) means some were fenced or ended, and HandBack tells which.
// The filter names the executor, an equality that FerretDB evaluates in
// SQL, so that only this node's documents reach the key list: a node
// stopping with thousands of tasks hands them back in a few writes.
func (s *Store) HandBackAll(ctx context.Context, executor string, refs []Ref) (int64, error) {
	var epoch int64
	if len(refs) > 0 {
		epoch = refs[0].Epoch
	}
	return s.fencedMany(ctx, "handing back", refs, s.handBack(epoch),
		bson.E{Key: "executor", Value: executor}, runnable)
}

// GetMany reads the tasks with the given ids: by _id, then, for the ids
// not found so (documents written by Python tooling, or deleted tasks), by
// the id field. Ids that are not in the collection are simply missing
// from the result.
//
// What it costs grows with ids, not with the collection: on MongoDB each
// step is a query for a list of ids in chunks of manyChunk, an index hit
// per id. FerretDB matches a list by reading every document of the
// collection (decoding each in Go), so that a node handling a burst of
// events in batches read its whole collection per batch; there each id
// is read on its own, by equality, which its lookup indexes (or, on
// SQLite, its primary key for _id) serve, readers at a time.
func (s *Store) GetMany(ctx context.Context, ids []string) ([]Task, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	what := fmt.Sprintf("reading %d tasks", len(ids))
	found, err := s.readKeys(ctx, what, "_id", ids)
	if err != nil || len(found) == len(ids) {
		return found, err
	}
	have := make(map[string]bool, len(found))
	for _, t := range found {
		have[t.ID] = true
	}
	var rest []string
	for _, id := range ids {
		if !have[id] {
			rest = append(rest, id)
		}
	}
	if len(rest) == 0 {
		return found, nil // ids named twice
	}
	// On SQLite a filter on id reads every document however it is asked
	// for: one query for the list is the cheapest there.
	key := "id"
	if s.scans {
		more, err := s.find(ctx, what, bson.D{{Key: key, Value: oneOf(rest)}})
		return append(found, more...), err
	}
	more, err := s.readKeys(ctx, what, key, rest)
	return append(found, more...), err
}

// manyChunk is the most ids a query of GetMany names, and readers how
// many GetMany reads at once on a server that reads ids one by one.
const (
	manyChunk = 500
	readers   = 4
)

// readKeys reads the tasks whose key (_id or id) is one of ids: one query
// per chunk of manyChunk ids, or, on a server that matches a list by
// reading the whole collection (see GetMany), one query per id.
func (s *Store) readKeys(ctx context.Context, what, key string, ids []string) ([]Task, error) {
	if !s.listScans || len(ids) == 1 {
		var out []Task
		for chunk := range slices.Chunk(ids, manyChunk) {
			got, err := s.find(ctx, what, bson.D{{Key: key, Value: oneOf(chunk)}})
			if err != nil {
				return nil, err
			}
			out = append(out, got...)
		}
		return out, nil
	}
	return s.readEach(ctx, what, key, ids)
}

// readEach reads the tasks whose key (_id or id) is one of ids, one query
// per id, readers at a time. An id not found is missing from the result;
// any other failure, or the end of ctx, fails the whole read.
func (s *Store) readEach(ctx context.Context, what, key string, ids []string) ([]Task, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	got := make([]*Task, len(ids))
	var (
		failOnce sync.Once
		failed   error
		skipped  atomic.Bool
	)
	inflight.Each(len(ids), readers, func(i int) {
		if ctx.Err() != nil {
			skipped.Store(true) // not read, which is not the same as not found
			return
		}
		var t Task
		err := s.coll.FindOne(ctx, bson.D{{Key: key, Value: ids[i]}}, options.FindOne().SetProjection(noHistory)).Decode(&t)
		switch {
		case err == nil:
			got[i] = &t
		case !errors.Is(err, mongo.ErrNoDocuments):
			failOnce.Do(func() {
				failed = fmt.Errorf("%s: task %q: %w", what, ids[i], err)
				cancel()
			})
		}
	})
	if failed != nil {
		return nil, failed
	}
	if skipped.Load() {
		return nil, fmt.Errorf("%s: %w", what, context.Cause(ctx))
	}
	out := make([]Task, 0, len(ids))
	for _, t := range got {
		if t != nil {
			out = append(out, *t)
		}
	}
	return out, nil
}

// oneOf matches one of ids. One id is asked for as an equality, which
// FerretDB evaluates with its index (on _id) or in SQL (on PostgreSQL);
// it reads every document to match a list.
func oneOf(ids []string) any {
	if len(ids) == 1 {
		return ids[0]
	}
	return bson.D{{Key: "$in", Value: ids}}
}

// ErrClassMismatch is returned by ClaimActive for an id that exists with
// another class.
var ErrClassMismatch = errors.New("a task with this id exists with another className")

// ClaimActive makes executor the owner of the Active (edge) task t: it
// inserts t when its id is new, and otherwise takes the stored task over,
// keeping its attachments, and bumps the assignment epoch so that an
// earlier owner is fenced off. A stored task that is Cancelled or Finished
// is left as it is: those are terminal. It returns the task as stored.
func (s *Store) ClaimActive(ctx context.Context, t *Task, executor string) (*Task, error) {
	t.Executor = &executor
	t.Mode = Active
	t.LifecycleStatus = Assigning
	t.AssignmentEpoch = 1
	err := s.Create(ctx, t)
	var dup *DuplicateIDError
	if !errors.As(err, &dup) {
		if err != nil {
			return nil, err
		}
		return s.Get(ctx, t.ID)
	}
	cur, err := s.Get(ctx, t.ID)
	if err != nil {
		return nil, err
	}
	if cur.ClassName != t.ClassName {
		return cur, fmt.Errorf("task %q is a %s in MongoDB, not a %s: %w", t.ID, cur.ClassName, t.ClassName, ErrClassMismatch)
	}
	if cur.LifecycleStatus == Cancelled || cur.LifecycleStatus == Finished {
		return cur, nil
	}
	var out Task
	err = s.coll.FindOneAndUpdate(ctx,
		bson.D{{Key: "_id", Value: cur.Key}, {Key: "className", Value: t.ClassName}},
		s.withEntry(bson.D{
			{Key: "$set", Value: bson.D{
				{Key: "executor", Value: executor},
				{Key: "mode", Value: Active},
				{Key: "lifecycleStatus", Value: Assigning},
				{Key: "updateDateTime", Value: NowMillis()},
			}},
			clearedOnAssign,
			{Key: "$inc", Value: bson.D{{Key: "assignmentEpoch", Value: int64(1)}}},
		}, Entry{Event: EventAssigned, Node: executor, Epoch: cur.AssignmentEpoch + 1, Version: cur.AttachmentsVersion}),
		options.FindOneAndUpdate().SetReturnDocument(options.After),
	).Decode(&out)
	if err != nil {
		return nil, fmt.Errorf("claiming task %q: %w", t.ID, err)
	}
	s.written(ctx, &out)
	return &out, nil
}
