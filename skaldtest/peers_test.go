package skaldtest

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestRequiredPeersFailWhenAbsent runs KafkaAddr and RedisAddr in a child
// test binary with SKALDS_PEERS=required and no peers: each must fail the
// test, naming what is missing, instead of falling back.
func TestRequiredPeersFailWhenAbsent(t *testing.T) {
	if which := os.Getenv("SKALDTEST_PEER_CHILD"); which != "" {
		switch which {
		case "kafka":
			KafkaAddr(t)
		case "redis":
			RedisAddr(t)
		}
		return
	}
	for _, c := range []struct{ which, env, want string }{
		{"kafka", "SKALDS_TEST_KAFKA=", "SKALDS_TEST_KAFKA is unset"},
		// No Redis can answer on port 6379 of the child's view only if none
		// runs; with a local Redis the child passes, which is checked too.
		{"redis", "", "no Redis answers on 127.0.0.1:6379"},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestRequiredPeersFailWhenAbsent$", "-test.count=1")
		cmd.Env = append(os.Environ(), "SKALDTEST_PEER_CHILD="+c.which, "SKALDS_PEERS=required")
		if c.env != "" {
			cmd.Env = append(cmd.Env, c.env)
		}
		out, err := cmd.CombinedOutput()
		if c.which == "redis" && LocalRedis() != "" {
			if err != nil {
				t.Errorf("redis: the child failed although a local Redis answers: %v\n%s", err, out)
			}
			continue
		}
		if err == nil || !strings.Contains(string(out), c.want) {
			t.Errorf("%s: got %v\n%s\nwant a failure saying %q", c.which, err, out, c.want)
		}
	}
	t.Setenv("SKALDS_PEERS", "")
	t.Setenv("SKALDS_TEST_KAFKA", "")
	if got := KafkaAddr(t); got != "" {
		t.Errorf("KafkaAddr without SKALDS_TEST_KAFKA = %q, want \"\" (kfake)", got)
	}
	t.Setenv("SKALDS_TEST_KAFKA", "127.0.0.1:19092")
	if got := KafkaAddr(t); got != "127.0.0.1:19092" {
		t.Errorf("KafkaAddr = %q, want SKALDS_TEST_KAFKA", got)
	}
}
