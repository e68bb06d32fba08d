package interop

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/skalds-go/skalds/embedded"
	"github.com/skalds-go/skalds/runtime/config"
	"github.com/skalds-go/skalds/runtime/task"
	"github.com/skalds-go/skalds/skaldtest"
)

// awaitLimit bounds every wait for the other side. Python Skalds is slow
// to react by design (a consumer group join, 3 s heartbeats, 5 s auto
// commits), so it is longer than the Go suites' deadline.
const awaitLimit = 60 * time.Second

// env is one test's servers and the Python interpreter. Every test has its
// own MongoDB (FerretDB); Kafka is the shared broker of SKALDS_TEST_KAFKA or
// a kfake of the test's own, Redis the local redis-server or a miniredis.
type env struct {
	t      testing.TB
	ctx    context.Context
	stack  *embedded.Stack
	cfg    config.Config
	python string
	store  *task.Store
	rdb    *redis.Client
	dir    string // the test's working directory for processes (logs)
	uid    string
	kfake  bool // Kafka is the embedded kfake
}

func newEnv(t testing.TB) *env {
	t.Helper()
	return newEnvRedis(t, skaldtest.RedisAddr(t))
}

// newEnvRedis is newEnv on the Redis at redisAddr, or on a miniredis of
// the test's own when it is "": a test whose controller reads the whole
// node registry must not see the nodes of other tests.
func newEnvRedis(t testing.TB, redisAddr string) *env {
	t.Helper()
	py := skaldtest.Python(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	kafkaAddr := skaldtest.KafkaAddr(t)
	stack, err := embedded.Start(ctx, embedded.Options{KafkaAddr: kafkaAddr, RedisAddr: redisAddr})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stack.Close() })
	cfg, err := skaldtest.Config(stack.KafkaAddr, stack.MongoURI, stack.RedisAddr)
	if err != nil {
		t.Fatal(err)
	}
	store, err := task.Open(ctx, stack.MongoURI, cfg.DBName)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close(context.Background()) })
	rdb := redis.NewClient(&redis.Options{Addr: stack.RedisAddr})
	t.Cleanup(func() { _ = rdb.Close() })
	return &env{t: t, ctx: ctx, stack: stack, cfg: cfg, python: py, store: store, rdb: rdb,
		dir: t.TempDir(), uid: randomID(), kfake: kafkaAddr == ""}
}

func randomID() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// id returns a name unique to this test run: the broker and Redis may be
// shared with other tests and earlier runs.
func (e *env) id(name string) string { return name + "-" + e.uid }

// pyDir is testdata/python, where the Python side's files are.
func pyDir(t testing.TB) string {
	d, err := filepath.Abs(filepath.Join("testdata", "python"))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// pyEnv is the environment of a Python process: the stack's addresses
// under Python Skalds' variable names, and extra.
func (e *env) pyEnv(extra ...string) []string {
	env := append(e.stack.Env(),
		"PYTHONPATH="+pyDir(e.t),
		"PYTHONUNBUFFERED=1",
		"PYTHONDONTWRITEBYTECODE=1",
		"LOG_PATH="+e.dir,
	)
	return append(env, extra...)
}

// pythonRun starts a Python file of testdata/python, with env added to
// its environment.
func (e *env) pythonRun(file string, env ...string) *proc {
	e.t.Helper()
	return start(e.t, e.dir, e.pyEnv(env...), e.python, filepath.Join(pyDir(e.t), file))
}

// pythonArgs starts a Python file of testdata/python with arguments.
func (e *env) pythonArgs(file string, args ...string) *proc {
	e.t.Helper()
	return start(e.t, e.dir, e.pyEnv(), e.python, append([]string{filepath.Join(pyDir(e.t), file)}, args...)...)
}

// needPythonProducer ends the test through skaldtest.Absent unless Python
// Skalds can produce to the broker: its producer pins kafka-python's
// api_version=(0, 10, 1), whose Produce v2 requests kfake and Kafka 4.x
// refuse.
func (e *env) needPythonProducer() {
	e.t.Helper()
	if e.kfake {
		skaldtest.Absent(e.t, "a Kafka broker that Python Skalds can produce to",
			"kfake refuses the Produce v2 requests of Python Skalds' pinned kafka-python api_version (0, 10, 1); set SKALDS_TEST_KAFKA to a Kafka 3.9 broker")
	}
	if why := probeProducer(e.python, e.stack.KafkaAddr, e.pyEnv()); why != "" {
		skaldtest.Absent(e.t, "a Kafka broker that Python Skalds can produce to", why)
	}
}

var producerProbe struct {
	sync.Mutex
	done map[string]string
}

// probeProducer produces one message as Python Skalds' KafkaProxy does,
// once per broker and test binary, and says why it failed ("" if not).
func probeProducer(python, addr string, env []string) string {
	producerProbe.Lock()
	defer producerProbe.Unlock()
	if why, ok := producerProbe.done[addr]; ok {
		return why
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, "-c", `
import os, sys
from kafka import KafkaProducer
p = KafkaProducer(bootstrap_servers=os.environ["KAFKA_HOST"] + ":" + os.environ["KAFKA_PORT"],
                  api_version=(0, 10, 1), acks=1, compression_type="gzip", key_serializer=str.encode)
p.send("interop.probe", key="probe", value=b"probe").get(timeout=20)
`)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	why := ""
	if err != nil {
		s := strings.TrimSpace(string(out))
		if i := strings.LastIndexByte(s, '\n'); i >= 0 {
			s = s[i+1:]
		}
		why = fmt.Sprintf("Python Skalds' producer (kafka-python api_version (0, 10, 1)) cannot produce to %s (%v: %s); Kafka 4.x removed Produce v2, use 3.9", addr, err, s)
	}
	if producerProbe.done == nil {
		producerProbe.done = map[string]string{}
	}
	producerProbe.done[addr] = why
	return why
}

// awaitGroupReady waits until a consumer group whose id is group, or starts
// with group+"_" when prefix is set, has committed an offset for every
// partition of topic. Python Skalds consumers start at the newest offset
// ("latest") and commit their positions every 5 s: until a group has
// committed, a message produced now may fall before its starting position
// and never reach it. This is what a test waits for instead of sleeping.
func (e *env) awaitGroupReady(group string, prefix bool, topic string) string {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(e.ctx, awaitLimit)
	defer cancel()
	var last string
	for {
		if id, ok, why := skaldtest.GroupCommitted(ctx, e.stack.KafkaAddr, group, prefix, topic); ok {
			return id
		} else {
			last = why
		}
		select {
		case <-ctx.Done():
			e.t.Fatalf("consumer group %s on %s not ready within %s: %s", group, topic, awaitLimit, last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	if goNode.path != "" {
		_ = os.RemoveAll(filepath.Dir(goNode.path))
	}
	os.Exit(code)
}

var goNode struct {
	once sync.Once
	path string
	err  error
}

// goNodeBinary builds example/node, the seed story's node skald_123, once
// per test binary.
func goNodeBinary(t testing.TB) string {
	t.Helper()
	goNode.once.Do(func() {
		dir, err := os.MkdirTemp("", "interop-node")
		if err != nil {
			goNode.err = err
			return
		}
		goNode.path = filepath.Join(dir, "node")
		out, err := exec.Command("go", "build", "-o", goNode.path, "github.com/skalds-go/skalds/example/node").CombinedOutput()
		if err != nil {
			goNode.err = fmt.Errorf("building example/node: %v\n%s", err, out)
		}
	})
	if goNode.err != nil {
		t.Fatal(goNode.err)
	}
	return goNode.path
}

// waitTask polls the task until ok accepts it (FerretDB has no change
// streams) and returns it.
func (e *env) waitTask(id, what string, ok func(*task.Task) bool) *task.Task {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(e.ctx, awaitLimit)
	defer cancel()
	var last *task.Task
	for {
		if t, err := e.store.Get(ctx, id); err == nil {
			last = t
			if ok(t) {
				return t
			}
		}
		select {
		case <-ctx.Done():
			e.t.Fatalf("task %s: waiting until %s; last seen %+v", id, what, last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
