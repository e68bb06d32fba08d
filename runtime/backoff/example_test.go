package backoff_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/skalds-go/skalds/runtime/backoff"
)

// The waits double from First up to Max; Delay takes up to a fifth off
// each at random (DefaultJitter), so processes that failed together spread
// out.
func ExamplePolicy() {
	p := backoff.Policy{First: time.Second, Max: 30 * time.Second}
	for attempt := 1; attempt <= 7; attempt++ {
		d := p.Delay(attempt)
		fmt.Println(attempt, p.Ceiling(attempt), d > p.Ceiling(attempt)*4/5-1 && d <= p.Ceiling(attempt))
	}
	// Output:
	// 1 1s true
	// 2 2s true
	// 3 4s true
	// 4 8s true
	// 5 16s true
	// 6 30s true
	// 7 30s true
}

// WaitFor retries the servers that do not answer yet, logging each one
// with the settings to check, until all answer or the context ends.
func ExampleWaitFor() {
	tries := 0
	redis := backoff.Dependency{Name: "redis", Addr: "127.0.0.1:6379", Check: "REDIS_HOST/REDIS_PORT",
		Connect: func(context.Context) error {
			if tries++; tries < 3 {
				return errors.New("connection refused")
			}
			return nil
		}}
	err := backoff.WaitFor(context.Background(), slog.New(slog.DiscardHandler),
		backoff.Policy{First: time.Millisecond, Max: 5 * time.Millisecond}, redis)
	fmt.Println(tries, err)
	// Output: 3 <nil>
}
