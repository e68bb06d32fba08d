package soak

import (
	"testing"

	"github.com/skalds-go/skalds/skaldtest"
)

// TestOverlappingCutsAndRestarts checks the soak's own bookkeeping of
// links: a process's own cut, an outage of a server and its restart may
// overlap, and the watch must be told the process is blind (its Redis
// lives partitioned, its MongoDB windows open) from the first to the last
// of them, once.
func TestOverlappingCutsAndRestarts(t *testing.T) {
	s := &soak{t: t, down: map[string]bool{}, watch: newWatch(), gate: skaldtest.NewKafkaGate()}
	p := &proc{s: s, id: "n", cuts: map[string]int{}, blind: map[string]bool{}, links: map[string]*skaldtest.Relay{}}
	for _, server := range []string{"mongo", "redis"} {
		r, err := skaldtest.NewRelay("127.0.0.1:1") // never dialled: no client connects
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(r.Close)
		p.links[server] = r
	}
	s.procs = []*proc{p}
	cutOff := func() bool {
		s.watch.mu.Lock()
		defer s.watch.mu.Unlock()
		return s.watch.cutOff["n"]
	}
	windows := func() (all, open int) {
		s.watch.mu.Lock()
		defer s.watch.mu.Unlock()
		for _, w := range s.watch.blind["n"] {
			all++
			if w.to.IsZero() {
				open++
			}
		}
		return all, open
	}

	// Redis: the process's own cut, then a restart of Redis over it.
	p.cutLink("redis")
	s.setDown("redis", true)
	p.restoreLink("redis")
	if !cutOff() {
		t.Fatal("Redis restarting, but the watch takes the node for connected")
	}
	s.setDown("redis", false)
	if cutOff() {
		t.Fatal("every Redis fault undone, but the watch takes the node for cut off")
	}

	// MongoDB: an outage (a cut of every link) over the process's own cut.
	p.cutLink("mongo")
	s.setDown("mongo", true)
	p.cutLink("mongo")
	p.restoreLink("mongo")
	if all, open := windows(); all != 1 || open != 1 {
		t.Fatalf("%d blind windows, %d open; want 1 open while a cut remains", all, open)
	}
	p.restoreLink("mongo")
	s.setDown("mongo", false)
	if all, open := windows(); all != 1 || open != 0 || p.isCut("mongo") {
		t.Fatalf("%d blind windows, %d open, cut %v; want 1 closed", all, open, p.isCut("mongo"))
	}

	// Kafka: the gate cuts the process's client id; the watch is not told.
	p.cutLink("kafka")
	p.cutLink("kafka")
	p.restoreLink("kafka")
	if !p.isCut("kafka") {
		t.Fatal("Kafka link restored while a cut remains")
	}
	p.restoreLink("kafka")
	p.restoreLink("kafka") // one too many: a no-op
	if p.isCut("kafka") {
		t.Fatal("Kafka link still cut")
	}
}
