package integration

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/skalds-go/skalds/runtime/backoff"
	"github.com/skalds-go/skalds/runtime/config"
	"github.com/skalds-go/skalds/runtime/node"
	"github.com/skalds-go/skalds/skaldtest"
)

// TestNodeWaitsForItsServersAtStart starts a node while MongoDB is cut off
// and Redis is down. It neither exits nor starts half-connected: it says
// which servers it waits for, with the settings to check, retries with
// backoff, and runs its tasks once they answer. go-redis's own complaints
// reach the node's logger, not raw stderr.
func TestNodeWaitsForItsServersAtStart(t *testing.T) {
	e := newEnv(t)
	mongo, viaMongo := e.mongoRelay()
	// Nothing listens on Redis' port until the relay starts there: the
	// node's connections are refused, as when the server is down.
	hold, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	redisAddr := hold.Addr().String()
	_ = hold.Close()
	mongo.Cut()

	p := &probe{}
	cls := newClass("LateServers", p)
	mark := e.logs.Mark()
	a := e.launchNode("a", node.Options{StartRetry: backoff.Policy{First: 20 * time.Millisecond, Max: 100 * time.Millisecond}},
		func(c *config.Config) {
			viaMongo(c)
			c.RedisHost, c.RedisPort = "127.0.0.1", redisPort(t, redisAddr)
		}, cls)
	id := a.n.ID()
	for _, dep := range []string{"mongo", "redis"} {
		r := e.await(mark, "dependency not reachable; retrying", "skaldId", id, "dependency", dep)
		if r.Attrs["check"] == nil || r.Attrs["retryIn"] == nil {
			t.Fatalf("the wait for %s does not say what to check or when it retries: %v", dep, r.Attrs)
		}
	}
	// Several rounds pass while the servers stay away, and the node stays.
	rounds, missing := 0, skaldtest.Msg("dependency not reachable; retrying", "skaldId", id, "dependency", "mongo")
	ctx, cancel := context.WithTimeout(e.ctx, deadline)
	defer cancel()
	if _, err := e.logs.AwaitFrom(ctx, mark, func(r skaldtest.Record) bool {
		if missing(r) {
			rounds++
		}
		return rounds == 2
	}); err != nil {
		t.Fatalf("fewer than 2 attempts to reach MongoDB: %v", err)
	}
	a.alive(t)
	if n := e.logs.CountFrom(mark, func(r skaldtest.Record) bool {
		return r.Attrs["component"] == "go-redis" && r.Attrs["skaldId"] == id
	}); n == 0 {
		t.Error("go-redis's records about the unreachable Redis did not reach the node's logger")
	}
	if e.logs.CountFrom(mark, skaldtest.Msg("node ready", "skaldId", id)) != 0 {
		t.Fatal("the node said it was ready without MongoDB and Redis")
	}

	retried := e.logs.Mark()
	mongo.Restore()
	redis, err := skaldtest.NewRelayAt(redisAddr, e.stack.RedisAddr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(redis.Close)
	e.await(retried, "dependency reachable", "skaldId", id, "dependency", "mongo")
	e.await(retried, "dependency reachable", "skaldId", id, "dependency", "redis")
	e.ready(a, mark)

	task := e.id("late")
	e.create(task, cls, params{})
	e.running(task, a, e.assign(task, a))
	if e.heartbeat(task) == "" {
		t.Fatal("no heartbeat in Redis for the running task")
	}
}

func redisPort(t *testing.T, addr string) int {
	t.Helper()
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
