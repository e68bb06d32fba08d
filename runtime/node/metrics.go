package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/skalds-go/skalds/runtime/liveness"
)

// MetricsAddrEnv names the environment variable of Options.MetricsAddr.
const MetricsAddrEnv = "SKALD_METRICS_ADDR"

// failStuck is the failure kind of a stopping worker that outlived the
// stop grace; the others are those of task.FailureKind.
const failStuck = "stuck"

// nodeMetrics are a node's Prometheus metrics, in a registry of its own so
// that two nodes in one process (as in tests) do not collide.
type nodeMetrics struct {
	reg       *prometheus.Registry
	hooks     *prometheus.HistogramVec
	updates   *prometheus.CounterVec
	applyLat  *prometheus.HistogramVec
	failures  *prometheus.CounterVec
	logsStats func() liveness.LogStats
}

func newNodeMetrics(n *Node) *nodeMetrics {
	m := &nodeMetrics{reg: prometheus.NewRegistry()}
	m.hooks = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "skalds_node_hook_duration_seconds",
		Help:    "How long workers' hooks ran, by worker class and hook (init, before, main, after, update, release).",
		Buckets: prometheus.ExponentialBuckets(0.001, 4, 10), // 1 ms .. 4.4 min
	}, []string{"class", "hook"})
	m.updates = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "skalds_node_updates_total",
		Help: "Attachment updates offered to workers, by worker class and result (applied, rejected).",
	}, []string{"class", "result"})
	m.applyLat = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "skalds_node_update_apply_seconds",
		Help:    "From the node reading a new attachments version to the worker's update hook accepting it, by worker class.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 4, 10),
	}, []string{"class"})
	m.failures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "skalds_node_task_failures_total",
		Help: "Failed tasks by worker class and the kind of failure recorded (start, error, panic, terminal, retryLater), and workers stuck past the stop grace (stuck).",
	}, []string{"class", "kind"})
	running := prometheus.NewDesc("skalds_node_tasks_running",
		"Workers running (or stopping) on the node, by worker class.", []string{"class"}, nil)
	logs := prometheus.NewDesc("skalds_node_task_log_records_total",
		"Task log records copied to Redis, by result (written, dropped: the buffer was full, failed: Redis refused).", []string{"result"}, nil)
	m.reg.MustRegister(m.hooks, m.updates, m.applyLat, m.failures,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectorFunc{descs: []*prometheus.Desc{running, logs}, collect: func(ch chan<- prometheus.Metric) {
			n.mu.Lock()
			per := make(map[string]int, len(n.classes))
			for class := range n.classes {
				per[class] = 0
			}
			for class, k := range n.perClass {
				per[class] = k
			}
			n.mu.Unlock()
			for class, k := range per {
				ch <- prometheus.MustNewConstMetric(running, prometheus.GaugeValue, float64(k), class)
			}
			st := n.tlogs.Stats()
			ch <- prometheus.MustNewConstMetric(logs, prometheus.CounterValue, float64(st.Written), "written")
			ch <- prometheus.MustNewConstMetric(logs, prometheus.CounterValue, float64(st.Dropped), "dropped")
			ch <- prometheus.MustNewConstMetric(logs, prometheus.CounterValue, float64(st.Failed), "failed")
		}})
	return m
}

// collectorFunc collects gauges read at scrape time, so that they never
// drift from the state they report.
type collectorFunc struct {
	descs   []*prometheus.Desc
	collect func(chan<- prometheus.Metric)
}

func (c collectorFunc) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

func (c collectorFunc) Collect(ch chan<- prometheus.Metric) { c.collect(ch) }

// hookDone records how long a hook ran.
func (m *nodeMetrics) hookDone(class, hook string, took time.Duration, _ error) {
	if m != nil {
		m.hooks.WithLabelValues(class, hook).Observe(took.Seconds())
	}
}

func (m *nodeMetrics) fail(class, kind string) {
	if m != nil {
		m.failures.WithLabelValues(class, kind).Inc()
	}
}

// update counts an update's result; applied ones also their latency.
func (m *nodeMetrics) update(class string, applied bool, since time.Time) {
	if m == nil {
		return
	}
	if !applied {
		m.updates.WithLabelValues(class, "rejected").Inc()
		return
	}
	m.updates.WithLabelValues(class, "applied").Inc()
	if !since.IsZero() {
		m.applyLat.WithLabelValues(class).Observe(time.Since(since).Seconds())
	}
}

// metricsAddr returns the address to serve metrics on: Options.MetricsAddr,
// else SKALD_METRICS_ADDR; "" serves none. An address without a host
// (":9464") is on loopback: the metrics name the classes and the load of a
// node, which is not for every network it is on. Listening more widely
// takes a host, such as 0.0.0.0:9464, and is logged.
func metricsAddr(opt string) string {
	if opt == "" {
		opt = os.Getenv(MetricsAddrEnv)
	}
	if opt == "" {
		return ""
	}
	if host, port, err := net.SplitHostPort(opt); err == nil && host == "" {
		return net.JoinHostPort("127.0.0.1", port)
	}
	return opt
}

// serveMetrics serves GET /metrics on addr until ctx ends. It fails at
// once when addr cannot be listened on, so that a mistyped address stops
// the node at start instead of leaving it unobserved.
func (n *Node) serveMetrics(ctx context.Context, addr string) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("node %s: serving metrics on %s (%s): %w", n.cfg.SkaldID, addr, MetricsAddrEnv, err)
	}
	if host, _, _ := net.SplitHostPort(addr); !isLoopback(host) {
		n.log.Warn("serving metrics beyond loopback; anyone who can reach the address can read them", "addr", ln.Addr().String())
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(n.metrics.reg, promhttp.HandlerOpts{ErrorLog: slogErrorLog{n.log}}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			n.log.Error("metrics server stopped", "err", err)
		}
	}()
	at := ln.Addr().String()
	n.metricsAt.Store(&at)
	n.log.Info("serving metrics", "addr", at, "path", "/metrics")
	return func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		<-done
	}, nil
}

// MetricsAddr is the address the node serves its metrics on, once Run
// has started serving them; "" otherwise. With a port of 0 the system
// picked one, and this tells which.
func (n *Node) MetricsAddr() string {
	if at := n.metricsAt.Load(); at != nil {
		return *at
	}
	return ""
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// slogErrorLog lets promhttp report through the node's logger.
type slogErrorLog struct{ log *slog.Logger }

func (l slogErrorLog) Println(v ...any) { l.log.Error("serving metrics", "err", fmt.Sprint(v...)) }
