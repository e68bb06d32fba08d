package embedded

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

const (
	opMsg          = 2013     // OP_MSG, the only opcode modern drivers send
	flagMoreToCome = 1 << 1   // OP_MSG moreToCome: the sender expects no reply
	maxMsgSize     = 64 << 20 // above MongoDB's 48 MB limit; guards against garbage lengths
)

// Proxy is a MongoDB wire-protocol proxy in front of FerretDB that gives its
// clients the single-document atomicity the framework relies on. FerretDB v1
// runs update, findAndModify and delete as read-then-write without a
// transaction, so two requests that write the same document at once can
// lose one write, and two requests that pick documents by other fields (a
// claim) can pick the same one.
//
// The proxy therefore reads each request before forwarding it and holds,
// from forwarding it until its reply is read:
//   - for a write whose every statement names its document by a plain _id
//     (update, delete, findAndModify; a string, number, ObjectID, date,
//     timestamp, boolean or binary), a shared lock and a lock per document:
//     writes of different documents run at once, at most 8 of them, and
//     writes of one document one after the other;
//   - for a read (find, getMore, count, distinct, aggregate without $out or
//     $merge, hello, ping, authentication, ...), a shared lock: PostgreSQL
//     and SQLite never show a row half-written;
//   - for everything else (insert, create, createIndexes, drop, writes that
//     pick documents by other fields, by _id with an operator or a
//     collation, or upsert without an _id, unknown commands, legacy
//     opcodes, anything it cannot read), the lock exclusively: nothing
//     else reaches FerretDB meanwhile.
//
// Writes by _id that create their collection or database on the way (an
// update or upsert into a new one) are safe beside each other because
// FerretDB creates both under its own metadata lock. It is safe to hold
// locks until the reply because FerretDB never offers exhaust cursors or
// streaming hello, so every request has at most one reply. A request sent
// with moreToCome has none: its locks are released once it is forwarded.
// An exclusive request that is slow (a large scan, a claim) still stalls
// every other client. On SQLite StartMongo has every request run alone.
type Proxy struct {
	ln       net.Listener
	upstream string
	locks    *requestLocks
	alone    bool                       // every request runs alone (see StartMongo)
	hooks    atomic.Pointer[proxyHooks] // tests only

	mu     sync.Mutex // guards closed and conns
	closed bool
	conns  map[net.Conn]struct{}
	wg     sync.WaitGroup // one per client connection handler
}

// NewSerializingProxy returns a proxy that will accept clients on listen and
// give each its own connection to upstream (host:port). It takes ownership of
// listen; nothing happens until Serve is called.
func NewSerializingProxy(listen net.Listener, upstream string) *Proxy {
	return newProxy(listen, upstream, maxConcurrentWrites)
}

// newProxy is NewSerializingProxy with at most writes keyed writes at
// once; with writes 0, every request runs alone.
func newProxy(listen net.Listener, upstream string, writes int) *Proxy {
	return &Proxy{ln: listen, upstream: upstream, conns: map[net.Conn]struct{}{}, locks: newRequestLocks(writes), alone: writes <= 0}
}

// Serve accepts clients until ctx is done or Close is called, then closes the
// proxy. It returns nil after a shutdown and the accept error otherwise.
func (p *Proxy) Serve(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() { _ = p.Close() })
	defer stop()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			if p.isClosed() {
				return nil
			}
			_ = p.Close()
			return fmt.Errorf("proxy accept: %w", err)
		}
		if !p.track(c, true) {
			return nil
		}
		go p.handle(c)
	}
}

// Close stops accepting, closes every client and upstream connection, and
// waits until all connection handlers have returned. It is idempotent.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		_ = p.ln.Close()
		for c := range p.conns {
			_ = c.Close()
		}
	}
	p.mu.Unlock()
	p.wg.Wait()
	return nil
}

func (p *Proxy) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

// track registers c so Close can reach it; after Close it closes c instead.
// For client connections it also counts a handler, so that Close never waits
// on a WaitGroup that is still being added to.
func (p *Proxy) track(c net.Conn, client bool) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		_ = c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	if client {
		p.wg.Add(1)
	}
	return true
}

func (p *Proxy) drop(c net.Conn) {
	_ = c.Close()
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

// handle relays one client connection until either side fails; an error on
// one side always closes both, so no goroutine is left blocked on the other.
func (p *Proxy) handle(client net.Conn) {
	defer p.wg.Done()
	defer p.drop(client)
	up, err := net.DialTimeout("tcp", p.upstream, 5*time.Second)
	if err != nil || !p.track(up, false) {
		return
	}
	defer p.drop(up)
	cr, ur := bufio.NewReader(client), bufio.NewReader(up)
	for {
		req, err := readMsg(cr)
		if err != nil {
			return
		}
		reply, err := p.roundTrip(up, ur, req)
		if err != nil {
			return
		}
		if reply != nil {
			if _, err := client.Write(reply); err != nil {
				return
			}
		}
	}
}

// roundTrip forwards req and, unless the client said moreToCome, reads the
// reply, while holding the locks req needs.
func (p *Proxy) roundTrip(up net.Conn, ur io.Reader, req []byte) ([]byte, error) {
	a := classify(req)
	if p.alone {
		a = access{kind: exclusive, command: a.command}
	}
	hooks := p.hooks.Load()
	if hooks != nil && hooks.waiting != nil {
		hooks.waiting(a)
	}
	defer p.locks.acquire(a)()
	if hooks != nil && hooks.holding != nil {
		hooks.holding(a)
	}
	if _, err := up.Write(req); err != nil {
		return nil, err
	}
	if moreToCome(req) {
		return nil, nil
	}
	return readMsg(ur)
}

// readMsg reads one wire message, framed by its little-endian int32 length
// (which counts the length field itself).
func readMsg(r io.Reader) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.LittleEndian.Uint32(hdr[:])
	if n < 16 || n > maxMsgSize {
		return nil, errors.New("proxy: invalid wire message length")
	}
	msg := make([]byte, n)
	copy(msg, hdr[:])
	if _, err := io.ReadFull(r, msg[4:]); err != nil {
		return nil, err
	}
	return msg, nil
}

func moreToCome(msg []byte) bool {
	return len(msg) >= 20 &&
		binary.LittleEndian.Uint32(msg[12:16]) == opMsg &&
		binary.LittleEndian.Uint32(msg[16:20])&flagMoreToCome != 0
}
