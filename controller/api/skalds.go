package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"time"

	"github.com/skalds-go/skalds/controller/monitor"
	"github.com/skalds-go/skalds/runtime/task"
)

// SkaldResponse is Python's SkaldResponse; lastHeartbeat is an integer
// (epoch ms) here, as everywhere else.
type SkaldResponse struct {
	ID             string   `json:"id"`
	Type           string   `json:"type"`
	Status         string   `json:"status"`
	LastHeartbeat  int64    `json:"lastHeartbeat"`
	SupportedTasks []string `json:"supportedTasks"`
	CurrentTasks   []string `json:"currentTasks"`
	Heartbeat      int      `json:"heartbeat"`
	TaskCount      int      `json:"taskCount"`
	// SchemaConflicts are the classes for which this node publishes a
	// schema that differs from another online node's: attachments must
	// satisfy both, so an operator should align the nodes.
	SchemaConflicts []string `json:"schemaConflicts"`
}

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

func skaldResponse(snap *monitor.Snapshot, n *monitor.Node) SkaldResponse {
	cur := make([]string, len(n.Tasks))
	for i, t := range n.Tasks {
		cur[i] = t.ID
	}
	sup := n.Classes
	if sup == nil {
		sup = []string{}
	}
	return SkaldResponse{
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
	items := []SkaldResponse{}
	for _, n := range snap.Nodes {
		if (typ == "" || n.Mode == typ) && (st == "" || status(n.Online) == st) {
			items = append(items, skaldResponse(snap, n))
		}
	}
	s.writeJSON(w, http.StatusOK, map[string]any{"items": items, "total": len(items)})
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
	tasks := make([]map[string]any, len(docs))
	for i, d := range docs {
		var at *int64
		if d.AssignedDateTime != 0 {
			at = &docs[i].AssignedDateTime
		}
		tasks[i] = map[string]any{"id": d.ID, "className": d.ClassName, "lifecycleStatus": d.LifecycleStatus, "assignedAt": at}
	}
	s.writeJSON(w, http.StatusOK, map[string]any{"skaldId": id, "tasks": tasks, "totalTasks": len(tasks)})
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
	s.writeJSON(w, http.StatusOK, map[string]any{
		"totalSkalds": c.Total, "onlineSkalds": c.Online, "offlineSkalds": c.Total - c.Online,
		"nodeSkalds": c.Nodes, "edgeSkalds": c.Edges, "availableNodes": c.OnlineNodes,
		"totalRunningTasks": c.Listed, "averageTasksPerSkald": avg,
		"details": map[string]int{"onlineNodes": c.OnlineNodes, "onlineEdges": c.OnlineEdges, "busyNodes": c.BusyNodes, "idleNodes": c.OnlineNodes - c.BusyNodes},
	})
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
			if unreachable(err) {
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
	s.writeJSON(w, code, map[string]any{"status": st, "timestamp": time.Now().UnixMilli(), "services": services})
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
	s.writeJSON(w, http.StatusOK, map[string]any{
		"totalSkalds": c.Total, "onlineSkalds": c.Online, "nodeSkalds": c.Nodes, "edgeSkalds": c.Edges,
		"totalTasks":     total,
		"createdTasks":   counts[string(task.Created)],
		"assigningTasks": counts[string(task.Assigning)],
		"runningTasks":   counts[string(task.Running)],
		"pausedTasks":    counts[string(task.Paused)],
		"finishedTasks":  counts[string(task.Finished)],
		"failedTasks":    counts[string(task.Failed)],
		"cancelledTasks": counts[string(task.Cancelled)],
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
func capacityOf(n *monitor.Node) map[string]any {
	var maxTasks *int
	if n.Capacity.MaxTasks > 0 {
		maxTasks = &n.Capacity.MaxTasks
	}
	classes := map[string]int{}
	for c, k := range n.Capacity.Classes {
		classes[c] = k
	}
	return map[string]any{"maxTasks": maxTasks, "classLimits": classes}
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
	tasks := make([]map[string]string, len(n.Tasks))
	for i, t := range n.Tasks {
		tasks[i] = map[string]string{"id": t.ID, "className": t.ClassName}
	}
	room := n.Capacity.MaxTasks == 0 || len(n.Tasks) < n.Capacity.MaxTasks
	s.writeJSON(w, http.StatusOK, map[string]any{
		"skaldId": n.ID, "status": status(n.Online), "type": n.Mode, "heartbeat": n.Heartbeat,
		"lastUpdate": n.LastActivity, "taskCount": len(n.Tasks), "isOnline": n.Online, "uptime": nil,
		"details": map[string]any{
			"canAcceptTasks":   n.Mode == "node" && n.Online && room,
			"lastHeartbeatAge": heartbeatAge(n),
			"tasks":            tasks,
			"capacity":         capacityOf(n),
		},
	})
}

// skaldHeartbeat is Python's GET /api/skalds/{id}/heartbeat.
func (s *Server) skaldHeartbeat(w http.ResponseWriter, r *http.Request) {
	n, ok := s.skaldOf(w, r)
	if !ok {
		return
	}
	s.writeJSON(w, http.StatusOK, map[string]any{
		"skaldId": n.ID, "heartbeat": n.Heartbeat, "lastUpdate": n.LastActivity,
		"heartbeatAge": heartbeatAge(n), "isOnline": n.Online, "timestamp": time.Now().UnixMilli(),
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
		Data: map[string]any{"skaldId": n.ID, "online": n.Online, "lastHeartbeat": n.LastActivity,
			"heartbeatAge": heartbeatAge(n)},
	})
}
