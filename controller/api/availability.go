package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/skalds-go/skalds/runtime/task"
)

// retryAfter is what a 503 tells clients to wait, in seconds: the probe
// below notices MongoDB's return within about that long.
const retryAfter = 2

// probeInterval is how often MongoDB is probed while it is unreachable.
const probeInterval = 500 * time.Millisecond

// health remembers that MongoDB was unreachable, so that the requests
// after the first failed one are answered 503 at once instead of each
// waiting for its own timeout, until a probe gets an answer again.
type health struct {
	mu      sync.Mutex
	down    bool
	probing bool
}

func (h *health) isDown() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.down
}

// storeBound tells whether a request reads or writes MongoDB, and so is
// answered 503 during an outage. The node list, the classes and the
// event streams are served from Redis and memory and stay up; the health
// endpoint reports the outage itself.
func storeBound(r *http.Request) bool {
	p := r.URL.Path
	switch {
	case strings.HasPrefix(p, "/api/tasks"):
		return true
	case strings.HasPrefix(p, "/api/skalds/"):
		return strings.HasSuffix(p, "/tasks")
	case strings.HasPrefix(p, "/api/system/"):
		return strings.HasPrefix(p, "/api/system/metrics") || strings.HasPrefix(p, "/api/system/analytics/") ||
			strings.HasPrefix(p, "/api/system/dashboard/")
	}
	return false
}

// waits tells whether a request may wait beyond StoreTimeout on purpose:
// an attachment update with ?wait=, and a read of a task's log with
// ?wait=, bound their MongoDB calls themselves.
func waits(r *http.Request) bool {
	return r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/attachments") ||
		r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/logs") && r.URL.Query().Has("wait")
}

// guard answers 503 while MongoDB is known to be unreachable, and bounds
// the MongoDB calls of every other request by StoreTimeout.
func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !storeBound(r) {
			next.ServeHTTP(w, r)
			return
		}
		if s.mongo.isDown() {
			s.answerUnreachable(w, r)
			return
		}
		if !waits(r) {
			ctx, cancel := s.storeCtx(r)
			defer cancel()
			r = r.WithContext(ctx)
		}
		next.ServeHTTP(w, r)
	})
}

// errStoreTimeout is the cause of a request context cancelled because
// MongoDB did not answer within StoreTimeout.
var errStoreTimeout = errors.New("MongoDB did not answer within the API's store timeout")

// storeCtx bounds the MongoDB calls made under the returned context by
// StoreTimeout. It cancels rather than sets a deadline: with a deadline
// the driver sends maxTimeMS, which FerretDB refuses on some commands
// (distinct).
func (s *Server) storeCtx(r *http.Request) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(r.Context())
	t := time.AfterFunc(s.opts.StoreTimeout, func() { cancel(errStoreTimeout) })
	return ctx, func() {
		t.Stop()
		cancel(context.Canceled)
	}
}

// unavailable answers 503 when err says that MongoDB could not be reached
// or did not answer in time, marks MongoDB down and starts probing it. It
// returns false, answering nothing, for any other error.
func (s *Server) unavailable(w http.ResponseWriter, r *http.Request, err error) bool {
	storeTimeout := errors.Is(context.Cause(r.Context()), errStoreTimeout)
	timedOut := errors.Is(err, context.Canceled) && storeTimeout
	if r.Context().Err() != nil && !storeTimeout {
		// The client went away: the driver reports the call it abandoned
		// as a network error, which says nothing of MongoDB. There is no
		// one to answer.
		return true
	}
	if !timedOut && !task.Unreachable(err) {
		return false
	}
	if timedOut && s.d.Store != nil {
		// A slow query is not an outage: if MongoDB answers a ping at
		// once, only this request is refused.
		ctx, cancel := context.WithTimeout(context.Background(), probeInterval)
		perr := s.d.Store.Ping(ctx)
		cancel()
		if perr == nil {
			s.log.Warn("a MongoDB call outlasted the API's store timeout", "path", r.URL.Path, "timeout", s.opts.StoreTimeout)
			w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
			s.fail(w, r, http.StatusServiceUnavailable, fmt.Sprintf(
				"MongoDB did not answer within %s; nothing was changed, retry (a narrower query, a smaller page) or raise SKALD_API_STORE_TIMEOUT",
				s.opts.StoreTimeout))
			return true
		}
	}
	s.log.Warn("MongoDB is unreachable; answering 503 until it answers again", "path", r.URL.Path, "err", err)
	s.markDown()
	s.answerUnreachable(w, r)
	return true
}

func (s *Server) answerUnreachable(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
	s.fail(w, r, http.StatusServiceUnavailable,
		fmt.Sprintf("MongoDB is unreachable from the controller; nothing was changed, retry in %d s (GET /api/system/health shows the state of every server)", retryAfter))
}

// markDown records the outage and starts one probe loop, which clears it
// at MongoDB's first answer.
func (s *Server) markDown() {
	s.mongo.mu.Lock()
	s.mongo.down = true
	start := !s.mongo.probing && s.d.Store != nil
	s.mongo.probing = start || s.mongo.probing
	s.mongo.mu.Unlock()
	if start {
		go s.probe()
	}
}

func (s *Server) probe() {
	t := time.NewTicker(probeInterval)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), s.opts.StoreTimeout)
		err := s.d.Store.Ping(ctx)
		cancel()
		if err == nil {
			s.mongo.mu.Lock()
			s.mongo.down, s.mongo.probing = false, false
			s.mongo.mu.Unlock()
			s.log.Info("MongoDB answers again")
			return
		}
	}
}
