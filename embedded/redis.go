package embedded

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/alicebob/miniredis/v2"
)

// RedisOptions configures StartRedis.
type RedisOptions struct {
	// Port is the server port; 0 picks a free port.
	Port int
}

// Redis is an in-process miniredis server whose TTLs run on the wall clock,
// so code that relies on keys expiring (leases, heartbeats) behaves as it
// would against a real Redis.
type Redis struct {
	m    *miniredis.Miniredis
	addr string // cached: miniredis panics on Addr after Close
}

// StartRedis starts miniredis on 127.0.0.1. Plain miniredis only expires keys
// when told to (FastForward); ClockTTL makes every command first age all TTLs
// by the real time elapsed, which gives exact real-time expiry without a
// background goroutine.
func StartRedis(opts RedisOptions) (*Redis, error) {
	m := miniredis.NewMiniRedis()
	if err := m.StartAddr(fmt.Sprintf("127.0.0.1:%d", opts.Port)); err != nil {
		return nil, err
	}
	m.ClockTTL(true)
	return &Redis{m: m, addr: m.Addr()}, nil
}

// Addr is the server's "127.0.0.1:port".
func (r *Redis) Addr() string { return r.addr }

// Miniredis exposes the server so tests can inspect keys directly or move
// time forward with FastForward instead of waiting.
func (r *Redis) Miniredis() *miniredis.Miniredis { return r.m }

// Close stops the server and drops all data. It is idempotent.
func (r *Redis) Close() { r.m.Close() }

// pingRedis checks that an existing server at addr answers, so that a wrong
// RedisAddr fails at startup instead of at the first command.
func pingRedis(addr string) error {
	conn, err := net.DialTimeout("tcp", addr, 3*time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := conn.Write([]byte("*1\r\n$4\r\nPING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	if line = strings.TrimSpace(line); line != "+PONG" {
		return fmt.Errorf("PING answered %q", line)
	}
	return nil
}
