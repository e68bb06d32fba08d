package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"time"

	"github.com/skalds-go/skalds/controller/api/wire"
	"github.com/skalds-go/skalds/controller/monitor"
	"github.com/skalds-go/skalds/runtime/task"
)

func status(online bool) string {
	if online {
		return "online"
	}
	return "offline"
}

// schemaConflicts lists the classes of n whose online nodes publish more
// than one schema.
func schemaConflicts(snap *monitor.Snapshot, n *monitor.Node) []string {
	out := []string{}
	if !n.Online {
		return out
	}
	for class := range n.Schemas {
		if len(snap.Schemas(class)) > 1 {
			out = append(out, class)
		}
	}
	sort.Strings(out)
	return out
}

func skaldResponse(snap *monitor.Snapshot, n *monitor.Node) wire.Skald {
	cur := make([]string, len(n.Tasks))
	for i, t := range n.Tasks {
		cur[i] = t.ID
	}
	sup := n.Classes
	if sup == nil {
		sup = []string{}
	}
	return wire.Skald{
		ID: n.ID, Type: n.Mode, Status: status(n.Online), LastHeartbeat: n.LastActivity,
		SupportedTasks: sup, CurrentTasks: cur, Heartbeat: n.Heartbeat, TaskCount: len(n.Tasks),
		SchemaConflicts: schemaConflicts(snap, n),
	}
}

// nodes returns the registry snapshot, answering 503 itself before the
// monitor has read Redis once.
func (s *Server) nodes(w http.ResponseWriter, r *http.Request) (*monitor.Snapshot, bool) {
	snap := s.snapshot()
	if snap == nil {
		s.fail(w, r, http.StatusServiceUnavailable, "the node registry has not been read from Redis yet")
		return nil, false
	}
	return snap, true
}

func (s *Server) listSkalds(w http.ResponseWriter, r *http.Request) {
	snap, ok := s.nodes(w, r)
	if !ok {
		return
	}
	typ, st := r.URL.Query().Get("type"), r.URL.Query().Get("status")
	var errs []fieldError
	if typ != "" && typ != "node" && typ != "edge" {
		errs = append(errs, invalid("type", `must be "node" or "edge"`))
	}
	if st != "" && st != "online" && st != "offline" {
		errs = append(errs, invalid("status", `must be "online" or "offline"`))
	}
	if len(errs) > 0 {
		s.fail(w, r, http.StatusUnprocessableEntity, "invalid query", errs...)
		return
	}
	items := []wire.Skald{}
	for _, n := range snap.Nodes {
		if (typ == "" || n.Mode == typ) && (st == "" || status(n.Online) == st) {
			items = append(items, skaldResponse(snap, n))
		}
	}
	s.writeJSON(w, http.StatusOK, wire.SkaldList{Items: items, Total: len(items)})
}

func (s *Server) getSkald(w http.ResponseWriter, r *http.Request) {
	snap, ok := s.nodes(w, r)
	if !ok {
		return
	}
	n := snap.Node(r.PathValue("id"))
	if n == nil {
		s.fail(w, r, http.StatusNotFound, fmt.Sprintf("skald %q not found in the registry", r.PathValue("id")))
		return
	}
	s.writeJSON(w, http.StatusOK, skaldResponse(snap, n))
}

// skaldTasks lists the tasks MongoDB assigns to the node (which is ahead of
// the node's own list by up to one sync period), with the time of their
// assignment rather than Python's "last activity of the node".
func (s *Server) skaldTasks(w http.ResponseWriter, r *http.Request) {
	snap, ok := s.nodes(w, r)
	if !ok {
		return
	}
	id := r.PathValue("id")
	if snap.Node(id) == nil {
		s.fail(w, r, http.StatusNotFound, fmt.Sprintf("skald %q not found in the registry", id))
		return
	}
	docs, err := s.d.Store.ListByExecutor(r.Context(), id)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	tasks := make([]wire.SkaldTask, len(docs))
	for i, d := range docs {
		var at *int64
		if d.AssignedDateTime != 0 {
			at = &docs[i].AssignedDateTime
		}
		tasks[i] = wire.SkaldTask{ID: d.ID, ClassName: d.ClassName, LifecycleStatus: d.LifecycleStatus, AssignedAt: at}
	}
	s.writeJSON(w, http.StatusOK, wire.SkaldTasks{SkaldID: id, Tasks: tasks, TotalTasks: len(tasks)})
}

func (s *Server) skaldStatistics(w http.ResponseWriter, r *http.Request) {
	snap, ok := s.nodes(w, r)
	if !ok {
		return
	}
	c := snap.Counts()
	avg := 0.0
	if c.Total > 0 {
		avg = float64(c.Listed) / float64(c.Total)
	}
	st := wire.SkaldStatistics{
		TotalSkalds: c.Total, OnlineSkalds: c.Online, OfflineSkalds: c.Total - c.Online,
		NodeSkalds: c.Nodes, EdgeSkalds: c.Edges, AvailableNodes: c.OnlineNodes,
		TotalRunningTasks: c.Listed, AverageTasksPerSkald: avg,
	}
	st.Details.OnlineNodes, st.Details.OnlineEdges = c.OnlineNodes, c.OnlineEdges
	st.Details.BusyNodes, st.Details.IdleNodes = c.BusyNodes, c.OnlineNodes-c.BusyNodes
	s.writeJSON(w, http.StatusOK, st)
}

// health probes every dependency. MongoDB down is unhealthy (503): the
// controller can do nothing. Redis or Kafka down, or a registry snapshot
// older than three refreshes, is degraded (200): dispatch or notification
// is impaired, reads still work.
func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	services := map[string]string{}
	check := func(name string, err error) bool {
		if err != nil {
			// Driver errors name addresses and internals: the log keeps
			// them under an incident id, the answer only says what failed.
			id := incidentID()
			s.log.Warn("health check failed", "incident", id, "service", name, "err", err)
			what := "error"
			if task.Unreachable(err) {
				what = "unreachable"
			}
			services[name] = fmt.Sprintf("unhealthy: %s (incident %s)", what, id)
			return false
		}
		services[name] = "healthy"
		return true
	}
	mongoOK := check("mongo", s.d.Store.Ping(ctx))
	degraded := false
	if s.d.Redis != nil {
		degraded = !check("redis", s.d.Redis.Ping(ctx).Err()) || degraded
	}
	if s.d.KafkaCheck != nil {
		degraded = !check("kafka", s.d.KafkaCheck(ctx)) || degraded
	} else {
		services["kafka"] = "disabled"
	}
	if s.d.Monitor != nil {
		snap := s.d.Monitor.Snapshot()
		var err error
		if snap == nil {
			err = errors.New("no registry snapshot yet")
		} else if age := time.Since(snap.At); age > 3*s.monitorInterval() {
			err = fmt.Errorf("last registry snapshot is %s old", age.Round(time.Millisecond))
		}
		degraded = !check("monitor", err) || degraded
	}
	st, code := "healthy", http.StatusOK
	switch {
	case !mongoOK:
		st, code = "unhealthy", http.StatusServiceUnavailable
	case degraded:
		st = "degraded"
	}
	s.writeJSON(w, code, wire.Health{Status: st, Timestamp: time.Now().UnixMilli(), Services: services})
}

func (s *Server) monitorInterval() time.Duration {
	if s.opts.MonitorInterval > 0 {
		return s.opts.MonitorInterval
	}
	return 5 * time.Second
}

func (s *Server) summary(w http.ResponseWriter, r *http.Request) {
	counts, err := s.d.Store.CountByStatus(r.Context())
	if err != nil {
		s.internal(w, r, err)
		return
	}
	var total int64
	for _, c := range counts {
		total += c
	}
	c := s.snapshot().Counts()
	s.writeJSON(w, http.StatusOK, wire.Summary{
		TotalSkalds: c.Total, OnlineSkalds: c.Online, NodeSkalds: c.Nodes, EdgeSkalds: c.Edges,
		TotalTasks:     total,
		CreatedTasks:   counts[string(task.Created)],
		AssigningTasks: counts[string(task.Assigning)],
		RunningTasks:   counts[string(task.Running)],
		PausedTasks:    counts[string(task.Paused)],
		FinishedTasks:  counts[string(task.Finished)],
		FailedTasks:    counts[string(task.Failed)],
		CancelledTasks: counts[string(task.Cancelled)],
	})
}

// skaldOf returns the node of the path's id, answering 503 before the
// first registry read and 404 for an unknown id itself.
func (s *Server) skaldOf(w http.ResponseWriter, r *http.Request) (*monitor.Node, bool) {
	snap, ok := s.nodes(w, r)
	if !ok {
		return nil, false
	}
	id := r.PathValue("id")
	n := snap.Node(id)
	if n == nil {
		s.fail(w, r, http.StatusNotFound, fmt.Sprintf("skald %q not found in the registry", id))
		return nil, false
	}
	return n, true
}

// heartbeatAge is how long ago the node's activity stamp last changed, on
// the controller's clock (as the monitor judges liveness), in ms. Python
// subtracted the node's own stamp from the controller's time, which clock
// skew between machines distorts.
func heartbeatAge(n *monitor.Node) int64 {
	return max(time.Since(n.LastChange).Milliseconds(), 0)
}

// capacityOf reports a node's published limits; null fields are no limit.
func capacityOf(n *monitor.Node) wire.Capacity {
	var maxTasks *int
	if n.Capacity.MaxTasks > 0 {
		maxTasks = &n.Capacity.MaxTasks
	}
	classes := map[string]int{}
	for c, k := range n.Capacity.Classes {
		classes[c] = k
	}
	return wire.Capacity{MaxTasks: maxTasks, ClassLimits: classes}
}

// skaldStatus is Python's GET /api/skalds/{id}/status. canAcceptTasks
// also requires room under the node's published MaxTasks (counted from its
// own task list), since a full node accepts nothing; uptime stays null, as
// nodes do not publish their start time.
func (s *Server) skaldStatus(w http.ResponseWriter, r *http.Request) {
	n, ok := s.skaldOf(w, r)
	if !ok {
		return
	}
	tasks := make([]wire.RunningRef, len(n.Tasks))
	for i, t := range n.Tasks {
		tasks[i] = wire.RunningRef{ID: t.ID, ClassName: t.ClassName}
	}
	room := n.Capacity.MaxTasks == 0 || len(n.Tasks) < n.Capacity.MaxTasks
	st := wire.SkaldStatus{
		SkaldID: n.ID, Status: status(n.Online), Type: n.Mode, Heartbeat: n.Heartbeat,
		LastUpdate: n.LastActivity, TaskCount: len(n.Tasks), IsOnline: n.Online,
	}
	st.Details.CanAcceptTasks = n.Mode == "node" && n.Online && room
	st.Details.LastHeartbeatAge = heartbeatAge(n)
	st.Details.Tasks = tasks
	st.Details.Capacity = capacityOf(n)
	s.writeJSON(w, http.StatusOK, st)
}

// skaldHeartbeat is Python's GET /api/skalds/{id}/heartbeat.
func (s *Server) skaldHeartbeat(w http.ResponseWriter, r *http.Request) {
	n, ok := s.skaldOf(w, r)
	if !ok {
		return
	}
	s.writeJSON(w, http.StatusOK, wire.SkaldHeartbeat{
		SkaldID: n.ID, Heartbeat: n.Heartbeat, LastUpdate: n.LastActivity,
		HeartbeatAge: heartbeatAge(n), IsOnline: n.Online, Timestamp: time.Now().UnixMilli(),
	})
}

// skaldPing answers from the registry whether the node is online and how
// old its last heartbeat is. Like Python's it sends nothing to the node
// (nodes listen to nothing but MongoDB and Kafka); unlike Python's, an
// unknown id is 404 rather than "offline".
func (s *Server) skaldPing(w http.ResponseWriter, r *http.Request) {
	n, ok := s.skaldOf(w, r)
	if !ok {
		return
	}
	s.writeJSON(w, http.StatusOK, success{
		Success: n.Online,
		Message: fmt.Sprintf("Skald %s is %s", n.ID, status(n.Online)),
		Data: wire.SkaldPing{SkaldID: n.ID, Online: n.Online, LastHeartbeat: n.LastActivity,
			HeartbeatAge: heartbeatAge(n)},
	})
}
