package liveness_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/skalds-go/skalds/runtime/liveness"
	"github.com/skalds-go/skalds/skaldtest"
)

// A batch of beats that reaches Redis after a task ended leaves the
// terminal code in place; only a new attempt's start replaces it.
func TestBeatsNeverReviveAnEndedTask(t *testing.T) {
	addr, ctx := localRedis(t)
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	reg := liveness.New(rdb, time.Minute)
	defer reg.Close()

	suffix := strconv.FormatInt(time.Now().UnixNano(), 36)
	ended := map[string]int{"finished-" + suffix: liveness.Finished, "failed-" + suffix: liveness.Failed, "cancelled-" + suffix: liveness.Cancelled}
	live := "live-" + suffix
	ids := []string{live}
	for id, code := range ended {
		ids = append(ids, id)
		if err := reg.TaskStarted(ctx, id); err != nil {
			t.Fatal(err)
		}
		if err := reg.TaskEnded(ctx, id, code, ""); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		for _, id := range ids {
			rdb.Del(context.Background(), liveness.TaskHeartbeatKey(id), liveness.TaskExceptionKey(id))
		}
	})

	if err := reg.TaskBeats(ctx, ids); err != nil {
		t.Fatal(err)
	}
	for id, code := range ended {
		if got := rdb.Get(ctx, liveness.TaskHeartbeatKey(id)).Val(); got != strconv.Itoa(code) {
			t.Errorf("%s: heartbeat %q after a late beat, want %d", id, got, code)
		}
	}
	v, err := rdb.Get(ctx, liveness.TaskHeartbeatKey(live)).Int()
	if err != nil || v < 0 || v >= 200 {
		t.Errorf("live task: heartbeat %d (%v), want a live beat in 0..199", v, err)
	}
	if ttl := rdb.PTTL(ctx, liveness.TaskHeartbeatKey(live)).Val(); ttl <= 0 || ttl > 10*time.Second {
		t.Errorf("live task: beat lasts %v, want a few seconds", ttl)
	}

	// A new attempt replaces the terminal code, and beats keep it live.
	id := "finished-" + suffix
	if err := reg.TaskStarted(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := reg.TaskBeats(ctx, []string{id}); err != nil {
		t.Fatal(err)
	}
	if v, err := rdb.Get(ctx, liveness.TaskHeartbeatKey(id)).Int(); err != nil || v < 0 || v >= 200 {
		t.Errorf("restarted task: heartbeat %d (%v), want a live beat", v, err)
	}
}

// localRedis is the address of the local Redis, and a context for a test
// on it; a test without one is skipped (see skaldtest.Absent).
func localRedis(t *testing.T) (string, context.Context) {
	t.Helper()
	addr := skaldtest.RedisAddr(t)
	if addr == "" {
		skaldtest.Absent(t, "Redis", "nothing answers on 127.0.0.1:6379")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return addr, ctx
}
