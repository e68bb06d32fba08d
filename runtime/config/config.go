// Package config holds the settings shared by nodes and clients, with the
// environment variable names and defaults of Python Skalds so that one
// deployment's env files serve both.
//
// Precedence is: a value set in code, then the environment, then the
// default. Load applies it.
package config

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Mode is how a Skald gets its tasks.
type Mode string

// The modes of Python Skalds, spelled as it spells them.
const (
	ModeNode          Mode = "node"           // tasks are assigned over Kafka
	ModeEdge          Mode = "edge"           // tasks come from a YAML file
	ModeSingleProcess Mode = "single_process" // one YAML task in the foreground
)

// Config is the configuration of a node or a client. The zero value of a
// field means "not set in code".
type Config struct {
	SkaldID  string // SKALD_ID; default "skalds-" and 5 random hex digits
	Mode     Mode   // SKALD_MODE; default node
	LogLevel string // LOG_LEVEL; default INFO

	RedisHost     string // REDIS_HOST; default localhost
	RedisPort     int    // REDIS_PORT; default 6379
	RedisPassword string // REDIS_PASSWORD
	// RedisUsername is the ACL user (REDIS_USERNAME); empty is Redis'
	// "default" user, the only one before Redis 6.
	RedisUsername string
	// RedisTLS encrypts the Redis link (REDIS_TLS=true, and
	// REDIS_TLS_CA_FILE, REDIS_TLS_CERT_FILE, REDIS_TLS_KEY_FILE,
	// REDIS_TLS_SERVER_NAME, REDIS_TLS_INSECURE_SKIP_VERIFY).
	RedisTLS TLS
	// RedisKeyTTL is how long registry keys and terminal task heartbeats
	// live (REDIS_KEY_TTL, seconds; default 3600).
	RedisKeyTTL time.Duration
	// RedisSyncPeriod is how often a node publishes its task list
	// (REDIS_SYNC_PERIOD, seconds; default 3).
	RedisSyncPeriod time.Duration

	KafkaHost     string // KAFKA_HOST; default localhost
	KafkaPort     int    // KAFKA_PORT; default 9092
	KafkaUsername string // KAFKA_USERNAME; SASL when set
	KafkaPassword string // KAFKA_PASSWORD
	// KafkaSecurityProtocol is PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL
	// (KAFKA_SECURITY_PROTOCOL). Unset, it is SASL_SSL when KafkaUsername
	// is set, SSL when KafkaTLS.Enabled, and PLAINTEXT otherwise.
	KafkaSecurityProtocol string
	// KafkaSASLMechanism is PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512
	// (KAFKA_SASL_MECHANISM; default PLAIN).
	KafkaSASLMechanism string
	// KafkaTLS holds the certificates of the Kafka link
	// (KAFKA_TLS_CA_FILE, KAFKA_TLS_CERT_FILE, KAFKA_TLS_KEY_FILE,
	// KAFKA_TLS_SERVER_NAME, KAFKA_TLS_INSECURE_SKIP_VERIFY); its Enabled
	// follows KafkaSecurityProtocol.
	KafkaTLS TLS
	// KafkaPartitions is the partition count of topics created at start
	// (KAFKA_TOPIC_PARTITIONS; default 6).
	KafkaPartitions int

	MongoHost string // MONGO_HOST, a URI; default mongodb://root:root@localhost:27017/
	DBName    string // DB_NAME; default skalds

	// TaskHistory is how many entries of a task's history the writes of
	// this process keep (SKALD_TASK_HISTORY; default 50); older ones are
	// dropped and counted.
	TaskHistory int

	// ReconcilePeriod is how often a node re-reads all of its tasks from
	// Mongo even without events (SKALD_RECONCILE_PERIOD, seconds; default 30).
	ReconcilePeriod time.Duration

	// NodeTimeout is how long a node may go without a heartbeat before
	// controllers take it for offline and move its tasks
	// (MONITOR_HEARTBEAT_TIMEOUT, seconds; default 10). Controllers judge
	// by it; a node derives its liveness lease from it, so both must be
	// given the same value.
	NodeTimeout time.Duration
	// LivenessLease is how long a node keeps its workers running without
	// a successful heartbeat (SKALD_LIVENESS_LEASE, seconds). Past it, the
	// node stops them until a heartbeat succeeds again: by the time a
	// controller takes the node for offline and moves its tasks, their
	// old copies are gone. Zero means halfway between the heartbeat
	// period (3 s) and NodeTimeout (6.5 s with the defaults); it must lie
	// strictly between the two. Negative turns the lease off.
	LivenessLease time.Duration

	// KafkaDisabled runs without Kafka: no events, only the reconciles at
	// start and every ReconcilePeriod. An empty KAFKA_HOST in the
	// environment sets it, as in Python Skalds' edge mode.
	KafkaDisabled bool
	// RedisDisabled runs without Redis: no heartbeats and no registry
	// entry. An empty REDIS_HOST in the environment sets it.
	RedisDisabled bool

	// YAMLFile declares the workers of an edge or single_process Skald
	// (YAML_FILE).
	YAMLFile string

	// LogPath is a directory for log files (LOG_PATH); empty logs to
	// stderr only.
	LogPath string
	// LogSplitWithWorkerID gives each task its own log file in LogPath,
	// besides the node's (LOG_SPLIT_WITH_WORKER_ID=true).
	LogSplitWithWorkerID bool
	// LogRotationMB is the size at which a log file is rotated
	// (LOG_ROTATION_MB; default 10).
	LogRotationMB int
}

// Load returns explicit with every unset field taken from the environment,
// or else from the default. A malformed number in the environment is an
// error that names the variable.
func Load(explicit Config) (Config, error) {
	return load(explicit, os.LookupEnv)
}

func load(c Config, env func(string) (string, bool)) (Config, error) {
	e := NewEnv(env)
	str := e.String
	str(&c.SkaldID, "SKALD_ID", "")
	if c.SkaldID == "" {
		c.SkaldID = "skalds-" + randomHex(5)
	}
	mode := string(c.Mode)
	str(&mode, "SKALD_MODE", string(ModeNode))
	c.Mode = Mode(mode)
	str(&c.LogLevel, "LOG_LEVEL", "INFO")
	str(&c.RedisHost, "REDIS_HOST", "localhost")
	e.Int(&c.RedisPort, "REDIS_PORT", 6379)
	str(&c.RedisPassword, "REDIS_PASSWORD", "")
	e.Duration(&c.RedisKeyTTL, "REDIS_KEY_TTL", 3600*time.Second)
	e.Duration(&c.RedisSyncPeriod, "REDIS_SYNC_PERIOD", 3*time.Second)
	str(&c.KafkaHost, "KAFKA_HOST", "localhost")
	e.Int(&c.KafkaPort, "KAFKA_PORT", 9092)
	str(&c.KafkaUsername, "KAFKA_USERNAME", "")
	str(&c.KafkaPassword, "KAFKA_PASSWORD", "")
	e.Int(&c.KafkaPartitions, "KAFKA_TOPIC_PARTITIONS", 6)
	str(&c.MongoHost, "MONGO_HOST", "mongodb://root:root@localhost:27017/")
	str(&c.DBName, "DB_NAME", "skalds")
	e.Duration(&c.ReconcilePeriod, "SKALD_RECONCILE_PERIOD", 30*time.Second)
	e.Duration(&c.NodeTimeout, "MONITOR_HEARTBEAT_TIMEOUT", 10*time.Second)
	e.Duration(&c.LivenessLease, "SKALD_LIVENESS_LEASE", 0)
	e.Int(&c.TaskHistory, "SKALD_TASK_HISTORY", 50)
	if c.TaskHistory < 1 {
		e.Errorf("SKALD_TASK_HISTORY=%d: give the entries of a task's history to keep, at least 1", c.TaskHistory)
	}
	// After str, an empty host can only come from an empty variable.
	c.KafkaDisabled = c.KafkaDisabled || strings.TrimSpace(c.KafkaHost) == ""
	c.RedisDisabled = c.RedisDisabled || strings.TrimSpace(c.RedisHost) == ""
	str(&c.YAMLFile, "YAML_FILE", "")
	str(&c.LogPath, "LOG_PATH", "")
	e.Bool(&c.LogSplitWithWorkerID, "LOG_SPLIT_WITH_WORKER_ID")
	e.Int(&c.LogRotationMB, "LOG_ROTATION_MB", 10)
	e.loadSecurity(&c)

	switch c.Mode {
	case ModeNode, ModeEdge, ModeSingleProcess:
	default:
		e.Errorf("SKALD_MODE=%q is not a mode; use node, edge or single_process (lower case)", c.Mode)
	}
	return c, e.Err("config")
}

// KafkaAddr is the bootstrap address host:port.
func (c Config) KafkaAddr() string { return c.KafkaHost + ":" + strconv.Itoa(c.KafkaPort) }

// RedisAddr is the Redis address host:port.
func (c Config) RedisAddr() string { return c.RedisHost + ":" + strconv.Itoa(c.RedisPort) }

// String masks the secrets, so a config can be logged as is.
func (c Config) String() string {
	kafka, redis := c.KafkaAddr(), c.RedisAddr()
	if c.KafkaDisabled {
		kafka = "off"
	}
	if c.RedisDisabled {
		redis = "off"
	}
	if !c.KafkaDisabled && c.KafkaSecurityProtocol != "" && c.KafkaSecurityProtocol != KafkaPlaintext {
		kafka += " (" + c.KafkaSecurityProtocol
		if c.KafkaSASL() {
			kafka += " " + c.KafkaSASLMechanism + " user " + c.KafkaUsername
		}
		kafka += ")"
	}
	if !c.RedisDisabled && (c.RedisTLS.Enabled || c.RedisUsername != "") {
		redis += " (tls " + c.RedisTLS.String()
		if c.RedisUsername != "" {
			redis += ", user " + c.RedisUsername
		}
		redis += ")"
	}
	return fmt.Sprintf("skaldId=%s mode=%s kafka=%s redis=%s mongo=%s db=%s kafkaPassword=%s redisPassword=%s",
		c.SkaldID, c.Mode, kafka, redis, MaskURI(c.MongoHost), c.DBName, Mask(c.KafkaPassword), Mask(c.RedisPassword))
}
