package inflight

import (
	"slices"
	"sync/atomic"
	"testing"
)

// TestEachBoundsAndOrders: with every call held until the test lets it
// return, one at a time, no more than k run at once, each index is called
// once, and each freed slot goes to the next index in order.
func TestEachBoundsAndOrders(t *testing.T) {
	for _, k := range []int{0, 1, 3} {
		const n = 10
		want := k
		if want < 1 {
			want = Default
		}
		var now, peak atomic.Int64
		started := make(chan int)
		release := make(chan struct{})
		ended := make(chan struct{})
		go func() {
			defer close(ended)
			Each(n, k, func(i int) {
				if c := now.Add(1); c > peak.Load() {
					peak.Store(c)
				}
				started <- i
				<-release
				now.Add(-1)
			})
		}()
		var order []int
		for range want {
			order = append(order, <-started)
		}
		for len(order) < n {
			release <- struct{}{}
			order = append(order, <-started)
		}
		for range want {
			release <- struct{}{}
		}
		<-ended
		if p := peak.Load(); p > int64(want) {
			t.Errorf("k=%d: %d calls at once; want at most %d", k, p, want)
		}
		first := slices.Clone(order[:want])
		slices.Sort(first)
		for i := range order {
			if i < want && first[i] != i || i >= want && order[i] != i {
				t.Errorf("k=%d: calls started in the order %v; want the first %d in any order, then 0..%d in order", k, order, want, n-1)
				break
			}
		}
	}
}

// TestEachFewCalls: one call is made once, and none for n = 0.
func TestEachFewCalls(t *testing.T) {
	var calls int
	Each(1, 4, func(i int) { calls++ })
	if calls != 1 {
		t.Errorf("f called %d times; want 1", calls)
	}
	Each(0, 4, func(int) { t.Error("f called for n = 0") })
}

// TestChunkSize: chunks of equal size that keep k writes busy to the end,
// within MinChunk and MaxChunk, whatever n.
func TestChunkSize(t *testing.T) {
	for _, tc := range []struct{ n, k, want int }{
		{0, 4, MinChunk}, {1, 4, MinChunk}, {300, 4, 100}, {1000, 4, 250}, {3000, 0, 750},
		{4001, 4, 501}, {10000, 4, 834}, {10000, 8, 625}, {2500, 1, 834}, {1 << 40, 4, MaxChunk},
	} {
		if got := ChunkSize(tc.n, tc.k); got != tc.want {
			t.Errorf("ChunkSize(%d, %d) = %d, want %d", tc.n, tc.k, got, tc.want)
		}
	}
}
