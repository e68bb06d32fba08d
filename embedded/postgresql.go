package embedded

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultPostgreSQLURL is the local PostgreSQL server that
// PostgreSQLAvailable and the tests try: the stock Debian cluster with
// trust authentication.
const DefaultPostgreSQLURL = "postgres://postgres@127.0.0.1:5432/postgres"

// PostgreSQLAvailable reports (as nil) whether a PostgreSQL server answers
// at url, which must name a database it may connect to. It gives up after
// timeout, so that a test can skip quickly when there is none.
func PostgreSQLAvailable(ctx context.Context, url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	return conn.Ping(ctx)
}

// tempDatabase creates a database with a fresh name (ferretdb_<random>) on
// the server of serverURL, connecting to serverURL's own database to do so.
// It returns the URL of the new database and a function that drops it,
// closing whatever connections are still open to it. Connections to the
// new database run with synchronous_commit off, unless serverURL says
// otherwise. With everyone, every role may create schemas in it, for a
// FerretDB whose clients reach PostgreSQL as their own roles.
func tempDatabase(ctx context.Context, serverURL string, everyone bool) (dbURL string, drop func() error, err error) {
	u, err := url.Parse(serverURL)
	if err != nil || u.Scheme == "" {
		return "", nil, fmt.Errorf("postgresql: a temporary database needs a URL (postgres://user@host:port/db), got %q", redacted(serverURL))
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "ferretdb_" + hex.EncodeToString(b)

	conn, err := pgx.Connect(ctx, serverURL)
	if err != nil {
		return "", nil, fmt.Errorf("connecting to postgresql %s: %w", u.Redacted(), err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", nil, fmt.Errorf("creating database %s on %s: %w", name, u.Redacted(), err)
	}
	if everyone {
		if _, err := conn.Exec(ctx, "GRANT ALL ON DATABASE "+pgx.Identifier{name}.Sanitize()+" TO PUBLIC"); err != nil {
			_, _ = conn.Exec(context.Background(), "DROP DATABASE "+pgx.Identifier{name}.Sanitize())
			return "", nil, fmt.Errorf("opening database %s on %s to every role: %w", name, u.Redacted(), err)
		}
	}
	drop = func() error {
		// FORCE (PostgreSQL 13+) ends FerretDB's pooled connections, which
		// may outlive its shutdown by a moment.
		return cleanUp(serverURL, "dropping database "+name, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	}
	db := *u
	db.Path = "/" + name
	// FerretDB commits each document it updates on its own. A database that
	// Close drops need not survive a crash of the server, so its commits
	// need not wait for the disk.
	q := db.Query()
	if !q.Has("synchronous_commit") {
		q.Set("synchronous_commit", "off")
	}
	db.RawQuery = q.Encode()
	return db.String(), drop, nil
}

// redacted is s with a password hidden, for error messages; a string that
// is not a URL (a key=value DSN, say) is left out.
func redacted(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" {
		return "(connection string)"
	}
	return u.Redacted()
}

// TempRole creates a role with a fresh name (skalds_<random>) that may log
// in with a fresh password, on the server of serverURL (as its user, who
// must be allowed to create roles), for tests of authentication through
// FerretDB (MongoOptions.PostgreSQLAuth). drop removes the role; call it
// after whatever logged in as the role has closed, and after the databases
// the role owns objects in are dropped.
func TempRole(ctx context.Context, serverURL string) (name, password string, drop func() error, err error) {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	name, password = "skalds_"+hex.EncodeToString(b[:6]), hex.EncodeToString(b[6:])+"-Pa55"
	conn, err := pgx.Connect(ctx, serverURL)
	if err != nil {
		return "", "", nil, fmt.Errorf("connecting to postgresql %s: %w", redacted(serverURL), err)
	}
	defer conn.Close(context.Background())
	// CREATE ROLE takes no parameters; the password is hex, so quoting it
	// as a literal is safe.
	if _, err := conn.Exec(ctx, "CREATE ROLE "+pgx.Identifier{name}.Sanitize()+" LOGIN PASSWORD '"+password+"'"); err != nil {
		return "", "", nil, fmt.Errorf("creating role %s on %s: %w", name, redacted(serverURL), err)
	}
	drop = func() error {
		return cleanUp(serverURL, "dropping role "+name, "DROP ROLE IF EXISTS "+pgx.Identifier{name}.Sanitize())
	}
	return name, password, drop, nil
}

// cleanUp runs sql on its own connection to serverURL, within 30 s of
// now whatever the caller's context, since it undoes what a test or a
// server made; what says what it does, for the error.
func cleanUp(serverURL, what, sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, serverURL)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, sql); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}
