package client

import (
	"context"

	"github.com/skalds-go/skalds/runtime/skald"
	"github.com/skalds-go/skalds/runtime/task"
)

// Typed is the client of one worker class: attachments go in as the
// class's model type and are validated before anything is written.
// Generated code returns one from New<Worker>Client.
type Typed[M any] struct {
	c     *Client
	class *skald.Class[M]
}

// NewTyped returns the client of class.
func NewTyped[M any](c *Client, class *skald.Class[M]) *Typed[M] {
	return &Typed[M]{c: c, class: class}
}

// Create validates m and inserts a Created task of this class with id.
func (t *Typed[M]) Create(ctx context.Context, id string, m M) error {
	if err := t.validate(m); err != nil {
		return err
	}
	return t.c.Create(ctx, task.New(id, t.class.Name, t.c.Source, t.class.Encode(m)))
}

// validate checks m with the class's validation; a model without
// validate tags has none.
func (t *Typed[M]) validate(m M) error {
	if t.class.Validate == nil {
		return nil
	}
	return t.class.Validate(m)
}

// Assign gives the task to node skaldID and publishes task.assign.
func (t *Typed[M]) Assign(ctx context.Context, id, skaldID string) (epoch int64, err error) {
	return t.c.Assign(ctx, id, skaldID)
}

// Update validates m, writes it as the task's attachments and publishes
// task.update.attachment. It returns the attachments version to pass to
// WaitApplied.
//
// When the class has update policies, Update first reads the task and
// refuses a change of an immutable field with codec.Errors naming each
// path, before writing anything: the node would reject it anyway, but only
// after the task had been changed in MongoDB. The check is against the
// attachments the worker runs with (the applied ones), not the stored
// ones, which may be a change the node refused.
func (t *Typed[M]) Update(ctx context.Context, id string, m M) (version int64, err error) {
	if err := t.validate(m); err != nil {
		return 0, err
	}
	if t.class.Changes != nil {
		tk, err := t.c.Tasks().Get(ctx, id)
		if err != nil {
			return 0, err
		}
		// The worker may run with other attachments than the stored ones:
		// another writer may have stored a change the node refused.
		running := tk.Attachments
		if tk.AppliedAttachments != nil {
			running = tk.AppliedAttachments
		}
		if err := checkUpdate(t.class, running, m); err != nil {
			return 0, err
		}
	}
	return t.c.setAttachments(ctx, id, t.class.Name, t.class.Encode(m))
}

// Cancel cancels the task.
func (t *Typed[M]) Cancel(ctx context.Context, id string) error { return t.c.Cancel(ctx, id) }

// Get reads the task and decodes its attachments.
func (t *Typed[M]) Get(ctx context.Context, id string) (*task.Task, M, error) {
	var m M
	tk, err := t.c.store.Get(ctx, id)
	if err != nil {
		return nil, m, err
	}
	m, err = t.class.Decode(tk.Attachments)
	return tk, m, err
}

// WaitApplied waits until the task's worker applied version; see
// Client.WaitApplied.
func (t *Typed[M]) WaitApplied(ctx context.Context, id string, version int64) error {
	return t.c.WaitApplied(ctx, id, version, 0)
}

// checkUpdate compares the attachments a task has now (JSON, as stored)
// with next by the class's update policies, and returns codec.Errors
// naming every changed immutable field, or nil. Current attachments that
// do not decode are not compared: nothing can run with them, so replacing
// them is allowed.
func checkUpdate[M any](c *skald.Class[M], current []byte, next M) error {
	if c.Changes == nil {
		return nil
	}
	old, err := c.Decode(current)
	if err != nil {
		return nil
	}
	return c.Changes(old, next).Err()
}
