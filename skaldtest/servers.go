// Package skaldtest helps test code that runs on skalds-go. Run and
// RunJSON run a worker's hooks in-process, with no servers, for its unit
// tests. For tests against real servers: a log handler to wait for what
// nodes and workers log, the detection of a local Redis, a Config for given
// server addresses, and a TCP relay that can be cut to simulate a network
// partition.
//
// It imports no server; the embedded ones live in a module of their own.
package skaldtest

import (
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/skalds-go/skalds/runtime/config"
)

// LocalRedis returns "127.0.0.1:6379" when a Redis answers PING there, and
// "" otherwise, so that a test can prefer the real server and fall back to
// an embedded one.
func LocalRedis() string {
	const addr = "127.0.0.1:6379"
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return ""
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("*1\r\n$4\r\nPING\r\n")); err != nil {
		return ""
	}
	buf := make([]byte, 5)
	if n, _ := c.Read(buf); n < 5 || string(buf) != "+PONG" {
		return ""
	}
	return addr
}

// Config returns a node-mode config for the servers at the given
// addresses (host:port for Kafka and Redis, a URI for MongoDB); every other
// field comes from the environment or its default.
func Config(kafkaAddr, mongoURI, redisAddr string) (config.Config, error) {
	kh, kp, err := hostPort(kafkaAddr)
	if err != nil {
		return config.Config{}, fmt.Errorf("kafka address: %w", err)
	}
	rh, rp, err := hostPort(redisAddr)
	if err != nil {
		return config.Config{}, fmt.Errorf("redis address: %w", err)
	}
	return config.Load(config.Config{
		Mode:      config.ModeNode,
		KafkaHost: kh, KafkaPort: kp,
		RedisHost: rh, RedisPort: rp,
		MongoHost: mongoURI,
		DBName:    "skalds",
	})
}

func hostPort(addr string) (string, int, error) {
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	n, err := strconv.Atoi(p)
	return h, n, err
}
