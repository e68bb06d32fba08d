// Package monitor reads the node registry that Skalds keep in Redis and
// turns it into snapshots the dispatcher, the REST API and the event
// streams share. One monitor per controller is the single registry the
// Python controller lacked (its dispatcher read an empty private copy).
//
// The monitor is level-triggered: each refresh reads the whole registry
// again, so a missed or reordered write changes nothing once the next
// refresh is done.
//
// Liveness is decided from the controller's own clock. A node counts as
// alive while its last-activity value in skalds:hash keeps changing; it is
// offline once the value has not changed for Timeout. The node's
// timestamp itself is only used when the monitor first sees a node (to
// tell a stale entry from a fresh one), so clock skew between machines
// cannot keep a dead node online or take a live one offline.
package monitor

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/skalds-go/skalds/controller/schema"
	"github.com/skalds-go/skalds/runtime/liveness"
)

// Node is what the registry says about one Skald.
type Node struct {
	ID   string
	Mode string // node or edge; a missing mode is node, as in Python
	// LastActivity is the node's own last-activity stamp, epoch ms.
	LastActivity int64
	// LastChange is when the monitor last saw that stamp change (or, for a
	// node seen for the first time, when the stamp says it was written).
	LastChange time.Time
	Online     bool
	Heartbeat  int
	Classes    []string           // allow-task-class-name
	Tasks      []liveness.TaskRef // all-task: what the node runs now
	// TasksChanged is when the monitor last saw the node's all-task value
	// change, on the controller's clock. Nodes rewrite it (with a new
	// timestamp) on every beat, so a task missing from Tasks after a given
	// moment is known to have stopped once TasksChanged is past it.
	TasksChanged time.Time
	// Schemas maps a class name to the JSON Schema of its attachments, as
	// the node publishes them in schema.Key(ID). Only online nodes' are
	// read into a snapshot: an offline node cannot run what it describes.
	Schemas map[string]string
	// Capacity is the limits the node publishes in
	// liveness.NodeCapacityKey: the most tasks it runs at once, in all and
	// per class. The zero value is no limit, which is also what a node
	// that publishes none (a Python Skald) gets.
	Capacity liveness.Capacity

	stamp string // the raw skalds:hash value, for the conditional removal
}

// Supports reports whether the node registered class.
func (n *Node) Supports(class string) bool {
	for _, c := range n.Classes {
		if c == class {
			return true
		}
	}
	return false
}

// TaskBeat is the heartbeat of a task that a node lists as running.
type TaskBeat struct {
	TaskID    string
	Heartbeat int   // 0..199 alive, 200/-1/-2 terminal; 0 when missing
	Present   bool  // the key exists (live beats expire 8 s after the last)
	History   []int // the last few samples, oldest first
	Exception string
	Node      string
}

// Alive reports whether the task's worker beats: its key is present and
// holds a live value, not a terminal code.
func (b TaskBeat) Alive() bool {
	return b.Present && b.Heartbeat >= 0 && b.Heartbeat < liveness.Finished
}

// Snapshot is the registry as of one refresh. It is never modified after
// it is published, so readers may keep it.
type Snapshot struct {
	At    time.Time
	Seq   uint64              // grows by one per refresh
	Nodes []*Node             // sorted by id
	Beats map[string]TaskBeat // by task id
}

// Schemas returns the distinct schemas that online nodes publish for
// class, the one most nodes publish first (see schema.Sort); nil when none
// does.
func (s *Snapshot) Schemas(class string) []schema.Source {
	var out []schema.Source
	for _, n := range s.Nodes {
		doc, ok := n.Schemas[class]
		if !ok || !n.Online {
			continue
		}
		found := false
		for i := range out {
			if string(out[i].Schema) == doc {
				out[i].Nodes = append(out[i].Nodes, n.ID)
				found = true
				break
			}
		}
		if !found {
			out = append(out, schema.Source{Schema: []byte(doc), Nodes: []string{n.ID}})
		}
	}
	schema.Sort(out)
	return out
}

// Node returns the node with id, or nil.
func (s *Snapshot) Node(id string) *Node {
	i := sort.Search(len(s.Nodes), func(i int) bool { return s.Nodes[i].ID >= id })
	if i < len(s.Nodes) && s.Nodes[i].ID == id {
		return s.Nodes[i]
	}
	return nil
}

// Options configures a Monitor.
type Options struct {
	// Interval between refreshes; zero means 1 s.
	Interval time.Duration
	// Timeout after which a node whose activity stamp has not changed is
	// offline; zero means 10 s, the Python threshold.
	Timeout time.Duration
	// ForgetAfter removes a node from the registry (its hash fields and
	// keys) once it has been offline that long, so that the node list does
	// not grow forever. Zero means 1 h; negative never forgets.
	ForgetAfter time.Duration
	// History is the number of heartbeat samples kept per task; zero means 5.
	History int
	Logger  *slog.Logger
}

// Monitor refreshes snapshots of the registry.
type Monitor struct {
	rdb  redis.UniversalClient
	opts Options
	log  *slog.Logger

	cur atomic.Pointer[Snapshot]

	mu      sync.Mutex
	changed chan struct{} // closed and replaced after each refresh
	seen    map[string]*seenNode
	history map[string][]int
}

type seenNode struct {
	stamp      string
	lastChange time.Time
	tasksRaw   string // the all-task value last seen
	tasksSeen  time.Time
}

// New returns a monitor reading rdb.
func New(rdb redis.UniversalClient, opts Options) *Monitor {
	if opts.Interval <= 0 {
		opts.Interval = time.Second
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.ForgetAfter == 0 {
		opts.ForgetAfter = time.Hour
	}
	if opts.History <= 0 {
		opts.History = 5
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Monitor{
		rdb: rdb, opts: opts, log: opts.Logger.With("component", "monitor"),
		changed: make(chan struct{}),
		seen:    map[string]*seenNode{},
		history: map[string][]int{},
	}
}

// Timeout is the offline threshold in use.
func (m *Monitor) Timeout() time.Duration { return m.opts.Timeout }

// Interval is the time between refreshes.
func (m *Monitor) Interval() time.Duration { return m.opts.Interval }

// Snapshot returns the latest snapshot, or nil before the first refresh
// succeeded. Callers must not act on "no nodes" before there is one.
func (m *Monitor) Snapshot() *Snapshot { return m.cur.Load() }

// Changed returns a channel that is closed after the next refresh.
func (m *Monitor) Changed() <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.changed
}

// Run refreshes every Interval until ctx ends. A failed refresh is logged
// and keeps the previous snapshot: a Redis outage must not make every node
// look dead and trigger a failover storm.
func (m *Monitor) Run(ctx context.Context) {
	t := time.NewTicker(m.opts.Interval)
	defer t.Stop()
	failing := false
	for {
		if _, err := m.Refresh(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			if !failing {
				m.log.Error("reading the node registry from Redis; keeping the last snapshot", "err", err)
			}
			failing = true
		} else if failing {
			m.log.Info("reading the node registry from Redis works again")
			failing = false
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

type nodeReads struct {
	hb      *redis.StringCmd
	tasks   *redis.StringCmd
	classes *redis.StringSliceCmd
	schemas *redis.MapStringStringCmd
	cap     *redis.MapStringStringCmd
}

// Refresh reads the registry once and publishes a new snapshot.
func (m *Monitor) Refresh(ctx context.Context) (*Snapshot, error) {
	stamps, err := m.rdb.HGetAll(ctx, liveness.NodesKey).Result()
	if err != nil {
		return nil, err
	}
	modes, err := m.rdb.HGetAll(ctx, liveness.NodeModesKey).Result()
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(stamps))
	for id := range stamps {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	reads := make([]nodeReads, len(ids))
	if len(ids) > 0 {
		_, err = m.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, id := range ids {
				reads[i] = nodeReads{
					hb:      p.Get(ctx, liveness.NodeHeartbeatKey(id)),
					tasks:   p.Get(ctx, liveness.NodeTasksKey(id)),
					classes: p.LRange(ctx, liveness.NodeClassesKey(id), 0, -1),
					schemas: p.HGetAll(ctx, schema.Key(id)),
					cap:     p.HGetAll(ctx, liveness.NodeCapacityKey(id)),
				}
			}
			return nil
		})
		if err != nil && !errors.Is(err, redis.Nil) {
			return nil, err
		}
	}

	now := time.Now()
	m.mu.Lock()
	snap := &Snapshot{At: now, Beats: map[string]TaskBeat{}}
	if prev := m.cur.Load(); prev != nil {
		snap.Seq = prev.Seq + 1
	} else {
		snap.Seq = 1
	}
	var forget []*Node
	present := map[string]bool{}
	for i, id := range ids {
		present[id] = true
		stamp := stamps[id]
		ms, _ := strconv.ParseInt(stamp, 10, 64)
		s := m.seen[id]
		if s == nil {
			// First sight: trust the stamp's age, but never a future one.
			age := max(now.Sub(time.UnixMilli(ms)), 0)
			s = &seenNode{stamp: stamp, lastChange: now.Add(-age)}
			m.seen[id] = s
		} else if s.stamp != stamp {
			s.stamp, s.lastChange = stamp, now
		}
		n := &Node{
			ID: id, Mode: modes[id], LastActivity: ms, LastChange: s.lastChange, stamp: stamp,
			Online: now.Sub(s.lastChange) <= m.opts.Timeout,
		}
		if n.Mode == "" {
			n.Mode = "node"
		}
		if v, err := reads[i].hb.Int(); err == nil {
			n.Heartbeat = v
		}
		raw, err := reads[i].tasks.Result()
		if err == nil {
			n.Tasks = parseTasks(raw)
		}
		if s.tasksSeen.IsZero() || raw != s.tasksRaw {
			s.tasksRaw, s.tasksSeen = raw, now
		}
		n.TasksChanged = s.tasksSeen
		if cl, err := reads[i].classes.Result(); err == nil {
			n.Classes = cl
		}
		if sc, err := reads[i].schemas.Result(); err == nil && n.Online && len(sc) > 0 {
			n.Schemas = sc
		}
		if h, err := reads[i].cap.Result(); err == nil && len(h) > 0 {
			n.Capacity = liveness.ParseCapacity(h)
		}
		snap.Nodes = append(snap.Nodes, n)
		if !n.Online && m.opts.ForgetAfter > 0 && now.Sub(s.lastChange) > m.opts.ForgetAfter {
			forget = append(forget, n)
		}
	}
	for id := range m.seen {
		if !present[id] {
			delete(m.seen, id)
		}
	}
	m.mu.Unlock()

	if err := m.readBeats(ctx, snap); err != nil {
		return nil, err
	}

	m.mu.Lock()
	m.cur.Store(snap)
	close(m.changed)
	m.changed = make(chan struct{})
	m.mu.Unlock()

	for _, n := range forget {
		m.forget(ctx, n)
	}
	return snap, nil
}

// readBeats reads the heartbeat and exception of every task an online
// node lists, in one round trip.
func (m *Monitor) readBeats(ctx context.Context, snap *Snapshot) error {
	type read struct {
		id, node string
		hb, ex   *redis.StringCmd
	}
	var rs []read
	for _, n := range snap.Nodes {
		if !n.Online {
			continue
		}
		for _, t := range n.Tasks {
			rs = append(rs, read{id: t.ID, node: n.ID})
		}
	}
	if len(rs) > 0 {
		_, err := m.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i := range rs {
				rs[i].hb = p.Get(ctx, liveness.TaskHeartbeatKey(rs[i].id))
				rs[i].ex = p.Get(ctx, liveness.TaskExceptionKey(rs[i].id))
			}
			return nil
		})
		if err != nil && !errors.Is(err, redis.Nil) {
			return err
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	keep := map[string][]int{}
	for _, r := range rs {
		b := TaskBeat{TaskID: r.id, Node: r.node}
		if v, err := r.hb.Int(); err == nil {
			b.Heartbeat, b.Present = v, true
		}
		b.Exception, _ = r.ex.Result()
		h := append(m.history[r.id], b.Heartbeat)
		if len(h) > m.opts.History {
			h = h[len(h)-m.opts.History:]
		}
		keep[r.id] = h
		b.History = append([]int(nil), h...)
		snap.Beats[r.id] = b
	}
	m.history = keep
	return nil
}

// forgetScript deletes a node's registry entries only if its activity
// stamp is still the one the monitor judged stale, so that a node that
// came back meanwhile is not erased.
var forgetScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('HDEL', KEYS[2], ARGV[1])
  redis.call('DEL', KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7])
  return 1
end
return 0`)

func (m *Monitor) forget(ctx context.Context, n *Node) {
	keys := []string{liveness.NodesKey, liveness.NodeModesKey,
		liveness.NodeHeartbeatKey(n.ID), liveness.NodeTasksKey(n.ID), liveness.NodeClassesKey(n.ID), schema.Key(n.ID),
		liveness.NodeCapacityKey(n.ID)}
	removed, err := forgetScript.Run(ctx, m.rdb, keys, n.ID, n.stamp).Int()
	if err != nil {
		m.log.Warn("removing an offline node from the registry", "skaldId", n.ID, "err", err)
		return
	}
	if removed == 1 {
		m.log.Info("removed a node offline for too long from the registry", "skaldId", n.ID, "offlineFor", time.Since(n.LastChange).Round(time.Second))
	}
}

// parseTasks reads an all-task value. Both spellings of the class key are
// accepted; an unreadable value is an empty list, as in Python.
func parseTasks(raw string) []liveness.TaskRef {
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
	out := make([]liveness.TaskRef, 0, len(v.Tasks))
	for _, t := range v.Tasks {
		c := t.ClassName
		if c == "" {
			c = t.Camel
		}
		out = append(out, liveness.TaskRef{ID: t.ID, ClassName: c})
	}
	return out
}
