package skaldtest

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
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
	// commands counts MongoDB commands by name; nil for a relay of
	// another protocol (see NewCommandRelay).
	commands map[string]int
	// holds gates the MongoDB commands named in it (see Hold); held is
	// closed once one waits at a gate.
	holds      map[string]chan struct{}
	held       chan struct{}
	heldClosed bool
	// fails names the MongoDB commands that break their connection
	// instead of passing (see Fail).
	fails map[string]bool
	// recorded keeps the bodies of the commands named in it (see Record).
	recorded map[string][]bson.Raw
}

// NewRelay starts a relay to target (host:port) on a free port of
// 127.0.0.1. Close it when done.
func NewRelay(target string) (*Relay, error) { return NewRelayAt("127.0.0.1:0", target) }

// NewRelayAt is NewRelay listening on addr, for a test that points a
// client at a port where nothing listens yet (connections refused, as
// when a server is down) and brings the server up there later.
func NewRelayAt(addr, target string) (*Relay, error) {
	ln, err := net.Listen("tcp", addr)
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
		if r.commands != nil {
			go r.pipeMongo(up, c)
		} else {
			go r.pipe(up, c)
		}
		r.mu.Unlock()
	}
}

// pipe copies src to dst; when either side ends, both close.
func (r *Relay) pipe(dst, src net.Conn) {
	defer r.pipes.Done()
	_, _ = io.Copy(dst, src)
	r.closePair(dst, src)
}

func (r *Relay) closePair(dst, src net.Conn) {
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
	for name, gate := range r.holds {
		close(gate)
		delete(r.holds, name)
	}
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

// NewCommandRelay is NewRelay for a MongoDB server that also counts the
// commands clients send through it, by name, so that a test can assert
// how many round trips an operation costs.
func NewCommandRelay(target string) (*Relay, error) {
	r, err := NewRelay(target)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.commands = map[string]int{}
	r.mu.Unlock()
	return r, nil
}

// Hold makes a command relay keep back every MongoDB command named
// command (such as "update") until Release, while other commands pass on
// their own connections: a test so catches the code under test in the
// middle of a write. Held reports when one is held back. Cut and Close
// release every hold.
func (r *Relay) Hold(command string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.holds == nil {
		r.holds = map[string]chan struct{}{}
	}
	if r.holds[command] == nil {
		r.holds[command] = make(chan struct{})
	}
	r.held, r.heldClosed = make(chan struct{}), false
}

// Fail makes a command relay break the connection of every MongoDB
// command named command (such as "update") instead of passing it on, until
// Release: the command never reaches the server and its client sees the
// link drop in the middle of it, while other commands pass. Unlike a Cut
// after a Hold, it never lets the command through.
func (r *Relay) Fail(command string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fails == nil {
		r.fails = map[string]bool{}
	}
	r.fails[command] = true
}

// Held returns a channel that is closed once a command named by the last
// Hold is held back.
func (r *Relay) Held() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.held
}

// Release lets the commands named command through again, those held
// first, and ends a Fail of them.
func (r *Relay) Release(command string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.fails, command)
	if gate := r.holds[command]; gate != nil {
		close(gate)
		delete(r.holds, command)
	}
}

// driverOwn are the commands the driver sends by itself: handshakes,
// server monitoring, authentication, session cleanup. They are not the
// cost of an operation.
var driverOwn = map[string]bool{"hello": true, "isMaster": true, "ismaster": true, "ping": true, "buildInfo": true,
	"buildinfo": true, "saslStart": true, "saslContinue": true, "endSessions": true, "getLastError": true}

// Commands returns how many commands of each name clients sent since the
// relay started or ResetCommands, without the driver's own (handshake,
// monitoring, authentication).
func (r *Relay) Commands() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]int, len(r.commands))
	for k, v := range r.commands {
		out[k] = v
	}
	return out
}

// ResetCommands starts counting afresh, and forgets the bodies recorded.
func (r *Relay) ResetCommands() {
	r.mu.Lock()
	clear(r.commands)
	for name := range r.recorded {
		r.recorded[name] = nil
	}
	r.mu.Unlock()
}

// Record makes a command relay keep the body of every MongoDB command
// named command from now on, for Recorded: a test that counts round trips
// can so also tell what each asked for (a find by _id, or a listing).
func (r *Relay) Record(command string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.recorded == nil {
		r.recorded = map[string][]bson.Raw{}
	}
	if _, ok := r.recorded[command]; !ok {
		r.recorded[command] = nil
	}
}

// Recorded returns the bodies of the commands named command sent since
// Record or ResetCommands, in the order the relay passed them on.
func (r *Relay) Recorded(command string) []bson.Raw {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.recorded[command])
}

// pipeMongo copies MongoDB wire messages from src to dst, counting the
// command each one carries.
func (r *Relay) pipeMongo(dst, src net.Conn) {
	defer r.pipes.Done()
	defer r.closePair(dst, src)
	var head [4]byte
	for {
		if _, err := io.ReadFull(src, head[:]); err != nil {
			return
		}
		n := int(binary.LittleEndian.Uint32(head[:]))
		if n < 16 || n > 48<<20 {
			return
		}
		msg := make([]byte, n)
		copy(msg, head[:])
		if _, err := io.ReadFull(src, msg[4:]); err != nil {
			return
		}
		if name := commandName(msg); name != "" && !driverOwn[name] {
			r.mu.Lock()
			r.commands[name]++
			if bodies, ok := r.recorded[name]; ok {
				r.recorded[name] = append(bodies, commandBody(msg))
			}
			if r.fails[name] {
				r.mu.Unlock()
				return // closePair breaks the link
			}
			gate := r.holds[name]
			if gate != nil && !r.heldClosed {
				r.heldClosed = true
				close(r.held)
			}
			r.mu.Unlock()
			if gate != nil {
				<-gate
			}
		}
		if _, err := dst.Write(msg); err != nil {
			return
		}
	}
}

// commandName is the command of an OP_MSG: the first key of its body
// section. Other messages (legacy handshakes) give "".
func commandName(msg []byte) string {
	const opMsg = 2013
	// header (16 bytes), flag bits (4), section kind (1), then the body:
	// its length (4), the first element's type (1) and its name.
	if len(msg) < 27 || binary.LittleEndian.Uint32(msg[12:16]) != opMsg || msg[20] != 0 {
		return ""
	}
	name := msg[26:]
	if i := bytes.IndexByte(name, 0); i > 0 {
		return string(name[:i])
	}
	return ""
}

// commandBody is the body section of an OP_MSG whose commandName is not
// "": the document after the flag bits and the section kind.
func commandBody(msg []byte) bson.Raw {
	body := msg[21:]
	n := int(binary.LittleEndian.Uint32(body))
	if n < 5 || n > len(body) {
		return nil
	}
	return bson.Raw(bytes.Clone(body[:n]))
}

// CommandRelayFor starts a NewCommandRelay to the MongoDB server of uri
// (mongodb://host:port/...) for the test, closed when it ends, and returns
// it with the URI that goes through it.
func CommandRelayFor(t testing.TB, uri string) (*Relay, string) {
	t.Helper()
	u, err := url.Parse(uri)
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewCommandRelay(u.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	through := *u
	through.Host = r.Addr()
	return r, through.String()
}
