package api

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/skalds-go/skalds/controller/api/wire"
	"github.com/skalds-go/skalds/controller/metrics"
	"github.com/skalds-go/skalds/runtime/task"
)

// The charts of GET /api/system/charts: the controller samples, at a fixed
// interval, what it already knows into a ring of bounded size. Nothing here
// reads MongoDB or Redis: task counts come from the event feed's poll
// (which reads every task that has not ended, and the recently ended ones,
// every EventPoll anyway), update answers and dispatch latencies from
// package metrics, node counts from the monitor's registry snapshot.

// Defaults of Options.ChartInterval and Options.ChartSamples: one hour.
const (
	DefaultChartInterval = 10 * time.Second
	DefaultChartSamples  = 360
)

// activeStatuses are counted at each poll; endedStatuses are counted as
// tasks reach them.
var (
	activeStatuses = [...]task.Status{task.Created, task.Assigning, task.Running, task.Paused}
	endedStatuses  = [...]task.Status{task.Finished, task.Failed, task.Cancelled}
)

// chartSample is one sample as kept in the ring: fixed-size, about 120
// bytes, so that the ring's memory is its capacity times that.
type chartSample struct {
	at                     int64
	polled                 bool // whether active holds a poll's counts
	active                 [len(activeStatuses)]int64
	ended                  [len(endedStatuses)]int64
	applied, rejected      int64
	dispatched             int64
	p50, p99               time.Duration
	nodesOnline, nodeTasks int32
}

// charts holds the ring and what is counted between two samples.
type charts struct {
	interval time.Duration

	mu   sync.Mutex
	ring []chartSample // circular; next is the slot of the next sample
	next int
	full bool
	// From the event feed: the states of its last poll (nil before the
	// first), the counts of that poll, and the tasks seen ending since the
	// last sample.
	prev   map[string]taskState
	active [len(activeStatuses)]int64
	ended  [len(endedStatuses)]int64
	// totals are the metrics' counters at the last sample.
	totals metrics.Totals
}

func newCharts(interval time.Duration, samples int) *charts {
	return &charts{interval: interval, ring: make([]chartSample, samples)}
}

// polled counts a poll of the event feed: the tasks not ended by status,
// and those that reached an ended status since the poll before. The first
// poll is the baseline: the tasks it finds ended ended before the
// controller started, or at least before it looked.
func (c *charts) polled(states map[string]taskState) {
	var active [len(activeStatuses)]int64
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, st := range states {
		if i := statusIndex(activeStatuses[:], st.LifecycleStatus); i >= 0 {
			active[i]++
			continue
		}
		if i := statusIndex(endedStatuses[:], st.LifecycleStatus); i >= 0 && c.prev != nil {
			// A task unknown to the poll before ended between the two (it
			// was created and ran in between, or it is an ended task
			// written again, which is rare and counts once more).
			if old, known := c.prev[id]; !known || old.LifecycleStatus != st.LifecycleStatus {
				c.ended[i]++
			}
		}
	}
	c.prev, c.active = states, active
}

func statusIndex(in []task.Status, s task.Status) int {
	for i, x := range in {
		if x == s {
			return i
		}
	}
	return -1
}

// sample appends one sample, taken at now, to the ring.
func (s *Server) sample(now time.Time) {
	c := s.charts
	tot := s.d.Metrics.Totals()
	lat := s.d.Metrics.TakeDispatches()
	nc := s.snapshot().Counts()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ring[c.next] = chartSample{
		at: now.UnixMilli(), polled: c.prev != nil, active: c.active, ended: c.ended,
		applied: tot.UpdatesApplied - c.totals.UpdatesApplied, rejected: tot.UpdatesRejected - c.totals.UpdatesRejected,
		dispatched: lat.Count, p50: lat.P50, p99: lat.P99,
		nodesOnline: int32(nc.Online), nodeTasks: int32(nc.Running),
	}
	c.totals, c.ended = tot, [len(endedStatuses)]int64{}
	c.next = (c.next + 1) % len(c.ring)
	c.full = c.full || c.next == 0
}

// runCharts samples every interval until ctx ends.
func (s *Server) runCharts(ctx context.Context) {
	t := time.NewTicker(s.charts.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			s.sample(now)
		}
	}
}

// samples returns the samples taken after since (epoch ms), oldest first.
func (c *charts) samples(since int64) []wire.ChartSample {
	c.mu.Lock()
	defer c.mu.Unlock()
	start, n := 0, c.next
	if c.full {
		start, n = c.next, len(c.ring)
	}
	out := []wire.ChartSample{}
	for i := range n {
		cs := &c.ring[(start+i)%len(c.ring)]
		if cs.at <= since {
			continue
		}
		ws := wire.ChartSample{At: cs.at, Ended: map[string]int64{},
			UpdatesApplied: cs.applied, UpdatesRejected: cs.rejected, Dispatched: cs.dispatched,
			NodesOnline: int(cs.nodesOnline), NodeTasks: int(cs.nodeTasks)}
		if cs.polled {
			ws.Tasks = map[string]int64{}
			for j, st := range activeStatuses {
				ws.Tasks[string(st)] = cs.active[j]
			}
		}
		for j, st := range endedStatuses {
			ws.Ended[string(st)] = cs.ended[j]
		}
		if cs.dispatched > 0 {
			p50, p99 := ms(cs.p50), ms(cs.p99)
			ws.DispatchP50Ms, ws.DispatchP99Ms = &p50, &p99
		}
		out = append(out, ws)
	}
	return out
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// systemCharts serves the samples, all of them or, with ?since=<epoch ms>,
// those taken after it (what a page that already has the older ones asks
// for).
func (s *Server) systemCharts(w http.ResponseWriter, r *http.Request) {
	var since int64
	if v := r.URL.Query().Get("since"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			s.fail(w, r, http.StatusUnprocessableEntity, "invalid query",
				invalid("since", "must be a time in epoch milliseconds, such as the at of the last sample you have"))
			return
		}
		since = n
	}
	c := s.charts
	s.writeJSON(w, http.StatusOK, wire.Charts{
		Interval: c.interval.Seconds(), Window: (c.interval * time.Duration(len(c.ring))).Seconds(),
		Capacity: len(c.ring), Dispatching: s.d.Dispatcher != nil, Samples: c.samples(since),
	})
}
