// Package story sets up the seed story on embedded servers: a node
// skald_123 running MySimpleWorker, and a client with the generated typed
// client for it. The demo command and the integration tests share it.
package story

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/skalds-go/skalds/embedded"
	"github.com/skalds-go/skalds/example/worker"
	"github.com/skalds-go/skalds/runtime/client"
	"github.com/skalds-go/skalds/runtime/config"
	"github.com/skalds-go/skalds/runtime/node"
	"github.com/skalds-go/skalds/skaldtest"
)

// NodeID is the node of the seed story, unless Options.NodeID says
// otherwise.
const NodeID = "skald_123"

// Options configure Start.
type Options struct {
	// RedisAddr is an existing Redis to use; empty starts miniredis.
	RedisAddr string
	// KafkaAddr is an existing Kafka broker to use; empty starts kfake.
	KafkaAddr string
	// NodeID names the node; empty means NodeID. Tests that share a real
	// broker give each node its own id, hence its own consumer group.
	NodeID string
	// Log receives the node's records besides the kept ones; nil keeps them
	// only.
	Log slog.Handler
}

// Harness is a running stack, node and client.
type Harness struct {
	Stack  *embedded.Stack
	Config config.Config
	Logs   *skaldtest.Logs
	Client *client.Client
	Tasks  *worker.MySimpleWorkerClient
	Node   *node.Node
	NodeID string

	stopNode context.CancelFunc
	nodeDone chan error
}

// Start starts the embedded servers, node skald_123 (or Options.NodeID)
// and a client.
func Start(ctx context.Context, opts Options) (_ *Harness, err error) {
	h := &Harness{Logs: skaldtest.NewLogs(opts.Log)}
	defer func() {
		if err != nil {
			h.Close()
		}
	}()
	h.Stack, err = embedded.Start(ctx, embedded.Options{RedisAddr: opts.RedisAddr, KafkaAddr: opts.KafkaAddr})
	if err != nil {
		return h, err
	}
	h.Config, err = skaldtest.Config(h.Stack.KafkaAddr, h.Stack.MongoURI, h.Stack.RedisAddr)
	if err != nil {
		return h, err
	}
	h.Client, err = client.New(ctx, h.Config)
	if err != nil {
		return h, err
	}
	h.Client.Source = "TestingScript"
	h.Tasks = worker.NewMySimpleWorkerClient(h.Client)
	h.NodeID = opts.NodeID
	if h.NodeID == "" {
		h.NodeID = NodeID
	}
	h.Node, err = h.startNode(h.NodeID)
	return h, err
}

// startNode runs node id with the seed story's worker, logging to h.Logs.
func (h *Harness) startNode(id string) (*node.Node, error) {
	cfg := h.Config
	cfg.SkaldID = id
	n, err := node.New(cfg, node.Options{Logger: slog.New(h.Logs), StopGrace: 5 * time.Second})
	if err != nil {
		return nil, err
	}
	worker.Register(n)
	ctx, cancel := context.WithCancel(context.Background())
	h.stopNode = cancel
	h.nodeDone = make(chan error, 1)
	go func() { h.nodeDone <- n.Run(ctx) }()
	return n, nil
}

// Alive reports an error if the node has stopped.
func (h *Harness) Alive() error {
	select {
	case err := <-h.nodeDone:
		h.nodeDone <- err
		return fmt.Errorf("node stopped: %v", err)
	default:
		return nil
	}
}

// StopNode stops the node gracefully and returns what Run returned.
func (h *Harness) StopNode() error {
	if h.stopNode == nil {
		return nil
	}
	h.stopNode()
	h.stopNode = nil
	return <-h.nodeDone
}

// Close stops the node, the client and the servers.
func (h *Harness) Close() error {
	errs := []error{h.StopNode()}
	if h.Client != nil {
		errs = append(errs, h.Client.Close())
	}
	if h.Stack != nil {
		errs = append(errs, h.Stack.Close())
	}
	return errors.Join(errs...)
}
