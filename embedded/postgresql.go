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
// otherwise.
func tempDatabase(ctx context.Context, serverURL string) (dbURL string, drop func() error, err error) {
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
	drop = func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, serverURL)
		if err != nil {
			return fmt.Errorf("dropping database %s: %w", name, err)
		}
		defer conn.Close(context.Background())
		// FORCE (PostgreSQL 13+) ends FerretDB's pooled connections, which
		// may outlive its shutdown by a moment.
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			return fmt.Errorf("dropping database %s: %w", name, err)
		}
		return nil
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
