package embedded

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// LookupFields are the document fields whose equality filters
// IndexLookups makes index hits on FerretDB's PostgreSQL backend: _id
// (every read and write of one task), id (a task written by Python
// tooling, whose _id is its own) and claimToken (the tasks one write of a
// dispatcher claimed, read back at once).
//
// Not executor, although a node lists its tasks by it: the statements of
// a write of many tasks filter on their _id and the executor, and for
// such a statement, once prepared, PostgreSQL plans to intersect both
// indexes, reading the executor's every task for each one (a node's 5,000
// starts took 40% longer so). Without it, a node's listing scans the table
// in SQL, a few milliseconds at 10,000 tasks.
var LookupFields = []string{"_id", "id", "claimToken"}

// lookupIndexSQL installs, in one PostgreSQL database, a function that
// gives a FerretDB collection's table one GIN index per lookup field, and
// an event trigger that calls it for every table created from then on.
//
// FerretDB v1 turns an equality filter {f: v} into the SQL condition
// _jsonb->'f' @> v. The only indexes it creates itself are B-trees on
// _jsonb->'f', which serve = and never @>, so even a read by _id scans the
// whole table: about 1 us per document, 15 ms per read at 10,000 tasks,
// and the same again inside every conditional update. A GIN index on the
// same expression serves @> (0.07 ms at 10,000 documents). fastupdate is
// off so that a lookup never scans a pending list that every update of a
// busy table would otherwise grow.
//
// Only tables in a schema that FerretDB manages (one holding its
// _ferretdb_database_metadata table) are indexed, and not that table.
const lookupIndexSQL = `
CREATE OR REPLACE FUNCTION public.skalds_index_lookups(t regclass, fields text[]) RETURNS void
LANGUAGE plpgsql AS $fn$
DECLARE
	rel text;
	nsp text;
	f text;
BEGIN
	SELECT c.relname, n.nspname INTO rel, nsp
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = t;
	IF rel = '_ferretdb_database_metadata'
		OR to_regclass(format('%I._ferretdb_database_metadata', nsp)) IS NULL
		OR NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = t AND attname = '_jsonb' AND NOT attisdropped) THEN
		RETURN;
	END IF;
	FOREACH f IN ARRAY fields LOOP
		EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %s USING gin ((_jsonb -> %L)) WITH (fastupdate = off)',
			left(rel, 40) || '_' || md5(f)::char(8) || '_contains', t, f);
	END LOOP;
END
$fn$;

CREATE OR REPLACE FUNCTION public.skalds_index_lookups_trigger() RETURNS event_trigger
LANGUAGE plpgsql AS $fn$
DECLARE
	obj record;
BEGIN
	FOR obj IN SELECT * FROM pg_event_trigger_ddl_commands() WHERE object_type = 'table' LOOP
		PERFORM public.skalds_index_lookups(obj.objid::regclass, {{fields}});
	END LOOP;
END
$fn$;
`

// IndexLookups makes equality filters on LookupFields index hits in every
// collection that FerretDB (v1, PostgreSQL backend) keeps in the
// PostgreSQL database at dbURL, now and in the collections it creates
// later. StartMongo does it for its own database; call it for a FerretDB
// of your own on PostgreSQL. It needs a role that may create event
// triggers (a superuser). The indexes are PostgreSQL's own: FerretDB does
// not list them, and dropping a collection drops them.
func IndexLookups(ctx context.Context, dbURL string) error {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return fmt.Errorf("indexing lookups: connecting to postgresql %s: %w", redacted(dbURL), err)
	}
	defer conn.Close(context.Background())
	quoted := make([]string, len(LookupFields))
	for i, f := range LookupFields {
		quoted[i] = "'" + strings.ReplaceAll(f, "'", "''") + "'"
	}
	fields := "ARRAY[" + strings.Join(quoted, ", ") + "]"
	steps := []string{
		strings.ReplaceAll(lookupIndexSQL, "{{fields}}", fields),
		`DROP EVENT TRIGGER IF EXISTS skalds_index_lookups`,
		`CREATE EVENT TRIGGER skalds_index_lookups ON ddl_command_end WHEN TAG IN ('CREATE TABLE')
			EXECUTE FUNCTION public.skalds_index_lookups_trigger()`,
		// The tables that exist already.
		`SELECT public.skalds_index_lookups(c.oid, ` + fields + `) FROM pg_class c
			WHERE c.relkind = 'r' AND c.relname <> '_ferretdb_database_metadata'`,
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("indexing lookups on %s: %w", redacted(dbURL), err)
	}
	defer func() { _ = tx.Rollback(context.Background()) }()
	for _, s := range steps {
		if _, err := tx.Exec(ctx, s); err != nil {
			return fmt.Errorf("indexing lookups on %s (the role needs the right to create event triggers, as a superuser has): %w", redacted(dbURL), err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("indexing lookups on %s: %w", redacted(dbURL), err)
	}
	return nil
}
