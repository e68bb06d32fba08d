// Package embedded runs in-process stand-ins for Kafka (kfake), MongoDB
// (FerretDB on SQLite, or on a PostgreSQL server when one is given, behind a
// serializing wire proxy) and Redis (miniredis).
// They speak the real wire protocols, so tests and the demo use the same
// client libraries as production without any installed services.
//
// This package is for development and tests only and must never be linked
// into production binaries: it pulls in FerretDB, SQLite and about a hundred
// other modules (tens of megabytes), and its servers trade durability,
// performance and feature coverage for convenience. That is why it lives in
// its own module; production packages of skalds must not import it.
//
// Known gaps of the stand-ins: FerretDB has no change streams, transactions,
// TTL indexes or partial indexes, and scans in Go (fine for small
// collections only; on PostgreSQL, equality filters on plain fields are
// evaluated in SQL instead); miniredis lacks HPEXPIRE, HEXPIREAT and HGETEX.
package embedded

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"time"
)

// Options configures Start. The zero value gives random free ports on
// 127.0.0.1 and a temporary data directory removed by Close, which is what
// parallel tests need.
type Options struct {
	// Dir is FerretDB's SQLite data directory; "" means a temporary directory
	// removed by Close. Kafka and miniredis always keep data in memory.
	Dir string
	// PostgreSQLURL, if set, makes FerretDB keep its data in this
	// PostgreSQL database instead of SQLite (see MongoOptions.PostgreSQLURL);
	// Dir is then not used.
	PostgreSQLURL string
	// PostgreSQLTempDB makes Start create a fresh database on the server of
	// PostgreSQLURL for this stack, and Close drop it (see
	// MongoOptions.PostgreSQLTempDB).
	PostgreSQLTempDB bool
	// PostgreSQLAuth makes MongoDB clients authenticate as PostgreSQL roles
	// (see MongoOptions.PostgreSQLAuth); MongoURI then carries no
	// credentials, and the clients add theirs.
	PostgreSQLAuth bool
	// MongoTLS, when set, makes MongoDB speak TLS only (see MongoOptions.TLS).
	MongoTLS *tls.Config
	// KafkaPort is the broker port; 0 picks a free port.
	KafkaPort int
	// KafkaAddr, if set, points at an existing Kafka broker ("host:port",
	// for example the Apache Kafka of scripts/peers) that is used instead
	// of starting kfake. Start checks that it answers; Close leaves it
	// running. KafkaPort and Partitions are then not used.
	KafkaAddr string
	// MongoPort is the port of the serializing proxy that clients connect to;
	// 0 picks a free port.
	MongoPort int
	// RedisPort is the miniredis port; 0 picks a free port.
	RedisPort int
	// RedisAddr, if set, points at an existing Redis (for example a local
	// redis-server) that is used instead of starting miniredis. Start checks
	// that it answers PING; Close leaves it running.
	RedisAddr string
	// Partitions is the partition count of auto-created topics; 0 means 6.
	Partitions int
	// Logger receives a debug line per started server; nil discards.
	Logger *slog.Logger
	// Debug also sends FerretDB's own logs to Logger. They are off by default
	// because FerretDB logs every connection and every error reply.
	Debug bool
	// Progress, if set, is called as each server ("kafka", "mongo", "redis")
	// begins to start, and the function it returns is called with the
	// outcome, so a command can show which step is slow or failing.
	Progress func(server string) (done func(err error))
}

// Stack is a running set of the three servers. Its addresses are fixed for
// its lifetime, so they can be handed to clients or child processes once.
type Stack struct {
	// KafkaAddr is the broker's "127.0.0.1:port" (Options.KafkaAddr when
	// that was set).
	KafkaAddr string
	// MongoURI is "mongodb://127.0.0.1:port/" of the serializing proxy, never
	// FerretDB itself, so every client gets atomic single-document updates.
	MongoURI string
	// RedisAddr is "host:port" of miniredis or of Options.RedisAddr.
	RedisAddr string

	kafka *Kafka
	mongo *Mongo
	redis *Redis // nil when an existing Redis is used

	closeOnce sync.Once
	closeErr  error
}

// Start starts Kafka, MongoDB and Redis in that order. If any of them fails,
// it closes those already started and returns an error naming the failed
// server, so callers never have to clean up a partial stack. ctx bounds only
// the startup.
func Start(ctx context.Context, opts Options) (*Stack, error) {
	log := opts.Logger
	if log == nil {
		log = discardLogger()
	}
	s := &Stack{}
	step := func(server string, start func() (addr string, err error)) error {
		var done func(error)
		if opts.Progress != nil {
			done = opts.Progress(server)
		}
		t0 := time.Now()
		err := ctx.Err()
		var addr string
		if err == nil {
			addr, err = start()
		}
		if done != nil {
			done(err)
		}
		if err != nil {
			return fmt.Errorf("embedded: start %s: %w", server, err)
		}
		log.Debug("started", "server", server, "addr", addr, "took", time.Since(t0).Round(time.Microsecond))
		return nil
	}

	err := step("kafka", func() (string, error) {
		if opts.KafkaAddr != "" {
			if err := pingKafka(ctx, opts.KafkaAddr); err != nil {
				return "", fmt.Errorf("existing kafka at %s: %w", opts.KafkaAddr, err)
			}
			s.KafkaAddr = opts.KafkaAddr
			return s.KafkaAddr, nil
		}
		k, err := StartKafka(KafkaOptions{Port: opts.KafkaPort, Partitions: opts.Partitions})
		if err != nil {
			return "", err
		}
		s.kafka, s.KafkaAddr = k, k.Addr()
		return s.KafkaAddr, nil
	})
	if err == nil {
		err = step("mongo", func() (string, error) {
			mo := MongoOptions{Dir: opts.Dir, Port: opts.MongoPort,
				PostgreSQLURL: opts.PostgreSQLURL, PostgreSQLTempDB: opts.PostgreSQLTempDB,
				PostgreSQLAuth: opts.PostgreSQLAuth, TLS: opts.MongoTLS}
			if opts.Debug {
				mo.Logger = log.With("server", "ferretdb")
			}
			m, err := StartMongo(ctx, mo)
			if err != nil {
				return "", err
			}
			s.mongo, s.MongoURI = m, m.URI()
			return s.MongoURI, nil
		})
	}
	if err == nil {
		err = step("redis", func() (string, error) {
			if opts.RedisAddr != "" {
				if err := pingRedis(opts.RedisAddr); err != nil {
					return "", fmt.Errorf("existing redis at %s: %w", opts.RedisAddr, err)
				}
				s.RedisAddr = opts.RedisAddr
				return s.RedisAddr, nil
			}
			r, err := StartRedis(RedisOptions{Port: opts.RedisPort})
			if err != nil {
				return "", err
			}
			s.redis, s.RedisAddr = r, r.Addr()
			return s.RedisAddr, nil
		})
	}
	if err != nil {
		return nil, errors.Join(err, s.Close())
	}
	return s, nil
}

// Kafka is the embedded broker, through which a test can watch or steer
// the requests clients send (Kafka.Cluster); nil when Options.KafkaAddr
// pointed the stack at an existing broker.
func (s *Stack) Kafka() *Kafka { return s.kafka }

// Close stops every server the stack started (in reverse order) and waits for
// them. It is idempotent and safe to defer right after a successful Start.
func (s *Stack) Close() error {
	s.closeOnce.Do(func() {
		if s.redis != nil {
			s.redis.Close()
		}
		if s.mongo != nil {
			if err := s.mongo.Close(); err != nil {
				s.closeErr = fmt.Errorf("embedded: close mongo: %w", err)
			}
		}
		if s.kafka != nil {
			s.kafka.Close()
		}
	})
	return s.closeErr
}

// Env returns the stack's addresses as KEY=value pairs, sorted, under the
// variable names Python Skalds reads, so workers of either implementation can
// be pointed at the stack unchanged (for example via exec.Cmd.Env).
func (s *Stack) Env() []string {
	env := []string{"MONGO_HOST=" + s.MongoURI}
	for _, hp := range []struct{ prefix, addr string }{{"KAFKA", s.KafkaAddr}, {"REDIS", s.RedisAddr}} {
		host, port, err := net.SplitHostPort(hp.addr)
		if err != nil {
			host, port = hp.addr, ""
		}
		env = append(env, hp.prefix+"_HOST="+host, hp.prefix+"_PORT="+port)
	}
	slices.Sort(env)
	return env
}

func discardLogger() *slog.Logger {
	return slog.New(slog.DiscardHandler)
}
