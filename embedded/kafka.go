package embedded

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
)

// KafkaOptions configures StartKafka.
type KafkaOptions struct {
	// Port is the broker port; 0 picks a free port.
	Port int
	// Partitions is used for auto-created topics (0 means 6), so that tests
	// exercise more than one partition without having to create topics first.
	Partitions int
	// TLS, when set, makes the broker speak TLS only, with this server
	// configuration.
	TLS *tls.Config
	// Users, when set, turns SASL on: only these users can connect (the
	// broker then also needs SASL from its clients).
	Users []KafkaUser
	// Dir, when set, makes the broker keep its topics, records, committed
	// offsets and groups in this directory (kfake's DataDir), so that
	// Restart brings them back as a restarted Kafka does. Empty keeps
	// everything in memory, and Restart then starts an empty broker.
	Dir string
	// Listen, when set, is called instead of net.Listen for the broker's
	// listener, at start and at every Restart, so that a test can wrap it:
	// watch the connections, or cut those of one client (see
	// skaldtest.KafkaGate).
	Listen func(network, address string) (net.Listener, error)
}

// KafkaUser is a SASL user of the embedded broker.
type KafkaUser struct {
	Mechanism string // PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512
	Name      string
	Password  string
}

// Kafka is a single kfake broker, in memory unless KafkaOptions.Dir is set.
// One broker keeps metadata simple for clients and is all a development
// stack needs.
type Kafka struct {
	addr string
	port int
	opts []kfake.Opt // every option but the port, for Restart

	restarting sync.Mutex // one Restart at a time
	mu         sync.Mutex // guards cluster and closed
	cluster    *kfake.Cluster
	closed     bool
}

// StartKafka starts the broker with topic auto-creation enabled, so producers
// can write to new topics the way a default Kafka installation allows.
func StartKafka(opts KafkaOptions) (*Kafka, error) {
	parts := opts.Partitions
	if parts <= 0 {
		parts = 6
	}
	kopts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(parts),
	}
	if opts.Port != 0 {
		kopts = append(kopts, kfake.Ports(opts.Port))
	}
	if opts.TLS != nil {
		kopts = append(kopts, kfake.TLS(opts.TLS))
	}
	if len(opts.Users) > 0 {
		kopts = append(kopts, kfake.EnableSASL())
		for _, u := range opts.Users {
			kopts = append(kopts, kfake.Superuser(u.Mechanism, u.Name, u.Password))
		}
	}
	if opts.Dir != "" {
		kopts = append(kopts, kfake.DataDir(opts.Dir))
	}
	if opts.Listen != nil {
		kopts = append(kopts, kfake.ListenFn(opts.Listen))
	}
	port := []kfake.Opt{}
	if opts.Port != 0 {
		port = append(port, kfake.Ports(opts.Port))
	}
	c, err := kfake.NewCluster(append(kopts, port...)...)
	if err != nil {
		return nil, err
	}
	k := &Kafka{cluster: c, addr: c.ListenAddrs()[0], opts: kopts}
	// Restart listens on this port again: clients keep their address.
	_, p, err := net.SplitHostPort(k.addr)
	if err == nil {
		k.port, err = strconv.Atoi(p)
	}
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("kafka listens on %q: %w", k.addr, err)
	}
	return k, nil
}

// Addr is the broker's "127.0.0.1:port", suitable as a bootstrap address.
// It stays the same across Restart.
func (k *Kafka) Addr() string { return k.addr }

// Cluster exposes the kfake cluster so tests can inject faults or inspect
// state beyond what the Kafka protocol offers. Restart replaces it: ask
// again after one.
func (k *Kafka) Cluster() *kfake.Cluster {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.cluster
}

// Restart stops the broker, which closes every client connection, waits
// down (connections are refused meanwhile, as when a server is down), and
// starts it again on the same port. With KafkaOptions.Dir it comes back
// with its topics, records and committed offsets; without, empty. It
// returns early, with the broker stopped, if ctx ends during down; Close
// during a Restart leaves the broker stopped.
func (k *Kafka) Restart(ctx context.Context, down time.Duration) error {
	k.restarting.Lock()
	defer k.restarting.Unlock()
	k.mu.Lock()
	if k.closed {
		k.mu.Unlock()
		return errors.New("kafka: restart after Close")
	}
	old := k.cluster
	k.mu.Unlock()
	// Outside the lock: with a data directory, Close writes the state out.
	old.Close()
	if err := sleep(ctx, down); err != nil {
		return fmt.Errorf("kafka: restart of %s: %w", k.addr, err)
	}
	c, err := kfake.NewCluster(append(k.opts, kfake.Ports(k.port))...)
	if err != nil {
		return fmt.Errorf("kafka: restart on %s (is the port taken?): %w", k.addr, err)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		c.Close()
		return errors.New("kafka: closed during restart")
	}
	k.cluster = c
	return nil
}

// Close stops the broker; without KafkaOptions.Dir its data is gone. It is
// idempotent.
func (k *Kafka) Close() {
	k.mu.Lock()
	k.closed = true
	c := k.cluster
	k.mu.Unlock()
	c.Close()
}

// sleep waits d, or less when ctx ends first, which it reports.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// pingKafka checks that a Kafka broker answers an ApiVersions request at
// addr, so that a stack pointed at a broker that is down fails at Start,
// naming it, instead of in the first test that publishes.
func pingKafka(ctx context.Context, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	c := &kafka.Client{Addr: kafka.TCP(addr), Transport: &kafka.Transport{DialTimeout: 3 * time.Second}}
	res, err := c.ApiVersions(ctx, &kafka.ApiVersionsRequest{})
	if err != nil {
		return err
	}
	if res.Error != nil {
		return fmt.Errorf("ApiVersions: %w", res.Error)
	}
	return nil
}
