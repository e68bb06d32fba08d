package liveness

import (
	"context"
	"encoding/json"
	"errors"
	"sort"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// Entry is one node as the registry holds it, read as it is: what to make
// of it (online or not, since when) is the reader's judgement, on its own
// clock.
type Entry struct {
	ID string
	// Mode is node or edge; a missing mode is node, as in Python.
	Mode string
	// Stamp is the raw skalds:hash value, the node's last-activity time in
	// epoch ms; a reader that sees it change knows the node is alive.
	Stamp string
	// LastActivity is Stamp as a number, 0 when unreadable.
	LastActivity int64
	Heartbeat    int
	// TasksRaw is the raw all-task value ("" when missing). Nodes rewrite
	// it with a new timestamp on every beat, so a change tells that the
	// node wrote its task list again.
	TasksRaw string
	Tasks    []TaskRef
	Classes  []string
	Schemas  map[string]string // JSON Schema of the attachments by class name
	// ProgressSchemas and ResultSchemas are the JSON Schemas of the
	// progress and the result by class name; a class that declares none,
	// and every class of a Python Skald, is missing.
	ProgressSchemas map[string]string
	ResultSchemas   map[string]string
	Capacity        Capacity
}

// Supports reports whether the node registered class.
func (e *Entry) Supports(class string) bool {
	for _, c := range e.Classes {
		if c == class {
			return true
		}
	}
	return false
}

// Nodes reads the whole registry: every node of skalds:hash with its mode,
// heartbeat, task list, classes, schemas (of attachments, progress and
// result) and capacity, sorted by id. It
// takes two round trips whatever the number of nodes.
func (r *Registry) Nodes(ctx context.Context) ([]Entry, error) {
	var stamps, modes *redis.MapStringStringCmd
	if _, err := r.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		stamps = p.HGetAll(ctx, NodesKey)
		modes = p.HGetAll(ctx, NodeModesKey)
		return nil
	}); err != nil {
		return nil, err
	}
	out := make([]Entry, 0, len(stamps.Val()))
	for id, stamp := range stamps.Val() {
		ms, _ := strconv.ParseInt(stamp, 10, 64)
		mode := modes.Val()[id]
		if mode == "" {
			mode = "node"
		}
		out = append(out, Entry{ID: id, Mode: mode, Stamp: stamp, LastActivity: ms})
	}
	if len(out) == 0 {
		return out, nil
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	type reads struct {
		hb, tasks                           *redis.StringCmd
		classes                             *redis.StringSliceCmd
		schemas, progress, result, capacity *redis.MapStringStringCmd
	}
	rs := make([]reads, len(out))
	_, err := r.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, e := range out {
			rs[i] = reads{
				hb:       p.Get(ctx, NodeHeartbeatKey(e.ID)),
				tasks:    p.Get(ctx, NodeTasksKey(e.ID)),
				classes:  p.LRange(ctx, NodeClassesKey(e.ID), 0, -1),
				schemas:  p.HGetAll(ctx, NodeSchemasKey(e.ID)),
				progress: p.HGetAll(ctx, NodeProgressSchemasKey(e.ID)),
				result:   p.HGetAll(ctx, NodeResultSchemasKey(e.ID)),
				capacity: p.HGetAll(ctx, NodeCapacityKey(e.ID)),
			}
		}
		return nil
	})
	// A missing key is a node that has not written it (yet), not an error.
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	for i := range out {
		e, rd := &out[i], rs[i]
		e.Heartbeat, _ = rd.hb.Int()
		e.TasksRaw = rd.tasks.Val()
		e.Tasks = ParseTasks(e.TasksRaw)
		e.Classes = rd.classes.Val()
		e.Schemas = nonEmpty(rd.schemas.Val())
		e.ProgressSchemas = nonEmpty(rd.progress.Val())
		e.ResultSchemas = nonEmpty(rd.result.Val())
		if h := rd.capacity.Val(); len(h) > 0 {
			e.Capacity = ParseCapacity(h)
		}
	}
	return out, nil
}

// nonEmpty returns h, or nil when h is empty, so that a node that
// publishes no schema reads back as nil rather than an empty map.
func nonEmpty(h map[string]string) map[string]string {
	if len(h) == 0 {
		return nil
	}
	return h
}

// ParseTasks reads an all-task value. Both spellings of the class key are
// accepted; an unreadable value is an empty list, as in Python.
func ParseTasks(raw string) []TaskRef {
	var v struct {
		Tasks []struct {
			ID        string `json:"id"`
			ClassName string `json:"class_name"`
			Camel     string `json:"className"`
		} `json:"tasks"`
	}
	if json.Unmarshal([]byte(raw), &v) != nil {
		return nil
	}
	out := make([]TaskRef, 0, len(v.Tasks))
	for _, t := range v.Tasks {
		c := t.ClassName
		if c == "" {
			c = t.Camel
		}
		out = append(out, TaskRef{ID: t.ID, ClassName: c})
	}
	return out
}

// Beat is a task's heartbeat as read.
type Beat struct {
	TaskID    string
	Heartbeat int  // 0..199 alive, 200/-1/-2 terminal; 0 when missing
	Present   bool // the key exists (live beats expire 8 s after the last)
	Exception string
}

// Alive reports whether the task's worker beats: its key is present and
// holds a live value, not a terminal code.
func (b Beat) Alive() bool {
	return b.Present && b.Heartbeat >= 0 && b.Heartbeat < Finished
}

// Beats reads the heartbeat and last exception of each task, in order, in
// one round trip.
func (r *Registry) Beats(ctx context.Context, tasks []string) ([]Beat, error) {
	if len(tasks) == 0 {
		return nil, nil
	}
	hb := make([]*redis.StringCmd, len(tasks))
	ex := make([]*redis.StringCmd, len(tasks))
	_, err := r.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, t := range tasks {
			hb[i] = p.Get(ctx, TaskHeartbeatKey(t))
			ex[i] = p.Get(ctx, TaskExceptionKey(t))
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	out := make([]Beat, len(tasks))
	for i, t := range tasks {
		out[i] = Beat{TaskID: t, Exception: ex[i].Val()}
		if v, err := hb[i].Int(); err == nil {
			out[i].Heartbeat, out[i].Present = v, true
		}
	}
	return out, nil
}

// nodeKeys are the keys that hold one node's entries besides its fields
// in NodesKey and NodeModesKey.
func nodeKeys(node string) []string {
	return []string{NodeHeartbeatKey(node), NodeTasksKey(node), NodeClassesKey(node), NodeSchemasKey(node),
		NodeProgressSchemasKey(node), NodeResultSchemasKey(node), NodeCapacityKey(node)}
}

// forgetScript deletes a node's registry entries only if its activity
// stamp is still the one the reader judged stale, so that a node that
// came back meanwhile is not erased.
var forgetScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('HDEL', KEYS[2], ARGV[1])
  redis.call('DEL', unpack(KEYS, 3))
  return 1
end
return 0`)

// Forget removes a node that has been offline too long from the registry,
// if its activity stamp is still stamp (Entry.Stamp). It reports whether
// it removed anything: false means the node wrote again meanwhile.
func (r *Registry) Forget(ctx context.Context, node, stamp string) (bool, error) {
	keys := append([]string{NodesKey, NodeModesKey}, nodeKeys(node)...)
	n, err := forgetScript.Run(ctx, r.rdb, keys, node, stamp).Int()
	return n == 1, err
}
