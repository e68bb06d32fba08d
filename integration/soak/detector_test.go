package soak

import (
	"strings"
	"testing"
	"time"
)

// TestDetectorFindsTwoLiveWorkers feeds the soak's detector the records of
// made-up runs: it must flag an overlap of two workers of one task when no
// Redis cut explains it, or when it lasts beyond the allowance, and must
// not flag a hand-over or an overlap within the allowance.
func TestDetectorFindsTwoLiveWorkers(t *testing.T) {
	t0 := time.Now().Add(-time.Minute)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	started := func(s float64, id string) record { return record{Time: at(s), Msg: "worker started", TaskID: id} }
	released := func(s float64, id string) record { return record{Time: at(s), Msg: "released", TaskID: id} }

	for _, c := range []struct {
		name  string
		cut   bool // node a's Redis link is cut while its worker lives
		aEnd  float64
		killA bool
		want  string
	}{
		{name: "hand-over", aEnd: 9.9},
		{name: "overlap without a cut", aEnd: 10.2, want: "two live workers of t"},
		{name: "overlap within the allowance of a Redis cut", cut: true, aEnd: 10 + partitionSlack.Seconds() - 1},
		{name: "overlap beyond the allowance of a Redis cut", cut: true, aEnd: 10 + partitionSlack.Seconds() + 1, want: "two live workers of t"},
		{name: "killed before the other started", aEnd: 5, killA: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := newWatch()
			w.record("a#1", started(1, "t"))
			if c.cut {
				w.partition("a", true)
			}
			w.record("b#1", started(10, "t"))
			if c.killA {
				w.exited("a#1", at(c.aEnd))
			} else {
				w.record("a#1", released(c.aEnd, "t"))
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
	w.record("a#1", started(1, "t"))
	w.record("a#1", started(2, "t"))
	if got := strings.Join(w.overlaps(true), "\n"); !strings.Contains(got, "two live workers in one process") {
		t.Errorf("a second start in one process not flagged: %q", got)
	}
}
