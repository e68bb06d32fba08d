package skaldtest

import (
	"os"
	"testing"
)

// PeersRequired reports whether SKALDS_PEERS=required is set, as CI sets
// it: then a test whose real peer (a Kafka broker, a Redis server, the
// Python Skalds package, ...) is absent fails instead of skipping.
func PeersRequired() bool { return os.Getenv("SKALDS_PEERS") == "required" }

// Absent ends a test whose peer is not there: it skips, saying which peer
// and why, or fails the same way when PeersRequired.
func Absent(t testing.TB, peer, why string) {
	t.Helper()
	if PeersRequired() {
		t.Fatalf("%s is absent (%s), and SKALDS_PEERS=required; start it with scripts/peers up", peer, why)
	}
	t.Skipf("%s is absent (%s); scripts/peers up starts it", peer, why)
}

// KafkaAddr returns the real Kafka broker that the integration suites run
// on, SKALDS_TEST_KAFKA ("host:port", as scripts/peers prints it), or ""
// for the embedded kfake. Under PeersRequired an unset SKALDS_TEST_KAFKA
// fails t, so that CI never falls back to kfake silently. Tests that share
// the broker isolate themselves by unique node and task ids: the topics
// are the wire contract's, and a node's consumer group is its id.
func KafkaAddr(t testing.TB) string {
	t.Helper()
	addr := os.Getenv("SKALDS_TEST_KAFKA")
	if addr == "" && PeersRequired() {
		t.Fatal("SKALDS_TEST_KAFKA is unset, and SKALDS_PEERS=required; eval \"$(scripts/peers up)\" sets it")
	}
	return addr
}

// RedisAddr returns LocalRedis(), the redis-server on 127.0.0.1:6379, or ""
// for miniredis. Under PeersRequired a missing local Redis fails t.
func RedisAddr(t testing.TB) string {
	t.Helper()
	addr := LocalRedis()
	if addr == "" && PeersRequired() {
		t.Fatal("no Redis answers on 127.0.0.1:6379, and SKALDS_PEERS=required; start it with scripts/peers up")
	}
	return addr
}
