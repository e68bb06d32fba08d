package embedded

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
)

// MongoOptions configures StartMongo.
type MongoOptions struct {
	// Dir holds the SQLite files. Empty means a temporary directory that Close
	// removes, so tests leave nothing behind; set it to keep data across runs.
	// It is not used with PostgreSQLURL.
	Dir string
	// PostgreSQLURL, if set, makes FerretDB keep its data in PostgreSQL
	// (handler "postgresql") instead of SQLite files in Dir, for example
	// "postgres://postgres@127.0.0.1:5432/ferretdb". FerretDB pushes
	// equality filters on plain fields down to SQL there, while on SQLite
	// only a filter on _id alone avoids a scan in Go, so conditional
	// updates (filters on _id and an epoch, say) stay fast on large
	// collections. The proxy still serializes writes of one document and
	// runs claims by other fields alone: FerretDB's updates are no more
	// atomic on PostgreSQL; writes of different documents by _id run at
	// once there (see Proxy). StartMongo also indexes the database so that
	// those filters on _id, id and claimToken are index hits (see
	// IndexLookups).
	PostgreSQLURL string
	// PostgreSQLTempDB makes StartMongo create a database with a fresh name
	// (ferretdb_<random>) on the server of PostgreSQLURL, whose own database
	// is then only used to connect, and Close drop it again. It gives
	// parallel tests their own data, as the temporary SQLite directory does.
	// Since the database does not outlive Close, its commits do not wait for
	// the disk (synchronous_commit=off).
	PostgreSQLTempDB bool
	// PostgreSQLAuth makes FerretDB connect to PostgreSQL as the user each
	// MongoDB client authenticates as, with that client's password, so that
	// PostgreSQL's roles and passwords decide who gets in. Clients then put
	// their credentials in the URI with the PLAIN mechanism
	// (mongodb://user:pass@host:port/?authMechanism=PLAIN, over TLS since
	// PLAIN sends the password as it is); FerretDB v1 offers SCRAM only with
	// its experimental new authentication, which stays off here.
	// PostgreSQLURL's own user only checks that the server answers
	// and creates and drops the temporary database, which every role may use;
	// a client that does not authenticate reaches PostgreSQL as no one and
	// is refused. PostgreSQL must ask the roles for a password (scram-sha-256
	// in pg_hba.conf): under trust authentication any password is taken.
	PostgreSQLAuth bool
	// Port is where the proxy listens; 0 picks a free port.
	Port int
	// TLS, when set, makes the proxy, which is what clients connect to,
	// speak TLS only with this server configuration (set ClientAuth to
	// require client certificates). Clients then add tls=true and
	// tlsCAFile (and tlsCertificateKeyFile) to the URI.
	TLS *tls.Config
	// Logger receives FerretDB's own logs. Nil discards them, because FerretDB
	// logs every connection at INFO and every error reply as a multi-line WARN.
	Logger *slog.Logger
}

// Mongo is a FerretDB server (SQLite or PostgreSQL backend) reachable only
// through a Proxy, so that concurrent clients see atomic single-document
// updates as they would on MongoDB.
type Mongo struct {
	uri     string
	tempDir string
	dir     string       // the SQLite directory in use, if FerretDB uses one
	pgURL   string       // the PostgreSQL database, if FerretDB uses one
	dropDB  func() error // drops the temporary PostgreSQL database
	opts    MongoOptions // what Restart starts again with: the same data

	restarting sync.Mutex // one Restart at a time
	mu         sync.Mutex // guards what runs, and closed
	closed     bool
	proxy      *Proxy
	stopFerret context.CancelFunc
	ferretDone chan struct{}
	serveDone  chan struct{}

	closeOnce sync.Once
	closeErr  error
}

// StartMongo starts FerretDB on a private port and the proxy on opts.Port, and
// returns once a ping has made the full round trip. ctx bounds only the
// startup; the servers run until Close.
func StartMongo(ctx context.Context, opts MongoOptions) (*Mongo, error) {
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", opts.Port))
	if err != nil {
		return nil, err
	}
	m := &Mongo{uri: "mongodb://" + ln.Addr().String() + "/"}
	if err := m.start(ctx, ln, opts); err != nil {
		_ = ln.Close()
		_ = m.Close()
		return nil, err
	}
	// A restart finds the same data: the directory or database in use,
	// never a new temporary one.
	m.opts = opts
	m.opts.Dir, m.opts.PostgreSQLURL, m.opts.PostgreSQLTempDB = m.dir, m.pgURL, false
	return m, nil
}

// Restart stops FerretDB and the proxy, which closes every client
// connection, waits down (connections are refused meanwhile, as when a
// server is down), and starts both again on the same port with the same
// data directory or database, as a restarted mongod comes back with its
// data. It returns early, with the server stopped, if ctx ends during
// down; Close during a Restart leaves it stopped.
func (m *Mongo) Restart(ctx context.Context, down time.Duration) error {
	m.restarting.Lock()
	defer m.restarting.Unlock()
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return errors.New("mongo: restart after Close")
	}
	m.stop()
	m.mu.Unlock()
	if err := sleep(ctx, down); err != nil {
		return fmt.Errorf("mongo: restart of %s: %w", m.uri, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return errors.New("mongo: closed during restart")
	}
	addr := strings.TrimSuffix(strings.TrimPrefix(m.uri, "mongodb://"), "/")
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("mongo: restart on %s (is the port taken?): %w", addr, err)
	}
	if err := m.start(ctx, ln, m.opts); err != nil {
		_ = ln.Close()
		m.stop()
		return fmt.Errorf("mongo: restart on %s: %w", addr, err)
	}
	return nil
}

// stop ends the proxy, then FerretDB, and waits for both; m.mu is held.
func (m *Mongo) stop() {
	if m.proxy != nil {
		_ = m.proxy.Close() // closes FerretDB's client conns first, so its shutdown does not wait on them
		<-m.serveDone
		m.proxy = nil
	}
	if m.stopFerret != nil {
		m.stopFerret()
		<-m.ferretDone
		m.stopFerret = nil
	}
}

// start brings up FerretDB and the proxy on ln, recording in m whatever
// Close needs to undo, so a failure at any step can be cleaned up by Close.
func (m *Mongo) start(ctx context.Context, ln net.Listener, opts MongoOptions) error {
	logger := opts.Logger
	if logger == nil {
		logger = discardLogger()
	}
	cfg := &ferretdb.Config{
		Listener: ferretdb.ListenerConfig{TCP: "127.0.0.1:0"},
		Logger:   logger,
	}
	if opts.PostgreSQLURL != "" {
		if err := m.postgreSQL(ctx, cfg, opts); err != nil {
			return err
		}
	} else {
		if opts.PostgreSQLTempDB || opts.PostgreSQLAuth {
			return errors.New("PostgreSQLTempDB and PostgreSQLAuth need PostgreSQLURL")
		}
		if err := m.sqlite(cfg, opts.Dir); err != nil {
			return err
		}
	}
	f, err := ferretdb.New(cfg)
	if err != nil {
		return fmt.Errorf("ferretdb: %w", err)
	}
	upstream, err := url.Parse(f.MongoDBURI())
	if err != nil {
		return fmt.Errorf("ferretdb uri: %w", err)
	}
	runCtx, stop := context.WithCancel(context.Background())
	ferretDone := make(chan struct{})
	m.stopFerret, m.ferretDone = stop, ferretDone
	go func() {
		defer close(ferretDone)
		_ = f.Run(runCtx)
	}()

	pingAddr := ln.Addr().String()
	if opts.TLS != nil {
		// The ping speaks no TLS: check FerretDB itself behind the proxy.
		pingAddr, ln = upstream.Host, tls.NewListener(ln, opts.TLS)
	}
	writes := maxConcurrentWrites
	if cfg.Handler == "sqlite" {
		// On SQLite every request runs alone, as the proxy first did. SQLite
		// writes one transaction at a time anyway, so only reads beside
		// writes were gained, and a 30-minute fault-injection soak with
		// them saw the embedded MongoDB stop answering every client for
		// good after 28 minutes (cause not found; the serial proxy has run
		// such soaks clean). The test suite and the soak run on SQLite.
		writes = 0
	}
	proxy, serveDone := newProxy(ln, upstream.Host, writes), make(chan struct{})
	m.proxy, m.serveDone = proxy, serveDone
	go func() {
		defer close(serveDone)
		_ = proxy.Serve(context.Background())
	}()

	// An unauthenticated ping would be refused by PostgreSQL when clients
	// must authenticate; hello proves the proxy-to-FerretDB path without
	// the backend, whose answer postgreSQL has checked already.
	command := "ping"
	if opts.PostgreSQLAuth {
		command = "hello"
	}
	if err := ping(ctx, pingAddr, command); err != nil {
		return fmt.Errorf("ping through proxy: %w", err)
	}
	return nil
}

// sqlite points cfg at SQLite files in dir, or in a temporary directory.
func (m *Mongo) sqlite(cfg *ferretdb.Config, dir string) error {
	var err error
	if dir == "" {
		if dir, err = os.MkdirTemp("", "skalds-ferretdb-"); err != nil {
			return err
		}
		m.tempDir = dir
	} else if err = os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return err
	}
	m.dir = dir
	cfg.Handler = "sqlite"
	cfg.SQLiteURL = (&url.URL{Scheme: "file", Path: filepath.ToSlash(dir) + "/"}).String()
	return nil
}

// postgreSQL points cfg at the PostgreSQL database of opts, creating a
// temporary one if asked. It checks that the server answers first, so that
// a missing server is reported as such rather than as a failed ping.
func (m *Mongo) postgreSQL(ctx context.Context, cfg *ferretdb.Config, opts MongoOptions) error {
	dbURL := opts.PostgreSQLURL
	if opts.PostgreSQLTempDB {
		var err error
		if dbURL, m.dropDB, err = tempDatabase(ctx, opts.PostgreSQLURL, opts.PostgreSQLAuth); err != nil {
			return err
		}
	}
	if err := PostgreSQLAvailable(ctx, dbURL, 10*time.Second); err != nil {
		return fmt.Errorf("postgresql %s does not answer: %w", redacted(dbURL), err)
	}
	// Without these indexes every read or conditional write of one
	// document scans its collection (see IndexLookups). They only make
	// lookups faster, so a role that may not create them still gets a
	// working server.
	if err := IndexLookups(ctx, dbURL); err != nil {
		slog.Warn("FerretDB on PostgreSQL runs without lookup indexes: a read by _id scans the collection", "err", err)
	}
	cfg.Handler = "postgresql"
	cfg.PostgreSQLURL, m.pgURL = dbURL, dbURL
	if opts.PostgreSQLAuth {
		// FerretDB puts a client's PLAIN credentials in place of the URL's
		// user; without one in the URL, an unauthenticated client has none.
		u, err := url.Parse(dbURL)
		if err != nil {
			return fmt.Errorf("postgresql: PostgreSQLAuth needs a URL (postgres://user@host:port/db), got %s", redacted(dbURL))
		}
		u.User = nil
		cfg.PostgreSQLURL = u.String()
	}
	return nil
}

// URI is the connection string of the proxy; FerretDB's own port is never
// handed out, because clients that bypass the proxy lose atomicity.
func (m *Mongo) URI() string { return m.uri }

// Close shuts down the proxy, then FerretDB, waits for both, and removes the
// temporary data directory or PostgreSQL database if one was created. It is
// idempotent.
func (m *Mongo) Close() error {
	m.closeOnce.Do(func() {
		m.mu.Lock()
		m.closed = true
		m.stop()
		m.mu.Unlock()
		if m.tempDir != "" {
			m.closeErr = os.RemoveAll(m.tempDir)
		}
		if m.dropDB != nil {
			m.closeErr = m.dropDB()
		}
	})
	return m.closeErr
}

// ping sends {ping: 1, $db: "admin"} as a raw OP_MSG, so that startup can
// prove the whole proxy-to-FerretDB path works without importing a driver.
func ping(ctx context.Context, addr, command string) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(10 * time.Second)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()
	_ = conn.SetDeadline(deadline)

	le := binary.LittleEndian
	var doc []byte
	doc = le.AppendUint32(doc, 0) // length, patched below
	doc = append(doc, 0x10)
	doc = append(doc, command...)
	doc = append(doc, 0)
	doc = le.AppendUint32(doc, 1)
	doc = append(doc, 0x02, '$', 'd', 'b', 0)
	doc = le.AppendUint32(doc, 6)
	doc = append(doc, "admin\x00"...)
	doc = append(doc, 0)
	le.PutUint32(doc, uint32(len(doc)))

	const requestID = 1
	var msg []byte
	msg = le.AppendUint32(msg, uint32(16+4+1+len(doc)))
	msg = le.AppendUint32(msg, requestID)
	msg = le.AppendUint32(msg, 0) // responseTo
	msg = le.AppendUint32(msg, opMsg)
	msg = le.AppendUint32(msg, 0) // flagBits
	msg = append(msg, 0)          // section kind 0: body
	msg = append(msg, doc...)
	if _, err := conn.Write(msg); err != nil {
		return err
	}
	reply, err := readMsg(conn)
	if err != nil {
		return err
	}
	okTrue := append([]byte{0x01, 'o', 'k', 0}, le.AppendUint64(nil, math.Float64bits(1))...)
	if le.Uint32(reply[8:12]) != requestID || le.Uint32(reply[12:16]) != opMsg || !bytes.Contains(reply, okTrue) {
		return errors.New("unexpected reply to ping")
	}
	return nil
}
