package embedded

import (
	"context"
	"crypto/tls"
	"fmt"
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
}

// KafkaUser is a SASL user of the embedded broker.
type KafkaUser struct {
	Mechanism string // PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512
	Name      string
	Password  string
}

// Kafka is a single in-memory kfake broker. One broker keeps metadata simple
// for clients and is all a development stack needs.
type Kafka struct {
	cluster *kfake.Cluster
	addr    string
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
	c, err := kfake.NewCluster(kopts...)
	if err != nil {
		return nil, err
	}
	return &Kafka{cluster: c, addr: c.ListenAddrs()[0]}, nil
}

// Addr is the broker's "127.0.0.1:port", suitable as a bootstrap address.
func (k *Kafka) Addr() string { return k.addr }

// Cluster exposes the kfake cluster so tests can inject faults or inspect
// state beyond what the Kafka protocol offers.
func (k *Kafka) Cluster() *kfake.Cluster { return k.cluster }

// Close stops the broker and drops all data. It is idempotent.
func (k *Kafka) Close() { k.cluster.Close() }

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
