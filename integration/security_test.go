package integration

import (
	"context"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/skalds-go/skalds/embedded"
	"github.com/skalds-go/skalds/runtime/client"
	"github.com/skalds-go/skalds/runtime/config"
	"github.com/skalds-go/skalds/runtime/event"
	"github.com/skalds-go/skalds/runtime/liveness"
	"github.com/skalds-go/skalds/runtime/node"
	"github.com/skalds-go/skalds/runtime/task"
	"github.com/skalds-go/skalds/skaldtest"
)

const kafkaPassword = "kafka-Pa55word"

// secureKafka starts an embedded broker with TLS (when certs is set) and
// SASL user "skald" on mechanism (when set), and returns a config whose
// Kafka settings reach it as protocol and mechanism say.
func secureKafka(t *testing.T, certs *skaldtest.Certs, protocol, mechanism string) config.Config {
	t.Helper()
	var opts embedded.KafkaOptions
	if certs != nil {
		opts.TLS = certs.ServerTLS(t, false)
	}
	if mechanism != "" {
		opts.Users = []embedded.KafkaUser{{Mechanism: mechanism, Name: "skald", Password: kafkaPassword}}
	}
	k, err := embedded.StartKafka(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(k.Close)
	host, port, _ := net.SplitHostPort(k.Addr())
	c := config.Config{KafkaHost: host, KafkaSecurityProtocol: protocol, KafkaSASLMechanism: mechanism}
	c.KafkaPort, _ = strconv.Atoi(port)
	if mechanism != "" {
		c.KafkaUsername, c.KafkaPassword = "skald", kafkaPassword
	}
	if certs != nil {
		c.KafkaTLS.CAFile = certs.CAFile
	}
	return c
}

// TestKafkaTLSAndSASL publishes and consumes a task event over every
// security protocol and SASL mechanism the broker offers, and checks that
// a client with the wrong password, or without TLS, is refused with an
// error that names the settings and not the password.
func TestKafkaTLSAndSASL(t *testing.T) {
	certs := skaldtest.NewCerts(t)
	for _, c := range []struct {
		protocol, mechanism string
		tls                 bool
	}{
		{config.KafkaSASLSSL, config.SASLPlain, true},
		{config.KafkaSASLSSL, config.SASLScramSHA256, true},
		{config.KafkaSASLSSL, config.SASLScramSHA512, true},
		{config.KafkaSASLPlaintext, config.SASLScramSHA512, false},
		{config.KafkaSSL, "", true},
	} {
		t.Run(c.protocol+"/"+c.mechanism, func(t *testing.T) {
			var ca *skaldtest.Certs
			if c.tls {
				ca = certs
			}
			cfg, err := config.Load(secureKafka(t, ca, c.protocol, c.mechanism))
			if err != nil {
				t.Fatal(err)
			}
			roundTrip(t, cfg)
			if c.mechanism != "" {
				refused(t, cfg, kafkaPassword, "wrong password", func(c *config.Config) { c.KafkaPassword = "not-" + kafkaPassword })
			}
			if c.tls {
				refused(t, cfg, kafkaPassword, "no TLS", func(c *config.Config) { c.KafkaTLS = config.TLS{}; c.KafkaSecurityProtocol = config.KafkaSASLPlaintext })
				refused(t, cfg, kafkaPassword, "unknown authority", func(c *config.Config) { c.KafkaTLS.CAFile = "" })
			}
		})
	}
}

// roundTrip creates the topics, then publishes a task event and consumes
// it as a consumer group over the link cfg describes.
func roundTrip(t *testing.T, cfg config.Config) {
	t.Helper()
	b, err := event.NewBroker(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	if err := event.EnsureTopics(ctx, b, event.Topics...); err != nil {
		t.Fatalf("creating topics: %v", err)
	}
	// Publish first: once a write succeeded the partitions have leaders,
	// so the group that joins next is assigned them (on a fresh broker a
	// group that joins while a new topic comes up can be assigned none).
	// A new group reads from the oldest message.
	id := "secure-task-" + randomID()
	pub := event.NewPublisher(b)
	defer pub.Close()
	if err := pub.Publish(ctx, event.TopicAssign, event.NewTaskEvent(id)); err != nil {
		t.Fatalf("publishing: %v", err)
	}
	got := make(chan event.Delivery, 16)
	sub := event.Subscribe(b, "secure-"+randomID(), []string{event.TopicAssign}, slog.New(slog.DiscardHandler))
	defer sub.Close()
	go func() {
		_ = sub.RunBatch(ctx, 10, func(_ context.Context, batch []event.Delivery) error {
			for _, d := range batch {
				select {
				case got <- d:
				default:
				}
			}
			return nil
		})
	}()
	for {
		select {
		case d := <-got:
			// A shared broker's topic holds other tests' events too.
			if len(d.Event.TaskIDs) == 1 && d.Event.TaskIDs[0] == id {
				return
			}
		case <-ctx.Done():
			t.Fatal("the event did not come back over the secured link")
		}
	}
}

// refused checks that the broker turns away a client whose config is cfg
// after tweak, with an error that does not show password.
func refused(t *testing.T, cfg config.Config, password, what string, tweak func(*config.Config)) {
	t.Helper()
	bad := cfg
	tweak(&bad)
	bb, err := event.NewBroker(bad)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = event.EnsureTopics(ctx, bb, event.Topics...)
		cancel()
	}
	if err == nil {
		t.Fatalf("%s: the broker let the client in", what)
	}
	if strings.Contains(err.Error(), password) {
		t.Fatalf("%s: the error shows the password: %v", what, err)
	}
}

// TestRealKafkaSASLSSL runs the same checks against the real broker's
// SASL_SSL listener that scripts/peers starts (TLS with its own CA, user
// skald on PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512).
func TestRealKafkaSASLSSL(t *testing.T) {
	addr := os.Getenv("SKALDS_TEST_KAFKA_SASL_SSL")
	if addr == "" {
		skaldtest.Absent(t, "Kafka's SASL_SSL listener", "SKALDS_TEST_KAFKA_SASL_SSL is unset")
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("SKALDS_TEST_KAFKA_SASL_SSL=%q: %v", addr, err)
	}
	password := os.Getenv("SKALDS_TEST_KAFKA_PASSWORD")
	for _, mechanism := range []string{config.SASLPlain, config.SASLScramSHA256, config.SASLScramSHA512} {
		t.Run(mechanism, func(t *testing.T) {
			c := config.Config{KafkaHost: host, KafkaSASLMechanism: mechanism,
				KafkaUsername: os.Getenv("SKALDS_TEST_KAFKA_USER"), KafkaPassword: password,
				KafkaTLS: config.TLS{CAFile: os.Getenv("SKALDS_TEST_KAFKA_CA")}}
			c.KafkaPort, _ = strconv.Atoi(port)
			cfg, err := config.Load(c)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.KafkaSecurityProtocol != config.KafkaSASLSSL {
				t.Fatalf("credentials alone gave %s, not SASL_SSL", cfg.KafkaSecurityProtocol)
			}
			roundTrip(t, cfg)
			refused(t, cfg, password, "wrong password", func(c *config.Config) { c.KafkaPassword = "not-" + password })
			refused(t, cfg, password, "unknown authority", func(c *config.Config) { c.KafkaTLS.CAFile = "" })
		})
	}
}

// TestNodeOverSecuredLinks runs a node whose Kafka speaks SASL_SSL with
// SCRAM-SHA-512 and whose Redis (Debian's redis-server) speaks TLS only,
// with an ACL user, all set through the environment variables: the task
// assigned over Kafka runs, and its heartbeat reaches Redis.
func TestNodeOverSecuredLinks(t *testing.T) {
	certs := skaldtest.NewCerts(t)
	redis := skaldtest.StartRedisServer(t, certs, "skald", "redis-Pa55word")
	e := newEnv(t)
	kafka := secureKafka(t, certs, config.KafkaSASLSSL, config.SASLScramSHA512)
	for k, v := range map[string]string{
		"KAFKA_HOST": kafka.KafkaHost, "KAFKA_PORT": strconv.Itoa(kafka.KafkaPort),
		"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
		"KAFKA_USERNAME": "skald", "KAFKA_PASSWORD": kafkaPassword, "KAFKA_TLS_CA_FILE": certs.CAFile,
		"REDIS_HOST": redis.Host, "REDIS_PORT": strconv.Itoa(redis.Port), "REDIS_USERNAME": "skald",
		"REDIS_PASSWORD": "redis-Pa55word", "REDIS_TLS": "true", "REDIS_TLS_CA_FILE": certs.CAFile,
	} {
		t.Setenv(k, v)
	}
	secure := func(c *config.Config) {
		// Clear what the plain stack set, so that the environment fills it.
		c.KafkaHost, c.KafkaPort, c.RedisHost, c.RedisPort = "", 0, "", 0
		c.KafkaSecurityProtocol, c.KafkaSASLMechanism, c.KafkaTLS = "", "", config.TLS{}
	}
	cfg := e.cfg
	secure(&cfg)
	cfg, err := config.Load(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := client.New(e.ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()

	p := &probe{}
	cls := newClass("Secured", p)
	a := e.startNode("a", node.Options{}, secure, cls)
	ready := e.await(0, "starting node", "skaldId", a.n.ID())
	if s := ready.Attrs["config"]; !strings.Contains(s.(string), "SASL_SSL SCRAM-SHA-512 user skald") ||
		!strings.Contains(s.(string), "tls on, user skald") || strings.Contains(s.(string), "Pa55word") {
		t.Fatalf("the start-up line does not show the secured links, or shows a password: %v", s)
	}
	id := e.id("secured")
	if err := cl.Create(e.ctx, task.New(id, cls.Name, "integration", cls.Encode(params{}))); err != nil {
		t.Fatal(err)
	}
	epoch, err := cl.Assign(e.ctx, id, a.n.ID())
	if err != nil {
		t.Fatal(err)
	}
	e.running(id, a, epoch)
	e.handled(a.n.ID(), id) // it came over Kafka, not only through a reconcile
	rdb, err := liveness.Dial(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	if v, err := rdb.Get(e.ctx, "task:"+id+":heartbeat").Result(); err != nil || v == "" {
		t.Fatalf("no heartbeat of the task in the TLS Redis: %q, %v", v, err)
	}
}

// TestMongoTLSThroughTheURI connects the task store, which nodes, clients
// and the controller all open, to a MongoDB that speaks TLS only and wants
// a client certificate: the URI's tls options are all it takes, and a URI
// without them, or without the certificate, is refused.
func TestMongoTLSThroughTheURI(t *testing.T) {
	certs := skaldtest.NewCerts(t)
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	m, err := embedded.StartMongo(ctx, embedded.MongoOptions{TLS: certs.ServerTLS(t, true)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	base := m.URI()
	uri := base + "?tls=true&tlsCAFile=" + url.QueryEscape(certs.CAFile) + "&tlsCertificateKeyFile=" + url.QueryEscape(certs.ClientPEM)
	st, err := task.Open(ctx, uri, "skalds")
	if err != nil {
		t.Fatalf("opening the store over TLS: %v", err)
	}
	defer st.Close(context.Background())
	id := "tls-" + randomID()
	if err := st.Create(ctx, task.New(id, "A", "integration", []byte(`{}`))); err != nil {
		t.Fatal(err)
	}
	if got, err := st.Get(ctx, id); err != nil || got.ID != id {
		t.Fatalf("reading the task back over TLS: %+v, %v", got, err)
	}

	for what, bad := range map[string]string{
		"no TLS":                base,
		"no client certificate": base + "?tls=true&tlsCAFile=" + url.QueryEscape(certs.CAFile),
		"unknown authority":     base + "?tls=true&tlsCertificateKeyFile=" + url.QueryEscape(certs.ClientPEM),
	} {
		// The driver retries until its server selection gives up; a refusal
		// shows within two seconds.
		short, stop := context.WithTimeout(ctx, 2*time.Second)
		st, err := task.Open(short, bad, "skalds")
		stop()
		if err == nil {
			_ = st.Close(context.Background())
			t.Errorf("%s: the server let the client in", what)
		}
	}
}
