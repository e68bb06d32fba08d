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
