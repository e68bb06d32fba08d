package task

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Collection is the collection Python Skalds keeps its tasks in.
const Collection = "tasks"

// ErrNotFound is returned for a task id that is not in the collection.
var ErrNotFound = errors.New("task not found")

// ErrFenced is returned by a fenced write whose epoch is no longer the
// task's: the task was reassigned, and the writer must stop acting on it.
var ErrFenced = errors.New("task was reassigned (assignment epoch moved on)")

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
}

// Open connects to MongoDB at uri and makes sure the unique index on id
// exists. Close releases the connection.
func Open(ctx context.Context, uri, dbName string) (*Store, error) {
	opts := options.Client().ApplyURI(uri).
		SetServerSelectionTimeout(5 * time.Second).
		SetConnectTimeout(5 * time.Second)
	client, err := mongo.Connect(opts)
	if err != nil {
		return nil, fmt.Errorf("mongo %s: %w", uri, err)
	}
	s := &Store{client: client, coll: client.Database(dbName).Collection(Collection)}
	if err := s.ensureIndex(ctx); err != nil {
		_ = client.Disconnect(context.Background())
		return nil, err
	}
	return s, nil
}

func (s *Store) ensureIndex(ctx context.Context) error {
	_, err := s.coll.Indexes().CreateOne(ctx, mongo.IndexModel{
		Keys:    bson.D{{Key: "id", Value: 1}},
		Options: options.Index().SetUnique(true).SetName("id_1"),
	})
	if err != nil {
		return fmt.Errorf("mongo: creating the unique index on tasks.id (is MONGO_HOST reachable?): %w", err)
	}
	return nil
}

// Close disconnects from MongoDB.
func (s *Store) Close(ctx context.Context) error { return s.client.Disconnect(ctx) }

// Create inserts t. An existing id gives a *DuplicateIDError.
func (s *Store) Create(ctx context.Context, t *Task) error {
	if t.ID == "" || t.ClassName == "" {
		return errors.New("task: id and className are required")
	}
	_, err := s.coll.InsertOne(ctx, t)
	if mongo.IsDuplicateKeyError(err) {
		return &DuplicateIDError{ID: t.ID}
	}
	return err
}

// Get reads one task by id.
func (s *Store) Get(ctx context.Context, id string) (*Task, error) {
	var t Task
	err := s.coll.FindOne(ctx, bson.D{{Key: "id", Value: id}}).Decode(&t)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	if err != nil {
		return nil, fmt.Errorf("reading task %q: %w", id, err)
	}
	return &t, nil
}

// ListByExecutor returns the tasks assigned to executor whose status says
// they should run, for a node converging on start.
func (s *Store) ListByExecutor(ctx context.Context, executor string) ([]Task, error) {
	cur, err := s.coll.Find(ctx, bson.D{
		{Key: "executor", Value: executor},
		{Key: "lifecycleStatus", Value: bson.D{{Key: "$in", Value: bson.A{Created, Assigning, Running}}}},
	})
	if err != nil {
		return nil, fmt.Errorf("listing tasks of %q: %w", executor, err)
	}
	var out []Task
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("listing tasks of %q: %w", executor, err)
	}
	return out, nil
}

// Assign sets the executor, moves the task to Assigning and bumps the
// assignment epoch, which fences off any previous assignee. It returns the
// new epoch.
func (s *Store) Assign(ctx context.Context, id, executor string) (int64, error) {
	var t Task
	err := s.coll.FindOneAndUpdate(ctx,
		bson.D{{Key: "id", Value: id}},
		bson.D{
			{Key: "$set", Value: bson.D{
				{Key: "executor", Value: executor},
				{Key: "lifecycleStatus", Value: Assigning},
				{Key: "updateDateTime", Value: NowMillis()},
			}},
			{Key: "$unset", Value: bson.D{{Key: "error", Value: ""}}},
			{Key: "$inc", Value: bson.D{{Key: "assignmentEpoch", Value: int64(1)}}},
		},
		options.FindOneAndUpdate().SetReturnDocument(options.After),
	).Decode(&t)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return 0, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	if err != nil {
		return 0, fmt.Errorf("assigning task %q: %w", id, err)
	}
	return t.AssignmentEpoch, nil
}

// SetAttachments replaces the attachments and bumps their version, which
// it returns. The caller validates them first.
func (s *Store) SetAttachments(ctx context.Context, id string, attachments []byte) (int64, error) {
	var t Task
	err := s.coll.FindOneAndUpdate(ctx,
		bson.D{{Key: "id", Value: id}},
		bson.D{
			{Key: "$set", Value: bson.D{
				{Key: "attachments", Value: Attachments(attachments)},
				{Key: "updateDateTime", Value: NowMillis()},
			}},
			{Key: "$inc", Value: bson.D{{Key: "attachmentsVersion", Value: int64(1)}}},
		},
		options.FindOneAndUpdate().SetReturnDocument(options.After),
	).Decode(&t)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return 0, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	if err != nil {
		return 0, fmt.Errorf("updating attachments of task %q: %w", id, err)
	}
	return t.AttachmentsVersion, nil
}

// SetStatus writes a status without fencing, for users and controllers;
// a node uses Report.
func (s *Store) SetStatus(ctx context.Context, id string, status Status) error {
	res, err := s.coll.UpdateOne(ctx,
		bson.D{{Key: "id", Value: id}},
		bson.D{{Key: "$set", Value: bson.D{
			{Key: "lifecycleStatus", Value: status},
			{Key: "updateDateTime", Value: NowMillis()},
		}}})
	if err != nil {
		return fmt.Errorf("setting status of task %q: %w", id, err)
	}
	if res.MatchedCount == 0 {
		return fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	return nil
}

// Report is a node's status write: it applies only while epoch is still
// the task's assignment epoch, and otherwise returns ErrFenced. A failure
// text is stored with Failed and cleared otherwise.
func (s *Store) Report(ctx context.Context, id string, epoch int64, status Status, failure string) error {
	set := bson.D{
		{Key: "lifecycleStatus", Value: status},
		{Key: "updateDateTime", Value: NowMillis()},
	}
	update := bson.D{{Key: "$set", Value: set}}
	if failure != "" {
		update[0].Value = append(set, bson.E{Key: "error", Value: failure})
	} else {
		update = append(update, bson.E{Key: "$unset", Value: bson.D{{Key: "error", Value: ""}}})
	}
	return s.fenced(ctx, id, epoch, update)
}

// Applied records that the worker of epoch runs with attachments version.
func (s *Store) Applied(ctx context.Context, id string, epoch, version int64) error {
	return s.fenced(ctx, id, epoch, bson.D{{Key: "$set", Value: bson.D{
		{Key: "appliedAttachmentsVersion", Value: version},
	}}})
}

// Reject records that the worker of epoch refused attachments version r.
func (s *Store) Reject(ctx context.Context, id string, epoch int64, r Rejection) error {
	r.At = NowMillis()
	return s.fenced(ctx, id, epoch, bson.D{{Key: "$set", Value: bson.D{
		{Key: "attachmentsRejection", Value: r},
	}}})
}

func (s *Store) fenced(ctx context.Context, id string, epoch int64, update bson.D) error {
	var epochFilter any = epoch
	if epoch == 0 {
		// Tasks assigned by Python tooling have no epoch at all.
		epochFilter = bson.D{{Key: "$in", Value: bson.A{int64(0), nil}}}
	}
	res, err := s.coll.UpdateOne(ctx,
		bson.D{{Key: "id", Value: id}, {Key: "assignmentEpoch", Value: epochFilter}}, update)
	if err != nil {
		return fmt.Errorf("writing task %q: %w", id, err)
	}
	if res.MatchedCount == 0 {
		return fmt.Errorf("task %q, epoch %d: %w", id, epoch, ErrFenced)
	}
	return nil
}

// HandBack unassigns the task of epoch and makes it Created again, so that
// a controller can give it to another node. A node does this for its tasks
// when it shuts down.
func (s *Store) HandBack(ctx context.Context, id string, epoch int64) error {
	return s.fenced(ctx, id, epoch, bson.D{
		{Key: "$set", Value: bson.D{
			{Key: "lifecycleStatus", Value: Created},
			{Key: "updateDateTime", Value: NowMillis()},
		}},
		{Key: "$unset", Value: bson.D{{Key: "executor", Value: ""}}},
	})
}
