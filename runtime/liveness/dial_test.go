package liveness_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/skalds-go/skalds/runtime/config"
	"github.com/skalds-go/skalds/runtime/liveness"
	"github.com/skalds-go/skalds/skaldtest"
)

// TestDialTLSWithAnACLUser runs the registry against Debian's
// redis-server serving TLS only, with the default user turned off and one
// ACL user: the configured user gets in over TLS, and every way around
// that (no TLS, an unknown authority, the wrong password, no user) is
// refused with an error that does not show the password.
func TestDialTLSWithAnACLUser(t *testing.T) {
	const password = "s3cret-Pa55"
	certs := skaldtest.NewCerts(t)
	srv := skaldtest.StartRedisServer(t, certs, "skald", password)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	good := config.Config{RedisHost: srv.Host, RedisPort: srv.Port, RedisUsername: "skald", RedisPassword: password,
		RedisTLS: config.TLS{Enabled: true, CAFile: certs.CAFile}, RedisKeyTTL: time.Minute}
	rdb, err := liveness.Dial(good, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	reg := liveness.New(rdb, good.RedisKeyTTL)
	if err := reg.NodeBeat(ctx, "tls-node", "node", nil, []string{"A"}, nil, liveness.Capacity{}); err != nil {
		t.Fatalf("beat over TLS as an ACL user: %v", err)
	}
	if v, err := rdb.HGet(ctx, liveness.NodesKey, "tls-node").Result(); err != nil || v == "" {
		t.Fatalf("the beat is not in the registry: %q, %v", v, err)
	}
	if who, err := rdb.Do(ctx, "ACL", "WHOAMI").Text(); err != nil || who != "skald" {
		t.Fatalf("logged in as %q (%v), want skald", who, err)
	}

	// The narrow ACL that the README recommends is enough for every write
	// of the registry.
	if err := rdb.Do(ctx, "ACL", "SETUSER", "narrow", "on", ">narrow-pw", "~skalds:*", "~task:*",
		"+@read", "+@write", "+@transaction", "+evalsha", "+eval", "+ping", "+hello").Err(); err != nil {
		t.Fatal(err)
	}
	narrow := good
	narrow.RedisUsername, narrow.RedisPassword = "narrow", "narrow-pw"
	nc, err := liveness.Dial(narrow, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nreg := liveness.New(nc, time.Minute)
	for _, step := range []struct {
		what string
		do   func() error
	}{
		{"node beat", func() error {
			return nreg.NodeBeat(ctx, "narrow-node", "node", []liveness.TaskRef{{ID: "t1", ClassName: "A"}},
				[]string{"A"}, map[string]liveness.ClassSchemas{"A": {Attachments: []byte(`{}`), Progress: []byte(`{}`), Result: []byte(`{}`)}},
				liveness.Capacity{MaxTasks: 2})
		}},
		{"task started", func() error { return nreg.TaskStarted(ctx, "t1") }},
		{"task beats", func() error { return nreg.TaskBeats(ctx, []string{"t1"}) }},
		{"task ended", func() error { return nreg.TaskEnded(ctx, "t1", 200, "") }},
		{"remove node", func() error { return nreg.RemoveNode(ctx, "narrow-node") }},
		{"task logs", func() error {
			w := nreg.Logs(liveness.LogLimits{Tasks: 1}, nil)
			slog.New(w.Handler("t1", slog.LevelInfo)).Info("kept")
			slog.New(w.Handler("t2", slog.LevelInfo)).Info("kept")
			stopped, stop := context.WithCancel(ctx)
			stop()
			w.Run(stopped) // writes what is buffered, and the bound
			if st := w.Stats(); st.Written != 2 || st.Failed != 0 {
				return fmt.Errorf("writer stats %+v", st)
			}
			recs, err := nreg.TaskLogs(ctx, "t2", "", 10)
			if err == nil && (len(recs) != 1 || recs[0].Msg != "kept") {
				err = fmt.Errorf("read back %+v", recs)
			}
			return err
		}},
	} {
		if err := step.do(); err != nil {
			t.Errorf("%s with the narrow ACL: %v", step.what, err)
		}
	}
	if err := nc.Set(ctx, "other:key", "x", 0).Err(); err == nil {
		t.Error("the narrow ACL let a write outside skalds:* and task:* through")
	}

	for name, tweak := range map[string]func(*config.Config){
		"no TLS":            func(c *config.Config) { c.RedisTLS = config.TLS{} },
		"unknown authority": func(c *config.Config) { c.RedisTLS.CAFile = "" },
		"wrong password":    func(c *config.Config) { c.RedisPassword = "not-" + password },
		"default user":      func(c *config.Config) { c.RedisUsername = "" },
	} {
		bad := good
		tweak(&bad)
		c, err := liveness.Dial(bad, nil)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		short, stop := context.WithTimeout(ctx, 5*time.Second)
		err = c.Ping(short).Err()
		stop()
		_ = c.Close()
		if err == nil {
			t.Errorf("%s: Redis let the client in", name)
		} else if strings.Contains(err.Error(), password) {
			t.Errorf("%s: the error shows the password: %v", name, err)
		}
	}
}

// TestRedisRecordsGoThroughSlog checks that go-redis's own records (here,
// a pool that cannot dial) reach the process's slog logger instead of
// being printed raw to stderr.
func TestRedisRecordsGoThroughSlog(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close() // nothing listens there now
	logs := skaldtest.NewLogs(nil)
	rdb, err := liveness.Dial(config.Config{RedisHost: "127.0.0.1", RedisPort: port}, slog.New(logs))
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err == nil {
		t.Fatal("a Redis answered on a closed port")
	}
	n := logs.Count(func(r skaldtest.Record) bool {
		return r.Attrs["component"] == "go-redis" && strings.Contains(r.Msg, "connection pool: failed to dial") &&
			strings.Contains(r.Msg, strconv.Itoa(port)) && !strings.HasPrefix(r.Msg, "redis: ")
	})
	if n == 0 {
		t.Fatal("go-redis's dial failure did not reach the slog logger")
	}
}
