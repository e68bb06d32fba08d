package skaldtest

import (
	"io"
	"net"
	"sync"
	"time"
)

// Relay is a TCP relay to a server that a test can cut and restore. It
// simulates a network partition between the code under test and that
// server: point the code at Addr instead of the server, then Cut to drop
// every connection and refuse new ones, and Restore to let connections
// through again. While cut, the relay still accepts connections and closes
// them at once, as a peer behind a broken link would appear to a client
// that keeps retrying.
type Relay struct {
	ln     net.Listener
	target string
	done   chan struct{} // closed when the accept loop has ended

	mu    sync.Mutex
	open  bool
	conns map[net.Conn]struct{}
	pipes sync.WaitGroup
}

// NewRelay starts a relay to target (host:port) on a free port of
// 127.0.0.1. Close it when done.
func NewRelay(target string) (*Relay, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &Relay{ln: ln, target: target, done: make(chan struct{}),
		open: true, conns: map[net.Conn]struct{}{}}
	go r.serve()
	return r, nil
}

// Addr returns the host:port the relay listens on.
func (r *Relay) Addr() string { return r.ln.Addr().String() }

func (r *Relay) serve() {
	defer close(r.done)
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		r.mu.Lock()
		if !r.open {
			r.mu.Unlock()
			_ = c.Close()
			continue
		}
		up, err := net.DialTimeout("tcp", r.target, 5*time.Second)
		if err != nil {
			r.mu.Unlock()
			_ = c.Close()
			continue
		}
		r.conns[c], r.conns[up] = struct{}{}, struct{}{}
		r.pipes.Add(2)
		go r.pipe(c, up)
		go r.pipe(up, c)
		r.mu.Unlock()
	}
}

// pipe copies src to dst; when either side ends, both close.
func (r *Relay) pipe(dst, src net.Conn) {
	defer r.pipes.Done()
	_, _ = io.Copy(dst, src)
	_ = dst.Close()
	_ = src.Close()
	r.mu.Lock()
	delete(r.conns, dst)
	delete(r.conns, src)
	r.mu.Unlock()
}

// Cut closes every relayed connection and refuses new ones until Restore.
// It returns once nothing more can pass through the relay.
func (r *Relay) Cut() {
	r.mu.Lock()
	r.open = false
	for c := range r.conns {
		_ = c.Close()
	}
	clear(r.conns)
	r.mu.Unlock()
	r.pipes.Wait()
}

// Restore lets new connections through again. Connections closed by Cut
// stay closed: clients reconnect.
func (r *Relay) Restore() {
	r.mu.Lock()
	r.open = true
	r.mu.Unlock()
}

// Close stops the relay and closes every relayed connection. It may be
// called more than once.
func (r *Relay) Close() {
	_ = r.ln.Close()
	<-r.done
	r.Cut()
}
