// Package client is what a producer service uses to create, assign,
// update and cancel tasks: MongoDB first, as the source of truth, then a
// Kafka event so that nodes look at once. Generated code wraps it in a
// typed client per worker class (see Typed).
package client

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/skalds-go/skalds/internal/telemetry"
	"github.com/skalds-go/skalds/runtime/config"
	"github.com/skalds-go/skalds/runtime/event"
	"github.com/skalds-go/skalds/runtime/task"
)

// Client writes tasks and publishes their events.
type Client struct {
	store  *task.Store
	pub    *event.Publisher
	tracer trace.Tracer // nil: tracing is off
	// Source is written to the source field of created tasks.
	Source string
}

// Options are the knobs of a client that have no environment variable.
type Options struct {
	// TracerProvider, when set, makes every call that writes a task a
	// span (skalds.create, skalds.assign, skalds.update, skalds.cancel)
	// and sends its trace context with the Kafka event, so that the hooks
	// the event starts on a node are spans of the same trace. Nil turns
	// tracing off: no spans, no record headers.
	TracerProvider trace.TracerProvider
}

// New connects to MongoDB and Kafka as cfg says (unset fields come from
// the environment) and creates the task topics when missing.
func New(ctx context.Context, cfg config.Config) (*Client, error) {
	return NewWith(ctx, cfg, Options{})
}

// NewWith is New with options.
func NewWith(ctx context.Context, cfg config.Config, opts Options) (*Client, error) {
	cfg, err := config.Load(cfg)
	if err != nil {
		return nil, err
	}
	store, err := task.Open(ctx, cfg.MongoHost, cfg.DBName)
	if err != nil {
		return nil, err
	}
	store.KeepHistory(cfg.TaskHistory)
	broker, err := event.NewBroker(cfg)
	if err != nil {
		_ = store.Close(context.Background())
		return nil, err
	}
	tracer := telemetry.Tracer(opts.TracerProvider)
	broker.Trace = tracer != nil
	if err := event.EnsureTopics(ctx, broker, event.Topics...); err != nil {
		_ = store.Close(context.Background())
		return nil, err
	}
	return &Client{store: store, pub: event.NewPublisher(broker), tracer: tracer, Source: "skalds-go"}, nil
}

// Close flushes pending events and disconnects.
func (c *Client) Close() error {
	return errors.Join(c.pub.Close(), c.store.Close(context.Background()))
}

// Tasks gives direct access to the task store, for reads and for writes
// that no event needs to follow.
func (c *Client) Tasks() *task.Store { return c.store }

// Create inserts t. It publishes nothing: a Created task waits for Assign
// (or a controller). An existing id gives a *task.DuplicateIDError.
func (c *Client) Create(ctx context.Context, t *task.Task) (err error) {
	ctx, sp := telemetry.Start(ctx, c.tracer, "skalds.create", trace.SpanKindClient, t.ID, t.ClassName)
	defer func() { sp.End(err) }()
	return c.store.Create(ctx, t)
}

// Assign gives the task to node skaldID, bumping its assignment epoch, and
// publishes task.assign. It returns the new epoch.
func (c *Client) Assign(ctx context.Context, id, skaldID string) (epoch int64, err error) {
	ctx, sp := telemetry.Start(ctx, c.tracer, "skalds.assign", trace.SpanKindProducer, id, "")
	defer func() { sp.End(err) }()
	sp.Set(telemetry.Node.String(skaldID))
	epoch, err = c.store.Assign(ctx, id, skaldID)
	if err != nil {
		return 0, err
	}
	sp.Set(telemetry.Epoch.Int64(epoch))
	return epoch, c.pub.Publish(ctx, event.TopicAssign, event.NewTaskEvent(id))
}

// SetAttachments replaces the task's attachments (JSON, already validated
// by the caller) and publishes task.update.attachment. It returns the new
// attachments version, for WaitApplied.
func (c *Client) SetAttachments(ctx context.Context, id string, attachments []byte) (int64, error) {
	return c.setAttachments(ctx, id, "", attachments)
}

// setAttachments is SetAttachments, with the task's class for its span
// when the caller knows it.
func (c *Client) setAttachments(ctx context.Context, id, class string, attachments []byte) (version int64, err error) {
	ctx, sp := telemetry.Start(ctx, c.tracer, "skalds.update", trace.SpanKindProducer, id, class)
	defer func() { sp.End(err) }()
	t, err := c.store.SetAttachments(ctx, id, attachments)
	if err != nil {
		return 0, err
	}
	sp.Set(telemetry.Version.Int64(t.AttachmentsVersion))
	return t.AttachmentsVersion, c.pub.Publish(ctx, event.TopicUpdateAttachment, event.NewTaskEvent(id))
}

// Cancel marks the task Cancelled and publishes task.cancel; its node
// stops the worker, runs its release hook and confirms Cancelled.
func (c *Client) Cancel(ctx context.Context, id string) (err error) {
	ctx, sp := telemetry.Start(ctx, c.tracer, "skalds.cancel", trace.SpanKindProducer, id, "")
	defer func() { sp.End(err) }()
	if err := c.store.SetStatus(ctx, id, task.Cancelled); err != nil {
		return err
	}
	return c.pub.Publish(ctx, event.TopicCancel, event.NewTaskEvent(id))
}

// RejectedError is what WaitApplied returns when the node refused the
// version: the worker kept its previous attachments.
type RejectedError struct{ task.Rejection }

func (e *RejectedError) Error() string {
	return fmt.Sprintf("attachments version %d rejected: %s", e.Version, e.Message)
}

// WaitApplied polls the task until its worker has applied attachments
// version (or a newer one), or a node rejected it, or ctx ends. Poll
// every interval; zero means 20 ms.
func (c *Client) WaitApplied(ctx context.Context, id string, version int64, interval time.Duration) error {
	if interval <= 0 {
		interval = 20 * time.Millisecond
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		t, err := c.store.Get(ctx, id)
		if err != nil {
			return err
		}
		if t.AppliedAttachmentsVersion >= version {
			return nil
		}
		if r := t.AttachmentsRejection; r != nil && r.Version >= version {
			return &RejectedError{*r}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for task %q to apply attachments version %d (applied: %d): %w",
				id, version, t.AppliedAttachmentsVersion, ctx.Err())
		case <-tick.C:
		}
	}
}
