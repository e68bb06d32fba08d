package liveness

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/skalds-go/skalds/runtime/config"
)

// Dial returns a Redis client for the server cfg names, with its ACL user
// and password and, when REDIS_TLS is on, TLS. It does not connect: the
// first command does (Ping it to check the server). go-redis's own records
// (a pool that cannot dial, for one) go to log from then on; with a nil
// log they go to slog.Default unless a logger was routed before.
func Dial(cfg config.Config, log *slog.Logger) (*redis.Client, error) {
	tc, err := cfg.RedisTLS.Config("REDIS_TLS")
	if err != nil {
		return nil, err
	}
	if log != nil {
		RouteRedisLog(log)
	} else if redisLog.CompareAndSwap(nil, slog.Default()) {
		redis.SetLogger(slogRedis{})
	}
	return redis.NewClient(&redis.Options{
		Addr:      cfg.RedisAddr(),
		Username:  cfg.RedisUsername,
		Password:  cfg.RedisPassword,
		TLSConfig: tc,
		// Pipelines get a pool of their own, whose connections go-redis
		// gives 128 KiB read and write buffers each and keeps while idle:
		// after a burst of task starts (each a pipeline of log records and
		// registry writes) that is up to 2.5 MB a process holds for good. Ours
		// carry small commands (a log record is at most 2 KiB), for which
		// the buffers of the other connections do as well.
		PipelineReadBufferSize:  pipelineBuffer,
		PipelineWriteBufferSize: pipelineBuffer,
		// A burst (thousands of task starts, each a few pipelines) fills
		// both pools, up to 20 and 10 connections with 64 KiB of buffers
		// each, and go-redis closes idle connections only when it takes
		// one: what a burst opened stayed open for as long as the node ran
		// (1.3 MB at 1,000 tasks). An idle node needs one or two at a
		// time (a beat every 3 s); more than maxIdle returned at once are
		// closed, and FIFO takes the longest idle first, so that one idle
		// for longer than idleConn is found and closed by the next beat
		// rather than kept at the bottom of a stack.
		MaxIdleConns:    maxIdle,
		ConnMaxIdleTime: idleConn,
		PoolFIFO:        true,
	}), nil
}

// maxIdle is the most idle connections each pool of a node's Redis client
// keeps, and idleConn how long one is kept unused: see Dial.
const (
	maxIdle  = 4
	idleConn = 30 * time.Second
)

// pipelineBuffer is the read and the write buffer of each connection of
// the pipeline pool: go-redis's size for its other connections.
const pipelineBuffer = 32 << 10

// Check names the settings that say where Redis is and how to log in, for
// errors and logs about a Redis that does not answer.
func Check(cfg config.Config) string {
	s := "REDIS_HOST/REDIS_PORT"
	if cfg.RedisPassword != "" || cfg.RedisUsername != "" {
		s += ", REDIS_USERNAME/REDIS_PASSWORD"
	}
	if cfg.RedisTLS.Enabled {
		s += ", REDIS_TLS*"
	}
	return s
}

// redisLog is where go-redis's records go. go-redis has a single logger
// per process, so the latest RouteRedisLog wins.
var redisLog atomic.Pointer[slog.Logger]

// slogRedis is go-redis's logger interface on slog.
type slogRedis struct{}

func (slogRedis) Printf(ctx context.Context, format string, args ...any) {
	log := redisLog.Load()
	if log == nil {
		return
	}
	msg := strings.TrimPrefix(strings.TrimSpace(fmt.Sprintf(format, args...)), "redis: ")
	level := slog.LevelWarn
	if strings.HasPrefix(msg, "connection pool: failed to dial") {
		// The command that needed the connection fails too, and its caller
		// logs that with what it was doing; at WARN this would repeat it
		// several times a second for as long as Redis is down.
		level = slog.LevelDebug
	}
	log.Log(ctx, level, msg, "component", "go-redis")
}

// RouteRedisLog sends go-redis's records, which by default it prints to
// stderr in a format of its own, to log: as warnings, except failed dials,
// which the failing command reports anyway and which are logged at debug
// level. Dial calls it.
func RouteRedisLog(log *slog.Logger) {
	if redisLog.Swap(log) == nil {
		redis.SetLogger(slogRedis{})
	}
}
