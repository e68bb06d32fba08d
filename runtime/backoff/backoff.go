// Package backoff is the one wait-and-retry policy of skalds-go: the wait
// doubles from First up to Max, and a random share of it (the jitter) is
// taken off, so that many processes that failed together (nodes whose
// server restarted, tasks that failed in one burst) do not all come back
// in the same instant. Nodes, clients and the controller use it for
// start-up, reconnects and task retries.
package backoff

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"
)

// DefaultJitter is the share of a wait that may be taken off when a
// Policy's Jitter is zero.
const DefaultJitter = 0.2

// Policy is an exponential backoff with jitter. The zero value waits 1 s,
// doubling up to 30 s, with DefaultJitter.
type Policy struct {
	// First is the wait after the first failure; zero means 1 s.
	First time.Duration
	// Max caps the wait; zero means 30 s.
	Max time.Duration
	// Jitter is the share of the wait, in [0, 1], that is taken off at
	// random: a wait of d becomes one between (1-Jitter)·d and d. Taking
	// off rather than adding keeps Max a true bound. Zero means
	// DefaultJitter; a negative value turns jitter off.
	Jitter float64
}

func (p Policy) norm() Policy {
	if p.First <= 0 {
		p.First = time.Second
	}
	if p.Max <= 0 {
		p.Max = 30 * time.Second
	}
	if p.Max < p.First {
		p.Max = p.First
	}
	switch {
	case p.Jitter == 0:
		p.Jitter = DefaultJitter
	case p.Jitter < 0:
		p.Jitter = 0
	case p.Jitter > 1:
		p.Jitter = 1
	}
	return p
}

// Ceiling is the wait after the given number of failures (1 for the
// first) before jitter: First doubled attempt-1 times, at most Max.
func (p Policy) Ceiling(attempt int) time.Duration {
	p = p.norm()
	d := p.First
	for i := 1; i < attempt && d < p.Max; i++ {
		d *= 2
	}
	return min(d, p.Max)
}

// Delay is the wait after the given number of failures, with a random
// jitter drawn anew on every call.
func (p Policy) Delay(attempt int) time.Duration {
	return p.jittered(attempt, rand.Float64())
}

// DelayFor is Delay with a jitter fixed by key and attempt: the same task
// gets the same wait however often it is asked for (a dispatcher checks a
// failed task's backoff on every cycle), while different tasks get
// different ones.
func (p Policy) DelayFor(key string, attempt int) time.Duration {
	h := fnv.New64a()
	_, _ = fmt.Fprintf(h, "%s\x00%d", key, attempt)
	return p.jittered(attempt, float64(h.Sum64()>>11)/(1<<53))
}

func (p Policy) jittered(attempt int, u float64) time.Duration {
	p = p.norm()
	d := p.Ceiling(attempt)
	return d - time.Duration(p.Jitter*u*float64(d))
}

// Sleep waits Delay(attempt), or until ctx ends; it returns ctx's error
// in the latter case.
func (p Policy) Sleep(ctx context.Context, attempt int) error {
	t := time.NewTimer(p.Delay(attempt))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Dependency is a server a process needs before it can start.
type Dependency struct {
	Name    string // mongo, redis, kafka
	Addr    string // where it is looked for, for the log (mask secrets)
	Check   string // the settings that say where it is
	Connect func(context.Context) error
}

// AttemptTimeout bounds one connection attempt of WaitFor, so that a
// server that accepts connections but never answers is retried like one
// that refuses them.
const AttemptTimeout = 15 * time.Second

// WaitFor connects every dependency, retrying the ones that fail after
// p's delays until all have answered or ctx ends. Each round tries every
// dependency still missing, concurrently (Connect must be safe for that),
// so the log names all that are missing at once,
// with the settings to check, rather than one after the other. A process
// that starts before its servers (as in any deployment that starts
// everything together) then waits instead of exiting into a restart loop.
// The error, returned only when ctx ends first, names what was missing.
func WaitFor(ctx context.Context, log *slog.Logger, p Policy, deps ...Dependency) error {
	for attempt := 1; ; attempt++ {
		var missing []Dependency
		var errs []error
		delay := p.Delay(attempt)
		// The servers are tried at once, so that a round takes as long as
		// the slowest attempt, not their sum; the log follows deps' order.
		results := make([]error, len(deps))
		var wg sync.WaitGroup
		for i, d := range deps {
			wg.Go(func() {
				actx, cancel := context.WithTimeout(ctx, AttemptTimeout)
				defer cancel()
				results[i] = d.Connect(actx)
			})
		}
		wg.Wait()
		for i, d := range deps {
			err := results[i]
			if err == nil {
				if attempt > 1 {
					log.Info("dependency reachable", "dependency", d.Name, "addr", d.Addr)
				}
				continue
			}
			missing = append(missing, d)
			errs = append(errs, fmt.Errorf("%s %s (check %s): %w", d.Name, d.Addr, d.Check, err))
			if ctx.Err() == nil {
				log.Warn("dependency not reachable; retrying", "dependency", d.Name, "addr", d.Addr,
					"check", d.Check, "err", err, "retryIn", delay)
			}
		}
		if len(missing) == 0 {
			return nil
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("start-up ended before every dependency answered: %w", errors.Join(errs...))
		case <-t.C:
		}
		deps = missing
	}
}
