package node

import (
	"context"
	"fmt"
	"log/slog"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/skalds-go/skalds/runtime/task"
)

// TestStartChunks: a burst is cut into chunks of equal size that keep the
// writes in flight busy to the end, never more than inflight.MaxChunk nor (for a
// burst of a few) more writes than one; each run is in exactly one chunk,
// the chunks follow the order of the runs, and runs that one write cannot
// cover together (another epoch, a restart, no _id) are apart.
func TestStartChunks(t *testing.T) {
	burst := func(n int, epoch int64) []*run {
		runs := make([]*run, n)
		for i := range runs {
			id := fmt.Sprintf("t%d-%05d", epoch, i)
			runs[i] = &run{id: id, ref: task.Ref{ID: id, Key: id, Epoch: epoch}, startStatus: task.Assigning}
		}
		return runs
	}
	sizes := func(chunks [][]*run) []int {
		var out []int
		for _, c := range chunks {
			out = append(out, len(c))
		}
		return out
	}
	for _, tc := range []struct {
		n, inFlight int
		want        []int
	}{
		{1, 4, []int{1}},
		{40, 4, []int{40}},
		{100, 4, []int{100}},
		{300, 4, []int{100, 100, 100}},
		{1000, 4, []int{250, 250, 250, 250}},
		{3000, 0, []int{750, 750, 750, 750}}, // 0: the default, 4
		{4001, 4, []int{501, 501, 501, 501, 501, 501, 501, 494}},
		{2500, 1, []int{834, 834, 832}}, // one at a time: as few writes as chunks of inflight.MaxChunk
	} {
		runs := burst(tc.n, 1)
		chunks := startChunks(runs, tc.inFlight)
		if got := sizes(chunks); fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%d runs, %d in flight: chunks of %v; want %v", tc.n, tc.inFlight, got, tc.want)
		}
		i := 0
		for _, c := range chunks {
			for _, r := range c {
				if r != runs[i] {
					t.Fatalf("%d runs: chunk run %s at position %d; want %s", tc.n, r.id, i, runs[i].id)
				}
				i++
			}
		}
		if i != tc.n {
			t.Errorf("%d runs: %d in the chunks", tc.n, i)
		}
	}

	// Mixed: a restart and a run without _id are chunks of their own, at
	// their place; each epoch is a group of its own, at its first run.
	a, b := burst(150, 1), burst(2, 2)
	restart := &run{id: "r", ref: task.Ref{ID: "r", Key: "r", Epoch: 1}, restart: true}
	bare := &run{id: "bare", ref: task.Ref{ID: "bare", Epoch: 1}}
	runs := append(append(append([]*run{restart}, a[:100]...), b[0], bare), append(a[100:], b[1])...)
	chunks := startChunks(runs, 4)
	got := make([]string, len(chunks))
	for i, c := range chunks {
		got[i] = fmt.Sprintf("%s+%d", c[0].id, len(c))
	}
	want := "[r+1 t1-00000+100 t1-00100+50 t2-00000+2 bare+1]"
	if fmt.Sprint(got) != want {
		t.Errorf("mixed runs in chunks %v; want %s", got, want)
	}
}

// TestRetryCancelsAnyKey: a bare cancel kept for the reconciles is
// forgotten once written, whatever the type of the task's _id; tasks
// written by other tooling may have a binary or a document _id, which ==
// cannot compare.
func TestRetryCancelsAnyKey(t *testing.T) {
	n := &Node{log: slog.New(slog.DiscardHandler), cancels: map[string]task.Ref{}, w: noWrites{}}
	keys := []any{"s", bson.Binary{Subtype: 4, Data: []byte("0123456789abcdef")}, bson.D{{Key: "a", Value: 1}}, bson.A{"x"}}
	for i, key := range keys {
		n.keepCancel(task.Ref{ID: fmt.Sprint("t", i), Key: key, Epoch: 2})
	}
	n.retryCancels(context.Background())
	if len(n.cancels) != 0 {
		t.Fatalf("cancels still kept after their writes landed: %v", n.cancels)
	}
}
