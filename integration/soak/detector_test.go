package soak

import (
	"strings"
	"testing"
	"time"
)

// TestDetectorFindsTwoLiveWorkers feeds the soak's detector the records of
// made-up runs: it must flag two workers of one assignment epoch at once,
// and a copy of an older epoch that outlives its allowance, and must not
// flag a hand-over or an old copy stopped in time.
func TestDetectorFindsTwoLiveWorkers(t *testing.T) {
	t0 := time.Now().Add(-time.Minute)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	slack := partitionSlack.Seconds()

	for _, c := range []struct {
		name        string
		epochB      int64 // node a runs epoch 1
		cut, strict bool  // node a's Redis link is cut while its worker lives
		aEnd        float64
		killA       bool
		want        string
	}{
		{name: "hand-over", epochB: 2, aEnd: 9.9},
		{name: "killed before the other started", epochB: 2, aEnd: 5, killA: true},
		{name: "one epoch twice", epochB: 1, aEnd: 10.2, want: "two live workers of t"},
		{name: "old epoch stopped in time", epochB: 2, aEnd: 10 + slack - 1},
		{name: "old epoch stopped in time, strict", epochB: 2, strict: true, aEnd: 10.2, want: "two live workers of t"},
		{name: "old epoch stopped in time after a Redis cut, strict", epochB: 2, cut: true, strict: true, aEnd: 10 + slack - 1},
		{name: "old epoch stopped late", epochB: 2, cut: true, aEnd: 10 + slack + 1},
		{name: "old epoch stopped late, strict", epochB: 2, cut: true, strict: true, aEnd: 10 + slack + 1, want: "two live workers of t"},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := newWatch()
			w.strict = c.strict
			w.record("a#1", record{Time: at(1), Msg: "worker started", TaskID: "t", Epoch: 1})
			if c.cut {
				w.partition("a", true)
			}
			w.record("b#1", record{Time: at(10), Msg: "worker started", TaskID: "t", Epoch: c.epochB})
			if c.killA {
				w.exited("a#1", at(c.aEnd))
			} else {
				w.record("a#1", record{Time: at(c.aEnd), Msg: "released", TaskID: "t", Epoch: 1})
			}
			got := strings.Join(w.overlaps(true), "\n")
			if c.want == "" && got != "" {
				t.Errorf("flagged: %s", got)
			}
			if c.want != "" && !strings.Contains(got, c.want) {
				t.Errorf("not flagged: got %q, want %q", got, c.want)
			}
		})
	}

	w := newWatch()
	w.record("a#1", record{Time: at(1), Msg: "worker started", TaskID: "t", Epoch: 1})
	w.record("a#1", record{Time: at(2), Msg: "worker started", TaskID: "t", Epoch: 1})
	if got := strings.Join(w.overlaps(true), "\n"); !strings.Contains(got, "two live workers in one process") {
		t.Errorf("a second start in one process not flagged: %q", got)
	}
}
