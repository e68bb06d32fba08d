package task

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// terminalBefore matches the tasks that ended (Finished, Failed or
// Cancelled) and were last written before the given time (epoch ms).
func terminalBefore(before int64) bson.D {
	return bson.D{
		{Key: "lifecycleStatus", Value: bson.D{{Key: "$in", Value: bson.A{Finished, Failed, Cancelled}}}},
		{Key: "updateDateTime", Value: bson.D{{Key: "$lt", Value: before}}},
	}
}

// DeleteEnded deletes at most limit tasks that ended before the given
// time (epoch ms, by their updateDateTime) and returns how many it
// deleted; a caller deletes a backlog by calling it until it returns
// fewer than limit. One batch is two commands: a read of the keys of
// some matches, then one delete by those keys that repeats the
// condition, so that a task retried or written between the two is kept.
// Bounding the batch bounds how long one delete holds a server that
// serializes its writes, as FerretDB does.
func (s *Store) DeleteEnded(ctx context.Context, before int64, limit int) (int64, error) {
	if limit <= 0 {
		return 0, fmt.Errorf("deleting ended tasks: the batch size must be positive, not %d", limit)
	}
	// No sort: every match is due, in any order, and a sort would make
	// the server read all matches before it returns the first batch.
	cur, err := s.coll.Find(ctx, terminalBefore(before), options.Find().
		SetProjection(bson.D{{Key: "_id", Value: 1}}).
		SetLimit(int64(limit)))
	if err != nil {
		return 0, fmt.Errorf("finding ended tasks to delete: %w", err)
	}
	var keys []struct {
		Key any `bson:"_id"`
	}
	if err := cur.All(ctx, &keys); err != nil {
		return 0, fmt.Errorf("finding ended tasks to delete: %w", err)
	}
	if len(keys) == 0 {
		return 0, nil
	}
	ids := make(bson.A, len(keys))
	for i, k := range keys {
		ids[i] = k.Key
	}
	filter := append(bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}}, terminalBefore(before)...)
	res, err := s.coll.DeleteMany(ctx, filter)
	if err != nil {
		return 0, fmt.Errorf("deleting %d ended tasks: %w", len(keys), err)
	}
	return res.DeletedCount, nil
}

// StorageBytes returns the size of the task documents in bytes, as the
// server reports it ($collStats), for the metrics.
func (s *Store) StorageBytes(ctx context.Context) (int64, error) {
	cur, err := s.coll.Aggregate(ctx, bson.A{bson.D{{Key: "$collStats", Value: bson.D{{Key: "storageStats", Value: bson.D{}}}}}})
	if err != nil {
		return 0, fmt.Errorf("reading the size of the tasks collection: %w", err)
	}
	var rows []struct {
		Storage struct {
			Size any `bson:"size"`
		} `bson:"storageStats"`
	}
	if err := cur.All(ctx, &rows); err != nil {
		return 0, fmt.Errorf("reading the size of the tasks collection: %w", err)
	}
	var n int64
	for _, r := range rows {
		switch v := r.Storage.Size.(type) {
		case int32:
			n += int64(v)
		case int64:
			n += v
		case float64:
			n += int64(v)
		}
	}
	return n, nil
}
