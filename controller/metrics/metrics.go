// Package metrics exposes the controller's Prometheus metrics. Each
// controller has its own registry (never the global one), so that several
// controllers in one process, as in tests, do not collide.
//
// Gauges that describe the whole system (tasks by status, nodes) are read
// at scrape time from MongoDB and the registry snapshot, so that every
// controller of a deployment reports the same numbers and nothing drifts
// after a restart. Counters and histograms count what this controller did
// since it started; sum them over controllers.
package metrics

import (
	"context"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/skalds-go/skalds/controller/monitor"
	"github.com/skalds-go/skalds/runtime/task"
)

const namespace = "skalds"

// Assignment kinds, the values of the "kind" label of AssignmentsTotal.
const (
	KindAssign  = "assign"  // a Created task given to a node
	KindMove    = "move"    // a task of an offline node given to another
	KindRetry   = "retry"   // a Failed task given another run
	KindRelease = "release" // a task of an offline node handed back as Created
)

// Acknowledgement results, the values of the "result" label of
// UpdateAcks.
const (
	AckApplied  = "applied"
	AckRejected = "rejected"
)

// Counter is what the task-count collector needs of the store.
type Counter interface {
	CountByStatus(ctx context.Context) (map[string]int64, error)
	StorageBytes(ctx context.Context) (int64, error)
}

// Nodes gives the registry snapshot; *monitor.Monitor is one.
type Nodes interface {
	Snapshot() *monitor.Snapshot
}

// Metrics holds the controller's collectors. A nil *Metrics records
// nothing, so the parts that observe need no check.
type Metrics struct {
	reg *prometheus.Registry

	assignments     *prometheus.CounterVec
	conflicts       prometheus.Counter
	dispatchLatency prometheus.Histogram
	failoverLatency prometheus.Histogram
	updateAcks      *prometheus.CounterVec
	schemaRejects   prometheus.Counter
	retained        prometheus.Counter

	// applied and rejected mirror updateAcks for Totals, and recent the
	// dispatch latencies since the last TakeDispatches: what the API's
	// charts sample, without parsing Prometheus' own structures.
	applied, rejected atomic.Int64
	recent            latencyWindow
}

// latencyBuckets span 10 ms to about 5 min: a dispatch on an idle system
// takes one dispatch interval, a failover takes the node timeout plus one.
var latencyBuckets = prometheus.ExponentialBucketsRange(0.01, 300, 16)

// New registers the collectors. tasks and nodes feed the gauges; either
// may be nil, which leaves its gauges out.
func New(tasks Counter, nodes Nodes, log *slog.Logger) *Metrics {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		assignments: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "assignments_total",
			Help: "Assignments written by this controller, by kind: assign (Created task to a node), move (task of an offline node to another), retry (Failed task run again), release (task of an offline node handed back as Created).",
		}, []string{"kind"}),
		conflicts: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "assignment_conflicts_total",
			Help: "Assignments not written because another writer changed the task first.",
		}),
		dispatchLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Name: "dispatch_latency_seconds",
			Help:    "Time from a task's createDateTime to its first claim by a node (createDateTime is the creator's clock).",
			Buckets: latencyBuckets,
		}),
		failoverLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Name: "failover_latency_seconds",
			Help:    "Time from the last sign of life of a node to the reassignment of one of its tasks to another node; includes the node timeout.",
			Buckets: latencyBuckets,
		}),
		updateAcks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "attachment_update_acks_total",
			Help: "Attachment updates that running workers acknowledged, as seen by this controller's event feed, by result: applied or rejected.",
		}, []string{"result"}),
		schemaRejects: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "attachment_schema_rejections_total",
			Help: "Requests refused with 422 because their attachments did not match the JSON Schema published for the class.",
		}),
		retained: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "retention_deleted_tasks_total",
			Help: "Ended tasks this controller deleted because they were older than the retention age (SKALD_TASK_RETENTION).",
		}),
	}
	m.reg.MustRegister(m.assignments, m.conflicts, m.dispatchLatency, m.failoverLatency, m.updateAcks, m.schemaRejects, m.retained,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, k := range []string{KindAssign, KindMove, KindRetry, KindRelease} {
		m.assignments.WithLabelValues(k)
	}
	for _, r := range []string{AckApplied, AckRejected} {
		m.updateAcks.WithLabelValues(r)
	}
	if tasks != nil {
		m.reg.MustRegister(&taskCollector{tasks: tasks, log: log})
	}
	if nodes != nil {
		m.reg.MustRegister(&nodeCollector{nodes: nodes})
	}
	return m
}

// Registry is the registry the handler serves, for adding collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg, ErrorHandling: promhttp.ContinueOnError})
}

// Assigned counts one written assignment of kind.
func (m *Metrics) Assigned(kind string) {
	if m != nil {
		m.assignments.WithLabelValues(kind).Inc()
	}
}

// Conflict counts one assignment lost to a concurrent writer.
func (m *Metrics) Conflict() {
	if m != nil {
		m.conflicts.Inc()
	}
}

// Dispatched records the time from a task's creation to its first claim.
func (m *Metrics) Dispatched(d time.Duration) {
	if m != nil && d >= 0 {
		m.dispatchLatency.Observe(d.Seconds())
		m.recent.add(d)
	}
}

// FailedOver records the time from a node's last sign of life to the move
// of one of its tasks.
func (m *Metrics) FailedOver(d time.Duration) {
	if m != nil && d >= 0 {
		m.failoverLatency.Observe(d.Seconds())
	}
}

// Acknowledged counts a worker's answer to an attachment update.
func (m *Metrics) Acknowledged(result string) {
	if m != nil {
		m.updateAcks.WithLabelValues(result).Inc()
		switch result {
		case AckApplied:
			m.applied.Add(1)
		case AckRejected:
			m.rejected.Add(1)
		}
	}
}

// Totals are the counters of this controller since it started, as the
// API's charts sample them.
type Totals struct {
	UpdatesApplied, UpdatesRejected int64 // attachment_update_acks_total by result
}

// Totals returns the counters so far; zero on a nil *Metrics.
func (m *Metrics) Totals() Totals {
	if m == nil {
		return Totals{}
	}
	return Totals{UpdatesApplied: m.applied.Load(), UpdatesRejected: m.rejected.Load()}
}

// Latencies summarises the dispatch latencies of one interval.
type Latencies struct {
	Count    int64         // dispatches measured in the interval
	P50, P99 time.Duration // zero when Count is 0
}

// TakeDispatches returns the dispatch latencies recorded since the last
// call, summarised, and starts a new interval. It has one caller, the
// API's chart sampler; quantiles are exact up to MaxWindowSamples
// dispatches per interval and estimated from a uniform sample of them
// beyond.
func (m *Metrics) TakeDispatches() Latencies {
	if m == nil {
		return Latencies{}
	}
	return m.recent.take()
}

// MaxWindowSamples bounds the latencies kept per chart interval (8 bytes
// each).
const MaxWindowSamples = 1024

// latencyWindow keeps a uniform sample (reservoir sampling) of at most
// MaxWindowSamples latencies, so that a burst of claims costs bounded
// memory and the quantiles stay unbiased.
type latencyWindow struct {
	mu   sync.Mutex
	n    int64
	vals []time.Duration
}

func (w *latencyWindow) add(d time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.n++
	if len(w.vals) < MaxWindowSamples {
		w.vals = append(w.vals, d)
	} else if i := rand.Int64N(w.n); i < MaxWindowSamples {
		w.vals[i] = d
	}
}

func (w *latencyWindow) take() Latencies {
	w.mu.Lock()
	vals, n := w.vals, w.n
	w.vals, w.n = make([]time.Duration, 0, len(vals)), 0
	w.mu.Unlock()
	if n == 0 {
		return Latencies{}
	}
	sort.Slice(vals, func(i, j int) bool { return vals[i] < vals[j] })
	// Nearest rank: the smallest value with at least p of them at or
	// below it.
	q := func(p float64) time.Duration {
		return vals[max(0, int(math.Ceil(p*float64(len(vals))))-1)]
	}
	return Latencies{Count: n, P50: q(0.50), P99: q(0.99)}
}

// SchemaRejected counts a request refused by the class's JSON Schema.
func (m *Metrics) SchemaRejected() {
	if m != nil {
		m.schemaRejects.Inc()
	}
}

// Deleted counts tasks deleted by retention.
func (m *Metrics) Deleted(n int64) {
	if m != nil && n > 0 {
		m.retained.Add(float64(n))
	}
}

// scrapeTimeout bounds the MongoDB count of one scrape.
const scrapeTimeout = 5 * time.Second

var (
	tasksDesc     = prometheus.NewDesc(namespace+"_tasks", "Tasks in MongoDB by lifecycleStatus.", []string{"status"}, nil)
	documentsDesc = prometheus.NewDesc(namespace+"_tasks_collection_documents", "Documents in the tasks collection, whatever their status: what retention (SKALD_TASK_RETENTION) keeps in check.", nil, nil)
	bytesDesc     = prometheus.NewDesc(namespace+"_tasks_collection_bytes", "Size of the documents of the tasks collection as the server reports it ($collStats storageStats.size).", nil, nil)
)

// statuses are always reported, at zero when no task has them, so that a
// dashboard's series do not disappear.
var statuses = task.Statuses

type taskCollector struct {
	tasks Counter
	log   *slog.Logger
}

func (c *taskCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- tasksDesc
	ch <- documentsDesc
	ch <- bytesDesc
}

func (c *taskCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	counts, err := c.tasks.CountByStatus(ctx)
	if err != nil {
		c.log.Warn("metrics: counting tasks by status", "err", err)
		ch <- prometheus.NewInvalidMetric(tasksDesc, err)
		return
	}
	var docs int64
	for _, n := range counts {
		docs += n
	}
	ch <- prometheus.MustNewConstMetric(documentsDesc, prometheus.GaugeValue, float64(docs))
	if size, err := c.tasks.StorageBytes(ctx); err != nil {
		c.log.Warn("metrics: reading the size of the tasks collection", "err", err)
		ch <- prometheus.NewInvalidMetric(bytesDesc, err)
	} else {
		ch <- prometheus.MustNewConstMetric(bytesDesc, prometheus.GaugeValue, float64(size))
	}
	for _, s := range statuses {
		ch <- prometheus.MustNewConstMetric(tasksDesc, prometheus.GaugeValue, float64(counts[string(s)]), string(s))
	}
	for s, n := range counts {
		known := false
		for _, k := range statuses {
			known = known || string(k) == s
		}
		if !known {
			ch <- prometheus.MustNewConstMetric(tasksDesc, prometheus.GaugeValue, float64(n), s)
		}
	}
}

var (
	nodesOnlineDesc = prometheus.NewDesc(namespace+"_nodes_online", "Nodes in the registry whose activity stamp moved within the node timeout, by mode (node or edge).", []string{"mode"}, nil)
	nodesDesc       = prometheus.NewDesc(namespace+"_nodes", "Nodes in the registry, online or not, by mode.", []string{"mode"}, nil)
	runningDesc     = prometheus.NewDesc(namespace+"_node_tasks", "Tasks that online nodes list as running, summed over nodes.", nil, nil)
	snapshotAgeDesc = prometheus.NewDesc(namespace+"_registry_snapshot_age_seconds", "Age of the registry snapshot the node gauges come from.", nil, nil)
)

type nodeCollector struct{ nodes Nodes }

func (c *nodeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- nodesOnlineDesc
	ch <- nodesDesc
	ch <- runningDesc
	ch <- snapshotAgeDesc
}

func (c *nodeCollector) Collect(ch chan<- prometheus.Metric) {
	snap := c.nodes.Snapshot()
	if snap == nil {
		return // no registry read yet: report nothing rather than zero nodes
	}
	n := snap.Counts()
	for mode, v := range map[string]int{"node": n.OnlineNodes, "edge": n.OnlineEdges} {
		ch <- prometheus.MustNewConstMetric(nodesOnlineDesc, prometheus.GaugeValue, float64(v), mode)
	}
	for mode, v := range map[string]int{"node": n.Nodes, "edge": n.Edges} {
		ch <- prometheus.MustNewConstMetric(nodesDesc, prometheus.GaugeValue, float64(v), mode)
	}
	ch <- prometheus.MustNewConstMetric(runningDesc, prometheus.GaugeValue, float64(n.Running))
	ch <- prometheus.MustNewConstMetric(snapshotAgeDesc, prometheus.GaugeValue, time.Since(snap.At).Seconds())
}
