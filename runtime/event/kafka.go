package event

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"
	"go.opentelemetry.io/otel/trace"

	"github.com/skalds-go/skalds/runtime/config"
)

// Broker says how to reach Kafka.
type Broker struct {
	Addr               string // host:port of a bootstrap broker
	Username, Password string // SASL credentials, when set
	// Mechanism is the SASL mechanism for Username: config.SASLPlain (the
	// default), config.SASLScramSHA256 or config.SASLScramSHA512.
	Mechanism string
	// TLS, when set, encrypts every connection to the brokers.
	TLS *tls.Config
	// Partitions is the partition count of topics created by EnsureTopics.
	Partitions int
	// ClientID is the client id of every request, which names the process
	// in the broker's logs, metrics and quotas: NewBroker sets the
	// process's SKALD_ID. Empty leaves kafka-go's default, which is the
	// same for every process of one binary on one host.
	ClientID string
	// Logger receives kafka-go's own error records (failed fetches,
	// rebalances), so that they show up in the process's log instead of
	// being dropped; nil drops them.
	Logger *slog.Logger
	// Trace makes publishers write the W3C trace context of the span in
	// the context they publish with into each record's headers
	// (traceparent, tracestate), and subscribers read it into
	// Delivery.Trace. Unset, records carry no headers and headers received
	// are not parsed.
	Trace bool
}

// NewBroker returns the Broker that cfg describes: its address, its
// security protocol, SASL mechanism and certificates. An error names the
// setting to fix.
func NewBroker(cfg config.Config) (Broker, error) {
	b := Broker{Addr: cfg.KafkaAddr(), Partitions: cfg.KafkaPartitions, ClientID: cfg.SkaldID}
	if cfg.KafkaSASL() {
		b.Username, b.Password, b.Mechanism = cfg.KafkaUsername, cfg.KafkaPassword, cfg.KafkaSASLMechanism
		if _, err := b.mechanism(); err != nil {
			return Broker{}, err
		}
	}
	t, err := cfg.KafkaTLS.Config("KAFKA_TLS")
	if err != nil {
		return Broker{}, err
	}
	b.TLS = t
	return b, nil
}

// Check names the settings that say where Kafka is and how to log in, for
// errors and logs about a broker that does not answer.
func Check(cfg config.Config) string {
	s := "KAFKA_HOST/KAFKA_PORT"
	if cfg.KafkaSecurityProtocol != "" && cfg.KafkaSecurityProtocol != config.KafkaPlaintext {
		s += ", KAFKA_SECURITY_PROTOCOL"
	}
	if cfg.KafkaSASL() {
		s += ", KAFKA_SASL_MECHANISM, KAFKA_USERNAME/KAFKA_PASSWORD"
	}
	if cfg.KafkaTLS.Enabled {
		s += ", KAFKA_TLS*"
	}
	return s
}

// mechanism returns the SASL mechanism for the credentials, or nil
// without them.
func (b Broker) mechanism() (sasl.Mechanism, error) {
	if b.Username == "" {
		return nil, nil
	}
	var algo scram.Algorithm
	switch strings.ToUpper(b.Mechanism) {
	case "", config.SASLPlain:
		return plain.Mechanism{Username: b.Username, Password: b.Password}, nil
	case config.SASLScramSHA256:
		algo = scram.SHA256
	case config.SASLScramSHA512:
		algo = scram.SHA512
	default:
		return nil, fmt.Errorf("KAFKA_SASL_MECHANISM=%q is not PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", b.Mechanism)
	}
	m, err := scram.Mechanism(algo, b.Username, b.Password)
	if err != nil {
		// The error text of SASLprep could quote the password: say which
		// setting is wrong and nothing more.
		return nil, errors.New("KAFKA_USERNAME or KAFKA_PASSWORD holds characters SCRAM does not allow (SASLprep)")
	}
	return m, nil
}

func (b Broker) transport() *kafka.Transport {
	// A transport of its own per client: the shared default one caches
	// metadata for 6 s, which makes the first write to a new topic fail.
	t := &kafka.Transport{DialTimeout: 5 * time.Second, TLS: b.TLS, ClientID: b.ClientID}
	t.SASL, _ = b.mechanism() // NewBroker checked it; a hand-made Broker fails at the handshake
	return t
}

func (b Broker) dialer() *kafka.Dialer {
	d := &kafka.Dialer{Timeout: 5 * time.Second, DualStack: true, TLS: b.TLS, ClientID: b.ClientID}
	d.SASLMechanism, _ = b.mechanism()
	return d
}

// kafkaLogger turns kafka-go's printf-style records into slog records.
type kafkaLogger struct {
	log   *slog.Logger
	level slog.Level
}

func (l kafkaLogger) Printf(format string, args ...any) {
	l.log.Log(context.Background(), l.level, fmt.Sprintf(format, args...), "component", "kafka-go")
}

// errorLogger is kafka-go's error logger for b, or nil.
func (b Broker) errorLogger() kafka.Logger {
	if b.Logger == nil {
		return nil
	}
	return kafkaLogger{log: b.Logger, level: slog.LevelWarn}
}

// EnsureTopics creates the topics that do not exist yet. Relying on broker
// auto-creation would give them the broker's defaults, often one partition.
func EnsureTopics(ctx context.Context, b Broker, topics ...string) error {
	c := &kafka.Client{Addr: kafka.TCP(b.Addr), Transport: b.transport(), Timeout: 10 * time.Second}
	meta, err := c.Metadata(ctx, &kafka.MetadataRequest{})
	if err != nil {
		return fmt.Errorf("kafka %s: reading metadata (is KAFKA_HOST/KAFKA_PORT right?): %w", b.Addr, err)
	}
	existing := make(map[string]bool, len(meta.Topics))
	for _, t := range meta.Topics {
		existing[t.Name] = true
	}
	replicas := min(3, len(meta.Brokers))
	partitions := b.Partitions
	if partitions <= 0 {
		partitions = 6
	}
	var req kafka.CreateTopicsRequest
	for _, t := range topics {
		if !existing[t] {
			req.Topics = append(req.Topics, kafka.TopicConfig{Topic: t, NumPartitions: partitions, ReplicationFactor: replicas})
		}
	}
	if len(req.Topics) == 0 {
		return nil
	}
	res, err := c.CreateTopics(ctx, &req)
	if err != nil {
		return fmt.Errorf("kafka %s: creating topics: %w", b.Addr, err)
	}
	for topic, err := range res.Errors {
		if err != nil && !errors.Is(err, kafka.TopicAlreadyExists) {
			return fmt.Errorf("kafka %s: creating topic %s: %w", b.Addr, topic, err)
		}
	}
	return nil
}

// CommitEnds commits, as group's offsets, the current end of every
// partition of topics, so that the group's next member reads only the
// events produced from now on, whatever the group read before. A node calls
// it before it reads its tasks from MongoDB at start: every event produced
// before the ends were read names a write made before that read (writers
// write MongoDB first, then publish), so the read covers it, and every
// later one is delivered. A fresh node (a new group) so starts at the
// newest offset without the window that Kafka's own "latest" leaves
// between the read and the group's join, and no node replays the topics'
// retention.
//
// The broker refuses the commit while the group has a live member (a
// previous run of the node that has not left yet): the error says so, and
// the group then resumes where that member committed.
func CommitEnds(ctx context.Context, b Broker, group string, topics ...string) error {
	c := &kafka.Client{Addr: kafka.TCP(b.Addr), Transport: b.transport(), Timeout: 10 * time.Second}
	meta, err := c.Metadata(ctx, &kafka.MetadataRequest{Topics: topics})
	if err != nil {
		return fmt.Errorf("kafka %s: reading the partitions of %v: %w", b.Addr, topics, err)
	}
	ask := map[string][]kafka.OffsetRequest{}
	for _, t := range meta.Topics {
		if t.Error != nil {
			return fmt.Errorf("kafka %s: topic %s: %w", b.Addr, t.Name, t.Error)
		}
		for _, p := range t.Partitions {
			ask[t.Name] = append(ask[t.Name], kafka.LastOffsetOf(p.ID))
		}
	}
	ends, err := c.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: ask})
	if err != nil {
		return fmt.Errorf("kafka %s: reading the ends of %v: %w", b.Addr, topics, err)
	}
	commit := map[string][]kafka.OffsetCommit{}
	for topic, parts := range ends.Topics {
		for _, p := range parts {
			if p.Error != nil {
				return fmt.Errorf("kafka %s: the end of %s/%d: %w", b.Addr, topic, p.Partition, p.Error)
			}
			commit[topic] = append(commit[topic], kafka.OffsetCommit{Partition: p.Partition, Offset: p.LastOffset})
		}
	}
	// Generation -1 and no member: a commit from outside the group's
	// membership, which the broker takes while the group is empty.
	res, err := c.OffsetCommit(ctx, &kafka.OffsetCommitRequest{GroupID: group, GenerationID: -1, Topics: commit})
	if err != nil {
		return fmt.Errorf("kafka %s: committing the ends of %v for group %s: %w", b.Addr, topics, group, err)
	}
	for topic, parts := range res.Topics {
		for _, p := range parts {
			if p.Error != nil {
				return fmt.Errorf("kafka %s: committing the end of %s/%d for group %s (a member of the group still there?): %w",
					b.Addr, topic, p.Partition, group, p.Error)
			}
		}
	}
	return nil
}

// partitioner is the balancer of every publisher: murmur2 of the key,
// made positive and taken modulo the partition count, which is the Java
// client's default for keyed messages and kafka-python's. kafka-go's
// murmur2 is a port of the Java function.
var partitioner kafka.Balancer = kafka.Murmur2Balancer{}

// Publisher writes task events.
type Publisher struct {
	w     *kafka.Writer
	trace bool
}

// NewPublisher returns a publisher that puts each event on the wire at
// once and waits for all in-sync replicas, instead of kafka-go's default of
// batching for a second and not waiting at all.
//
// Events are partitioned by the murmur2 hash of their key, as the Java
// client and kafka-python (which Python Skalds uses) do: the events of one
// task land on one partition whichever of them produced it, so they stay
// in order across mixed producers.
func NewPublisher(b Broker) *Publisher {
	return &Publisher{trace: b.Trace, w: &kafka.Writer{
		Addr:         kafka.TCP(b.Addr),
		Balancer:     partitioner,
		BatchTimeout: time.Millisecond,
		// Events are written one per call; a batch of one goes out at once
		// instead of waiting for BatchTimeout.
		BatchSize:    1,
		RequiredAcks: kafka.RequireAll,
		Transport:    b.transport(),
		ErrorLogger:  b.errorLogger(),
	}}
}

// record sets m to the record of e on topic, keyed by its first task id.
func record(m *kafka.Message, topic string, e TaskEvent) error {
	value, err := json.Marshal(e)
	if err != nil {
		return err
	}
	m.Topic, m.Value = topic, value
	if len(e.TaskIDs) > 0 {
		m.Key = []byte(e.TaskIDs[0])
	}
	return nil
}

// message is record with the trace context of ctx in m's headers when p
// traces.
func (p *Publisher) message(ctx context.Context, m *kafka.Message, topic string, e TaskEvent) error {
	if err := record(m, topic, e); err != nil {
		return err
	}
	if p.trace {
		m.Headers = traceHeaders(ctx)
	}
	return nil
}

// Publish writes e to topic, keyed by its first task id.
func (p *Publisher) Publish(ctx context.Context, topic string, e TaskEvent) error {
	var m kafka.Message
	if err := p.message(ctx, &m, topic, e); err != nil {
		return err
	}
	if err := p.w.WriteMessages(ctx, m); err != nil {
		return fmt.Errorf("publishing to %s: %w", topic, err)
	}
	return nil
}

// PublishMany writes one event per entry of events to topic in one batch,
// each keyed by its first task id, for producers that assign or update
// many tasks at once.
func (p *Publisher) PublishMany(ctx context.Context, topic string, events ...TaskEvent) error {
	msgs := make([]kafka.Message, 0, len(events))
	var traced []kafka.Header
	if p.trace {
		traced = traceHeaders(ctx)
	}
	for _, e := range events {
		m := kafka.Message{Headers: traced}
		if err := record(&m, topic, e); err != nil {
			return err
		}
		msgs = append(msgs, m)
	}
	if err := p.w.WriteMessages(ctx, msgs...); err != nil {
		return fmt.Errorf("publishing %d events to %s: %w", len(events), topic, err)
	}
	return nil
}

// Close flushes and closes the writer.
func (p *Publisher) Close() error { return p.w.Close() }

// Handler handles one event. Its error is logged; the event is committed
// either way, because the periodic reconcile covers what it could not do.
type Handler func(ctx context.Context, topic string, e TaskEvent) error

// Subscriber reads task events as a member of a consumer group.
type Subscriber struct {
	r     *kafka.Reader
	log   *slog.Logger
	trace bool
}

// smallBatch is the most events whose buffers RunBatch keeps between
// batches.
const smallBatch = 256

// batchLinger is how long RunBatch waits for more events of a burst.
const batchLinger = 2 * time.Millisecond

// Subscribe joins group on topics. The group resumes at its committed
// offsets (a node commits the topics' ends first, see CommitEnds); a group
// without any starts at the oldest message, since replaying an event is
// harmless (it only makes a node look at a task again) while skipping one
// could delay a start until the next reconcile.
func Subscribe(b Broker, group string, topics []string, log *slog.Logger) *Subscriber {
	if b.Logger == nil {
		b.Logger = log
	}
	return &Subscriber{log: log, trace: b.Trace, r: kafka.NewReader(kafka.ReaderConfig{
		Brokers:     []string{b.Addr},
		Dialer:      b.dialer(),
		GroupID:     group,
		GroupTopics: topics,
		StartOffset: kafka.FirstOffset,
		MinBytes:    1,
		MaxBytes:    1 << 20,
		// MaxWait is also the socket deadline; under a second it turns a
		// backlog into timeout loops.
		MaxWait:           time.Second,
		HeartbeatInterval: time.Second,
		// A join that fails is retried after this pause (kafka-go's default
		// is 5 s). On a fresh Apache Kafka broker the first join fails while
		// the offsets topic is created, which kfake never shows; the
		// default made a new node deaf to events for 5 s.
		JoinGroupBackoff: 250 * time.Millisecond,
		SessionTimeout:   10 * time.Second,
		RebalanceTimeout: 10 * time.Second,
		// Synchronous commits: an event is committed only after it was
		// handled.
		CommitInterval: 0,
		// Room for a burst of events to wait, so that RunBatch handles it
		// in a few large batches.
		QueueCapacity: 1000,
		ErrorLogger:   b.errorLogger(),
	})}
}

// Run hands every event to h, one at a time and in order, until ctx ends.
// With Broker.Trace, the context h gets carries the event's trace context
// as its remote parent, when the record has one.
func (s *Subscriber) Run(ctx context.Context, h Handler) error {
	for {
		m, err := s.r.FetchMessage(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("reading events: %w", err)
		}
		var e TaskEvent
		if err := json.Unmarshal(m.Value, &e); err != nil {
			s.log.Warn("skipping a malformed event", "topic", m.Topic, "offset", m.Offset, "err", err)
		} else if err := h(s.traced(ctx, &m), m.Topic, e); err != nil && ctx.Err() == nil {
			s.log.Error("handling event", "topic", m.Topic, "taskIds", e.TaskIDs, "err", err)
		}
		if err := s.r.CommitMessages(context.WithoutCancel(ctx), m); err != nil && ctx.Err() == nil {
			s.log.Warn("committing event offset", "topic", m.Topic, "offset", m.Offset, "err", err)
		}
	}
}

// traced returns ctx with m's trace context as its remote parent, or ctx
// when tracing is off or m has none.
func (s *Subscriber) traced(ctx context.Context, m *kafka.Message) context.Context {
	if !s.trace {
		return ctx
	}
	if sc := remoteTrace(m); sc.IsValid() {
		return trace.ContextWithRemoteSpanContext(ctx, sc)
	}
	return ctx
}

// Delivery is one received event.
type Delivery struct {
	Topic string
	Event TaskEvent
	// Time is when the producer wrote the message (the record's
	// timestamp), or the zero time when the broker gave none.
	Time time.Time
	// Trace is the trace context the producer sent in the record's
	// headers (see Broker.Trace), remote; the zero SpanContext when the
	// record had none or the subscriber does not trace.
	Trace trace.SpanContext
}

// Sent is when the event was produced: the record's timestamp, or else the
// event's createDateTime, or the zero time when neither is known.
func (d Delivery) Sent() time.Time {
	if d.Time.UnixMilli() > 0 { // a record without a timestamp has -1
		return d.Time
	}
	if d.Event.CreateDateTime > 0 {
		return time.UnixMilli(d.Event.CreateDateTime)
	}
	return time.Time{}
}

// BatchHandler handles the events that were waiting together. Its error
// is logged; the events are committed either way, as with Handler.
type BatchHandler func(ctx context.Context, batch []Delivery) error

// RunBatch hands events to h in batches of at most max: whatever arrived
// together, without waiting for more than a moment. A batch is committed
// only after h returned, so an event is never committed before it was
// handled. Batching lets a node read the tasks of a burst of events in
// one query instead of one query per event.
func (s *Subscriber) RunBatch(ctx context.Context, max int, h BatchHandler) error {
	if max <= 0 {
		max = 1
	}
	var msgs []kafka.Message
	var batch []Delivery
	for {
		// A burst's buffers are not kept: max may be large, bursts rare.
		if cap(msgs) > smallBatch {
			msgs, batch = nil, nil
		}
		msgs, batch = msgs[:0], batch[:0]
		m, err := s.r.FetchMessage(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("reading events: %w", err)
		}
		msgs = append(msgs, m)
		// A lone event is handled at once. When more were already waiting,
		// this is a burst: gather it, lingering briefly for the rest, so
		// that it is read from MongoDB in a few large batches.
		for len(msgs) < max {
			fctx, cancel := ctx, context.CancelFunc(func() {})
			if s.r.Stats().QueueLength == 0 {
				if len(msgs) == 1 {
					break
				}
				fctx, cancel = context.WithTimeout(ctx, batchLinger)
			}
			m, err := s.r.FetchMessage(fctx)
			cancel()
			if err != nil {
				break // the burst is over (or ctx ended): handle what we have
			}
			msgs = append(msgs, m)
		}
		for _, m := range msgs {
			var e TaskEvent
			if err := json.Unmarshal(m.Value, &e); err != nil {
				s.log.Warn("skipping a malformed event", "topic", m.Topic, "offset", m.Offset, "err", err)
				continue
			}
			d := Delivery{Topic: m.Topic, Event: e, Time: m.Time}
			if s.trace {
				d.Trace = remoteTrace(&m)
			}
			batch = append(batch, d)
		}
		if len(batch) > 0 {
			if err := h(ctx, batch); err != nil && ctx.Err() == nil {
				s.log.Error("handling events", "events", len(batch), "err", err)
			}
		}
		if err := s.r.CommitMessages(context.WithoutCancel(ctx), msgs...); err != nil && ctx.Err() == nil {
			s.log.Warn("committing event offsets", "events", len(msgs), "err", err)
		}
	}
}

// Close leaves the group, so that a restarted node gets its partitions
// back at once instead of after the session timeout.
func (s *Subscriber) Close() error { return s.r.Close() }
