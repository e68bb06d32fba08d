package liveness_test

import (
	"context"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/skalds-go/skalds/runtime/config"
	"github.com/skalds-go/skalds/runtime/liveness"
)

// countingConn counts the bytes a client sends.
type countingConn struct {
	net.Conn
	sent *atomic.Int64
}

func (c countingConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.sent.Add(int64(n))
	return n, err
}

// TestNodeBeatRenewsWhatDidNotChange: a node's beats write its class list,
// schemas and capacity once, and afterwards only renew their expiry, in a
// fraction of the bytes; once a reader deleted them, as a monitor that
// takes the node for offline does, the next beat writes them all again;
// a changed capacity is written by the beat that carries it.
func TestNodeBeatRenewsWhatDidNotChange(t *testing.T) {
	addr, ctx := localRedis(t)
	var sent atomic.Int64
	rdb := redis.NewClient(&redis.Options{Addr: addr, Dialer: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return countingConn{c, &sent}, nil
	}})
	const ttl = time.Minute
	reg := liveness.New(rdb, ttl)
	defer reg.Close()
	node := "beat-node-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	t.Cleanup(func() { _ = reg.RemoveNode(context.Background(), node) })

	schema := []byte(`{"type":"object","properties":{` + strings.Repeat(`"field":{"type":"string"},`, 40) + `"last":{"type":"integer"}}}`)
	schemas := map[string]liveness.ClassSchemas{
		"Video": {Attachments: schema, Progress: []byte(`{"type":"object"}`), Result: []byte(`{"type":"object"}`)},
		"Audio": {Attachments: schema},
	}
	classes := []string{"Audio", "Video"}
	capacity := liveness.Capacity{MaxTasks: 4, Classes: map[string]int{"Video": 2}}
	tasks := []liveness.TaskRef{{ID: "t1", ClassName: "Video"}}
	beat := func(c liveness.Capacity) int64 {
		t.Helper()
		before := sent.Load()
		if err := reg.NodeBeat(ctx, node, "node", tasks, classes, schemas, c); err != nil {
			t.Fatal(err)
		}
		return sent.Load() - before
	}
	written := func(what string) {
		t.Helper()
		if got := rdb.LRange(ctx, liveness.NodeClassesKey(node), 0, -1).Val(); strings.Join(got, ",") != "Audio,Video" {
			t.Errorf("%s: classes %v", what, got)
		}
		if got := rdb.HGet(ctx, liveness.NodeSchemasKey(node), "Video").Val(); got != string(schema) {
			t.Errorf("%s: Video's schema %q", what, got)
		}
		if got := rdb.HGetAll(ctx, liveness.NodeProgressSchemasKey(node)).Val(); len(got) != 1 || got["Video"] == "" {
			t.Errorf("%s: progress schemas %v", what, got)
		}
		if got := rdb.HGetAll(ctx, liveness.NodeResultSchemasKey(node)).Val(); len(got) != 1 || got["Video"] == "" {
			t.Errorf("%s: result schemas %v", what, got)
		}
		if got := liveness.ParseCapacity(rdb.HGetAll(ctx, liveness.NodeCapacityKey(node)).Val()); got.MaxTasks != 4 || got.Classes["Video"] != 2 {
			t.Errorf("%s: capacity %+v", what, got)
		}
	}

	first := beat(capacity)
	written("first beat")
	// A short expiry shows the next beat renewing it.
	rdb.PExpire(ctx, liveness.NodeSchemasKey(node), 2*time.Second)
	second := beat(capacity)
	written("second beat")
	if got := rdb.PTTL(ctx, liveness.NodeSchemasKey(node)).Val(); got < ttl-5*time.Second {
		t.Errorf("schemas expire in %v after a beat; want the registry's %v renewed", got, ttl)
	}
	t.Logf("first beat %d bytes, the next %d", first, second)
	if second > first/2 {
		t.Errorf("a beat that changes nothing sent %d bytes, the first %d; want less than half", second, first)
	}

	// Deleted, as Python's monitor deletes skalds:{id}:* of a node it takes
	// for offline: the next beat finds out and writes everything again.
	keys, err := rdb.Keys(ctx, "skalds:"+node+":*").Result()
	if err != nil || len(keys) < 5 {
		t.Fatalf("the node's keys %v (%v)", keys, err)
	}
	rdb.Del(ctx, keys...)
	restored := beat(capacity)
	written("beat after the keys were deleted")
	if restored <= second {
		t.Errorf("the beat after a deletion sent %d bytes, as many as a renewal (%d)", restored, second)
	}

	// Only the capacity deleted: found too.
	rdb.Del(ctx, liveness.NodeCapacityKey(node))
	beat(capacity)
	written("beat after the capacity was deleted")

	// A change is written by the beat that carries it.
	capacity.MaxTasks = 9
	beat(capacity)
	if got := liveness.ParseCapacity(rdb.HGetAll(ctx, liveness.NodeCapacityKey(node)).Val()); got.MaxTasks != 9 {
		t.Errorf("capacity %+v after a beat with maxTasks 9", got)
	}
}

// TestBurstLeavesFewIdleConnections: a burst of concurrent commands opens
// many connections; once it is over, the client Dial returns keeps only a
// few of them, not one per command that ran at once.
func TestBurstLeavesFewIdleConnections(t *testing.T) {
	addr, ctx := localRedis(t)
	host, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	rdb, err := liveness.Dial(config.Config{RedisHost: host, RedisPort: p}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	// As many as the pool opens at once (10 per CPU), up to 16.
	burst := min(16, rdb.Options().PoolSize)
	// Each command holds its connection, blocked on a list, until all are
	// blocked; then another client feeds the list and they all return.
	list := "burst-list-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	var wg sync.WaitGroup
	for range burst {
		wg.Go(func() {
			if err := rdb.BLPop(ctx, 5*time.Second, list).Err(); err != nil {
				t.Error(err)
			}
		})
	}
	most := 0
	for most < burst && ctx.Err() == nil {
		most = int(rdb.PoolStats().TotalConns)
		runtime.Gosched() // awaiting the pool's state, not a time
	}
	feeder := redis.NewClient(&redis.Options{Addr: addr})
	defer feeder.Close()
	for i := range burst {
		if err := feeder.RPush(ctx, list, i).Err(); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	st := rdb.PoolStats()
	t.Logf("%d commands at once opened %d connections; %d left, %d idle", burst, most, st.TotalConns, st.IdleConns)
	if most < burst {
		t.Fatalf("the burst opened %d connections; want one per command (%d)", most, burst)
	}
	if st.TotalConns > 4 || st.IdleConns > 4 {
		t.Errorf("after the burst the client keeps %d connections (%d idle); want 4 at most", st.TotalConns, st.IdleConns)
	}
}
