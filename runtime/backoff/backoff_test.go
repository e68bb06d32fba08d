package backoff

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/skalds-go/skalds/skaldtest"
)

func TestCeilingDoublesUpToMax(t *testing.T) {
	p := Policy{First: time.Second, Max: 5 * time.Second}
	want := []time.Duration{time.Second, time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second}
	for n, w := range want {
		if got := p.Ceiling(n); got != w {
			t.Errorf("Ceiling(%d) = %v, want %v", n, got, w)
		}
	}
	if got := p.Ceiling(1 << 30); got != 5*time.Second {
		t.Errorf("a huge attempt count gave %v, want the max", got)
	}
	if got := (Policy{}).Ceiling(1); got != time.Second {
		t.Errorf("zero policy's first wait %v, want 1s", got)
	}
}

func TestDelayIsJitteredBelowTheCeiling(t *testing.T) {
	p := Policy{First: 100 * time.Millisecond, Max: time.Second, Jitter: 0.5}
	seen := map[time.Duration]bool{}
	for range 200 {
		d := p.Delay(3) // ceiling 400 ms
		if d > 400*time.Millisecond || d < 200*time.Millisecond {
			t.Fatalf("Delay(3) = %v, outside [200ms, 400ms]", d)
		}
		seen[d] = true
	}
	if len(seen) < 50 {
		t.Fatalf("only %d distinct delays in 200 draws: no jitter", len(seen))
	}
	if d := (Policy{First: time.Second, Jitter: -1}).Delay(1); d != time.Second {
		t.Fatalf("jitter off: %v", d)
	}
}

func TestDelayForIsStablePerKeyAndSpreadAcrossKeys(t *testing.T) {
	p := Policy{First: 10 * time.Second, Max: time.Hour}
	if a, b := p.DelayFor("task-1", 2), p.DelayFor("task-1", 2); a != b {
		t.Fatalf("same key and attempt gave %v then %v", a, b)
	}
	seen := map[time.Duration]bool{}
	for _, k := range []string{"a", "b", "c", "d", "e", "f", "g", "h"} {
		d := p.DelayFor(k, 2)
		if d > 20*time.Second || d < 16*time.Second {
			t.Fatalf("DelayFor(%q, 2) = %v, outside [16s, 20s]", k, d)
		}
		seen[d] = true
	}
	if len(seen) < 6 {
		t.Fatalf("8 keys share %d delays: the jitter does not spread them", len(seen))
	}
}

func TestWaitForRetriesWhatIsMissingUntilItAnswers(t *testing.T) {
	logs := skaldtest.NewLogs(nil)
	log := slog.New(logs)
	calls := map[string]int{}
	deps := []Dependency{
		{Name: "mongo", Addr: "m:27017", Check: "MONGO_HOST", Connect: func(context.Context) error {
			calls["mongo"]++
			return nil
		}},
		{Name: "redis", Addr: "r:6379", Check: "REDIS_HOST/REDIS_PORT", Connect: func(context.Context) error {
			calls["redis"]++
			if calls["redis"] < 3 {
				return errors.New("connection refused")
			}
			return nil
		}},
	}
	if err := WaitFor(context.Background(), log, Policy{First: time.Millisecond, Max: 2 * time.Millisecond}, deps...); err != nil {
		t.Fatal(err)
	}
	if calls["mongo"] != 1 || calls["redis"] != 3 {
		t.Fatalf("attempts %v; want mongo once, redis until it answered (3)", calls)
	}
	missing := skaldtest.Msg("dependency not reachable; retrying", "dependency", "redis", "check", "REDIS_HOST/REDIS_PORT")
	if logs.Count(missing) != 2 || logs.Count(skaldtest.Msg("dependency reachable", "dependency", "redis")) != 1 ||
		logs.Count(skaldtest.Msg("dependency reachable", "dependency", "mongo")) != 0 {
		t.Fatal("the log does not say what was missing, what to check and when it came")
	}
}

func TestWaitForGivesUpWhenTheContextEndsNamingWhatIsMissing(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	dep := Dependency{Name: "kafka", Addr: "k:9092", Check: "KAFKA_HOST/KAFKA_PORT", Connect: func(context.Context) error { return errors.New("no brokers") }}
	err := WaitFor(ctx, slog.New(slog.DiscardHandler), Policy{First: 5 * time.Millisecond, Max: 10 * time.Millisecond}, dep)
	if err == nil || !strings.Contains(err.Error(), "kafka k:9092 (check KAFKA_HOST/KAFKA_PORT): no brokers") {
		t.Fatalf("err %v", err)
	}
}
