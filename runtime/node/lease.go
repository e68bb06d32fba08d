package node

import (
	"context"
	"fmt"
	"time"

	"github.com/skalds-go/skalds/runtime/config"
	"github.com/skalds-go/skalds/runtime/liveness"
)

// The liveness lease. Controllers take a node for offline once its
// heartbeat has not changed for the node timeout (MONITOR_HEARTBEAT_TIMEOUT)
// and then move its tasks to other nodes. A node that cannot beat (its
// link to Redis is cut, or it is too busy) cannot hear of those moves
// either, so it fences itself: once no heartbeat of its own has reached
// Redis for the lease, a bound below the node timeout, it stops every
// worker, and starts nothing, until a heartbeat succeeds again. The moved
// copies start only after the node timeout, when the old ones are gone.
//
// The lease runs from the start of the last heartbeat that succeeded: a
// controller sees that beat no sooner than it was sent, so it moves the
// tasks no sooner than the node timeout after that.

// retryBeat is the wait after a heartbeat that failed: a lapsed lease is
// renewed soon after Redis answers again.
const retryBeat = 500 * time.Millisecond

// livenessLease returns the lease of a node with cfg, or zero for none:
// in edge mode, whose tasks no controller moves; without Redis, where
// there is no heartbeat to renew it; or when cfg turns it off. A node
// timeout or a lease that cannot keep one copy of a task is an error.
func livenessLease(cfg config.Config) (time.Duration, error) {
	if cfg.Mode != config.ModeNode || cfg.RedisDisabled || cfg.LivenessLease < 0 {
		return 0, nil
	}
	timeout := cfg.NodeTimeout
	if timeout <= liveness.Period {
		return 0, fmt.Errorf("node: MONITOR_HEARTBEAT_TIMEOUT=%v is not above the heartbeat period (%v): controllers would take a healthy node for offline between two beats; give nodes and controllers the same node timeout, above %v (default 10s)",
			timeout, liveness.Period, liveness.Period)
	}
	half := (timeout + liveness.Period) / 2
	lease := cfg.LivenessLease
	if lease == 0 {
		return half, nil
	}
	if lease <= liveness.Period || lease >= timeout {
		return 0, fmt.Errorf("node: SKALD_LIVENESS_LEASE=%v must lie between the heartbeat period (%v) and MONITOR_HEARTBEAT_TIMEOUT (%v): with a longer lease a node cut off from Redis may still run tasks that a controller has moved, with a shorter one it stops its workers between two beats; leave it unset for halfway (%v)",
			lease, liveness.Period, timeout, half)
	}
	return lease, nil
}

// beatLoop beats every liveness period from the start of the last beat,
// and within retryBeat after a beat that failed; the first beat, sent at
// start, went as ok says.
func (n *Node) beatLoop(ctx context.Context, start time.Time, ok bool) {
	for {
		wait := liveness.Period
		if !ok {
			wait = retryBeat
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Until(start.Add(wait))):
		}
		start = time.Now()
		ok = n.beat(ctx)
	}
}

// leaseLoop lapses the lease once no heartbeat has succeeded for its
// length, until ctx ends.
func (n *Node) leaseLoop(ctx context.Context) {
	if n.lease <= 0 {
		return
	}
	t := time.NewTimer(n.lease)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-n.renew:
		case <-t.C:
		}
		left := time.Until(time.Unix(0, n.lastBeat.Load()).Add(n.lease))
		if left <= 0 {
			n.lapse()
			left = n.lease // until a beat renews it
		}
		t.Reset(left)
	}
}

// renewed records a heartbeat that succeeded, sent at at. After a lapse it
// converges on the tasks assigned here again, which restarts those that
// no controller moved meanwhile.
func (n *Node) renewed(ctx context.Context, at time.Time) {
	if n.lease <= 0 {
		return
	}
	n.leaseMu.Lock()
	n.lastBeat.Store(at.UnixNano())
	was := n.lapsed.Swap(false)
	n.leaseMu.Unlock()
	select {
	case n.renew <- struct{}{}:
	default:
	}
	if was && n.ready.Load() {
		n.log.Info("a heartbeat reached Redis again: the liveness lease holds; converging on the tasks still assigned here")
		go n.reconcileAll(ctx)
	}
}

// lapse stops every worker, and keeps the node from starting any, once no
// heartbeat has reached Redis for the lease: by the node timeout, a
// controller may give the tasks to other nodes.
func (n *Node) lapse() {
	n.leaseMu.Lock()
	last := time.Unix(0, n.lastBeat.Load())
	if n.lapsed.Load() || time.Since(last) < n.lease {
		n.leaseMu.Unlock()
		return
	}
	n.lapsed.Store(true)
	n.leaseMu.Unlock()
	rs := n.runs()
	n.log.Error("liveness lease lapsed: no heartbeat reached Redis for longer than the lease; stopping every worker until one does, since controllers move the tasks of a node they cannot hear",
		"lease", n.lease, "sinceLastBeat", time.Since(last).Round(time.Millisecond), "workers", len(rs))
	for _, r := range rs {
		n.stop(r, stopLapsed)
	}
}
