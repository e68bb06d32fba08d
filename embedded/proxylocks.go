package embedded

import "sync"

// maxConcurrentWrites bounds the keyed writes that reach FerretDB at once.
// On PostgreSQL, an update or findAndModify keeps the connection of its
// query while it takes a second one for the write, from a pool of 50
// (FerretDB's pool_max_conns): 25 such writes at once could each hold one
// and wait for another forever. Eight leave the pool's other users room
// (an open cursor holds a connection between getMores), and are more than
// two cores can use.
const maxConcurrentWrites = 8

// requestLocks decides which requests run at once (see Proxy). Every
// request takes the RWMutex first, so an exclusive one waits for all that
// run and holds back all that come after it (sync.RWMutex blocks new
// readers once a writer waits, so a stream of reads cannot starve it).
// Keyed writes then take their documents' locks in sorted order, then a
// write slot; nothing is ever taken in another order, so no two requests
// can wait on each other.
type requestLocks struct {
	all    sync.RWMutex
	writes chan struct{} // write slots

	mu   sync.Mutex
	docs map[string]*docLock // only the documents being written or waited on

	statsMu sync.Mutex
	stats   proxyStats
}

// docLock is the lock of one document, shared by the requests that write
// or wait on it and dropped from the map when the last one leaves.
type docLock struct {
	sync.Mutex
	refs int
}

// proxyStats count the requests that held their locks at once, so that
// tests can see what ran beside what without timing.
type proxyStats struct {
	running  [3]int // by accessKind, now
	peak     [3]int // by accessKind, the most at once
	peakAll  int    // the most requests of any kind at once
	overlaps int    // starts at which an exclusive request ran beside another
}

// proxyHooks let tests see requests between classification and
// forwarding. They run on the request's connection handler.
type proxyHooks struct {
	waiting func(access) // classified, about to take its locks
	holding func(access) // holds its locks, about to be forwarded
}

// newRequestLocks returns the locks of a proxy that lets up to writes
// keyed writes run at once.
func newRequestLocks(writes int) *requestLocks {
	return &requestLocks{writes: make(chan struct{}, max(writes, 1)), docs: map[string]*docLock{}}
}

// acquire blocks until a's request may run, and returns the function that
// lets the others go again.
func (l *requestLocks) acquire(a access) (release func()) {
	if a.kind == exclusive {
		l.all.Lock()
		l.started(a.kind)
		return func() {
			l.ended(a.kind)
			l.all.Unlock()
		}
	}
	l.all.RLock()
	held := make([]*docLock, 0, len(a.keys))
	for _, key := range a.keys { // sorted and deduplicated by classify
		held = append(held, l.lockDoc(key))
	}
	if a.kind == keyed {
		l.writes <- struct{}{}
	}
	l.started(a.kind)
	return func() {
		l.ended(a.kind)
		if a.kind == keyed {
			<-l.writes
		}
		for i := len(held) - 1; i >= 0; i-- {
			l.unlockDoc(a.keys[i], held[i])
		}
		l.all.RUnlock()
	}
}

func (l *requestLocks) lockDoc(key string) *docLock {
	l.mu.Lock()
	d := l.docs[key]
	if d == nil {
		d = &docLock{}
		l.docs[key] = d
	}
	d.refs++
	l.mu.Unlock()
	d.Lock()
	return d
}

func (l *requestLocks) unlockDoc(key string, d *docLock) {
	d.Unlock()
	l.mu.Lock()
	if d.refs--; d.refs == 0 {
		delete(l.docs, key)
	}
	l.mu.Unlock()
}

func (l *requestLocks) started(kind accessKind) {
	l.statsMu.Lock()
	defer l.statsMu.Unlock()
	s := &l.stats
	s.running[kind]++
	s.peak[kind] = max(s.peak[kind], s.running[kind])
	all := s.running[exclusive] + s.running[read] + s.running[keyed]
	s.peakAll = max(s.peakAll, all)
	if s.running[exclusive] > 0 && all > 1 {
		s.overlaps++
	}
}

func (l *requestLocks) ended(kind accessKind) {
	l.statsMu.Lock()
	l.stats.running[kind]--
	l.statsMu.Unlock()
}

// snapshot returns the counts so far.
func (l *requestLocks) snapshot() proxyStats {
	l.statsMu.Lock()
	defer l.statsMu.Unlock()
	return l.stats
}
