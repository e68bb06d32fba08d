package api

import (
	"fmt"
	"math"
	"net/http"
	"runtime"
	"runtime/debug"
	"sort"
	"time"

	"github.com/skalds-go/skalds/controller/api/wire"
	"github.com/skalds-go/skalds/controller/monitor"
	"github.com/skalds-go/skalds/runtime/task"
)

// The /api/system endpoints that report on the controller itself. Their
// shapes are the Python ones, with these fixes: no endpoint fails because a
// setting came from the environment (Python called .value on plain
// strings); uptime is real; the version comes from the build, not a
// constant; analytics answer 422 for a bad query and 500 only for a
// failure, instead of turning both into 500.

// percent returns part/whole in percent, rounded to two decimals; 0 when
// whole is 0.
func percent(part, whole float64) float64 {
	if whole == 0 {
		return 0
	}
	return math.Round(part/whole*10000) / 100
}

// systemStatus reports the mode, the version, the uptime and whether each
// loop of the controller runs. A loop counts as running while it has
// completed a pass recently: within three intervals, and for the
// dispatcher ten seconds more, since a capped cycle over a large backlog
// may take that long.
func (s *Server) systemStatus(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	var uptime float64
	var startedAt *int64
	if st := s.started.Load(); st > 0 {
		uptime = math.Round(now.Sub(time.UnixMilli(st)).Seconds()*1000) / 1000
		startedAt = &st
	}
	components := []wire.Component{}
	if m := s.d.Monitor; m != nil {
		snap := m.Snapshot()
		running := snap != nil && now.Sub(snap.At) <= 3*m.Interval()
		interval, timeout := m.Interval().Seconds(), m.Timeout().Seconds()
		var c monitor.Counts
		var monitoredTasks int
		var lastRefresh *int64
		if snap != nil {
			c, monitoredTasks = snap.Counts(), len(snap.Beats)
			at := snap.At.UnixMilli()
			lastRefresh = &at
		}
		// One refresh reads both the registry and the task heartbeats; the
		// two Python threads are reported as two components all the same.
		components = append(components,
			wire.Component{Name: "SkaldMonitor", Running: running, Details: wire.ComponentDetails{
				Interval: &interval, Timeout: &timeout, MonitoredSkalds: &c.Total, OnlineSkalds: &c.Online, LastRefresh: lastRefresh}},
			wire.Component{Name: "TaskMonitor", Running: running, Details: wire.ComponentDetails{
				Interval: &interval, MonitoredTasks: &monitoredTasks, AliveTasks: &c.AliveTasks}})
	}
	if d := s.d.Dispatcher; d != nil {
		last := d.LastCycle()
		interval, maxClaims, nodes, load := d.Interval().Seconds(), d.MaxClaimsPerCycle(), 0, 0
		details := wire.ComponentDetails{Interval: &interval, Strategy: string(d.Strategy()),
			MaxClaimsPerCycle: &maxClaims, AvailableSkalds: &nodes, TotalSkaldTasks: &load}
		running := false
		if last != nil {
			running = now.Sub(last.At) <= 3*d.Interval()+10*time.Second
			details.LastCycle = &wire.Cycle{
				At: last.At.UnixMilli(), DurationMs: last.Took.Milliseconds(), Error: last.Err,
				Assigned: last.Result.Assigned, Moved: last.Result.Moved, Released: last.Result.Released,
				Retried: last.Result.Retried, Conflicts: last.Result.Conflicts, Capped: last.Result.Capped,
			}
			nodes, load = last.Nodes, last.NodeLoad
		}
		components = append(components, wire.Component{Name: "Dispatcher", Running: running, Details: details})
	}
	clients, _ := s.hub.connected()
	components = append(components, wire.Component{Name: "EventStreams", Running: startedAt != nil,
		Details: wire.ComponentDetails{ConnectedClients: &clients}})
	s.writeJSON(w, http.StatusOK, wire.SystemStatus{
		Mode: s.opts.Mode, Components: components, Uptime: uptime, StartedAt: startedAt,
		Version: s.version(),
	})
}

// version is the configured version, or else the module's.
func (s *Server) version() string {
	if s.opts.Version != "" {
		return s.opts.Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "unknown"
}

// systemConfig reports the configuration as the controller was given it,
// secrets masked by the caller.
func (s *Server) systemConfig(w http.ResponseWriter, r *http.Request) {
	s.writeJSON(w, http.StatusOK, s.opts.Config)
}

// reportedDeps are the modules whose versions GET /api/system/version
// lists: the clients of the servers the controller talks to.
var reportedDeps = []string{
	"go.mongodb.org/mongo-driver/v2",
	"github.com/redis/go-redis/v9",
	"github.com/segmentio/kafka-go",
	"github.com/prometheus/client_golang",
	"github.com/santhosh-tekuri/jsonschema/v6",
}

// systemVersion reports the build: version, commit and date from the
// binary's build information ("unknown" when built without version
// control, as in tests), and the Go version in place of Python's.
func (s *Server) systemVersion(w http.ResponseWriter, r *http.Request) {
	commit, date := "unknown", "unknown"
	deps := map[string]string{}
	if bi, ok := debug.ReadBuildInfo(); ok {
		dirty := false
		for _, st := range bi.Settings {
			switch st.Key {
			case "vcs.revision":
				commit = st.Value
			case "vcs.time":
				date = st.Value
			case "vcs.modified":
				dirty = st.Value == "true"
			}
		}
		if dirty && commit != "unknown" {
			commit += "-dirty"
		}
		want := map[string]bool{}
		for _, p := range reportedDeps {
			want[p] = true
		}
		for _, d := range bi.Deps {
			if want[d.Path] {
				v := d.Version
				if d.Replace != nil && d.Replace.Version != "" {
					v = d.Replace.Version
				}
				deps[d.Path] = v
			}
		}
	}
	s.writeJSON(w, http.StatusOK, wire.Version{
		Version: s.version(), BuildDate: date, GitCommit: commit, GoVersion: runtime.Version(),
		Dependencies: deps,
	})
}

// systemMetrics is Python's GET /api/system/metrics. Task counts are from
// MongoDB (Python's came partly from its in-memory monitor); the load
// figures are from the nodes' own task lists. capacityUtilization is an
// addition: the share of published MaxTasks slots in use on the online
// nodes that publish one, null when none does.
func (s *Server) systemMetrics(w http.ResponseWriter, r *http.Request) {
	counts, err := s.d.Store.CountByStatus(r.Context())
	if err != nil {
		s.internal(w, r, err)
		return
	}
	var total int64
	for _, c := range counts {
		total += c
	}
	snap := s.snapshot()
	c, monitored := snap.Counts(), 0
	if snap != nil {
		monitored = len(snap.Beats)
	}
	avg := 0.0
	if c.Online > 0 {
		avg = math.Round(float64(c.Running)/float64(c.Online)*100) / 100
	}
	m := wire.Metrics{Timestamp: time.Now().UnixMilli()}
	m.Skalds.Total, m.Skalds.Online, m.Skalds.Offline = c.Total, c.Online, c.Total-c.Online
	m.Skalds.Nodes, m.Skalds.Edges, m.Skalds.AvailableNodes = c.Nodes, c.Edges, c.OnlineNodes
	m.Skalds.BusyNodes, m.Skalds.IdleNodes = c.BusyNodes, c.OnlineNodes-c.BusyNodes
	m.Tasks.Monitored, m.Tasks.Running, m.Tasks.Failed = int64(monitored), counts[string(task.Running)], counts[string(task.Failed)]
	m.Tasks.Finished, m.Tasks.Cancelled, m.Tasks.Assigning = counts[string(task.Finished)], counts[string(task.Cancelled)], counts[string(task.Assigning)]
	m.Tasks.Total, m.Tasks.TotalAssigned = total, int64(c.Running)
	p := &m.Performance
	p.AverageTasksPerSkald, p.TaskDistribution = avg, c.PerNode
	p.SystemLoad.SkaldUtilization = percent(float64(c.Busy), float64(c.Online))
	p.SystemLoad.NodeUtilization = percent(float64(c.BusyNodes), float64(c.OnlineNodes))
	if c.Slots > 0 {
		u := percent(float64(c.SlotsUsed), float64(c.Slots))
		p.SystemLoad.CapacityUtilization = &u
	}
	s.writeJSON(w, http.StatusOK, m)
}

// taskDistribution is the number and share of tasks per lifecycleStatus,
// largest first (ties by status name, so the order is stable).
func (s *Server) taskDistribution(w http.ResponseWriter, r *http.Request) {
	counts, err := s.d.Store.CountByStatus(r.Context())
	if err != nil {
		s.internal(w, r, err)
		return
	}
	var total int64
	for _, c := range counts {
		total += c
	}
	rows := make([]wire.StatusCount, 0, len(counts))
	for st, c := range counts {
		rows = append(rows, wire.StatusCount{Status: st, Count: c, Percentage: percent(float64(c), float64(total))})
	}
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].Count != rows[j].Count {
			return rows[i].Count > rows[j].Count
		}
		return rows[i].Status < rows[j].Status
	})
	s.writeJSON(w, http.StatusOK, wire.Distribution{Distribution: rows, Total: total, Timestamp: time.Now().UnixMilli()})
}

// recentActivity counts the tasks created, written, finished and failed in
// the last ?hours= (1 to 168, default 24). successRate is finished out of
// finished plus failed, in percent; 0 when neither happened.
func (s *Server) recentActivity(w http.ResponseWriter, r *http.Request) {
	hours, fe := intParam(r, "hours", 24, 1, 168)
	if fe != nil {
		s.fail(w, r, http.StatusUnprocessableEntity, "invalid query", *fe)
		return
	}
	since := time.Now().Add(-time.Duration(hours) * time.Hour).UnixMilli()
	a, err := s.d.Store.ActivitySince(r.Context(), since)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, wire.Activity{
		Timeframe: fmt.Sprintf("Last %d hours", hours), Hours: hours, Since: since,
		TasksCreated: a.Created, TasksUpdated: a.Updated, TasksFinished: a.Finished, TasksFailed: a.Failed,
		SuccessRate: percent(float64(a.Finished), float64(a.Finished+a.Failed)),
	})
}
