package integration

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/skalds-go/skalds/skaldtest"
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
		"KAFKA_HOST=127.0.0.1", "KAFKA_PORT="+strconv.Itoa(skaldtest.FreePort(t)),
		"KAFKA_USERNAME=skalds", "KAFKA_PASSWORD="+kafkaSecret,
		"REDIS_HOST=127.0.0.1", "REDIS_PORT="+strconv.Itoa(skaldtest.FreePort(t)), "REDIS_PASSWORD="+redisSecret,
		"SKALD_API_TOKEN="+tokenSecret, "LOG_LEVEL=DEBUG", "SKALD_ENV=test",
	)
}

// runUntil runs bin with args and env until it has logged a line
// matching each of ready, or has exited, then stops it and returns its
// output.
func runUntil(t *testing.T, env []string, ready []*regexp.Regexp, bin string, args ...string) string {
	t.Helper()
	p := skaldtest.StartTestProcess(t, skaldtest.ProcessOptions{Env: env}, bin, args...)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, re := range ready {
		if _, err := p.Await(ctx, 0, re); err != nil {
			if !p.Exited() { // one that exited is judged by its output
				t.Errorf("%s: %v", filepath.Base(bin), err)
			}
			break
		}
	}
	_ = p.Stop(20 * time.Second)
	return p.Tail(math.MaxInt)
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
	mongoPort := strconv.Itoa(skaldtest.FreePort(t))
	goodURI := "mongodb://app:" + mongoSecret + "@127.0.0.1:" + mongoPort + "/?authSource=admin"
	// A password with a bad escape: the driver's parse error quotes the
	// rest of it.
	badURI := "mongodb://app:mongo%pw-7f3a9c@127.0.0.1:" + mongoPort + "/"
	// Every dependency has been tried and logged with its error.
	retrying := []*regexp.Regexp{regexp.MustCompile(`dependency=mongo`), regexp.MustCompile(`dependency=redis`), regexp.MustCompile(`dependency=kafka`)}
	malformed := []*regexp.Regexp{regexp.MustCompile(`credentials are malformed`)}
	for _, c := range []struct {
		name  string
		cmd   []string
		ready []*regexp.Regexp
	}{
		{"controller, servers down", []string{skald, "controller", "--log-level", "DEBUG"}, retrying},
		{"controller, token flag", []string{skald, "controller", "--token", tokenSecret}, retrying},
		{"controller, bad URI", []string{skald, "controller"}, malformed},
		{"node, servers down", []string{node}, retrying},
		{"node, bad URI", []string{node}, malformed},
	} {
		t.Run(c.name, func(t *testing.T) {
			uri := goodURI
			if strings.Contains(c.name, "bad URI") {
				uri = badURI
			}
			out := runUntil(t, secretEnv(t, uri), c.ready, c.cmd[0], c.cmd[1:]...)
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
	down := "http://127.0.0.1:" + strconv.Itoa(skaldtest.FreePort(t))
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
