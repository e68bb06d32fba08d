// Package liveness reads and writes the Redis keys through which Python Skalds
// tooling sees nodes and tasks alive: the node registry, node and task
// heartbeats and the terminal task codes. Redis holds nothing here that a
// node cannot rebuild; the task status of record is in MongoDB.
//
// Per-field TTLs (HEXPIRE) are not used, because Redis before 7.4 lacks
// them; a reader decides a node is gone from the age of its timestamp.
package liveness

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/maphash"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// The Python key names.
const (
	NodesKey     = "skalds:hash"      // field node id: last activity, epoch ms
	NodeModesKey = "skalds:mode:hash" // field node id: node or edge
)

// NodeHeartbeatKey is a node's heartbeat key.
func NodeHeartbeatKey(node string) string { return "skalds:" + node + ":heartbeat" }

// NodeTasksKey holds the JSON list of a node's running tasks.
func NodeTasksKey(node string) string { return "skalds:" + node + ":all-task" }

// NodeClassesKey is the list of worker classes a node can run.
func NodeClassesKey(node string) string { return "skalds:" + node + ":allow-task-class-name" }

// NodeSchemasKey is a hash of the JSON Schema of each class a node runs,
// by class name, so that a controller can validate attachments without
// the Go types.
func NodeSchemasKey(node string) string { return "skalds:" + node + ":schemas" }

// NodeProgressSchemasKey and NodeResultSchemasKey are hashes, by class
// name, of the JSON Schemas of the progress a class reports and of the
// result it sets, so that a controller and its dashboard can show them
// without the Go types. A class that declares none has no field. They are
// keys of their own rather than fields of NodeSchemasKey, whose every
// field a reader takes for a class name. Python Skalds writes neither and
// reads neither; its monitor deletes them with the node's other
// skalds:{id}:* keys.
func NodeProgressSchemasKey(node string) string { return "skalds:" + node + ":progress-schemas" }

// NodeResultSchemasKey: see NodeProgressSchemasKey.
func NodeResultSchemasKey(node string) string { return "skalds:" + node + ":result-schemas" }

// ClassSchemas are the JSON Schemas a node publishes for one class: of its
// attachments, of the progress it reports and of its result. Any may be
// nil: that class publishes no such schema.
type ClassSchemas struct {
	Attachments, Progress, Result []byte
}

// NodeCapacityKey is a hash of the limits a node enforces, so that a
// controller places tasks only where they will be accepted instead of
// learning the limits from refusals. Its fields are CapacityMaxTasks and
// CapacityClassPrefix followed by a class name; a missing field is no
// limit. CapacityLeaseMs is the node's liveness lease, which a controller
// checks against its node timeout. Python Skalds writes no such key: its nodes have no limits a
// controller must respect.
func NodeCapacityKey(node string) string { return "skalds:" + node + ":capacity" }

// The fields of NodeCapacityKey.
const (
	CapacityMaxTasks    = "maxTasks" // most tasks the node runs at once
	CapacityClassPrefix = "class:"   // + class name: most tasks of that class at once
	CapacityLeaseMs     = "leaseMs"  // the node's liveness lease in ms; missing: none
)

// Capacity is what a node can run at once. Zero (or a missing class) means
// no limit.
type Capacity struct {
	MaxTasks int
	Classes  map[string]int // by class name
	// Lease is how long the node runs its workers without a heartbeat
	// that reaches Redis (its liveness lease); zero: it has none. It is
	// no limit: IsZero ignores it.
	Lease time.Duration
}

// IsZero reports whether c sets no limit at all.
func (c Capacity) IsZero() bool {
	if c.MaxTasks > 0 {
		return false
	}
	for _, k := range c.Classes {
		if k > 0 {
			return false
		}
	}
	return true
}

// fields returns c as NodeCapacityKey's hash fields; only the limits set.
func (c Capacity) fields() []any {
	var out []any
	if c.MaxTasks > 0 {
		out = append(out, CapacityMaxTasks, strconv.Itoa(c.MaxTasks))
	}
	for _, class := range slices.Sorted(maps.Keys(c.Classes)) {
		if k := c.Classes[class]; k > 0 {
			out = append(out, CapacityClassPrefix+class, strconv.Itoa(k))
		}
	}
	if ms := c.Lease.Milliseconds(); ms > 0 {
		out = append(out, CapacityLeaseMs, strconv.FormatInt(ms, 10))
	}
	return out
}

// ParseCapacity reads the fields of NodeCapacityKey. Unreadable or
// non-positive values are ignored (no limit), so that a malformed entry
// never stops dispatch to a node altogether.
func ParseCapacity(h map[string]string) Capacity {
	var c Capacity
	for k, v := range h {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			continue
		}
		switch {
		case k == CapacityMaxTasks:
			c.MaxTasks = n
		case k == CapacityLeaseMs:
			c.Lease = time.Duration(n) * time.Millisecond
		case strings.HasPrefix(k, CapacityClassPrefix) && len(k) > len(CapacityClassPrefix):
			if c.Classes == nil {
				c.Classes = map[string]int{}
			}
			c.Classes[k[len(CapacityClassPrefix):]] = n
		}
	}
	return c
}

// TaskHeartbeatKey is a task's heartbeat key.
func TaskHeartbeatKey(task string) string { return "task:" + task + ":heartbeat" }

// TaskExceptionKey holds the text of a task's last failure.
func TaskExceptionKey(task string) string { return "task:" + task + ":exception" }

// Terminal heartbeat values, as Python Skalds writes them.
const (
	Finished  = 200
	Failed    = -1
	Cancelled = -2
)

// Period is how often nodes and tasks beat; beatTTL how long one beat lasts.
const (
	Period  = 3 * time.Second
	beatTTL = 8 * time.Second
)

// Registry writes liveness keys. A nil *Registry writes nothing, which is
// how a Skald runs without Redis.
type Registry struct {
	rdb redis.UniversalClient
	ttl time.Duration // of registry keys and terminal task heartbeats

	mu sync.Mutex
	// written holds, by node, the fingerprint of the class list, schemas
	// and capacity that its last beat found in Redis (see NodeBeat).
	written map[string]uint64
	seed    maphash.Seed
}

// New returns a registry on rdb; ttl is REDIS_KEY_TTL (a registry that
// only reads may pass 0).
func New(rdb redis.UniversalClient, ttl time.Duration) *Registry {
	return &Registry{rdb: rdb, ttl: ttl, written: map[string]uint64{}, seed: maphash.MakeSeed()}
}

// Close closes the registry's Redis client.
func (r *Registry) Close() error {
	if r == nil {
		return nil
	}
	return r.rdb.Close()
}

// TaskRef is one entry of a node's task list.
type TaskRef struct {
	ID        string `json:"id"`
	ClassName string `json:"class_name"`
}

// NodeBeat records that node is alive in mode and runs tasks, which
// classes it can run, their JSON Schemas (by class name) and the node's
// capacity. One beat is one MULTI, so a reader never sees the class list,
// the schemas or the limits half written.
//
// The class list, the schemas and the capacity hardly ever change, and
// the schemas are most of a beat's bytes (about 1.6 KB of the example's
// 2 KB, every 3 s, for as long as the node runs): a beat writes them only
// when they differ from what the node's last beat found in Redis, and
// otherwise renews their expiry. A reader that takes the node for
// offline deletes them (Python's monitor deletes every skalds:{id}:* key
// of such a node, a controller's monitor the same keys, see Forget):
// an EXPIRE that finds its key gone says so, and the beat then writes
// them all again at once, in a second MULTI.
func (r *Registry) NodeBeat(ctx context.Context, node, mode string, tasks []TaskRef, classes []string, schemas map[string]ClassSchemas, capacity Capacity) error {
	if r == nil {
		return nil
	}
	ids := make([]string, len(tasks))
	for i, t := range tasks {
		ids[i] = t.ID
	}
	list, err := json.Marshal(struct {
		Tasks          []TaskRef `json:"tasks"`
		ExistedTaskIDs []string  `json:"existed_task_ids"`
		Timestamp      int64     `json:"timestamp"`
	}{nonNil(tasks), ids, time.Now().UnixMilli()})
	if err != nil {
		return err
	}
	st := nodeEntries(node, classes, schemas, capacity)
	sum := r.fingerprint(st)
	r.mu.Lock()
	last, ok := r.written[node]
	r.mu.Unlock()
	renew := ok && last == sum
	var renewed []*redis.BoolCmd
	_, err = r.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, NodesKey, node, strconv.FormatInt(time.Now().UnixMilli(), 10))
		p.HSet(ctx, NodeModesKey, node, mode)
		p.Set(ctx, NodeHeartbeatKey(node), beat(), beatTTL)
		p.Set(ctx, NodeTasksKey(node), list, r.ttl)
		if renew {
			for _, e := range st {
				if len(e.values) > 0 {
					renewed = append(renewed, p.Expire(ctx, e.key, r.ttl))
				}
			}
		} else {
			r.writeEntries(ctx, p, st)
		}
		return nil
	})
	if err == nil && renew && slices.ContainsFunc(renewed, func(c *redis.BoolCmd) bool { return !c.Val() }) {
		_, err = r.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
			r.writeEntries(ctx, p, st)
			return nil
		})
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		// Whether the MULTI ran is unknown: the next beat writes all.
		delete(r.written, node)
		return err
	}
	r.written[node] = sum
	return nil
}

// entry is a key of a node's class list (a list), schemas or capacity (a
// hash), and its elements or its fields (name, value, ...).
type entry struct {
	key    string
	list   bool
	values []any
}

// nodeEntries are the keys that NodeBeat writes only when they change,
// their fields in a fixed order, so that the same content has the same
// fingerprint.
func nodeEntries(node string, classes []string, schemas map[string]ClassSchemas, capacity Capacity) []entry {
	return []entry{
		{key: NodeClassesKey(node), list: true, values: toAny(classes)},
		{key: NodeSchemasKey(node), values: schemaFields(schemas, func(s ClassSchemas) []byte { return s.Attachments })},
		{key: NodeProgressSchemasKey(node), values: schemaFields(schemas, func(s ClassSchemas) []byte { return s.Progress })},
		{key: NodeResultSchemasKey(node), values: schemaFields(schemas, func(s ClassSchemas) []byte { return s.Result })},
		{key: NodeCapacityKey(node), values: capacity.fields()},
	}
}

// fingerprint hashes the content of es.
func (r *Registry) fingerprint(es []entry) uint64 {
	var h maphash.Hash
	h.SetSeed(r.seed)
	for _, e := range es {
		_, _ = h.WriteString(e.key)
		for _, v := range e.values {
			var b []byte
			switch v := v.(type) {
			case string:
				b = []byte(v)
			case []byte:
				b = v
			default:
				b = fmt.Append(nil, v)
			}
			_ = binary.Write(&h, binary.LittleEndian, uint32(len(b)))
			_, _ = h.Write(b)
		}
		_ = h.WriteByte(0xff)
	}
	return h.Sum64()
}

// writeEntries queues the replacement of every key of es by its values:
// a key left empty is deleted rather than written, and a written one
// expires with the registry's other keys.
func (r *Registry) writeEntries(ctx context.Context, p redis.Pipeliner, es []entry) {
	for _, e := range es {
		p.Del(ctx, e.key)
		if len(e.values) == 0 {
			continue
		}
		if e.list {
			p.RPush(ctx, e.key, e.values...)
		} else {
			p.HSet(ctx, e.key, e.values...)
		}
		p.Expire(ctx, e.key, r.ttl)
	}
}

// schemaFields returns, as hash fields by class name in the order of the
// names, the schema that pick takes of each class; classes without one
// have no field.
func schemaFields(schemas map[string]ClassSchemas, pick func(ClassSchemas) []byte) []any {
	var out []any
	for _, class := range slices.Sorted(maps.Keys(schemas)) {
		if doc := pick(schemas[class]); len(doc) > 0 {
			out = append(out, class, doc)
		}
	}
	return out
}

// RemoveNode deletes a node's registry entries, on a graceful stop.
func (r *Registry) RemoveNode(ctx context.Context, node string) error {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	delete(r.written, node)
	r.mu.Unlock()
	_, err := r.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HDel(ctx, NodesKey, node)
		p.HDel(ctx, NodeModesKey, node)
		p.Del(ctx, nodeKeys(node)...)
		return nil
	})
	return err
}

// TaskStarted replaces whatever a previous attempt left (a terminal code,
// an exception) with a live heartbeat.
func (r *Registry) TaskStarted(ctx context.Context, task string) error {
	if r == nil {
		return nil
	}
	_, err := r.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, TaskHeartbeatKey(task), beat(), beatTTL)
		p.Set(ctx, TaskExceptionKey(task), "", r.ttl)
		return nil
	})
	return err
}

// TaskEnded writes a terminal code (Finished, Failed or Cancelled) and,
// for a failure, its text.
func (r *Registry) TaskEnded(ctx context.Context, task string, code int, exception string) error {
	if r == nil {
		return nil
	}
	_, err := r.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, TaskHeartbeatKey(task), code, r.ttl)
		if exception != "" {
			p.Set(ctx, TaskExceptionKey(task), exception, r.ttl)
		}
		return nil
	})
	return err
}

// beat is a Python-style heartbeat value: random in 0..199, so that a
// reader sampling it sees it change while the writer lives.
func beat() int { return rand.IntN(200) }

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

func nonNil(t []TaskRef) []TaskRef {
	if t == nil {
		return []TaskRef{}
	}
	return t
}

// TaskBeats records that tasks are alive, in one round trip.
func (r *Registry) TaskBeats(ctx context.Context, tasks []string) error {
	if r == nil {
		return nil
	}
	if len(tasks) == 0 {
		return nil
	}
	keys := make([]string, len(tasks))
	for i, t := range tasks {
		keys[i] = TaskHeartbeatKey(t)
	}
	return beatUnlessEnded.Run(ctx, r.rdb, keys, beat(), beatTTL.Milliseconds()).Err()
}

// beatUnlessEnded sets live beats, except on keys that hold a terminal
// code: a batch of beats read before a task ended may reach Redis after
// TaskEnded, and must not turn a Finished, Failed or Cancelled task back
// into a live one. Only TaskStarted, for a new attempt, replaces a
// terminal code.
var beatUnlessEnded = redis.NewScript(fmt.Sprintf(`
for _, k in ipairs(KEYS) do
	local v = redis.call('GET', k)
	if v ~= '%d' and v ~= '%d' and v ~= '%d' then
		redis.call('SET', k, ARGV[1], 'PX', ARGV[2])
	end
end
return 0`, Finished, Failed, Cancelled))
