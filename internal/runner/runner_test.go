package runner_test

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/skalds-go/skalds/internal/runner"
	"github.com/skalds-go/skalds/runtime/skald"
)

// TestUpdatesCoalesce offers three versions while the update hook is busy
// with the first: the second is dropped and the third delivered next,
// never two at once.
func TestUpdatesCoalesce(t *testing.T) {
	entered := make(chan int, 3)
	release := make(chan struct{})
	var mu sync.Mutex
	var running, most int
	cls := &skald.Class[params]{
		Name:   "coalesce",
		Decode: decode,
		New: func() skald.Hooks[params] {
			return skald.Hooks[params]{
				Main: func(ctx context.Context) error { <-ctx.Done(); return nil },
				Update: func(_ context.Context, m params) error {
					mu.Lock()
					running++
					most = max(most, running)
					mu.Unlock()
					entered <- m.Rate
					<-release
					mu.Lock()
					running--
					mu.Unlock()
					return nil
				},
			}
		},
	}
	applied := make(chan int64, 3)
	r := runner.New(slog.Default(), time.Second, runner.Observer{Applied: func(v int64) { applied <- v }})
	if err := r.Begin(runner.Of(cls), doc("ann", "a", 0)); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { err, _ := r.Run(); done <- err }()

	r.Offer(1, doc("ann", "a", 1))
	if got := <-entered; got != 1 {
		t.Fatalf("first delivery has rate %d, want 1", got)
	}
	r.Offer(2, doc("ann", "a", 2))
	r.Offer(3, doc("ann", "a", 3))
	release <- struct{}{}
	if got := <-entered; got != 3 {
		t.Fatalf("second delivery has rate %d, want 3 (the newest)", got)
	}
	release <- struct{}{}
	if got := []int64{<-applied, <-applied}; !slices.Equal(got, []int64{1, 3}) {
		t.Errorf("applied %v, want [1 3]", got)
	}
	r.Stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if most != 1 {
		t.Errorf("%d updates ran at once, want 1", most)
	}
}
