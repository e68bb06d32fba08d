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
// and Redis and Kafka are down. It neither exits nor starts half-connected: it says
// which servers it waits for, with the settings to check, retries with
// backoff, and runs its tasks once they answer. go-redis's own complaints
// reach the node's logger, not raw stderr.
func TestNodeWaitsForItsServersAtStart(t *testing.T) {
	e := newEnv(t)
	mongo, viaMongo := e.mongoRelay()
	// Nothing listens on Redis' and Kafka's ports until relays start
	// there: the node's connections are refused, as when a server is down.
	redisPort, kafkaPort := skaldtest.FreePort(t), skaldtest.FreePort(t)
	redisAddr, kafkaAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(redisPort)), net.JoinHostPort("127.0.0.1", strconv.Itoa(kafkaPort))
	mongo.Cut()

	p := &probe{}
	cls := newClass("LateServers", p)
	mark := e.logs.Mark()
	a := e.launchNode("a", node.Options{StartRetry: backoff.Policy{First: 20 * time.Millisecond, Max: 100 * time.Millisecond}},
		func(c *config.Config) {
			viaMongo(c)
			c.RedisHost, c.RedisPort = "127.0.0.1", redisPort
			c.KafkaHost, c.KafkaPort = "127.0.0.1", kafkaPort
		}, cls)
	id := a.n.ID()
	for _, dep := range []string{"mongo", "redis", "kafka"} {
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
		t.Fatal("the node said it was ready without its servers")
	}

	retried := e.logs.Mark()
	mongo.Restore()
	for addr, target := range map[string]string{redisAddr: e.stack.RedisAddr, kafkaAddr: e.stack.KafkaAddr} {
		r, err := skaldtest.NewRelayAt(addr, target)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(r.Close)
	}
	for _, dep := range []string{"mongo", "redis", "kafka"} {
		e.await(retried, "dependency reachable", "skaldId", id, "dependency", dep)
	}
	e.ready(a, mark)

	task := e.id("late")
	e.create(task, cls, params{})
	e.running(task, a, e.assign(task, a))
	e.handled(id, task) // the assignment came over Kafka
	if e.heartbeat(task) == "" {
		t.Fatal("no heartbeat in Redis for the running task")
	}
}
