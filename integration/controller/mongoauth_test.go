package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"

	ctl "github.com/skalds-go/skalds/controller"
	"github.com/skalds-go/skalds/embedded"
	"github.com/skalds-go/skalds/runtime/client"
	"github.com/skalds-go/skalds/runtime/node"
	"github.com/skalds-go/skalds/runtime/task"
	"github.com/skalds-go/skalds/skaldtest"
)

// mongoAuthURI is uri with user and password, FerretDB's PLAIN mechanism
// and TLS verified against certs' authority: what an operator puts in
// MONGO_HOST for a FerretDB on PostgreSQL.
func mongoAuthURI(uri, user, password string, certs *skaldtest.Certs) string {
	u, err := url.Parse(uri)
	if err != nil {
		panic(fmt.Sprintf("the embedded MongoDB URI %q: %v", uri, err))
	}
	u.User = url.UserPassword(user, password)
	u.RawQuery = url.Values{"authMechanism": {"PLAIN"}, "tls": {"true"}, "tlsCAFile": {certs.CAFile}}.Encode()
	return u.String()
}

// TestMongoAuthThroughTheURI runs FerretDB on the PostgreSQL peer with
// each client's PLAIN credentials passed on to PostgreSQL as a role, so
// PostgreSQL checks the password, over TLS. A controller, a node and a
// client whose MONGO_HOST carries a good password create a task through
// the API and run it. With a wrong password, each one is refused with an
// error that names the URI (password masked) and what to check, and no
// output of theirs holds either password.
func TestMongoAuthThroughTheURI(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pg := embedded.DefaultPostgreSQLURL
	if err := embedded.PostgreSQLAvailable(ctx, pg, 3*time.Second); err != nil {
		skaldtest.Absent(t, "PostgreSQL", fmt.Sprintf("%s: %v", pg, err))
	}
	role, password, dropRole, err := embedded.TempRole(ctx, pg)
	if err != nil {
		t.Fatal(err)
	}
	// Registered first, so it runs last: after the stack has dropped its
	// database, in which the role owns FerretDB's tables.
	t.Cleanup(func() {
		if err := dropRole(); err != nil {
			t.Error(err)
		}
	})
	wrong := "Wrong-" + randomID() + "-Pa55"
	asRole, _ := url.Parse(pg)
	asRole.User = url.UserPassword(role, wrong)
	if embedded.PostgreSQLAvailable(ctx, asRole.String(), 3*time.Second) == nil {
		skaldtest.Absent(t, "PostgreSQL with password authentication",
			"127.0.0.1:5432 let role "+role+" in with a wrong password (trust in pg_hba.conf); scripts/peers up asks every role but postgres for its password")
	}

	certs := skaldtest.NewCerts(t)
	var base string
	e := newEnvOn(t, embedded.Options{
		KafkaAddr:     skaldtest.KafkaAddr(t),
		PostgreSQLURL: pg, PostgreSQLTempDB: true, PostgreSQLAuth: true,
		MongoTLS: certs.ServerTLS(t, false),
	}, func(uri string) string {
		base = uri
		return mongoAuthURI(uri, role, password, certs)
	})

	// A good password: the controller, a node and a client work end to end.
	e.startNode("auth-node-"+e.uid, node.Options{}, newClass("Authed"))
	c := e.startController(realNodes)
	id := "authed-" + e.uid
	if code := c.call(t, "POST", "/api/tasks", "", map[string]any{"id": id, "className": "Authed", "attachments": map[string]any{"mode": "wait"}}, nil); code != 201 {
		t.Fatalf("creating a task through the API: %d", code)
	}
	e.waitTask(id, "Running", func(d *task.Task) bool { return d.LifecycleStatus == task.Running })
	cl, err := client.New(ctx, e.infra)
	if err != nil {
		t.Fatalf("a client with the good password: %v", err)
	}
	if got, err := cl.Tasks().Get(ctx, id); err != nil || got.ClassName != "Authed" {
		t.Fatalf("the client reads the task: %+v, %v", got, err)
	}
	if err := cl.Close(); err != nil {
		t.Fatal(err)
	}

	// No credentials at all: FerretDB reaches PostgreSQL as no one.
	short, stop := context.WithTimeout(ctx, 5*time.Second)
	st, err := task.Open(short, base+"?tls=true&tlsCAFile="+url.QueryEscape(certs.CAFile), "skalds")
	stop()
	if err == nil {
		_ = st.Close(context.Background())
		t.Fatal("a client without credentials was let in")
	}

	// A wrong password, everywhere.
	bad := e.infra
	bad.MongoHost = mongoAuthURI(base, role, wrong, certs)
	refused := func(who, text string) {
		t.Helper()
		for _, secret := range []string{wrong, password} {
			if strings.Contains(text, secret) {
				t.Errorf("%s shows a password: %s", who, text)
			}
		}
		for _, want := range []string{"refused the credentials", "user " + role, "MONGO_HOST", "password"} {
			if !strings.Contains(text, want) {
				t.Errorf("%s: the refusal does not say %q: %s", who, want, text)
			}
		}
	}
	_, err = client.New(ctx, bad)
	if err == nil {
		t.Fatal("a client with a wrong password was let in")
	}
	refused("the client", err.Error())

	// The node and the controller wait for MongoDB at start, as for a
	// server that is not up yet, and say why on every attempt.
	waitsForMongo := skaldtest.Msg("dependency not reachable; retrying", "dependency", "mongo")
	nlogs := skaldtest.NewLogs(nil)
	n, err := node.New(bad, node.Options{Logger: slog.New(nlogs)})
	if err != nil {
		t.Fatal(err)
	}
	nctx, nstop := context.WithCancel(ctx)
	ndone := make(chan error, 1)
	go func() { ndone <- n.Run(nctx) }()
	rec, err := nlogs.Await(ctx, waitsForMongo)
	if err != nil {
		t.Fatalf("the node with a wrong password: %v", err)
	}
	refused("the node's log", fmt.Sprint(rec.Attrs["err"]))
	nstop()
	if err := <-ndone; err == nil {
		t.Error("the node with a wrong password started")
	}
	noSecret(t, "the node's log", nlogs, wrong, password)

	clogs := skaldtest.NewLogs(nil)
	cctx, cstop := context.WithCancel(ctx)
	cdone := make(chan error, 1)
	go func() {
		cfg, err := ctl.LoadConfig(ctl.Config{Infra: bad, Mode: ctl.ModeDispatcher})
		if err == nil {
			_, err = ctl.New(cctx, cfg, ctl.Options{Logger: slog.New(clogs)})
		}
		cdone <- err
	}()
	if rec, err = clogs.Await(ctx, waitsForMongo); err != nil {
		t.Fatalf("the controller with a wrong password: %v", err)
	}
	refused("the controller's log", fmt.Sprint(rec.Attrs["err"]))
	cstop()
	if err := <-cdone; err == nil || !errors.Is(err, context.Canceled) && !strings.Contains(err.Error(), "start-up ended") {
		t.Errorf("the controller with a wrong password: %v", err)
	}
	noSecret(t, "the controller's log", clogs, wrong, password)
}

// noSecret fails t if any record kept by logs holds one of secrets.
func noSecret(t *testing.T, who string, logs *skaldtest.Logs, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if n := logs.Count(func(r skaldtest.Record) bool { return strings.Contains(fmt.Sprint(r.Msg, r.Attrs), s) }); n > 0 {
			t.Errorf("%s: %d records show a password", who, n)
		}
	}
}
