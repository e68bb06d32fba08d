package embedded

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
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

	restarting sync.Mutex // one Restart at a time
	mu         sync.Mutex
	closed     bool
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

// Restart stops the server, which closes every client connection, waits
// down (connections are refused meanwhile, as when a server is down), and
// starts it again on the same port with the same keys, as a Redis with
// persistence comes back; TTLs keep running on the wall clock meanwhile.
// It returns early, with the server stopped, if ctx ends during down;
// Close during a Restart leaves it stopped.
func (r *Redis) Restart(ctx context.Context, down time.Duration) error {
	r.restarting.Lock()
	defer r.restarting.Unlock()
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return errors.New("redis: restart after Close")
	}
	r.m.Close()
	r.mu.Unlock()
	if err := sleep(ctx, down); err != nil {
		return fmt.Errorf("redis: restart of %s: %w", r.addr, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return errors.New("redis: closed during restart")
	}
	// Close cancelled the context that blocking commands (BLPOP, ...)
	// wait under; without a new one they would hang up at once.
	r.m.Lock()
	r.m.Ctx, r.m.CtxCancel = context.WithCancel(context.Background())
	r.m.Unlock()
	if err := r.m.Restart(); err != nil {
		return fmt.Errorf("redis: restart on %s (is the port taken?): %w", r.addr, err)
	}
	return nil
}

// Close stops the server and drops all data. It is idempotent.
func (r *Redis) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	r.m.Close()
}

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
