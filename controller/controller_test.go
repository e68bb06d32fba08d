package controller

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for a logger and a test to share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestWaitForRetriesWhatIsMissingUntilItAnswers(t *testing.T) {
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	calls := map[string]int{}
	deps := []dependency{
		{name: "mongo", addr: "m:27017", check: "MONGO_HOST", connect: func(context.Context) error {
			calls["mongo"]++
			return nil
		}},
		{name: "redis", addr: "r:6379", check: "REDIS_HOST/REDIS_PORT", connect: func(context.Context) error {
			calls["redis"]++
			if calls["redis"] < 3 {
				return errors.New("connection refused")
			}
			return nil
		}},
	}
	if err := waitFor(context.Background(), log, deps, Backoff{First: time.Millisecond, Max: 2 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	if calls["mongo"] != 1 || calls["redis"] != 3 {
		t.Fatalf("attempts %v; want mongo once, redis until it answered (3)", calls)
	}
	out := logs.String()
	if strings.Count(out, "dependency not reachable") != 2 || !strings.Contains(out, "dependency=redis") ||
		!strings.Contains(out, "REDIS_HOST/REDIS_PORT") || !strings.Contains(out, `msg="dependency reachable" dependency=redis`) {
		t.Fatalf("log does not say what was missing and when it came:\n%s", out)
	}
}

func TestWaitForGivesUpWhenTheContextEndsNamingWhatIsMissing(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	deps := []dependency{
		{name: "kafka", addr: "k:9092", check: "KAFKA_HOST/KAFKA_PORT", connect: func(context.Context) error { return errors.New("no brokers") }},
	}
	err := waitFor(ctx, slog.New(slog.DiscardHandler), deps, Backoff{First: 5 * time.Millisecond, Max: 10 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "kafka k:9092 (check KAFKA_HOST/KAFKA_PORT): no brokers") {
		t.Fatalf("err %v", err)
	}
}

func TestLoadConfigReadsTheClaimCap(t *testing.T) {
	env := func(vals map[string]string) func(string) (string, bool) {
		return func(k string) (string, bool) { v, ok := vals[k]; return v, ok }
	}
	c, err := loadConfig(Config{}, env(nil))
	if err != nil || c.MaxClaimsPerCycle != 500 {
		t.Fatalf("default: %d, %v", c.MaxClaimsPerCycle, err)
	}
	c, err = loadConfig(Config{}, env(map[string]string{"DISPATCHER_MAX_CLAIMS_PER_CYCLE": "40"}))
	if err != nil || c.MaxClaimsPerCycle != 40 {
		t.Fatalf("from env: %d, %v", c.MaxClaimsPerCycle, err)
	}
	if _, err = loadConfig(Config{}, env(map[string]string{"DISPATCHER_MAX_CLAIMS_PER_CYCLE": "-1"})); err == nil {
		t.Fatal("a negative cap was accepted")
	}
}

func TestReportMasksSecrets(t *testing.T) {
	c, err := loadConfig(Config{Token: "tok-secret"}, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	c.Infra.MongoHost = "mongodb://root:mongo-secret@db:27017/"
	c.Infra.RedisPassword, c.Infra.KafkaPassword = "redis-secret", "kafka-secret"
	b, err := json.Marshal(c.Report())
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"tok-secret", "mongo-secret", "redis-secret", "kafka-secret"} {
		if strings.Contains(string(b), secret) {
			t.Errorf("the report shows %s: %s", secret, b)
		}
	}
	if !strings.Contains(string(b), `"auth":{"enabled":true}`) || !strings.Contains(string(b), `"port":8000`) {
		t.Errorf("report %s", b)
	}
}
