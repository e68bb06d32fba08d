package skaldtest

import (
	"context"
	"net"
	"os/exec"
	"regexp"
	"strconv"
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
	p := StartTestProcess(t, ProcessOptions{Name: "redis-server", DieWithParent: true, KeepLines: 100}, bin, args...)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := p.Await(ctx, 0, regexp.MustCompile(`Ready to accept connections`)); err != nil {
		t.Fatal(err)
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
