package skaldtest

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sort"
	"sync"
)

// KafkaGate cuts the links of one Kafka client at a time to a broker that
// the test runs in-process. A Relay in front of a broker cuts nothing:
// Kafka clients learn the broker's advertised address from its metadata
// and dial that. The gate sits inside the broker instead, as its
// listener (Listen, for embedded.KafkaOptions.Listen), and tells the
// clients apart by the client id in the first request of each connection
// (event.Broker.ClientID; nodes and controllers send their SKALD_ID).
//
// Cut closes every connection of a client id and closes each new one at
// its first request until Restore, as a broken link would appear to the
// client. The broker must speak plaintext: the gate reads the request
// headers.
type KafkaGate struct {
	mu    sync.Mutex
	cut   map[string]bool
	conns map[*gateConn]string // open, identified connections by client id
	seen  map[string]int       // connections identified, by client id
	// dropped counts, by client id, the connections a cut closed and the
	// new ones it refused: what a cut did.
	dropped map[string]int
}

// NewKafkaGate returns a gate with every client let through.
func NewKafkaGate() *KafkaGate {
	return &KafkaGate{cut: map[string]bool{}, conns: map[*gateConn]string{}, seen: map[string]int{}, dropped: map[string]int{}}
}

// Listen listens as net.Listen does, through the gate. The broker calls it
// at every start, so cuts outlast a broker's restart.
func (g *KafkaGate) Listen(network, address string) (net.Listener, error) {
	ln, err := net.Listen(network, address)
	if err != nil {
		return nil, err
	}
	return gateListener{Listener: ln, g: g}, nil
}

// Cut closes every connection of clientID and refuses its new ones until
// Restore.
func (g *KafkaGate) Cut(clientID string) {
	g.mu.Lock()
	g.cut[clientID] = true
	var drop []*gateConn
	for c, id := range g.conns {
		if id == clientID {
			drop = append(drop, c)
		}
	}
	g.dropped[clientID] += len(drop)
	g.mu.Unlock()
	for _, c := range drop {
		_ = c.Close()
	}
}

// Restore lets clientID connect again; its clients reconnect by
// themselves.
func (g *KafkaGate) Restore(clientID string) {
	g.mu.Lock()
	delete(g.cut, clientID)
	g.mu.Unlock()
}

// Clients returns the client ids the gate has seen, sorted, so that a test
// can check it cuts the ids its processes really send.
func (g *KafkaGate) Clients() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	ids := make([]string, 0, len(g.seen))
	for id := range g.seen {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// Dropped is how many connections of clientID its cuts closed or refused,
// so that a test can check that a cut cut something.
func (g *KafkaGate) Dropped(clientID string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.dropped[clientID]
}

// admit records c as a connection of id, or reports that id is cut.
func (g *KafkaGate) admit(c *gateConn, id string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.seen[id]++
	if g.cut[id] {
		g.dropped[id]++
		return false
	}
	g.conns[c] = id
	return true
}

func (g *KafkaGate) forget(c *gateConn) {
	g.mu.Lock()
	delete(g.conns, c)
	g.mu.Unlock()
}

type gateListener struct {
	net.Listener
	g *KafkaGate
}

// Accept returns at once: the client id is read by the broker's first
// Read, so that a slow client does not hold up the accept loop.
func (l gateListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &gateConn{Conn: c, g: l.g}, nil
}

// gateConn is a broker-side connection; its first request is read whole,
// its client id admitted or refused, and then handed on to the broker.
type gateConn struct {
	net.Conn
	g       *KafkaGate
	pending []byte // the first request, not yet read by the broker
	known   bool   // the first request has been read
}

// maxFirstRequest bounds the first request the gate buffers; a client's
// first request is ApiVersions or a SASL handshake, a few hundred bytes.
const maxFirstRequest = 1 << 20

var errGateCut = errors.New("kafka gate: this client's link is cut")

// Read is called by the broker's one reading goroutine of the connection.
func (c *gateConn) Read(p []byte) (int, error) {
	if !c.known {
		c.known = true
		req, err := readFrame(c.Conn)
		if err != nil {
			return 0, err
		}
		if !c.g.admit(c, clientID(req[4:])) {
			_ = c.Conn.Close()
			return 0, errGateCut
		}
		c.pending = req
	}
	if len(c.pending) > 0 {
		n := copy(p, c.pending)
		c.pending = c.pending[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

func (c *gateConn) Close() error {
	c.g.forget(c)
	return c.Conn.Close()
}

// readFrame reads one size-prefixed Kafka request, the size included.
func readFrame(r io.Reader) ([]byte, error) {
	var size [4]byte
	if _, err := io.ReadFull(r, size[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(size[:])
	if n > maxFirstRequest {
		return nil, errors.New("kafka gate: first request too large")
	}
	req := make([]byte, 4+n)
	copy(req, size[:])
	if _, err := io.ReadFull(r, req[4:]); err != nil {
		return nil, err
	}
	return req, nil
}

// clientID is the client id of a request header (v1 and v2: api key,
// version, correlation id, then a nullable int16-length string); "" when
// it has none.
func clientID(req []byte) string {
	if len(req) < 10 {
		return ""
	}
	n := int(int16(binary.BigEndian.Uint16(req[8:10])))
	if n < 0 || 10+n > len(req) {
		return ""
	}
	return string(req[10 : 10+n])
}
