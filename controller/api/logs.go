package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/skalds-go/skalds/controller/api/wire"
	"github.com/skalds-go/skalds/runtime/liveness"
)

// logsPoll is how often a waiting GET /api/tasks/{id}/logs reads Redis.
const logsPoll = 250 * time.Millisecond

// taskLogs serves GET /api/tasks/{id}/logs: the last ?limit= records of
// the task's log (what its worker wrote through skald.Logger, kept in
// Redis by the node), or, with ?after=<record id>, those that follow it.
// With ?wait= as well, an answer that would be empty waits up to that long
// for a record, so that a follower asks again at once without a busy
// loop. The answer's next is the cursor to pass as after.
func (s *Server) taskLogs(w http.ResponseWriter, r *http.Request) {
	limit, fe := intParam(r, "limit", 100, 1, 1000)
	if fe != nil {
		s.fail(w, r, http.StatusUnprocessableEntity, "invalid query", *fe)
		return
	}
	wait, err := parseWait(r.URL.Query().Get("wait"), s.opts.MaxWait)
	if err != nil {
		s.fail(w, r, http.StatusBadRequest, "invalid query", invalid("wait", err.Error()))
		return
	}
	after := r.URL.Query().Get("after")
	if s.d.Redis == nil {
		s.fail(w, r, http.StatusServiceUnavailable, "task logs are kept in Redis, and this controller runs without it; set REDIS_HOST")
		return
	}
	// The task must exist; its read is bounded by the store timeout even
	// when the answer may wait for records longer.
	sctx, cancel := s.storeCtx(r)
	d, ok := s.load(w, r.WithContext(sctx))
	cancel()
	if !ok {
		return
	}
	reg := liveness.New(s.d.Redis, 0)
	recs, err := reg.TaskLogs(r.Context(), d.ID, after, limit)
	if err == nil && len(recs) == 0 && wait > 0 && after != "" {
		recs, err = s.awaitLogs(r.Context(), reg, d.ID, after, limit, wait)
	}
	if err != nil {
		if errors.Is(err, liveness.ErrBadCursor) {
			s.fail(w, r, http.StatusUnprocessableEntity, "invalid query", invalid("after", err.Error()))
			return
		}
		s.internal(w, r, err)
		return
	}
	out := wire.TaskLogs{TaskID: d.ID, Records: make([]wire.LogRecord, len(recs)), Next: after}
	if out.Next == "" {
		// Following from an empty log starts at its beginning.
		out.Next = "0-0"
	}
	for i, rec := range recs {
		out.Records[i] = wire.LogRecord{ID: rec.ID, Time: rec.Time.UnixMilli(), Level: rec.Level, Msg: rec.Msg, Attrs: rec.Attrs}
		out.Next = rec.ID
	}
	s.writeJSON(w, http.StatusOK, out)
}

// awaitLogs polls the task's log until a record follows after, the wait
// ends, the request goes or the server closes.
func (s *Server) awaitLogs(ctx context.Context, reg *liveness.Registry, id, after string, limit int, wait time.Duration) ([]liveness.LogRecord, error) {
	end := time.NewTimer(wait)
	defer end.Stop()
	tick := time.NewTicker(logsPoll)
	defer tick.Stop()
	for {
		select {
		case <-end.C:
			return nil, nil
		case <-ctx.Done():
			return nil, nil
		case <-s.done:
			return nil, nil
		case <-tick.C:
		}
		recs, err := reg.TaskLogs(ctx, id, after, limit)
		if err != nil || len(recs) > 0 {
			return recs, err
		}
	}
}
