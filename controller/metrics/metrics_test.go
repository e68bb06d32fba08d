package metrics

import (
	"testing"
	"time"
)

func TestTakeDispatchesSummarisesOneIntervalAtATime(t *testing.T) {
	m := New(nil, nil, nil)
	if got := m.TakeDispatches(); got != (Latencies{}) {
		t.Fatalf("no dispatch yet: %+v, want zero", got)
	}
	for i := 1; i <= 100; i++ {
		m.Dispatched(time.Duration(i) * time.Millisecond)
	}
	m.Dispatched(-time.Second) // a creator's clock ahead of ours: not a latency
	got := m.TakeDispatches()
	want := Latencies{Count: 100, P50: 50 * time.Millisecond, P99: 99 * time.Millisecond}
	if got != want {
		t.Errorf("first interval: %+v, want %+v", got, want)
	}
	m.Dispatched(7 * time.Second)
	if got := m.TakeDispatches(); got != (Latencies{Count: 1, P50: 7 * time.Second, P99: 7 * time.Second}) {
		t.Errorf("second interval holds only its own dispatch: %+v", got)
	}
	if got := m.TakeDispatches(); got.Count != 0 {
		t.Errorf("third interval: %+v, want nothing", got)
	}
}

func TestTakeDispatchesKeepsABoundedSample(t *testing.T) {
	m := New(nil, nil, nil)
	n := 10 * MaxWindowSamples
	for i := range n {
		m.Dispatched(time.Duration(i%100) * time.Millisecond)
	}
	if l := len(m.recent.vals); l != MaxWindowSamples {
		t.Fatalf("kept %d latencies, want the bound %d", l, MaxWindowSamples)
	}
	got := m.TakeDispatches()
	if got.Count != int64(n) {
		t.Errorf("count %d, want every dispatch (%d)", got.Count, n)
	}
	// A uniform sample of 0..99 ms: the median is near 50 ms.
	if got.P50 < 35*time.Millisecond || got.P50 > 65*time.Millisecond || got.P99 < 90*time.Millisecond {
		t.Errorf("quantiles of a uniform sample of 0-99 ms: %+v", got)
	}
}

func TestTotalsFollowTheAcknowledgements(t *testing.T) {
	var nilM *Metrics
	nilM.Acknowledged(AckApplied) // a nil *Metrics records nothing and does not panic
	if nilM.Totals() != (Totals{}) || nilM.TakeDispatches() != (Latencies{}) {
		t.Error("a nil *Metrics reports something")
	}
	m := New(nil, nil, nil)
	m.Acknowledged(AckApplied)
	m.Acknowledged(AckApplied)
	m.Acknowledged(AckRejected)
	if got := m.Totals(); got != (Totals{UpdatesApplied: 2, UpdatesRejected: 1}) {
		t.Errorf("totals %+v, want 2 applied and 1 rejected", got)
	}
}
