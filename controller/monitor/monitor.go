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
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/skalds-go/skalds/controller/schema"
	"github.com/skalds-go/skalds/runtime/liveness"
)

// Node is what the registry says about one Skald, and what the monitor
// judges of it on its own clock.
type Node struct {
	liveness.Entry
	// LastChange is when the monitor last saw the activity stamp change
	// (or, for a node seen for the first time, when the stamp says it was
	// written).
	LastChange time.Time
	Online     bool
	// TasksChanged is when the monitor last saw the node's all-task value
	// change, on the controller's clock. Nodes rewrite it (with a new
	// timestamp) on every beat, so a task missing from Tasks after a given
	// moment is known to have stopped once TasksChanged is past it.
	TasksChanged time.Time
	// Schemas, ProgressSchemas and ResultSchemas (in Entry) are kept for
	// online nodes only: an offline node cannot run what they describe. Capacity (in Entry) is the zero value,
	// no limit, for a node that publishes none (a Python Skald).
}

// TaskBeat is the heartbeat of a task that a node lists as running.
type TaskBeat struct {
	liveness.Beat
	History []int // the last few samples, oldest first
	Node    string
	// Changed is when the monitor last saw the heartbeat value change, on
	// the controller's clock (for a task seen for the first time, when it
	// was first seen): what the dashboard shows as the age of the last
	// beat. The value itself is a counter that says nothing of time.
	Changed time.Time
}

// Snapshot is the registry as of one refresh. It is never modified after
// it is published, so readers may keep it.
type Snapshot struct {
	At time.Time
	// Began is when the refresh began to read the registry: a node that
	// beat before then is online in this snapshot (unless it beat too
	// long ago). A dispatcher that moves the tasks of nodes it takes for
	// dead needs a snapshot that began after its read of those tasks.
	Began time.Time
	Seq   uint64              // grows by one per refresh
	Nodes []*Node             // sorted by id
	Beats map[string]TaskBeat // by task id
}

// Schemas returns the distinct attachments schemas that online nodes
// publish for class, the one most nodes publish first (see schema.Sort);
// nil when none does.
func (s *Snapshot) Schemas(class string) []schema.Source {
	return s.distinct(class, func(n *Node) map[string]string { return n.Schemas })
}

// ProgressSchemas returns, like Schemas, the distinct schemas of the
// progress of class that online nodes publish; nil when none does (the
// class declares no progress type, or only Python Skalds serve it).
func (s *Snapshot) ProgressSchemas(class string) []schema.Source {
	return s.distinct(class, func(n *Node) map[string]string { return n.ProgressSchemas })
}

// ResultSchemas returns, like Schemas, the distinct schemas of the result
// of class that online nodes publish; nil when none does.
func (s *Snapshot) ResultSchemas(class string) []schema.Source {
	return s.distinct(class, func(n *Node) map[string]string { return n.ResultSchemas })
}

// distinct groups the schemas of class that online nodes publish in the
// hash pick returns, by document, the most published first.
func (s *Snapshot) distinct(class string, pick func(*Node) map[string]string) []schema.Source {
	var out []schema.Source
	for _, n := range s.Nodes {
		doc, ok := pick(n)[class]
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

// Serves reports whether an online node registered class: a task of a
// class that none serves waits until one comes. A nil snapshot (no
// registry read yet) knows of no node and reports true, so that nothing
// is flagged before the monitor has looked.
func (s *Snapshot) Serves(class string) bool {
	if s == nil {
		return true
	}
	for _, n := range s.Nodes {
		if n.Online && n.Supports(class) {
			return true
		}
	}
	return false
}

// Counts are the node figures of a snapshot, which the API's summaries,
// its statistics and the metrics all report.
type Counts struct {
	Total, Online            int // nodes in the registry, and those online
	Nodes, Edges             int // by mode (anything but edge is a node), online or not
	OnlineNodes, OnlineEdges int
	// Busy counts the online nodes of either mode that list a task;
	// BusyNodes only those in node mode, the ones a dispatcher uses.
	Busy, BusyNodes int
	Listed          int // tasks listed by every node, online or not
	Running         int // tasks listed by online nodes
	// Slots is the sum of the MaxTasks that online node-mode nodes
	// publish, and SlotsUsed how many of those slots their tasks take.
	Slots, SlotsUsed int
	AliveTasks       int // tasks whose heartbeat is alive
	// PerNode is how many tasks each online node lists.
	PerNode map[string]int
}

// Counts counts s's nodes and tasks; a nil snapshot (no registry read
// yet) counts nothing.
func (s *Snapshot) Counts() Counts {
	c := Counts{PerNode: map[string]int{}}
	if s == nil {
		return c
	}
	c.Total = len(s.Nodes)
	for _, n := range s.Nodes {
		edge := n.Mode == "edge"
		if edge {
			c.Edges++
		} else {
			c.Nodes++
		}
		c.Listed += len(n.Tasks)
		if !n.Online {
			continue
		}
		c.Online++
		c.Running += len(n.Tasks)
		c.PerNode[n.ID] = len(n.Tasks)
		if len(n.Tasks) > 0 {
			c.Busy++
		}
		if edge {
			c.OnlineEdges++
			continue
		}
		c.OnlineNodes++
		if len(n.Tasks) > 0 {
			c.BusyNodes++
		}
		if n.Capacity.MaxTasks > 0 {
			c.Slots += n.Capacity.MaxTasks
			c.SlotsUsed += min(len(n.Tasks), n.Capacity.MaxTasks)
		}
	}
	for _, b := range s.Beats {
		if b.Alive() {
			c.AliveTasks++
		}
	}
	return c
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
	reg  *liveness.Registry
	opts Options
	log  *slog.Logger

	cur atomic.Pointer[Snapshot]

	mu      sync.Mutex
	changed chan struct{} // closed and replaced after each refresh
	seen    map[string]*seenNode
	history map[string][]int
	beatAt  map[string]time.Time // by task id; see TaskBeat.Changed
}

type seenNode struct {
	stamp      string
	lastChange time.Time
	tasksRaw   string // the all-task value last seen
	tasksSeen  time.Time
	lease      time.Duration // the lease last warned about; see checkLease
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
		reg: liveness.New(rdb, 0), opts: opts, log: opts.Logger.With("component", "monitor"),
		changed: make(chan struct{}),
		seen:    map[string]*seenNode{},
		history: map[string][]int{},
		beatAt:  map[string]time.Time{},
	}
}

// Beats reads the heartbeats of the given tasks now, whichever node runs
// them.
func (m *Monitor) Beats(ctx context.Context, ids []string) ([]liveness.Beat, error) {
	return m.reg.Beats(ctx, ids)
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

// Refresh reads the registry once and publishes a new snapshot.
func (m *Monitor) Refresh(ctx context.Context) (*Snapshot, error) {
	began := time.Now()
	entries, err := m.reg.Nodes(ctx)
	if err != nil {
		return nil, err
	}
	snap, forget := m.judge(time.Now(), entries)
	snap.Began = began
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

// judge turns the registry's entries into a snapshot's nodes on the
// monitor's clock: online while the activity stamp keeps changing. It also
// returns the nodes offline for longer than ForgetAfter.
func (m *Monitor) judge(now time.Time, entries []liveness.Entry) (snap *Snapshot, forget []*Node) {
	m.mu.Lock()
	defer m.mu.Unlock()
	snap = &Snapshot{At: now, Seq: 1, Beats: map[string]TaskBeat{}}
	if prev := m.cur.Load(); prev != nil {
		snap.Seq = prev.Seq + 1
	}
	present := map[string]bool{}
	for _, e := range entries {
		present[e.ID] = true
		s := m.seen[e.ID]
		if s == nil {
			// First sight: trust the stamp's age, but never a future one.
			age := max(now.Sub(time.UnixMilli(e.LastActivity)), 0)
			s = &seenNode{stamp: e.Stamp, lastChange: now.Add(-age)}
			m.seen[e.ID] = s
		} else if s.stamp != e.Stamp {
			s.stamp, s.lastChange = e.Stamp, now
		}
		if s.tasksSeen.IsZero() || e.TasksRaw != s.tasksRaw {
			s.tasksRaw, s.tasksSeen = e.TasksRaw, now
		}
		n := &Node{Entry: e, LastChange: s.lastChange, TasksChanged: s.tasksSeen,
			Online: now.Sub(s.lastChange) <= m.opts.Timeout}
		if n.Online {
			m.checkLease(s, n)
		}
		if !n.Online {
			n.Schemas, n.ProgressSchemas, n.ResultSchemas = nil, nil, nil
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
	return snap, forget
}

// readBeats reads the heartbeat and exception of every task a node lists,
// in one round trip. Offline nodes count too: a task whose worker still
// beats after its node went silent is still running somewhere (a Python
// Skald's workers outlive their node), and the dispatcher must not start
// a second copy of it.
func (m *Monitor) readBeats(ctx context.Context, snap *Snapshot) error {
	var ids, nodes []string
	for _, n := range snap.Nodes {
		for _, t := range n.Tasks {
			ids = append(ids, t.ID)
			nodes = append(nodes, n.ID)
		}
	}
	beats, err := m.reg.Beats(ctx, ids)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	keep := map[string][]int{}
	changed := map[string]time.Time{}
	for i, b := range beats {
		old := m.history[b.TaskID]
		at, seen := m.beatAt[b.TaskID]
		if !seen || len(old) == 0 || old[len(old)-1] != b.Heartbeat {
			at = snap.At
		}
		changed[b.TaskID] = at
		h := append(old, b.Heartbeat)
		if len(h) > m.opts.History {
			h = h[len(h)-m.opts.History:]
		}
		keep[b.TaskID] = h
		snap.Beats[b.TaskID] = TaskBeat{Beat: b, Node: nodes[i], History: append([]int(nil), h...), Changed: at}
	}
	m.history, m.beatAt = keep, changed
	return nil
}

// checkLease logs, once per value, a node whose liveness lease is not
// below the node timeout: it may run its workers on after this controller
// takes it for offline and moves their tasks. Nodes derive the lease from
// MONITOR_HEARTBEAT_TIMEOUT, so this is a node given another value than
// the controller (or an explicit SKALD_LIVENESS_LEASE for another timeout).
func (m *Monitor) checkLease(s *seenNode, n *Node) {
	lease := n.Capacity.Lease
	if lease < m.opts.Timeout || lease == s.lease {
		return
	}
	s.lease = lease
	m.log.Error("a node's liveness lease is not below this controller's node timeout: its workers may still run when their tasks move to other nodes; give nodes and controllers the same MONITOR_HEARTBEAT_TIMEOUT",
		"skaldId", n.ID, "lease", lease, "nodeTimeout", m.opts.Timeout)
}

func (m *Monitor) forget(ctx context.Context, n *Node) {
	removed, err := m.reg.Forget(ctx, n.ID, n.Stamp)
	if err != nil {
		m.log.Warn("removing an offline node from the registry", "skaldId", n.ID, "err", err)
		return
	}
	if removed {
		m.log.Info("removed a node offline for too long from the registry", "skaldId", n.ID, "offlineFor", time.Since(n.LastChange).Round(time.Second))
	}
}
