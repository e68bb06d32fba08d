package soak

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skalds-go/skalds/skaldtest"
)

// proc is one node or controller process, restarted under the same id
// and links after a kill; gen counts its starts.
type proc struct {
	s          *soak
	name, role string
	id         string // also its SKALD_ID, the client id the Kafka gate cuts
	env        []string
	links      map[string]*skaldtest.Relay // "mongo", "redis": its own relays
	// cuts counts the faults that cut its link to each server: a cut of
	// its own, and an outage of the server, may overlap.
	cuts map[string]int
	// blind is what the watch was last told: whether it reaches the
	// server, by its link or while the server restarts.
	blind map[string]bool

	mu     sync.Mutex
	gen    int
	proc   *skaldtest.Process // the current process
	killed bool
}

func (s *soak) newProc(name, role, mongoHost string) *proc {
	p := &proc{s: s, name: name, role: role, id: name + "-" + s.uid,
		links: map[string]*skaldtest.Relay{}, cuts: map[string]int{}, blind: map[string]bool{}}
	for server, target := range map[string]string{"mongo": mongoHost, "redis": s.redis.Addr()} {
		r, err := skaldtest.NewRelay(target)
		if err != nil {
			s.t.Fatal(err)
		}
		s.t.Cleanup(r.Close)
		p.links[server] = r
	}
	p.env = append(p.env, roleEnv+"="+role, idEnv+"="+p.id,
		kafkaEnv+"="+s.kafka.Addr(),
		mongoEnv+"=mongodb://"+p.links["mongo"].Addr()+"/",
		redisEnv+"="+p.links["redis"].Addr())
	s.t.Cleanup(func() { p.kill() })
	return p
}

// key names the current process of p in the watch.
func (p *proc) key() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return fmt.Sprintf("%s#%d", p.id, p.gen)
}

func nodeOf(key string) string { return key[:strings.LastIndexByte(key, '#')] }

// launch starts p again: this test binary, in p's role. Its output goes
// to the watch, line by line, and with SKALDS_SOAK_LOGS to a file.
func (p *proc) launch() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.gen++
	key := fmt.Sprintf("%s#%d", p.id, p.gen)
	var logFile *os.File
	if dir := os.Getenv("SKALDS_SOAK_LOGS"); dir != "" {
		var err error
		if logFile, err = os.Create(filepath.Join(dir, key+".log")); err != nil {
			p.s.t.Fatal(err)
		}
	}
	opts := skaldtest.ProcessOptions{Name: key, Env: p.env, DieWithParent: true, KeepLines: shownLines,
		OnLine: func(l skaldtest.Line) { p.s.watch.line(key, l.Text) }}
	if logFile != nil {
		opts.Output = logFile
	}
	proc, err := skaldtest.StartProcess(opts, os.Args[0], "-test.run=^$")
	if err != nil {
		p.s.t.Fatalf("starting %s: %v", p.name, err)
	}
	p.proc, p.killed = proc, false
	go func() {
		<-proc.Done()
		if logFile != nil {
			_ = logFile.Close()
		}
		p.s.watch.exited(key, time.Now())
		p.mu.Lock()
		killed := p.killed
		p.mu.Unlock()
		if !killed && p.s.ctx.Err() == nil {
			p.s.t.Errorf("%s (%s) exited by itself: %v; its output ends:\n%s", p.name, key, proc.Err(), proc.Tail(40))
		}
	}()
}

// shownLines is how much of a process's output the soak keeps, to show.
const shownLines = 200

// kill sends SIGKILL and waits for the process to be gone; false when it
// was not running.
func (p *proc) kill() bool {
	p.mu.Lock()
	proc := p.proc
	if proc == nil || p.killed {
		p.mu.Unlock()
		return false
	}
	p.killed = true
	p.mu.Unlock()
	proc.Kill()
	return true
}

func (p *proc) running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.proc != nil && !p.killed
}

// cutLink cuts p's link to server (the Kafka gate cuts its client id),
// once more if it is cut already; each cut needs its restoreLink.
func (p *proc) cutLink(server string) {
	p.mu.Lock()
	p.cuts[server]++
	first := p.cuts[server] == 1
	p.mu.Unlock()
	if !first {
		return
	}
	p.sync(server)
	if server == "kafka" {
		p.s.gate.Cut(p.id)
	} else {
		p.links[server].Cut()
	}
}

// restoreLink undoes one cutLink; the link is back after the last.
func (p *proc) restoreLink(server string) {
	p.mu.Lock()
	if p.cuts[server] == 0 {
		p.mu.Unlock()
		return
	}
	p.cuts[server]--
	last := p.cuts[server] == 0
	p.mu.Unlock()
	if !last {
		return
	}
	if server == "kafka" {
		p.s.gate.Restore(p.id)
	} else {
		p.links[server].Restore()
	}
	p.sync(server)
}

func (p *proc) isCut(server string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cuts[server] > 0
}

// sync tells the watch whether p reaches server now: a node cut from
// Redis may rightly lose its tasks, and one cut from MongoDB cannot learn
// that they moved. Its link may be cut, or the server restarting.
func (p *proc) sync(server string) {
	if server == "kafka" {
		return // events only hasten what a reconcile does anyway
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	blind := p.cuts[server] > 0 || p.s.isDown(server)
	if blind == p.blind[server] {
		return
	}
	p.blind[server] = blind
	if server == "redis" {
		p.s.watch.partition(p.id, blind)
	} else {
		p.s.watch.mongoCut(p.id, blind)
	}
}

// awaitReady waits for the current process of a node to log "node ready".
func (p *proc) awaitReady(limit time.Duration) {
	key := p.key()
	ctx, cancel := context.WithTimeout(p.s.ctx, limit)
	defer cancel()
	if !p.s.watch.await(ctx, func() bool { return p.s.watch.ready[key] }) {
		p.mu.Lock()
		proc := p.proc
		p.mu.Unlock()
		p.s.t.Fatalf("%s not ready within %v; its output ends:\n%s", key, limit, proc.Tail(40))
	}
}

// How a worker's life ended.
type endKind int

const (
	endOpen endKind = iota
	endReleased
	endFailedStart
	endKilled
	endNeverRan
)

// life is one worker of one task in one process, from its "worker
// started" record to its "released" record (the release hook is the last
// user code a worker runs), or to its process's death.
type life struct {
	key         string
	epoch       int64
	start, end  time.Time
	how         endKind
	partitioned bool // its node was cut from Redis at some time of its life
}

// watch reads the processes' JSON logs and keeps the lives of the workers.
//
// The detector of two live workers: a worker is live from the time of its
// "worker started" record, logged before its goroutine starts, until the
// time of its "released" record, or until its process was seen dead
// (after kill -9's wait returned), all on this machine's one clock. Two
// lives of one task in different processes that overlap are two live
// workers. That is a violation, unless one of the two nodes was cut from
// Redis meanwhile: then the controller rightly moves the task, and the old
// copy must stop within partitionSlack, when its node hears of the move,
// plus whatever time its node could not read MongoDB, as it cannot hear of
// the move then (node.Options' lease is what bounds that, and the soak's
// nodes run without one, as by default).
type watch struct {
	mu      sync.Mutex
	changed chan struct{}
	lives   map[string][]*life          // by task id
	open    map[string]map[string]*life // by process key, then task id
	params  map[string]map[string]string
	ready   map[string]bool
	cutOff  map[string]bool     // node ids whose Redis link is cut
	blind   map[string][]window // by node id: the times its MongoDB link was cut
	seen    map[string]bool     // overlaps reported
	starts  int
	doubles []string
	// strict fails every overlap of two epochs that no Redis cut explains
	// (SKALDS_SOAK_STRICT=1), not only those the fencing did not end in time.
	strict bool
	// late counts the copies of an older epoch that outlived their
	// allowance, and longestLate is the longest such overlap seen.
	late        int
	longestLate time.Duration
}

func newWatch() *watch {
	return &watch{changed: make(chan struct{}), lives: map[string][]*life{}, open: map[string]map[string]*life{},
		params: map[string]map[string]string{}, ready: map[string]bool{}, cutOff: map[string]bool{}, blind: map[string][]window{}, seen: map[string]bool{}}
}

// await waits until cond, read under the lock, holds, or ctx ends.
func (w *watch) await(ctx context.Context, cond func() bool) bool {
	for {
		w.mu.Lock()
		ok, ch := cond(), w.changed
		w.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-ch:
		}
	}
}

func (w *watch) notify() {
	close(w.changed)
	w.changed = make(chan struct{})
}

type record struct {
	Time    time.Time `json:"time"`
	Epoch   int64     `json:"epoch"`
	Msg     string    `json:"msg"`
	TaskID  string    `json:"taskId"`
	RTSPURL string    `json:"rtspUrl"`
}

// line takes one line of process key's output: its JSON log records
// count, anything else (a panic's trace) is only shown.
func (w *watch) line(key, text string) {
	var rec record
	if json.Unmarshal([]byte(text), &rec) == nil {
		w.record(key, rec)
	}
}

func (w *watch) record(key string, r record) {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch r.Msg {
	case "node ready":
		w.ready[key] = true
	case "worker started":
		if w.open[key] == nil {
			w.open[key] = map[string]*life{}
		}
		if _, dup := w.open[key][r.TaskID]; dup {
			w.doubles = append(w.doubles, fmt.Sprintf("%s started a second worker of %s at %s", key, r.TaskID, r.Time.Format(time.StampMilli)))
		}
		l := &life{key: key, epoch: r.Epoch, start: r.Time, partitioned: w.cutOff[nodeOf(key)]}
		w.open[key][r.TaskID] = l
		w.lives[r.TaskID] = append(w.lives[r.TaskID], l)
		w.starts++
	case "released", "task failed to start":
		if l := w.open[key][r.TaskID]; l != nil {
			l.end, l.how = r.Time, endReleased
			if r.Msg != "released" {
				l.how = endFailedStart
			}
			delete(w.open[key], r.TaskID)
		}
	case "starting", "running", "updated":
		if r.RTSPURL != "" {
			if w.params[key] == nil {
				w.params[key] = map[string]string{}
			}
			w.params[key][r.TaskID] = r.RTSPURL
		}
	default:
		return
	}
	w.notify()
}

// exited ends every open life of the process key at.
func (w *watch) exited(key string, at time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, l := range w.open[key] {
		l.end, l.how = at, endKilled
	}
	delete(w.open, key)
	w.notify()
}

// partition records that node id's Redis link is cut (or restored): every
// open life of it, and every one that starts while cut, is marked.
func (w *watch) partition(id string, cut bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.cutOff[id] = cut
	if !cut {
		return
	}
	for key, ls := range w.open {
		if nodeOf(key) == id {
			for _, l := range ls {
				l.partitioned = true
			}
		}
	}
}

// window is a time its end is zero while it lasts.
type window struct{ from, to time.Time }

// mongoCut records that node id's MongoDB link is cut (or restored).
func (w *watch) mongoCut(id string, cut bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	ws := w.blind[id]
	switch {
	case cut:
		w.blind[id] = append(ws, window{from: time.Now()})
	case len(ws) > 0 && ws[len(ws)-1].to.IsZero():
		ws[len(ws)-1].to = time.Now()
	}
}

// blindFor is how long within [from, to] node id could not read MongoDB:
// a node cut from MongoDB cannot learn that its task moved.
func (w *watch) blindFor(id string, from, to time.Time) time.Duration {
	var d time.Duration
	for _, b := range w.blind[id] {
		end := b.to
		if end.IsZero() {
			end = to
		}
		if o := minTime(end, to).Sub(maxTime(b.from, from)); o > 0 {
			d += o
		}
	}
	return d
}

// allowed is how long lives a and b of one task may overlap from start to
// end. Two copies of one assignment epoch: never. A copy of an older
// epoch, which the epoch fencing stops: when its node was cut from Redis,
// or unless strict, partitionSlack plus the time its node could not read
// MongoDB, since it cannot learn of the newer epoch then.
func (w *watch) allowed(a, b *life, start, end time.Time) time.Duration {
	if a.epoch == b.epoch && a.epoch != 0 {
		return 0
	}
	old := a
	if b.epoch < a.epoch {
		old = b
	}
	if w.strict && !a.partitioned && !b.partitioned {
		return 0
	}
	return partitionSlack + w.blindFor(nodeOf(old.key), start, end)
}

// liveOn lists the processes where a worker of task id is live.
func (w *watch) liveOn(id string) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var keys []string
	for key, ls := range w.open {
		if ls[id] != nil {
			keys = append(keys, key)
		}
	}
	sort.Strings(keys)
	return keys
}

func (w *watch) paramsOf(key, id string) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.params[key][id]
}

// lastEnd says how the latest worker of task id ended.
func (w *watch) lastEnd(id string) endKind {
	w.mu.Lock()
	defer w.mu.Unlock()
	ls := w.lives[id]
	if len(ls) == 0 {
		return endNeverRan
	}
	last := ls[0]
	for _, l := range ls[1:] {
		if l.start.After(last.start) {
			last = l
		}
	}
	return last.how
}

type watchStats struct {
	starts, strict, partitioned int
	longest, longestStrict      time.Duration
}

// checkOverlaps fails t on every violation overlaps finds.
func (w *watch) checkOverlaps(t *testing.T, final bool) {
	t.Helper()
	for _, v := range w.overlaps(final) {
		t.Error(v)
	}
}

// overlaps lists every two overlapping lives of one task beyond what is
// allowed, each once; open lives count up to now. final also lists the
// second starts within one process.
func (w *watch) overlaps(final bool) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := time.Now()
	var found []string
	for id, ls := range w.lives {
		for i, a := range ls {
			for _, b := range ls[i+1:] {
				if a.key == b.key {
					continue
				}
				from, to := maxTime(a.start, b.start), minTime(endOr(a, now), endOr(b, now))
				over := to.Sub(from)
				if over <= 0 {
					continue
				}
				allowed := w.allowed(a, b, from, to)
				pair := id + " " + a.key + " " + b.key
				if over > allowed && !w.seen[pair] {
					w.seen[pair] = true
					if a.epoch != b.epoch && !w.strict {
						// A superseded copy stopped late: counted and
						// reported; SKALDS_SOAK_STRICT=1 fails it.
						w.late++
						w.longestLate = max(w.longestLate, over)
						continue
					}
					found = append(found, fmt.Sprintf("two live workers of %s: on %s from %s and on %s from %s, for %v (allowed %v)",
						id, a.key, a.start.Format(time.StampMilli), b.key, b.start.Format(time.StampMilli), over, allowed))
				}
			}
		}
	}
	if final {
		for _, d := range w.doubles {
			found = append(found, "two live workers in one process: "+d)
		}
	}
	return found
}

// stats counts the overlaps of the run (lives still open end now).
func (w *watch) stats() watchStats {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := time.Now()
	st := watchStats{starts: w.starts}
	for _, ls := range w.lives {
		for i, a := range ls {
			for _, b := range ls[i+1:] {
				if a.key == b.key {
					continue
				}
				over := minTime(endOr(a, now), endOr(b, now)).Sub(maxTime(a.start, b.start))
				if over <= 0 {
					continue
				}
				if a.partitioned || b.partitioned {
					st.partitioned++
				} else {
					st.strict++
					st.longestStrict = max(st.longestStrict, over)
				}
				st.longest = max(st.longest, over)
			}
		}
	}
	return st
}

func endOr(l *life, now time.Time) time.Time {
	if l.how == endOpen {
		return now
	}
	return l.end
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
