package task

import (
	"context"
	"fmt"
	"regexp"
	"sort"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// The queries of a controller: the dispatch candidates, paged listings,
// counts by status and recent activity.

// passive matches Passive tasks, and documents without a mode, which
// Python reads as Passive.
var passive = bson.E{Key: "mode", Value: bson.D{{Key: "$in", Value: bson.A{Passive, nil}}}}

// Pending returns every Passive task a dispatcher may act on: the ones
// waiting (Created), the ones some node holds (Assigning, Running), whose
// node may have died, and the Failed ones, which may be due for a retry.
// It is one query (a scan on FerretDB), so that a dispatch cycle sees one
// consistent picture, node loads included.
func (s *Store) Pending(ctx context.Context) ([]Task, error) {
	return s.find(ctx, "listing pending tasks", bson.D{
		passive,
		{Key: "lifecycleStatus", Value: bson.D{{Key: "$in", Value: bson.A{Created, Assigning, Running, Failed}}}},
	})
}

// Recent returns the tasks that are not terminal or were updated since
// the given time (epoch ms): the tasks that can change, which is what the
// controller's event stream diffs.
func (s *Store) Recent(ctx context.Context, since int64) ([]Task, error) {
	return s.find(ctx, "listing recent tasks", bson.D{{Key: "$or", Value: bson.A{
		bson.D{{Key: "lifecycleStatus", Value: bson.D{{Key: "$in", Value: bson.A{Created, Assigning, Running, Paused}}}}},
		bson.D{{Key: "updateDateTime", Value: bson.D{{Key: "$gte", Value: since}}}},
	}}})
}

// find returns every task that matches filter; what names the query in
// errors.
func (s *Store) find(ctx context.Context, what string, filter bson.D, opts ...options.Lister[options.FindOptions]) ([]Task, error) {
	// Later options win: a caller's own projection replaces this one.
	opts = append([]options.Lister[options.FindOptions]{options.Find().SetProjection(noHistory)}, opts...)
	cur, err := s.coll.Find(ctx, filter, opts...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	out := []Task{}
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}

// Filter selects tasks for List. Empty fields select everything.
type Filter struct {
	Status    string // case-insensitive substring of lifecycleStatus
	ClassName string // case-insensitive substring of className
	ID        string // case-insensitive substring of id
	Executor  string // exact executor
	Class     string // exact className, for the tasks of one class
	// Search is a case-insensitive substring of any of id, className,
	// executor and lifecycleStatus: the one box an operator types into.
	Search string
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
	if f.Class != "" {
		q = append(q, bson.E{Key: "className", Value: f.Class})
	}
	if f.Search != "" {
		re := bson.D{{Key: "$regex", Value: regexp.QuoteMeta(f.Search)}, {Key: "$options", Value: "i"}}
		or := bson.A{}
		for _, k := range []string{"id", "className", "executor", "lifecycleStatus"} {
			or = append(or, bson.D{{Key: k, Value: re}})
		}
		q = append(q, bson.E{Key: "$or", Value: or})
	}
	return q
}

// List returns one page of the tasks that match f, newest first, and the
// number of all matches.
func (s *Store) List(ctx context.Context, f Filter, page, pageSize int) ([]Task, int64, error) {
	q := f.query()
	total, err := s.coll.CountDocuments(ctx, q)
	if err != nil {
		return nil, 0, fmt.Errorf("counting tasks: %w", err)
	}
	out, err := s.find(ctx, "listing tasks", q, options.Find().
		SetSort(bson.D{{Key: "createDateTime", Value: -1}, {Key: "id", Value: 1}}).
		SetSkip(int64((page-1)*pageSize)).
		SetLimit(int64(pageSize)))
	return out, total, err
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
	return s.CountByStatusOf(ctx, Filter{})
}

// CountByStatusOf returns the number of the tasks that match f per
// lifecycleStatus, in one aggregation.
func (s *Store) CountByStatusOf(ctx context.Context, f Filter) (map[string]int64, error) {
	var match bson.A
	if q := f.query(); len(q) > 0 {
		match = bson.A{bson.D{{Key: "$match", Value: q}}}
	}
	cur, err := s.coll.Aggregate(ctx, append(match,
		bson.D{{Key: "$group", Value: bson.D{
			{Key: "_id", Value: "$lifecycleStatus"},
			{Key: "count", Value: bson.D{{Key: "$sum", Value: 1}}},
		}}},
	))
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
		{&a.Finished, bson.D{{Key: "updateDateTime", Value: after}, {Key: "lifecycleStatus", Value: Finished}}},
		{&a.Failed, bson.D{{Key: "updateDateTime", Value: after}, {Key: "lifecycleStatus", Value: Failed}}},
	} {
		n, err := s.coll.CountDocuments(ctx, q.filter)
		if err != nil {
			return a, fmt.Errorf("counting recent task activity: %w", err)
		}
		*q.dst = n
	}
	return a, nil
}
