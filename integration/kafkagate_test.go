package integration

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/skalds-go/skalds/embedded"
	"github.com/skalds-go/skalds/runtime/event"
	"github.com/skalds-go/skalds/skaldtest"
)

// TestKafkaGateCutsOneClient cuts one process's link to the embedded
// broker, told apart by the client id its SKALD_ID gives it, while another
// process goes on; the cut outlasts a restart of the broker, and Restore
// lets the process back.
func TestKafkaGateCutsOneClient(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	gate := skaldtest.NewKafkaGate()
	k, err := embedded.StartKafka(embedded.KafkaOptions{Partitions: 1, Listen: gate.Listen, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(k.Close)
	broker := func(id string) event.Broker {
		// Only Kafka is dialled here; the other addresses are never used.
		cfg, err := skaldtest.Config(k.Addr(), "mongodb://127.0.0.1:1/", "127.0.0.1:1")
		if err != nil {
			t.Fatal(err)
		}
		cfg.SkaldID = id
		b, err := event.NewBroker(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if err := event.EnsureTopics(ctx, broker("gate-b"), event.TopicAssign); err != nil {
		t.Fatal(err)
	}
	a, b := event.NewPublisher(broker("gate-a")), event.NewPublisher(broker("gate-b"))
	t.Cleanup(func() { _ = a.Close(); _ = b.Close() })
	publish := func(p *event.Publisher) error {
		ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		return p.Publish(ctx, event.TopicAssign, event.NewTaskEvent("t"))
	}
	for name, p := range map[string]*event.Publisher{"a": a, "b": b} {
		if err := publish(p); err != nil {
			t.Fatalf("%s before any cut: %v", name, err)
		}
	}
	if got := gate.Clients(); !slices.Contains(got, "gate-a") || !slices.Contains(got, "gate-b") {
		t.Fatalf("client ids seen %v, want gate-a and gate-b (event.NewBroker sends SKALD_ID)", got)
	}

	gate.Cut("gate-a")
	if err := publish(a); err == nil {
		t.Fatal("a published through a cut link")
	}
	if err := publish(b); err != nil {
		t.Fatalf("b, not cut: %v", err)
	}
	if err := k.Restart(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if err := publish(a); err == nil {
		t.Fatal("a published after the broker restarted, its link still cut")
	}
	if err := publish(b); err != nil {
		t.Fatalf("b after the broker restarted: %v", err)
	}
	gate.Restore("gate-a")
	if err := publish(a); err != nil {
		t.Fatalf("a after Restore: %v", err)
	}
	if a, b := gate.Dropped("gate-a"), gate.Dropped("gate-b"); a == 0 || b != 0 {
		t.Fatalf("connections dropped: %d of gate-a, %d of gate-b; want some of gate-a only", a, b)
	}
}
