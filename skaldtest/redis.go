package skaldtest

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// RedisServer is a redis-server process started for one test.
type RedisServer struct {
	Host string // 127.0.0.1
	Port int
}

// Addr is the server's host:port.
func (r *RedisServer) Addr() string { return net.JoinHostPort(r.Host, strconv.Itoa(r.Port)) }

// StartRedisServer starts the redis-server binary on a free port of
// 127.0.0.1 for t, and stops it when t ends. With certs, it serves TLS
// only, with the server certificate (clients need no certificate of
// their own). With user, the "default" user is turned off and user, with
// password, is the only one that can log in. Without the binary the test
// ends through Absent.
func StartRedisServer(t testing.TB, certs *Certs, user, password string) *RedisServer {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		Absent(t, "redis-server", "not on PATH; Debian's redis-server package has it")
	}
	port := FreePort(t)
	args := []string{"--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", t.TempDir(), "--loglevel", "notice"}
	if certs != nil {
		args = append(args, "--port", "0", "--tls-port", strconv.Itoa(port),
			"--tls-cert-file", certs.ServerCert, "--tls-key-file", certs.ServerKey,
			"--tls-ca-cert-file", certs.CAFile, "--tls-auth-clients", "no")
	} else {
		args = append(args, "--port", strconv.Itoa(port))
	}
	if user != "" {
		args = append(args, "--user", "default", "off", "--user", user, "on", ">"+password, "~*", "&*", "+@all")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("starting redis-server: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
	})
	// Wait for the server to say it is ready, keeping its output for the
	// failure message.
	ready := make(chan error, 1)
	go func() {
		var seen []string
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			line := sc.Text()
			if strings.Contains(line, "Ready to accept connections") {
				ready <- nil
				for sc.Scan() { // drain, so that the server never blocks on a full pipe
				}
				return
			}
			seen = append(seen, line)
		}
		ready <- fmt.Errorf("redis-server exited before it was ready:\n%s", strings.Join(seen, "\n"))
	}()
	select {
	case err := <-ready:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("redis-server was not ready within 20 s")
	}
	return &RedisServer{Host: "127.0.0.1", Port: port}
}

// FreePort returns a port of 127.0.0.1 that was free a moment ago, for a
// server that cannot be handed a listener.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
