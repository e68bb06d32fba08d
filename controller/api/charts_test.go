package api

import (
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
	"unsafe"

	"github.com/skalds-go/skalds/controller/api/wire"
	"github.com/skalds-go/skalds/controller/metrics"
	"github.com/skalds-go/skalds/runtime/task"
)

// The ring and the counting between polls are in-memory logic; the
// endpoint over a running controller is tested in integration/controller.

func states(kv ...any) map[string]taskState {
	m := map[string]taskState{}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i].(string)] = taskState{LifecycleStatus: kv[i+1].(task.Status)}
	}
	return m
}

func TestChartsCountTasksEndingBetweenPolls(t *testing.T) {
	m := metrics.New(nil, nil, nil)
	s := New(Deps{Metrics: m}, Options{ChartSamples: 4})
	c := s.charts
	at := time.UnixMilli(1_000_000)
	s.sample(at) // before the first poll: no task counts
	// The first poll is the baseline: old-done ended before we looked.
	c.polled(states("a", task.Running, "b", task.Created, "old-done", task.Finished))
	c.polled(states("a", task.Running, "b", task.Running, "old-done", task.Finished, "quick", task.Failed))
	c.polled(states("a", task.Finished, "b", task.Running, "old-done", task.Finished, "quick", task.Failed))
	m.Acknowledged(metrics.AckApplied)
	m.Acknowledged(metrics.AckRejected)
	m.Acknowledged(metrics.AckApplied)
	m.Dispatched(20 * time.Millisecond)
	m.Dispatched(40 * time.Millisecond)
	s.sample(at.Add(time.Second))
	c.polled(states("b", task.Cancelled))
	s.sample(at.Add(2 * time.Second))

	got := c.samples(0)
	if len(got) != 3 {
		t.Fatalf("%d samples, want 3", len(got))
	}
	if got[0].Tasks != nil || got[0].DispatchP50Ms != nil {
		t.Errorf("a sample before the first poll and without dispatches: %+v, want null tasks and latency", got[0])
	}
	s1 := got[1]
	wantTasks := map[string]int64{"Created": 0, "Assigning": 0, "Running": 1, "Paused": 0}
	wantEnded := map[string]int64{"Finished": 1, "Failed": 1, "Cancelled": 0}
	if !maps.Equal(s1.Tasks, wantTasks) || !maps.Equal(s1.Ended, wantEnded) {
		t.Errorf("second sample: tasks %v ended %v; want %v and %v", s1.Tasks, s1.Ended, wantTasks, wantEnded)
	}
	if s1.UpdatesApplied != 2 || s1.UpdatesRejected != 1 || s1.Dispatched != 2 ||
		s1.DispatchP50Ms == nil || *s1.DispatchP50Ms != 20 || *s1.DispatchP99Ms != 40 {
		t.Errorf("second sample: %+v, want 2 applied, 1 rejected, 2 dispatched at p50 20 ms and p99 40 ms", s1)
	}
	s2 := got[2]
	if s2.Ended["Cancelled"] != 1 || s2.Ended["Finished"] != 0 || s2.UpdatesApplied != 0 || s2.Dispatched != 0 || s2.Tasks["Running"] != 0 {
		t.Errorf("third sample counts only its own interval: %+v", s2)
	}
}

func TestChartsKeepTheLastSamplesAndAnswerSince(t *testing.T) {
	s := New(Deps{}, Options{ChartInterval: time.Second, ChartSamples: 3})
	for i := range 5 {
		s.sample(time.UnixMilli(int64(1000 * (i + 1))))
	}
	get := func(query string) (int, wire.Charts) {
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/system/charts"+query, nil))
		var out wire.Charts
		if rec.Code == http.StatusOK {
			if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
				t.Fatal(err)
			}
		}
		return rec.Code, out
	}
	code, all := get("")
	if code != http.StatusOK || all.Capacity != 3 || all.Interval != 1 || all.Window != 3 || all.Dispatching {
		t.Fatalf("%d %+v, want 200 with capacity 3, interval 1 s, window 3 s, not dispatching", code, all)
	}
	var ats []int64
	for _, cs := range all.Samples {
		ats = append(ats, cs.At)
	}
	if len(ats) != 3 || ats[0] != 3000 || ats[1] != 4000 || ats[2] != 5000 {
		t.Errorf("samples at %v, want the last three, oldest first: [3000 4000 5000]", ats)
	}
	if _, newer := get("?since=4000"); len(newer.Samples) != 1 || newer.Samples[0].At != 5000 {
		t.Errorf("since 4000: %+v, want only the sample at 5000", newer.Samples)
	}
	if _, none := get("?since=5000"); none.Samples == nil || len(none.Samples) != 0 {
		t.Errorf("since the last sample: %+v, want an empty list", none.Samples)
	}
	for _, bad := range []string{"?since=yesterday", "?since=-1"} {
		if code, _ := get(bad); code != http.StatusUnprocessableEntity {
			t.Errorf("%s: %d, want 422", bad, code)
		}
	}
}

// The README and Options.ChartSamples give the ring's memory as about 120
// bytes a sample.
func TestAChartSampleTakesAbout120Bytes(t *testing.T) {
	if n := unsafe.Sizeof(chartSample{}); n > 128 {
		t.Errorf("a sample takes %d bytes; update the figures given in the README and on Options.ChartSamples", n)
	}
}
