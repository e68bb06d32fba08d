package embedded

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
	"github.com/segmentio/kafka-go"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

func testContext(t testing.TB, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

func connectMongo(t *testing.T, ctx context.Context, uri string) *mongo.Client {
	t.Helper()
	c, err := mongo.Connect(options.Client().ApplyURI(uri))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Disconnect(context.Background()) })
	if err := c.Ping(ctx, nil); err != nil {
		t.Fatalf("ping %s: %v", uri, err)
	}
	return c
}

// freePort returns a port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func TestKafkaProduceConsume(t *testing.T) {
	t.Parallel()
	ctx := testContext(t, 20*time.Second)
	k, err := StartKafka(KafkaOptions{Partitions: 3})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(k.Close)

	client := &kafka.Client{Addr: kafka.TCP(k.Addr()), Timeout: 5 * time.Second}
	created, err := client.CreateTopics(ctx, &kafka.CreateTopicsRequest{
		Topics: []kafka.TopicConfig{{Topic: "orders", NumPartitions: 2, ReplicationFactor: 1}},
	})
	if err != nil || created.Errors["orders"] != nil {
		t.Fatalf("create topic: %v %v", err, created.Errors)
	}

	w := &kafka.Writer{
		Addr:         kafka.TCP(k.Addr()),
		Balancer:     &kafka.Hash{},
		Transport:    &kafka.Transport{}, // the shared default caches metadata for 6s
		BatchTimeout: 5 * time.Millisecond,
		RequiredAcks: kafka.RequireAll,
		// Lets the "auto" topic below be created by the broker on first write.
		AllowAutoTopicCreation: true,
	}
	t.Cleanup(func() { _ = w.Close() })
	err = w.WriteMessages(ctx,
		kafka.Message{Topic: "orders", Key: []byte("order-1"), Value: []byte("hello")},
		kafka.Message{Topic: "auto", Key: []byte("k"), Value: []byte("v")},
	)
	if err != nil {
		t.Fatalf("write: %v", err)
	}

	// A fresh Transport: the client's own cache predates the "auto" topic.
	fresh := &kafka.Client{Addr: kafka.TCP(k.Addr()), Transport: &kafka.Transport{}}
	md, err := fresh.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{"orders", "auto"}})
	if err != nil {
		t.Fatal(err)
	}
	parts := map[string]int{}
	for _, topic := range md.Topics {
		parts[topic.Name] = len(topic.Partitions)
	}
	if parts["orders"] != 2 || parts["auto"] != 3 {
		t.Fatalf("partitions = %v, want orders:2 (explicit) auto:3 (KafkaOptions.Partitions)", parts)
	}

	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:     []string{k.Addr()},
		GroupID:     "readers",
		Topic:       "orders",
		StartOffset: kafka.FirstOffset,
		MaxWait:     time.Second, // also the socket deadline; shorter values cause timeouts
	})
	t.Cleanup(func() { _ = r.Close() })
	msg, err := r.ReadMessage(ctx)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if string(msg.Key) != "order-1" || string(msg.Value) != "hello" {
		t.Fatalf("got key=%q value=%q", msg.Key, msg.Value)
	}
}

func TestMongoThroughProxy(t *testing.T) {
	t.Parallel()
	ctx := testContext(t, 20*time.Second)
	m, err := StartMongo(ctx, MongoOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	if !strings.HasPrefix(m.URI(), "mongodb://127.0.0.1:") || !strings.HasSuffix(m.URI(), "/") {
		t.Fatalf("URI = %q", m.URI())
	}

	client := connectMongo(t, ctx, m.URI())
	users := client.Database("app").Collection("users")
	if _, err := users.InsertOne(ctx, bson.D{{Key: "_id", Value: "u1"}, {Key: "email", Value: "a@example.com"}}); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Email string `bson:"email"`
	}
	if err := users.FindOne(ctx, bson.D{{Key: "_id", Value: "u1"}}).Decode(&got); err != nil || got.Email != "a@example.com" {
		t.Fatalf("find: %+v %v", got, err)
	}

	_, err = users.Indexes().CreateOne(ctx, mongo.IndexModel{
		Keys:    bson.D{{Key: "email", Value: 1}},
		Options: options.Index().SetUnique(true),
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = users.InsertOne(ctx, bson.D{{Key: "_id", Value: "u2"}, {Key: "email", Value: "a@example.com"}})
	if !mongo.IsDuplicateKeyError(err) {
		t.Fatalf("second insert with the same email: got %v, want a duplicate key error", err)
	}

	// Close must cut open client connections and remove the temporary directory.
	raw, err := net.Dial("tcp", strings.TrimSuffix(strings.TrimPrefix(m.URI(), "mongodb://"), "/"))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	_ = raw.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := raw.Read(make([]byte, 1)); !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("read from proxied connection after Close: got %v, want EOF", err)
	}
	if _, err := os.Stat(m.tempDir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("temp dir %s still there after Close (%v)", m.tempDir, err)
	}
}

// TestMongoConcurrentCompareAndSet is the reason the proxy exists: without
// it, FerretDB reports every one of these updates as applied but loses many.
func TestMongoConcurrentCompareAndSet(t *testing.T) {
	t.Parallel()
	ctx := testContext(t, 25*time.Second)
	m, err := StartMongo(ctx, MongoOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	concurrentCompareAndSet(t, ctx, m)
}

// concurrentCompareAndSet has clients increment a counter by compare-and-set
// through m's proxy, and fails if any increment was lost.
func concurrentCompareAndSet(t *testing.T, ctx context.Context, m *Mongo) {
	const clients, increments = 8, 25

	counter := bson.D{{Key: "_id", Value: "counter"}}
	setup := connectMongo(t, ctx, m.URI()).Database("app").Collection("counters")
	if _, err := setup.InsertOne(ctx, bson.D{{Key: "_id", Value: "counter"}, {Key: "n", Value: 0}}); err != nil {
		t.Fatal(err)
	}

	var wg sync.WaitGroup
	errs := make(chan error, clients)
	start := time.Now()
	for range clients {
		coll := connectMongo(t, ctx, m.URI()).Database("app").Collection("counters")
		wg.Go(func() {
			for done := 0; done < increments; {
				var doc struct {
					N int `bson:"n"`
				}
				if err := coll.FindOne(ctx, counter).Decode(&doc); err != nil {
					errs <- err
					return
				}
				res, err := coll.UpdateOne(ctx,
					bson.D{{Key: "_id", Value: "counter"}, {Key: "n", Value: doc.N}},
					bson.D{{Key: "$set", Value: bson.D{{Key: "n", Value: doc.N + 1}}}})
				if err != nil {
					errs <- err
					return
				}
				if res.ModifiedCount == 1 {
					done++
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	var final struct {
		N int `bson:"n"`
	}
	if err := setup.FindOne(ctx, counter).Decode(&final); err != nil {
		t.Fatal(err)
	}
	if final.N != clients*increments {
		t.Fatalf("n = %d after %d successful compare-and-set updates: updates were lost", final.N, clients*increments)
	}
	t.Logf("%d clients x %d increments in %s", clients, increments, time.Since(start).Round(time.Millisecond))
}

// postgreSQLURL returns the server that the PostgreSQL tests use
// (SKALD_TEST_POSTGRESQL_URL, or the local default), or skips the test when
// none answers.
func postgreSQLURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("SKALD_TEST_POSTGRESQL_URL")
	if u == "" {
		u = DefaultPostgreSQLURL
	}
	if err := PostgreSQLAvailable(t.Context(), u, 2*time.Second); err != nil {
		t.Skipf("no PostgreSQL answers at %s (%v); start one, or set SKALD_TEST_POSTGRESQL_URL, to run this test", redacted(u), err)
	}
	return u
}

// startOnPostgreSQL starts FerretDB in a temporary database on the
// PostgreSQL server of postgreSQLURL, and returns that server, the test's
// context and the running server.
func startOnPostgreSQL(t testing.TB) (string, context.Context, *Mongo) {
	t.Helper()
	server := postgreSQLURL(t)
	ctx := testContext(t, 60*time.Second)
	m, err := StartMongo(ctx, MongoOptions{PostgreSQLURL: server, PostgreSQLTempDB: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	return server, ctx, m
}

// TestMongoOnPostgreSQL runs FerretDB's PostgreSQL backend in a database of
// its own, which Close drops again.
func TestMongoOnPostgreSQL(t *testing.T) {
	t.Parallel()
	server, ctx, m := startOnPostgreSQL(t)
	if m.tempDir != "" || m.dropDB == nil {
		t.Fatalf("tempDir %q, dropDB set %v: want no SQLite directory and a database to drop", m.tempDir, m.dropDB != nil)
	}

	pg, err := pgx.Connect(ctx, server)
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close(context.Background())
	databases := func() []string {
		rows, err := pg.Query(ctx, "SELECT datname FROM pg_database WHERE datname LIKE 'ferretdb\\_%'")
		if err != nil {
			t.Fatal(err)
		}
		names, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		return names
	}

	client := connectMongo(t, ctx, m.URI())
	users := client.Database("app").Collection("users")
	docs := []any{
		bson.D{{Key: "_id", Value: "u1"}, {Key: "email", Value: "a@example.com"}, {Key: "epoch", Value: int64(1)}},
		bson.D{{Key: "_id", Value: "u2"}, {Key: "email", Value: "b@example.com"}, {Key: "epoch", Value: int64(1)}},
	}
	if _, err := users.InsertMany(ctx, docs); err != nil {
		t.Fatal(err)
	}
	// A conditional update: the shape that PostgreSQL evaluates in SQL.
	res, err := users.UpdateOne(ctx, bson.D{{Key: "_id", Value: "u1"}, {Key: "epoch", Value: int64(2)}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "email", Value: "stale@example.com"}}}})
	if err != nil || res.MatchedCount != 0 {
		t.Fatalf("update with a stale epoch: %+v %v, want no match", res, err)
	}
	res, err = users.UpdateOne(ctx, bson.D{{Key: "_id", Value: "u1"}, {Key: "epoch", Value: int64(1)}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "email", Value: "c@example.com"}}}})
	if err != nil || res.ModifiedCount != 1 {
		t.Fatalf("update with the current epoch: %+v %v, want one change", res, err)
	}
	var got struct {
		Email string `bson:"email"`
	}
	if err := users.FindOne(ctx, bson.D{{Key: "email", Value: "c@example.com"}}).Decode(&got); err != nil || got.Email != "c@example.com" {
		t.Fatalf("find by email: %+v %v", got, err)
	}
	concurrentCompareAndSet(t, ctx, m)

	var ours []string
	for _, name := range databases() {
		if strings.Contains(m.pgURL, "/"+name) {
			ours = append(ours, name)
		}
	}
	if len(ours) != 1 {
		t.Fatalf("database of %s not found among %v", redacted(m.pgURL), databases())
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if slices.Contains(databases(), ours[0]) {
		t.Fatalf("database %s still there after Close", ours[0])
	}
}

func TestMongoPostgreSQLDown(t *testing.T) {
	t.Parallel()
	ctx := testContext(t, 20*time.Second)
	url := "postgres://postgres@127.0.0.1:" + strconv.Itoa(freePort(t)) + "/postgres"
	for _, temp := range []bool{false, true} {
		_, err := StartMongo(ctx, MongoOptions{PostgreSQLURL: url, PostgreSQLTempDB: temp})
		if err == nil || !strings.Contains(err.Error(), "postgresql") {
			t.Fatalf("temp %v: got %v, want an error naming postgresql", temp, err)
		}
	}
}

func TestRedisTTLFallsInRealTime(t *testing.T) {
	t.Parallel()
	ctx := testContext(t, 10*time.Second)
	r, err := StartRedis(RedisOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	rdb := redis.NewClient(&redis.Options{Addr: r.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })

	set := time.Now()
	if err := rdb.Set(ctx, "lease", "worker-1", 300*time.Millisecond).Err(); err != nil {
		t.Fatal(err)
	}
	if n, err := rdb.Exists(ctx, "lease").Result(); err != nil || n != 1 {
		t.Fatalf("lease missing right after SET: %d %v", n, err)
	}

	deadline := time.After(time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		n, err := rdb.Exists(ctx, "lease").Result()
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		select {
		case <-deadline:
			t.Fatal("key with a 300ms TTL still exists after 1s")
		case <-tick.C:
		}
	}
	if gone := time.Since(set); gone < 250*time.Millisecond {
		t.Fatalf("key expired after %s, before its 300ms TTL", gone)
	}
}

func TestStack(t *testing.T) {
	t.Parallel()
	ctx := testContext(t, 20*time.Second)
	var started []string
	s, err := Start(ctx, Options{Progress: func(server string) func(error) {
		return func(err error) {
			if err == nil {
				started = append(started, server)
			}
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if want := []string{"kafka", "mongo", "redis"}; !slices.Equal(started, want) {
		t.Fatalf("progress reported %v, want %v", started, want)
	}

	_, kafkaPort, _ := net.SplitHostPort(s.KafkaAddr)
	_, redisPort, _ := net.SplitHostPort(s.RedisAddr)
	want := []string{
		"KAFKA_HOST=127.0.0.1",
		"KAFKA_PORT=" + kafkaPort,
		"MONGO_HOST=" + s.MongoURI,
		"REDIS_HOST=127.0.0.1",
		"REDIS_PORT=" + redisPort,
	}
	if got := s.Env(); !slices.Equal(got, want) {
		t.Fatalf("Env() = %q, want %q", got, want)
	}

	if _, err := (&kafka.Client{Addr: kafka.TCP(s.KafkaAddr)}).Metadata(ctx, &kafka.MetadataRequest{}); err != nil {
		t.Fatalf("kafka: %v", err)
	}
	client := connectMongo(t, ctx, s.MongoURI)
	if err := client.Disconnect(ctx); err != nil {
		t.Logf("mongo disconnect: %v", err) // endSessions is not implemented by FerretDB
	}
	rdb := redis.NewClient(&redis.Options{Addr: s.RedisAddr})
	defer rdb.Close()
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatalf("redis: %v", err)
	}

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	mongoAddr := strings.TrimSuffix(strings.TrimPrefix(s.MongoURI, "mongodb://"), "/")
	for _, addr := range []string{s.KafkaAddr, mongoAddr, s.RedisAddr} {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			t.Errorf("%s still accepts connections after Close", addr)
		}
	}
}

func TestStartFailureClosesWhatStarted(t *testing.T) {
	t.Parallel()
	ctx := testContext(t, 20*time.Second)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	kafkaPort := freePort(t)

	_, err = Start(ctx, Options{KafkaPort: kafkaPort, MongoPort: taken.Addr().(*net.TCPAddr).Port})
	if err == nil || !strings.Contains(err.Error(), "start mongo") || !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("got %v, want an address-in-use error naming mongo", err)
	}
	// Kafka started before Mongo failed; its port must be free again.
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(kafkaPort)))
	if err != nil {
		t.Fatalf("kafka port still held after failed Start: %v", err)
	}
	ln.Close()
}

func TestStackWithExistingRedis(t *testing.T) {
	t.Parallel()
	ctx := testContext(t, 20*time.Second)
	r, err := StartRedis(RedisOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)

	_, err = Start(ctx, Options{RedisAddr: net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))})
	if err == nil || !strings.Contains(err.Error(), "start redis") {
		t.Fatalf("unreachable RedisAddr: got %v, want an error naming redis", err)
	}

	s, err := Start(ctx, Options{RedisAddr: r.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	if s.RedisAddr != r.Addr() {
		t.Fatalf("RedisAddr = %q, want %q", s.RedisAddr, r.Addr())
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := pingRedis(r.Addr()); err != nil {
		t.Fatalf("existing Redis was stopped by Close: %v", err)
	}
}

func TestStackWithExistingKafka(t *testing.T) {
	t.Parallel()
	ctx := testContext(t, 20*time.Second)
	k, err := StartKafka(KafkaOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(k.Close)

	_, err = Start(ctx, Options{KafkaAddr: net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))})
	if err == nil || !strings.Contains(err.Error(), "start kafka") || !strings.Contains(err.Error(), "existing kafka") {
		t.Fatalf("unreachable KafkaAddr: got %v, want an error naming the existing kafka", err)
	}

	s, err := Start(ctx, Options{KafkaAddr: k.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	if s.KafkaAddr != k.Addr() || s.kafka != nil {
		t.Fatalf("KafkaAddr = %q (own broker %v), want the existing %q", s.KafkaAddr, s.kafka != nil, k.Addr())
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := pingKafka(ctx, k.Addr()); err != nil {
		t.Fatalf("existing Kafka was stopped by Close: %v", err)
	}
}

// refused reports whether nothing listens at addr: a server being
// restarted is down, not merely slow.
func refused(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err == nil {
		_ = c.Close()
	}
	return errors.Is(err, syscall.ECONNREFUSED)
}

// TestRestartKeepsData restarts each server on its port: it is down
// meanwhile, and comes back with its data, which clients connected before
// the restart read again.
func TestRestartKeepsData(t *testing.T) {
	t.Parallel()
	const down = 300 * time.Millisecond
	restart := func(t *testing.T, addr string, f func(ctx context.Context, down time.Duration) error) {
		t.Helper()
		ctx := testContext(t, 30*time.Second)
		done := make(chan error, 1)
		go func() { done <- f(ctx, down) }()
		for !refused(addr) {
			select {
			case err := <-done:
				t.Fatalf("%s never refused a connection during the restart (%v)", addr, err)
			default:
			}
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}

	t.Run("kafka", func(t *testing.T) {
		t.Parallel()
		ctx := testContext(t, 40*time.Second)
		k, err := StartKafka(KafkaOptions{Partitions: 1, Dir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(k.Close)
		w := &kafka.Writer{Addr: kafka.TCP(k.Addr()), Transport: &kafka.Transport{}, BatchTimeout: time.Millisecond,
			RequiredAcks: kafka.RequireAll, AllowAutoTopicCreation: true}
		t.Cleanup(func() { _ = w.Close() })
		if err := w.WriteMessages(ctx, kafka.Message{Topic: "events", Value: []byte("before")}); err != nil {
			t.Fatal(err)
		}
		read := func() string {
			r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{k.Addr()}, GroupID: "g", Topic: "events",
				StartOffset: kafka.FirstOffset, MaxWait: time.Second})
			defer r.Close()
			m, err := r.ReadMessage(ctx) // commits
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			return string(m.Value)
		}
		if got := read(); got != "before" {
			t.Fatalf("read %q, want before", got)
		}
		restart(t, k.Addr(), k.Restart)
		if err := w.WriteMessages(ctx, kafka.Message{Topic: "events", Value: []byte("after")}); err != nil {
			t.Fatalf("write after the restart: %v", err)
		}
		// The group's offset survived: it goes on after "before".
		if got := read(); got != "after" {
			t.Fatalf("the group read %q after the restart, want after (its committed offset lost?)", got)
		}
		pr := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{k.Addr()}, Topic: "events", Partition: 0, MaxWait: time.Second})
		defer pr.Close()
		if m, err := pr.ReadMessage(ctx); err != nil || string(m.Value) != "before" {
			t.Fatalf("offset 0 after the restart: %q %v, want before", m.Value, err)
		}
	})

	t.Run("mongo", func(t *testing.T) {
		t.Parallel()
		ctx := testContext(t, 40*time.Second)
		m, err := StartMongo(ctx, MongoOptions{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = m.Close() })
		coll := connectMongo(t, ctx, m.URI()).Database("app").Collection("c")
		if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: "x"}, {Key: "n", Value: 1}}); err != nil {
			t.Fatal(err)
		}
		restart(t, strings.TrimSuffix(strings.TrimPrefix(m.URI(), "mongodb://"), "/"), m.Restart)
		var got struct {
			N int `bson:"n"`
		}
		if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: "x"}}).Decode(&got); err != nil || got.N != 1 {
			t.Fatalf("after the restart: %+v %v, want n=1", got, err)
		}
		tmp := m.tempDir
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(tmp); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("temp dir %s still there after Close (%v)", tmp, err)
		}
	})

	t.Run("redis", func(t *testing.T) {
		t.Parallel()
		ctx := testContext(t, 20*time.Second)
		r, err := StartRedis(RedisOptions{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(r.Close)
		rdb := redis.NewClient(&redis.Options{Addr: r.Addr()})
		t.Cleanup(func() { _ = rdb.Close() })
		if err := rdb.Set(ctx, "k", "v", time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
		restart(t, r.Addr(), r.Restart)
		if got, err := rdb.Get(ctx, "k").Result(); err != nil || got != "v" {
			t.Fatalf("after the restart: %q %v, want v", got, err)
		}
		// Blocking commands wait again, rather than fail at once.
		if _, err := rdb.BLPop(ctx, 100*time.Millisecond, "empty").Result(); !errors.Is(err, redis.Nil) {
			t.Fatalf("BLPOP on an empty list after the restart: %v, want its timeout (redis.Nil)", err)
		}
	})
}
