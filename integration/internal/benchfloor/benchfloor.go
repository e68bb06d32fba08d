// Package benchfloor measures, in the run of a benchmark, what the
// MongoDB server itself takes for the writes and reads that the benchmark's
// code sends: the raw driver sends the same shape of commands to a scratch
// copy of the benchmark's collection, on the same server and under the
// same load. A benchmark divides its own figure by the floor, so that the
// ratio, not a machine-dependent time, is the figure; and a ratio near 1
// says that what is left is the server's cost, which no batching removes.
//
// The copy is byte for byte the collection's documents, so that each
// statement rewrites a document of the same size; it needs to know no
// field of the task document beyond the names the caller filters on.
package benchfloor

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Scratch is a copy of a collection, which Update writes document after
// document.
type Scratch struct {
	coll *mongo.Collection
	docs []bson.Raw
	next int
}

// Copy copies every document of src into a new collection of the same
// database, named after src, in inserts of 1,000. On FerretDB's
// PostgreSQL backend the copy gets the lookup indexes of the embedded
// stack, whose trigger indexes every table created. Drop removes it.
func Copy(ctx context.Context, src *mongo.Collection) (*Scratch, error) {
	cur, err := src.Find(ctx, bson.D{})
	if err != nil {
		return nil, fmt.Errorf("floor: reading %s to copy it: %w", src.Name(), err)
	}
	var docs []bson.Raw
	for cur.Next(ctx) {
		docs = append(docs, append(bson.Raw(nil), cur.Current...))
	}
	if err := cur.Err(); err != nil {
		return nil, fmt.Errorf("floor: reading %s to copy it: %w", src.Name(), err)
	}
	_ = cur.Close(ctx)
	s := &Scratch{coll: src.Database().Collection(src.Name() + "_floor"), docs: docs}
	_ = s.coll.Drop(ctx) // left over by a run that did not end
	for lo := 0; lo < len(docs); lo += 1000 {
		batch := make([]any, 0, 1000)
		for _, d := range docs[lo:min(lo+1000, len(docs))] {
			batch = append(batch, d)
		}
		if _, err := s.coll.InsertMany(ctx, batch); err != nil {
			return nil, fmt.Errorf("floor: copying %s: %w", src.Name(), err)
		}
	}
	return s, nil
}

// Len is the number of documents copied.
func (s *Scratch) Len() int { return len(s.docs) }

// Drop removes the copy.
func (s *Scratch) Drop(ctx context.Context) error { return s.coll.Drop(ctx) }

// Update sends one update command of size statements, as the task store
// writes many tasks at once (see Prepare), and returns its time.
func (s *Scratch) Update(ctx context.Context, size int, match []string, set bson.D) (time.Duration, error) {
	u, err := s.Prepare(size, match, set)
	if err != nil {
		return 0, err
	}
	return u.Send(ctx)
}

// An Update is one update command, prepared by Prepare and sent by Send.
type Update struct {
	coll   *mongo.Collection
	models []mongo.WriteModel
}

// Prepare makes an update command of size statements, as the task store
// writes many tasks at once: each statement a multi-document update
// filtered by one document's _id and its values of the fields match (the
// conditions of a fenced or claiming write), which sets set, pushes an
// entry onto a list of at most 100 and increments a counter, as a
// transition that records history does. The statements take the next
// documents of the copy, so that each one changes its document, and the
// commands prepared one after the other touch different documents until
// the copy is used up; past the last, they start again at the first
// (their conditions then still hold: the writes change none of the fields
// matched). Prepare is not safe for concurrent use; Send is.
func (s *Scratch) Prepare(size int, match []string, set bson.D) (*Update, error) {
	if len(s.docs) == 0 {
		return nil, fmt.Errorf("floor: the copy holds no documents to update")
	}
	now := time.Now().UnixMilli()
	models := make([]mongo.WriteModel, size)
	for i := range models {
		d := s.docs[s.next%len(s.docs)]
		s.next++
		filter := bson.D{{Key: "_id", Value: d.Lookup("_id")}}
		for _, f := range match {
			v, err := d.LookupErr(f)
			if err != nil {
				filter = append(filter, bson.E{Key: f, Value: nil}) // missing matches null
				continue
			}
			filter = append(filter, bson.E{Key: f, Value: v})
		}
		models[i] = mongo.NewUpdateManyModel().SetFilter(filter).SetUpdate(bson.D{
			{Key: "$set", Value: append(bson.D{{Key: "floorAt", Value: now}}, set...)},
			{Key: "$push", Value: bson.D{{Key: "floorHistory", Value: bson.D{
				{Key: "$each", Value: bson.A{bson.D{{Key: "event", Value: "floor"}, {Key: "at", Value: now}}}},
				{Key: "$slice", Value: -100},
			}}}},
			{Key: "$inc", Value: bson.D{{Key: "floorWrites", Value: int64(1)}}},
		})
	}
	return &Update{coll: s.coll, models: models}, nil
}

// Send sends the command and returns its time.
func (u *Update) Send(ctx context.Context) (time.Duration, error) {
	start := time.Now()
	res, err := u.coll.BulkWrite(ctx, u.models, options.BulkWrite().SetOrdered(false))
	took := time.Since(start)
	if err != nil {
		return took, fmt.Errorf("floor: update of %d statements: %w", len(u.models), err)
	}
	if res.MatchedCount != int64(len(u.models)) {
		return took, fmt.Errorf("floor: update of %d statements matched %d documents: a condition of match changes between writes", len(u.models), res.MatchedCount)
	}
	return took, nil
}

// Together runs f(i) for every i below k, all at once, as a caller with k
// writes in flight sends them, and returns the time until the last
// returned, and the errors of those that failed.
func Together(k int, f func(i int) error) (time.Duration, error) {
	errs := make([]error, k)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range k {
		wg.Go(func() { errs[i] = f(i) })
	}
	wg.Wait()
	return time.Since(start), errors.Join(errs...)
}

// Find reads every document of the copy that filter matches, with opts
// (the projection of the code measured), and returns the time and how
// many it read.
func (s *Scratch) Find(ctx context.Context, filter bson.D, opts ...options.Lister[options.FindOptions]) (time.Duration, int, error) {
	start := time.Now()
	cur, err := s.coll.Find(ctx, filter, opts...)
	if err != nil {
		return 0, 0, fmt.Errorf("floor: find %v: %w", filter, err)
	}
	var n int
	for cur.Next(ctx) {
		n++
	}
	if err := cur.Err(); err != nil {
		return 0, 0, fmt.Errorf("floor: find %v: %w", filter, err)
	}
	return time.Since(start), n, cur.Close(ctx)
}

// Mean is the mean of ds, zero for none.
func Mean(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	return sum / time.Duration(len(ds))
}
