package node

import (
	"context"
	"slices"
	"sync"

	"github.com/skalds-go/skalds/internal/inflight"
	"github.com/skalds-go/skalds/runtime/task"
)

// handBacks hands tasks back in batches, group-commit style: the first
// hand-back is written at once, and those that arrive while a write is
// under way go together in the next one. A node stopping with thousands of
// tasks needs a few writes instead of one per task, and a lone hand-back
// waits for nothing.
type handBacks struct {
	store    *task.Store
	executor string
	gate     func(ctx context.Context, f func() error) error
	inFlight int // the most writes at once (Options.WritesInFlight)

	mu    sync.Mutex
	queue []handBackReq
	busy  bool // a caller is writing the queue
}

type handBackReq struct {
	ref  task.Ref
	done chan error
}

// handBack hands the task of ref back, as task.Store.HandBack does.
func (h *handBacks) handBack(ctx context.Context, ref task.Ref) error {
	req := handBackReq{ref: ref, done: make(chan error, 1)}
	h.mu.Lock()
	h.queue = append(h.queue, req)
	lead := !h.busy
	h.busy = true
	h.mu.Unlock()
	if lead {
		h.drain(ctx)
	}
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// drain writes the queue, batch after batch, until it is empty.
func (h *handBacks) drain(ctx context.Context) {
	for {
		h.mu.Lock()
		batch := h.queue
		h.queue = nil
		if len(batch) == 0 {
			h.busy = false
			h.mu.Unlock()
			return
		}
		h.mu.Unlock()
		// In chunks as a burst of starts is written (see startChunks),
		// inFlight at once: each chunk's callers learn their outcome as
		// soon as its write landed.
		parts := slices.Collect(slices.Chunk(batch, inflight.ChunkSize(len(batch), h.inFlight)))
		inflight.Each(len(parts), h.inFlight, func(i int) { h.write(ctx, parts[i]) })
	}
}

// write hands batch back: one write per assignment epoch for the tasks
// with a known _id, then one by one those that write did not match, so
// that each caller learns whether its task was fenced or cancelled.
func (h *handBacks) write(ctx context.Context, batch []handBackReq) {
	one := func(r handBackReq) {
		r.done <- h.gate(ctx, func() error { return h.store.HandBack(ctx, r.ref) })
	}
	byEpoch := map[int64][]handBackReq{}
	for _, r := range batch {
		if r.ref.Key == nil {
			one(r)
			continue
		}
		byEpoch[r.ref.Epoch] = append(byEpoch[r.ref.Epoch], r)
	}
	for _, group := range byEpoch {
		if len(group) == 1 {
			one(group[0])
			continue
		}
		refs := make([]task.Ref, len(group))
		for i, r := range group {
			refs[i] = r.ref
		}
		var matched int64
		err := h.gate(ctx, func() (err error) {
			matched, err = h.store.HandBackAll(ctx, h.executor, refs)
			return err
		})
		if err == nil && matched == int64(len(group)) {
			for _, r := range group {
				r.done <- nil
			}
			continue
		}
		// Handing a task back twice does no harm: the epoch stays.
		for _, r := range group {
			one(r)
		}
	}
}
