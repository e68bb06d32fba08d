package embedded

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"go.mongodb.org/mongo-driver/v2/bson"
)

// TestLookupIndexes checks that a collection FerretDB creates on
// PostgreSQL gets the lookup indexes, that PostgreSQL uses them for the
// SQL FerretDB sends for an equality filter (_jsonb->'_id' @> value), and
// that IndexLookups restores one that is missing from an existing table.
func TestLookupIndexes(t *testing.T) {
	t.Parallel()
	_, ctx, m := startOnPostgreSQL(t)
	client := connectMongo(t, ctx, m.URI())
	if _, err := client.Database("app").Collection("jobs").InsertOne(ctx, bson.D{{Key: "_id", Value: "j1"}, {Key: "executor", Value: "n1"}}); err != nil {
		t.Fatal(err)
	}

	pg, err := pgx.Connect(ctx, m.pgURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close(context.Background())
	var table string
	if err := pg.QueryRow(ctx, `SELECT tablename FROM pg_tables WHERE schemaname = 'app' AND tablename LIKE 'jobs%'`).Scan(&table); err != nil {
		t.Fatalf("finding the table of app.jobs: %v", err)
	}
	indexes := func() map[string]string {
		rows, err := pg.Query(ctx, `SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'app' AND tablename = $1`, table)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		out := map[string]string{}
		for rows.Next() {
			var name, def string
			if err := rows.Scan(&name, &def); err != nil {
				t.Fatal(err)
			}
			out[name] = def
		}
		return out
	}
	gin := func() map[string]string {
		out := map[string]string{}
		for name, def := range indexes() {
			for _, f := range LookupFields {
				if strings.Contains(def, "USING gin") && strings.Contains(def, "'"+f+"'::text") {
					out[f] = name
				}
			}
		}
		return out
	}
	got := gin()
	if len(got) != len(LookupFields) {
		t.Fatalf("GIN indexes by field %v, want one for each of %v; all indexes: %v", got, LookupFields, indexes())
	}

	// The plan of the query FerretDB sends for {_id: "j1"}; with sequential
	// scans discouraged, since a table of one row is cheaper to scan.
	if _, err := pg.Exec(ctx, "SET enable_seqscan = off"); err != nil {
		t.Fatal(err)
	}
	var plan strings.Builder
	rows, err := pg.Query(ctx, `EXPLAIN SELECT _jsonb FROM `+pgx.Identifier{"app", table}.Sanitize()+` WHERE _jsonb->'_id' @> '"j1"'`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		plan.WriteString(line + "\n")
	}
	rows.Close()
	if !strings.Contains(plan.String(), got["_id"]) {
		t.Fatalf("plan of a read by _id does not use %s:\n%s", got["_id"], plan.String())
	}

	last := LookupFields[len(LookupFields)-1]
	if _, err := pg.Exec(ctx, "DROP INDEX "+pgx.Identifier{"app", got[last]}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	if err := IndexLookups(ctx, m.pgURL); err != nil {
		t.Fatal(err)
	}
	if again := gin(); again[last] == "" {
		t.Fatalf("IndexLookups did not index %s of an existing table again: %v", last, indexes())
	}
}
