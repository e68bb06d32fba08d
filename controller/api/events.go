package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/skalds-go/skalds/controller/api/wire"
	"github.com/skalds-go/skalds/controller/metrics"
	"github.com/skalds-go/skalds/controller/monitor"
	"github.com/skalds-go/skalds/runtime/task"
)

// The two event streams.
const (
	streamTasks  = "tasks"
	streamSkalds = "skalds"
	streamTest   = "test" // GET /api/events/test, counted but fed by its own ticker
)

// sseEvent is one event, already encoded.
type sseEvent struct {
	seq    uint64
	stream string
	key    string // task or skald id, for the per-stream filter
	data   []byte
}

// hub keeps the recent events of both streams in one ring, so that every
// client is served from one diff instead of polling per connection (as
// the Python API did), and so that a client that reconnects with
// Last-Event-ID gets what it missed.
//
// Event ids are "<boot>-<seq>": boot tells events of this process from
// those of an earlier one, whose sequence numbers mean nothing here.
type hub struct {
	mu     sync.Mutex
	boot   string
	seq    uint64
	ring   []sseEvent
	size   int
	notify chan struct{} // closed and replaced on every publish
	// clients counts the open streams by name (tasks, skalds, test); a
	// counter, not a set of client ids, so that two clients connecting in
	// the same millisecond are two (the Python ids collided).
	clients map[string]int
}

// connect counts an open stream; the returned func uncounts it.
func (h *hub) connect(stream string) func() {
	h.mu.Lock()
	h.clients[stream]++
	h.mu.Unlock()
	return func() {
		h.mu.Lock()
		h.clients[stream]--
		h.mu.Unlock()
	}
}

// connected returns the open streams, in all and by name.
func (h *hub) connected() (int, map[string]int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	total, by := 0, map[string]int{streamTasks: 0, streamSkalds: 0, streamTest: 0}
	for k, n := range h.clients {
		by[k] = n
		total += n
	}
	return total, by
}

func newHub(size int) *hub {
	return &hub{boot: strconv.FormatInt(time.Now().UnixMilli(), 36), size: size, notify: make(chan struct{}), clients: map[string]int{}}
}

func (h *hub) id(seq uint64) string { return h.boot + "-" + strconv.FormatUint(seq, 10) }

func (h *hub) publish(stream, key string, payload any) {
	data, err := json.Marshal(payload)
	if err != nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.seq++
	h.ring = append(h.ring, sseEvent{seq: h.seq, stream: stream, key: key, data: data})
	if len(h.ring) > h.size {
		h.ring = append(h.ring[:0], h.ring[len(h.ring)-h.size:]...)
	}
	close(h.notify)
	h.notify = make(chan struct{})
}

// position turns a Last-Event-ID into the sequence number to continue
// after. ok is false when the id is not from this process, or so old that
// events were dropped since: the client must then reload its state.
func (h *hub) position(lastID string) (after uint64, ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if lastID == "" {
		return h.seq, true
	}
	boot, n, found := strings.Cut(lastID, "-")
	seq, err := strconv.ParseUint(n, 10, 64)
	if !found || err != nil || boot != h.boot || seq > h.seq {
		return h.seq, false
	}
	if len(h.ring) > 0 && seq+1 < h.ring[0].seq {
		return h.seq, false
	}
	return seq, true
}

// since returns the events after seq, and a channel closed on the next
// publish.
func (h *hub) since(after uint64) ([]sseEvent, <-chan struct{}) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []sseEvent
	for i := len(h.ring) - 1; i >= 0 && h.ring[i].seq > after; i-- {
		out = append(out, h.ring[i])
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, h.notify
}

// Run feeds the event streams until ctx ends: it diffs the tasks that can
// change every EventPoll, and the node registry on every refresh of the
// monitor.
func (s *Server) Run(ctx context.Context) {
	s.started.CompareAndSwap(0, time.Now().UnixMilli())
	var wg sync.WaitGroup
	statuses := &statusCache{m: map[string]task.Status{}}
	wg.Go(func() { s.watchTasks(ctx, statuses) })
	wg.Go(func() { s.runCharts(ctx) })
	if s.d.Monitor != nil {
		wg.Go(func() { s.watchNodes(ctx, statuses) })
	}
	wg.Wait()
}

// statusCache lets heartbeat events carry the task's status, as Python's
// did, without a MongoDB read per heartbeat.
type statusCache struct {
	mu sync.Mutex
	m  map[string]task.Status
}

func (c *statusCache) get(id string) task.Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[id]
}

// taskState is what a task_update event reports; a change of any field is
// an event.
type taskState = wire.TaskState

func stateOf(d *task.Task) taskState {
	return taskState{
		LifecycleStatus: d.LifecycleStatus, Executor: d.Executor, AssignmentEpoch: d.AssignmentEpoch,
		AttachmentsVersion: d.AttachmentsVersion, AppliedAttachmentsVersion: d.AppliedAttachmentsVersion,
		AttachmentsRejection: d.AttachmentsRejection, Attempts: d.Attempts, Priority: d.Priority,
		Error: d.Error, ErrorKind: d.ErrorKind, Refusal: d.Refusal, UpdateDateTime: d.UpdateDateTime,
		Progress: d.Progress, ProgressDateTime: d.ProgressDateTime, Result: d.Result,
	}
}

// stateKey is st as a string that changes when any field does.
func stateKey(st taskState) string {
	b, _ := json.Marshal(st)
	return string(b)
}

// recentWindow is how far back the task poll looks for terminal tasks;
// generous, because updateDateTime comes from the writers' clocks.
const recentWindow = time.Minute

func (s *Server) watchTasks(ctx context.Context, statuses *statusCache) {
	t := time.NewTicker(s.opts.EventPoll)
	defer t.Stop()
	type seenTask struct {
		key, err          string
		applied, rejected int64
		epoch             int64
	}
	prev := map[string]seenTask{}
	first := true
	startedAt := s.started.Load()
	for {
		docs, err := s.d.Store.Recent(ctx, time.Now().Add(-recentWindow).UnixMilli())
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			s.log.Warn("event stream: reading tasks", "err", err)
			if task.Unreachable(err) {
				s.markDown()
			}
		} else {
			next := make(map[string]seenTask, len(docs))
			states := make(map[string]taskState, len(docs))
			now := time.Now().UnixMilli()
			statuses.mu.Lock()
			for i := range docs {
				d := &docs[i]
				st := stateOf(d)
				states[d.ID] = st
				k := stateKey(st)
				next[d.ID] = seenTask{key: k, err: d.Error, applied: d.AppliedAttachmentsVersion, rejected: rejectedVersion(d.AttachmentsRejection), epoch: d.AssignmentEpoch}
				statuses.m[d.ID] = d.LifecycleStatus
				old, known := prev[d.ID]
				// The first poll is the baseline, except for tasks written
				// since the server started: a client may already be
				// listening for them.
				if (first && d.UpdateDateTime < startedAt) || (known && old.key == k) {
					continue
				}
				s.hub.publish(streamTasks, d.ID, wire.Event{Type: "task_update", TaskID: d.ID, Data: st, Timestamp: now})
				if known && old.epoch == st.AssignmentEpoch {
					s.countAck(old.applied, old.rejected, st)
				}
				if d.Error != "" && old.err != d.Error {
					s.hub.publish(streamTasks, d.ID, wire.Event{Type: "task_error", TaskID: d.ID,
						Data: wire.TaskError{Error: d.Error, LifecycleStatus: d.LifecycleStatus}, Timestamp: now})
				}
			}
			for id := range statuses.m {
				if _, ok := next[id]; !ok {
					delete(statuses.m, id)
				}
			}
			statuses.mu.Unlock()
			s.feed.update(states)
			s.charts.polled(states)
			prev, first = next, false
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func rejectedVersion(r *task.Rejection) int64 {
	if r == nil {
		return 0
	}
	return r.Version
}

// countAck counts a worker's acknowledgement of an attachment update, seen
// as a change of the applied version or of the rejection between two
// polls of one assignment. Several acknowledgements within one poll count
// once. A start records its attachments as applied too (from 0); that is
// not an update, so it does not count.
func (s *Server) countAck(applied, rejected int64, st taskState) {
	if applied > 0 && st.AppliedAttachmentsVersion > applied {
		s.d.Metrics.Acknowledged(metrics.AckApplied)
	}
	if v := rejectedVersion(st.AttachmentsRejection); v > rejected {
		s.d.Metrics.Acknowledged(metrics.AckRejected)
	}
}

type nodeState struct {
	online    bool
	taskCount int
	heartbeat int
}

func (s *Server) watchNodes(ctx context.Context, statuses *statusCache) {
	prev := map[string]nodeState{}
	beats := map[string]monitor.TaskBeat{}
	var seen uint64
	for {
		changed := s.d.Monitor.Changed()
		if snap := s.d.Monitor.Snapshot(); snap != nil && snap.Seq != seen {
			first := seen == 0
			seen = snap.Seq
			now := time.Now().UnixMilli()
			next := map[string]nodeState{}
			for _, n := range snap.Nodes {
				st := nodeState{online: n.Online, taskCount: len(n.Tasks), heartbeat: n.Heartbeat}
				next[n.ID] = st
				old, known := prev[n.ID]
				if first {
					continue
				}
				if !known || old.online != st.online || old.taskCount != st.taskCount {
					s.hub.publish(streamSkalds, n.ID, wire.Event{Type: "skald_status", SkaldID: n.ID,
						Data: wire.SkaldState{Status: status(n.Online), TaskCount: st.taskCount}, Timestamp: now})
				}
				if known && old.heartbeat != st.heartbeat {
					ids := make([]string, len(n.Tasks))
					for i, t := range n.Tasks {
						ids[i] = t.ID
					}
					s.hub.publish(streamSkalds, n.ID, wire.Event{Type: "skald_heartbeat", SkaldID: n.ID,
						Data: wire.SkaldBeat{Heartbeat: n.Heartbeat, Status: status(n.Online), Tasks: ids}, Timestamp: now})
				}
			}
			if !first {
				for id := range prev {
					if _, ok := next[id]; !ok {
						s.hub.publish(streamSkalds, id, wire.Event{Type: "skald_status", SkaldID: id,
							Data: wire.SkaldState{Status: "offline", Removed: true}, Timestamp: now})
					}
				}
				for id, b := range snap.Beats {
					old, known := beats[id]
					if !known || old.Heartbeat != b.Heartbeat || old.Present != b.Present {
						s.hub.publish(streamTasks, id, wire.Event{Type: "task_heartbeat", TaskID: id,
							Data: wire.TaskBeat{Heartbeat: b.Heartbeat, LifecycleStatus: statuses.get(id), LastBeat: b.Changed.UnixMilli()}, Timestamp: now})
					}
					if b.Exception != "" && (!known || old.Exception != b.Exception) {
						s.hub.publish(streamTasks, id, wire.Event{Type: "task_exception", TaskID: id,
							Data: wire.TaskException{Exception: b.Exception, LifecycleStatus: statuses.get(id)}, Timestamp: now})
					}
				}
			}
			prev, beats = next, snap.Beats
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		}
	}
}

func (s *Server) streamTasks(w http.ResponseWriter, r *http.Request) {
	key := r.URL.Query().Get("task_id")
	if key == "" {
		key = r.URL.Query().Get("taskId")
	}
	s.stream(w, r, streamTasks, key, "Connected to Skalds task events")
}

func (s *Server) streamSkalds(w http.ResponseWriter, r *http.Request) {
	key := r.URL.Query().Get("skald_id")
	if key == "" {
		key = r.URL.Query().Get("skaldId")
	}
	s.stream(w, r, streamSkalds, key, "Connected to Skalds events")
}

// stream serves one Server-Sent Events connection. Frames carry no event:
// field, so that EventSource.onmessage sees them all, as with the Python
// API; the type is inside the JSON.
func (s *Server) stream(w http.ResponseWriter, r *http.Request, stream, key, hello string) {
	rc := http.NewResponseController(w)
	// The server's write timeout, if any, must not cut a long stream.
	_ = rc.SetWriteDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("Connection", "keep-alive")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	defer s.hub.connect(stream)()

	lastID := r.Header.Get("Last-Event-ID")
	if lastID == "" {
		lastID = r.URL.Query().Get("lastEventId")
	}
	after, ok := s.hub.position(lastID)
	fmt.Fprintf(w, "retry: 2000\n\n")
	if lastID == "" {
		writeFrame(w, "", wire.Event{Type: "connection", Message: hello})
	} else if !ok {
		writeFrame(w, s.hub.id(after), wire.Event{Type: "resync",
			Message: "events since the given Last-Event-ID are no longer available; reload the current state"})
	}
	if err := rc.Flush(); err != nil {
		return
	}
	keep := time.NewTicker(s.opts.KeepAlive)
	defer keep.Stop()
	for {
		evs, notify := s.hub.since(after)
		for _, e := range evs {
			after = e.seq
			if e.stream != stream || (key != "" && e.key != key) {
				continue
			}
			fmt.Fprintf(w, "id: %s\ndata: %s\n\n", s.hub.id(e.seq), e.data)
		}
		if len(evs) > 0 {
			if err := rc.Flush(); err != nil {
				return
			}
		}
		select {
		case <-r.Context().Done():
			return
		case <-s.done:
			return
		case <-keep.C:
			fmt.Fprintf(w, ": keep-alive\n\n")
			if err := rc.Flush(); err != nil {
				return
			}
		case <-notify:
		}
	}
}

func writeFrame(w http.ResponseWriter, id string, v any) {
	b, _ := json.Marshal(v)
	if id != "" {
		fmt.Fprintf(w, "id: %s\n", id)
	}
	fmt.Fprintf(w, "data: %s\n\n", b)
}

// testInterval is the period of GET /api/events/test, as in Python.
const testInterval = 5 * time.Second

// eventsStatus reports the open event streams.
func (s *Server) eventsStatus(w http.ResponseWriter, r *http.Request) {
	total, by := s.hub.connected()
	s.writeJSON(w, http.StatusOK, wire.EventsStatus{
		ConnectedClients: total, Streams: by, Timestamp: time.Now().UnixMilli(), Status: "active",
	})
}

// eventsTest streams a numbered test message at once and then every 5 s,
// for checking that events get through proxies to a client. Unlike the
// Python stream it ends when the server stops.
func (s *Server) eventsTest(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("Connection", "keep-alive")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	defer s.hub.connect(streamTest)()
	writeFrame(w, "", wire.Event{Type: "connection", Message: "Connected to Skalds test events"})
	t := time.NewTicker(testInterval)
	defer t.Stop()
	for n := 1; ; n++ {
		writeFrame(w, "", wire.Event{Type: "test", Message: fmt.Sprintf("Test message %d", n), Timestamp: time.Now().UnixMilli()})
		if err := rc.Flush(); err != nil {
			return
		}
		select {
		case <-r.Context().Done():
			return
		case <-s.done:
			return
		case <-t.C:
		}
	}
}

// feed shares the task states of the event feed's polls with the requests
// that wait for a worker's answer (PUT .../attachments?wait=), so that any
// number of them costs MongoDB nothing beyond the feed's own poll.
type feed struct {
	mu     sync.Mutex
	polls  uint64               // completed polls
	tasks  map[string]taskState // by id, as of the last poll
	polled chan struct{}        // closed and replaced after every poll
}

func newFeed() *feed { return &feed{tasks: map[string]taskState{}, polled: make(chan struct{})} }

// update records a poll's states.
func (f *feed) update(tasks map[string]taskState) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tasks = tasks
	f.polls++
	close(f.polled)
	f.polled = make(chan struct{})
}

// next returns the number of polls completed and a channel closed when
// the next one completes.
func (f *feed) next() (uint64, <-chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.polls, f.polled
}

// get returns the state of task id as of the last poll; ok is false when
// the poll did not list it, because it has not changed in a while and
// cannot change (terminal).
func (f *feed) get(id string) (taskState, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st, ok := f.tasks[id]
	return st, ok
}
