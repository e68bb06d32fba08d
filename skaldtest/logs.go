package skaldtest

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
)

// Record is a kept log record with its attributes flattened.
type Record struct {
	Msg   string
	Level slog.Level
	Attrs map[string]any
}

// Logs is a slog handler that keeps every record it handles, at every
// level, and passes it on to Next (if any) when Next is enabled for it.
// Give a node slog.New(logs) and wait for what it and its workers log.
type Logs struct {
	Next slog.Handler

	state *state
	attrs []slog.Attr
}

type state struct {
	mu      sync.Mutex
	records []Record
	changed chan struct{} // closed and replaced on every new record
}

// NewLogs returns a handler that keeps records and forwards them to next,
// which may be nil.
func NewLogs(next slog.Handler) *Logs {
	return &Logs{Next: next, state: &state{changed: make(chan struct{})}}
}

// Enabled implements slog.Handler: every level is kept.
func (h *Logs) Enabled(context.Context, slog.Level) bool { return true }

// Handle implements slog.Handler.
func (h *Logs) Handle(ctx context.Context, r slog.Record) error {
	rec := Record{Msg: r.Message, Level: r.Level, Attrs: map[string]any{}}
	for _, a := range h.attrs {
		rec.Attrs[a.Key] = a.Value.Any()
	}
	r.Attrs(func(a slog.Attr) bool {
		rec.Attrs[a.Key] = a.Value.Any()
		return true
	})
	s := h.state
	s.mu.Lock()
	s.records = append(s.records, rec)
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
	if h.Next != nil && h.Next.Enabled(ctx, r.Level) {
		return h.Next.Handle(ctx, r)
	}
	return nil
}

// WithAttrs implements slog.Handler.
func (h *Logs) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(append([]slog.Attr(nil), h.attrs...), as...)
	if h.Next != nil {
		c.Next = h.Next.WithAttrs(as)
	}
	return &c
}

// WithGroup implements slog.Handler; groups are flattened.
func (h *Logs) WithGroup(name string) slog.Handler {
	c := *h
	if h.Next != nil {
		c.Next = h.Next.WithGroup(name)
	}
	return &c
}

// Match selects records.
type Match func(Record) bool

// Msg matches records with message msg whose attributes include the given
// key-value pairs, compared by their printed form.
func Msg(msg string, keyValues ...any) Match {
	return func(r Record) bool {
		if r.Msg != msg {
			return false
		}
		for i := 0; i+1 < len(keyValues); i += 2 {
			if fmt.Sprint(r.Attrs[keyValues[i].(string)]) != fmt.Sprint(keyValues[i+1]) {
				return false
			}
		}
		return true
	}
}

// Mark returns a position in the kept records, for AwaitFrom and
// CountFrom.
func (h *Logs) Mark() int {
	h.state.mu.Lock()
	defer h.state.mu.Unlock()
	return len(h.state.records)
}

// Count returns how many kept records match m.
func (h *Logs) Count(m Match) int { return h.CountFrom(0, m) }

// CountFrom returns how many records kept from position mark on match m.
func (h *Logs) CountFrom(mark int, m Match) int {
	s := h.state
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.records[min(mark, len(s.records)):] {
		if m(r) {
			n++
		}
	}
	return n
}

// Await returns the first record, kept before or after the call, that
// matches m, or an error when ctx ends first.
func (h *Logs) Await(ctx context.Context, m Match) (Record, error) {
	return h.AwaitFrom(ctx, 0, m)
}

// AwaitFrom is Await for the records kept from position mark on.
func (h *Logs) AwaitFrom(ctx context.Context, mark int, m Match) (Record, error) {
	s := h.state
	seen := mark
	for {
		s.mu.Lock()
		for ; seen < len(s.records); seen++ {
			if m(s.records[seen]) {
				r := s.records[seen]
				s.mu.Unlock()
				return r, nil
			}
		}
		changed := s.changed
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return Record{}, fmt.Errorf("no matching log record: %w", ctx.Err())
		case <-changed:
		}
	}
}
