package integration

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/skalds-go/skalds/embedded"
	"github.com/skalds-go/skalds/runtime/config"
	"github.com/skalds-go/skalds/runtime/liveness"
	"github.com/skalds-go/skalds/runtime/node"
	"github.com/skalds-go/skalds/skaldtest"
)

// registryServers are miniredis and, when one answers, the local Redis
// (the real server, with its own Lua).
func registryServers(t *testing.T) map[string]*redis.Client {
	r, err := embedded.StartRedis(embedded.RedisOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	addrs := map[string]string{"miniredis": r.Addr()}
	if local := skaldtest.LocalRedis(); local != "" {
		addrs["redis-server"] = local
	}
	out := map[string]*redis.Client{}
	for name, addr := range addrs {
		rdb := redis.NewClient(&redis.Options{Addr: addr})
		t.Cleanup(func() { _ = rdb.Close() })
		out[name] = rdb
	}
	return out
}

// TestRegistryReadsWhatNodesWrite: what a Go node writes and what a Python
// Skald writes read back the same through liveness, the registry's one
// reader, and Forget removes a node only while its stamp is unchanged.
func TestRegistryReadsWhatNodesWrite(t *testing.T) {
	for name, rdb := range registryServers(t) {
		t.Run(name, func(t *testing.T) { testRegistry(t, rdb) })
	}
}

func testRegistry(t *testing.T, rdb *redis.Client) {
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	reg := liveness.New(rdb, time.Minute)
	uid := randomID()
	goNode, pyNode := "go-"+uid, "py-"+uid
	t1, t2, t3 := "t1-"+uid, "t2-"+uid, "t3-"+uid

	err := reg.NodeBeat(ctx, goNode, "edge", []liveness.TaskRef{{ID: t1, ClassName: "Cam"}}, []string{"Cam", "Mic"},
		map[string]liveness.ClassSchemas{
			"Cam": {Attachments: []byte(`{"type":"object"}`), Progress: []byte(`{"title":"P"}`), Result: []byte(`{"title":"R"}`)},
			"Mic": {}, // declares no schema at all
		}, liveness.Capacity{MaxTasks: 3, Classes: map[string]int{"Cam": 1}})
	if err != nil {
		t.Fatal(err)
	}
	// As Python Skalds writes it: no mode, the class key in camelCase, no
	// schemas, no capacity.
	if _, err := rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, liveness.NodesKey, pyNode, "1700000000000")
		p.Set(ctx, liveness.NodeTasksKey(pyNode), `{"tasks":[{"id":"`+t2+`","className":"Py"}],"existed_task_ids":["`+t2+`"]}`, time.Minute)
		p.RPush(ctx, liveness.NodeClassesKey(pyNode), "Py")
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = reg.RemoveNode(context.Background(), goNode)
		_ = reg.RemoveNode(context.Background(), pyNode)
	})

	entries, err := reg.Nodes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]liveness.Entry{}
	for _, e := range entries {
		got[e.ID] = e
	}
	g, ok := got[goNode]
	if !ok || g.Mode != "edge" || g.LastActivity == 0 || g.Stamp == "" || len(g.Tasks) != 1 || g.Tasks[0] != (liveness.TaskRef{ID: t1, ClassName: "Cam"}) ||
		!g.Supports("Mic") || g.Schemas["Cam"] != `{"type":"object"}` || len(g.Schemas) != 1 ||
		g.ProgressSchemas["Cam"] != `{"title":"P"}` || len(g.ProgressSchemas) != 1 || g.ResultSchemas["Cam"] != `{"title":"R"}` || len(g.ResultSchemas) != 1 ||
		g.Capacity.MaxTasks != 3 || g.Capacity.Classes["Cam"] != 1 || g.TasksRaw == "" {
		t.Errorf("the Go node reads back as %+v", g)
	}
	p, ok := got[pyNode]
	if !ok || p.Mode != "node" || p.LastActivity != 1700000000000 || len(p.Tasks) != 1 || p.Tasks[0] != (liveness.TaskRef{ID: t2, ClassName: "Py"}) ||
		!p.Supports("Py") || p.Schemas != nil || p.ProgressSchemas != nil || p.ResultSchemas != nil || !p.Capacity.IsZero() {
		t.Errorf("the Python node reads back as %+v", p)
	}

	if err := reg.TaskStarted(ctx, t1); err != nil {
		t.Fatal(err)
	}
	if err := reg.TaskEnded(ctx, t2, liveness.Failed, "boom"); err != nil {
		t.Fatal(err)
	}
	beats, err := reg.Beats(ctx, []string{t1, t2, t3})
	if err != nil {
		t.Fatal(err)
	}
	if b := beats[0]; b.TaskID != t1 || !b.Present || !b.Alive() {
		t.Errorf("started task: %+v, want a live beat", b)
	}
	if b := beats[1]; !b.Present || b.Heartbeat != liveness.Failed || b.Exception != "boom" || b.Alive() {
		t.Errorf("failed task: %+v, want code -1 with its exception", b)
	}
	if b := beats[2]; b.Present || b.Alive() {
		t.Errorf("unknown task: %+v, want no beat", b)
	}

	if removed, err := reg.Forget(ctx, goNode, "0"); err != nil || removed {
		t.Fatalf("Forget with a stamp the node has moved past: removed %v, err %v; want kept", removed, err)
	}
	if removed, err := reg.Forget(ctx, goNode, g.Stamp); err != nil || !removed {
		t.Fatalf("Forget with the node's stamp: removed %v, err %v", removed, err)
	}
	left, err := rdb.Exists(ctx, liveness.NodeHeartbeatKey(goNode), liveness.NodeTasksKey(goNode), liveness.NodeClassesKey(goNode),
		liveness.NodeSchemasKey(goNode), liveness.NodeProgressSchemasKey(goNode), liveness.NodeResultSchemasKey(goNode), liveness.NodeCapacityKey(goNode)).Result()
	if err != nil || left != 0 || rdb.HExists(ctx, liveness.NodesKey, goNode).Val() || rdb.HExists(ctx, liveness.NodeModesKey, goNode).Val() {
		t.Errorf("after Forget %d of the node's keys are left (err %v)", left, err)
	}
}

// TestNodeRestoresDeletedRegistryKeys: a monitor that takes a node for
// offline deletes its skalds:{id}:* keys (Python's does, and a
// controller's). The node, still running, notices at its next beat,
// which only renews those keys' expiry while nothing changed, and writes
// them all again.
func TestNodeRestoresDeletedRegistryKeys(t *testing.T) {
	e := newEnv(t)
	cls := newClass("Restored", &probe{})
	cls.JSONSchema = []byte(`{"type":"object","properties":{"value":{"type":"integer"}}}`)
	n := e.startNode("restored", node.Options{}, func(*config.Config) {}, cls)
	id := n.n.ID()
	present := func(ctx context.Context) bool {
		classes := e.rdb.LRange(ctx, liveness.NodeClassesKey(id), 0, -1).Val()
		schemas := e.rdb.HGetAll(ctx, liveness.NodeSchemasKey(id)).Val()
		return len(classes) == 1 && classes[0] == cls.Name && schemas[cls.Name] != ""
	}
	missing := func() string { return "the node's class list and schemas are not in Redis" }
	e.until(present, missing)
	keys, err := e.rdb.Keys(e.ctx, "skalds:"+id+":*").Result()
	if err != nil || len(keys) < 3 {
		t.Fatalf("the node's keys %v (%v)", keys, err)
	}
	if err := e.rdb.Del(e.ctx, keys...).Err(); err != nil {
		t.Fatal(err)
	}
	deleted := time.Now()
	e.until(present, missing)
	took := time.Since(deleted)
	t.Logf("%d keys deleted; class list and schemas back after %v", len(keys), took.Round(time.Millisecond))
	if took > 2*liveness.Period+time.Second {
		t.Errorf("the keys came back after %v; want within two beats (%v each)", took, liveness.Period)
	}
}
