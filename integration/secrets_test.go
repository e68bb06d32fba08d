package integration

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The secrets given to every binary below; none may appear in any output.
// Each is long and unusual enough that it cannot appear by chance, and
// the test also looks for fragments of the Mongo password, which drivers
// quote in part.
const (
	mongoSecret = "mongo-pw-7f3a9c"
	kafkaSecret = "kafka-pw-91c2d4"
	redisSecret = "redis-pw-4b8e16"
	tokenSecret = "api-token-d05e77"
)

// syncBuffer collects a process's output while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// closedPort returns a local port nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	return port
}

// buildBinaries builds the controller and CLI (cmd/skald) and the example
// node, the binaries users run.
func buildBinaries(t *testing.T) (skald, node string) {
	t.Helper()
	dir := t.TempDir()
	out, err := exec.Command("go", "build", "-o", dir+string(filepath.Separator),
		"github.com/skalds-go/skalds/cmd/skald", "github.com/skalds-go/skalds/example/node").CombinedOutput()
	if err != nil {
		t.Fatalf("building the binaries: %v\n%s", err, out)
	}
	return filepath.Join(dir, "skald"), filepath.Join(dir, "node")
}

// secretEnv sets every credential, pointing at servers that are not there,
// so that the binaries go through their retry and error paths, which are
// the ones that quote addresses and driver errors.
func secretEnv(t *testing.T, mongoURI string) []string {
	return append(os.Environ(),
		"MONGO_HOST="+mongoURI,
		"KAFKA_HOST=127.0.0.1", "KAFKA_PORT="+strconv.Itoa(closedPort(t)),
		"KAFKA_USERNAME=skalds", "KAFKA_PASSWORD="+kafkaSecret,
		"REDIS_HOST=127.0.0.1", "REDIS_PORT="+strconv.Itoa(closedPort(t)), "REDIS_PASSWORD="+redisSecret,
		"SKALD_API_TOKEN="+tokenSecret, "LOG_LEVEL=DEBUG", "SKALD_ENV=test",
	)
}

// runUntil runs cmd until its output satisfies ready (or the deadline),
// stops it with SIGTERM and returns everything it wrote.
func runUntil(t *testing.T, cmd *exec.Cmd, ready func(string) bool) string {
	t.Helper()
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
wait:
	for !ready(out.String()) {
		select {
		case <-done:
			break wait
		case <-ctx.Done():
			t.Errorf("%s: no expected output within 30 s; got:\n%s", filepath.Base(cmd.Path), out.String())
			break wait
		case <-tick.C:
		}
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
	return out.String()
}

func assertNoSecret(t *testing.T, what, out string) {
	t.Helper()
	for _, s := range []string{mongoSecret, kafkaSecret, redisSecret, tokenSecret, "7f3a9c", "pw-7f3a"} {
		if strings.Contains(out, s) {
			t.Errorf("%s printed the secret %q:\n%s", what, s, out)
		}
	}
}

// TestNoBinaryPrintsASecret starts the controller, a node and the CLI with
// credentials in every setting, lets them fail against servers that are
// not there or a URI that does not parse, and checks that no credential
// reaches their output.
func TestNoBinaryPrintsASecret(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binaries")
	}
	skald, node := buildBinaries(t)
	mongoPort := strconv.Itoa(closedPort(t))
	goodURI := "mongodb://app:" + mongoSecret + "@127.0.0.1:" + mongoPort + "/?authSource=admin"
	// A password with a bad escape: the driver's parse error quotes the
	// rest of it.
	badURI := "mongodb://app:mongo%pw-7f3a9c@127.0.0.1:" + mongoPort + "/"
	// Every dependency has been tried and logged with its error.
	retrying := func(out string) bool {
		return strings.Contains(out, "dependency=mongo") && strings.Contains(out, "dependency=redis") &&
			strings.Contains(out, "dependency=kafka")
	}
	for _, c := range []struct {
		name  string
		cmd   *exec.Cmd
		ready func(string) bool
	}{
		{"controller, servers down", exec.Command(skald, "controller", "--log-level", "DEBUG"), retrying},
		{"controller, token flag", exec.Command(skald, "controller", "--token", tokenSecret), retrying},
		{"controller, bad URI", exec.Command(skald, "controller"), func(out string) bool { return strings.Contains(out, "credentials are malformed") }},
		{"node, servers down", exec.Command(node), retrying},
		{"node, bad URI", exec.Command(node), func(out string) bool { return strings.Contains(out, "credentials are malformed") }},
	} {
		t.Run(c.name, func(t *testing.T) {
			uri := goodURI
			if strings.Contains(c.name, "bad URI") {
				uri = badURI
			}
			c.cmd.Env = secretEnv(t, uri)
			out := runUntil(t, c.cmd, c.ready)
			assertNoSecret(t, c.name, out)
			if !strings.Contains(out, "127.0.0.1:"+mongoPort) && !strings.Contains(out, "malformed") {
				t.Errorf("%s: the output does not say which MongoDB it waits for:\n%s", c.name, out)
			}
		})
	}

	// The CLI, with the token in its flag and in the environment, against
	// a server that is not there and one that refuses the token.
	refusing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprintf(w, `{"error":"invalid bearer token","status_code":401,"path":%q}`, r.URL.Path)
	}))
	defer refusing.Close()
	down := "http://127.0.0.1:" + strconv.Itoa(closedPort(t))
	for _, args := range [][]string{
		{"tasks", "list", "--server", down, "--token", tokenSecret},
		{"tasks", "list", "--server", refusing.URL},
		{"tasks", "get", "some-id", "--server", refusing.URL, "--token", tokenSecret},
		{"tasks", "create", "--class", "C", "--id", "bad id", "--server", refusing.URL},
		{"tasks", "update", "some-id", "--attachments", `{"a":1}`, "--server", refusing.URL},
		{"nodes", "list", "--server", refusing.URL, "-o", "json"},
	} {
		cmd := exec.Command(skald, args...)
		cmd.Env = secretEnv(t, goodURI)
		out, err := cmd.CombinedOutput()
		if err == nil {
			t.Errorf("skald %s succeeded against a refusing server: %s", strings.Join(args, " "), out)
		}
		assertNoSecret(t, "skald "+strings.Join(args, " "), string(out))
	}
}
