// Command skald-dev runs Kafka, MongoDB and Redis stand-ins in one process on
// their usual ports, so a Skalds system can be developed and demonstrated on
// a machine without any of those services installed.
//
// Usage (from the repository root):
//
//	go run ./embedded/cmd/skald-dev [-dir .data] [-kafka-port 9092] [-mongo-port 27017] [-redis-port 6379] [-redis-addr host:port] [-postgresql URL]
//
// If the default Redis port 6379 is already taken (typically by a local
// redis-server) and -redis-port was not given, it starts miniredis on a random
// port instead. Any other port conflict is an error naming the flag to change.
//
// It prints `export` lines for the addresses; paste them into the terminals
// that run the system. Stop it with Ctrl-C. MongoDB data persists in -dir;
// Kafka and Redis data live in memory and are gone on exit. With
// -postgresql, FerretDB keeps MongoDB's data in that PostgreSQL database
// instead of SQLite files, which makes filtered reads and conditional
// updates on large collections much faster.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/skalds-go/skalds/embedded"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "skald-dev:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		dir        = flag.String("dir", ".data", "directory for persistent data (MongoDB files go to <dir>/mongo)")
		kafkaPort  = flag.Int("kafka-port", 9092, "Kafka broker port (0 = random)")
		mongoPort  = flag.Int("mongo-port", 27017, "MongoDB port (0 = random)")
		redisPort  = flag.Int("redis-port", 6379, "Redis port (0 = random)")
		redisAddr  = flag.String("redis-addr", "", "use this existing Redis (host:port) instead of starting one")
		postgres   = flag.String("postgresql", "", "keep MongoDB data in this PostgreSQL database (postgres://user@host:port/db) instead of SQLite files in -dir")
		partitions = flag.Int("partitions", 6, "partitions of auto-created Kafka topics")
		debug      = flag.Bool("debug", false, "also log FerretDB's own (very chatty) output")
	)
	flag.Parse()
	explicit := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { explicit[f.Name] = true })

	level := slog.LevelInfo
	if *debug {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	// A local redis-server commonly holds 6379. Unless the port was asked for
	// explicitly, fall back to a random one rather than fail: miniredis also
	// supports the per-field TTL commands that older servers lack.
	if *redisAddr == "" && !explicit["redis-port"] && *redisPort != 0 && portTaken(*redisPort) {
		fmt.Printf("port %d is taken (another Redis?); starting miniredis on a random port instead\n"+
			"  (use -redis-addr 127.0.0.1:%d to use that server, or -redis-port to pick a port)\n", *redisPort, *redisPort)
		*redisPort = 0
	}

	var failed string // the server whose start failed, to name the right flag
	stack, err := embedded.Start(ctx, embedded.Options{
		Dir:           filepath.Join(*dir, "mongo"),
		KafkaPort:     *kafkaPort,
		MongoPort:     *mongoPort,
		RedisPort:     *redisPort,
		RedisAddr:     *redisAddr,
		Partitions:    *partitions,
		PostgreSQLURL: *postgres,
		Debug:         *debug,
		Logger:        logger,
		Progress: func(server string) func(error) {
			fmt.Printf("starting %s... ", server)
			t0 := time.Now()
			return func(err error) {
				if err != nil {
					failed = server
					fmt.Println("FAILED")
					return
				}
				fmt.Printf("ok (%s)\n", time.Since(t0).Round(10*time.Microsecond))
			}
		},
	})
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("%w\n%s", err, portHint(failed))
		}
		return err
	}
	defer func() {
		t0 := time.Now()
		if err := stack.Close(); err != nil {
			logger.Error("shutdown", "err", err)
			return
		}
		logger.Info("stopped", "took", time.Since(t0).Round(10*time.Microsecond))
	}()

	fmt.Printf("\nkafka  %s\nmongo  %s\nredis  %s\n\n", stack.KafkaAddr, stack.MongoURI, stack.RedisAddr)
	fmt.Println("# paste into other terminals:")
	for _, kv := range stack.Env() {
		fmt.Println("export " + kv)
	}
	fmt.Println("\nrunning; press Ctrl-C to stop")

	<-ctx.Done()
	stop() // a second Ctrl-C now kills the process instead of waiting for shutdown
	logger.Info("shutting down")
	return nil
}

func portTaken(port int) bool {
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return errors.Is(err, syscall.EADDRINUSE)
	}
	_ = ln.Close()
	return false
}

// portHint names the flag to change when a port is already taken.
func portHint(server string) string {
	switch server {
	case "kafka":
		return "the Kafka port is in use: pick another with -kafka-port (0 = random)"
	case "mongo":
		return "the MongoDB port is in use (is a mongod running?): pick another with -mongo-port (0 = random)"
	case "redis":
		return "the Redis port is in use (is a redis-server running?): pick another with -redis-port (0 = random), " +
			"or use that server with -redis-addr 127.0.0.1:<port>"
	}
	return "a port is in use: change -kafka-port, -mongo-port or -redis-port"
}
