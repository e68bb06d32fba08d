package integration

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/skalds-go/skalds/runtime/liveness"
	"github.com/skalds-go/skalds/runtime/node"
	"github.com/skalds-go/skalds/runtime/skald"
	"github.com/skalds-go/skalds/runtime/task"
)

// withPolicies gives cls the update policies that skaldgen generates from
// //skald:restart on mode and //skald:immutable on value: a new mode
// restarts the worker, a new value is refused while the task runs.
func withPolicies(cls *skald.Class[params]) *skald.Class[params] {
	cls.Changes = func(old, next params) skald.Change {
		var ch skald.Change
		if old.Value != next.Value {
			ch.Immutable = append(ch.Immutable, "$.value")
		}
		ch.Restart = old.Mode != next.Mode
		return ch
	}
	return cls
}

func TestRestartPolicyRestartsTheWorker(t *testing.T) {
	e := newEnv(t)
	p := &probe{}
	cls := withPolicies(newClass(e.id("Restartable"), p))
	rn := e.startNode("node", node.Options{}, nil, cls)
	id := e.id("task")
	e.create(id, cls, params{Mode: "wait", Value: 1})
	epoch := e.assign(id, rn)
	e.running(id, rn, epoch)

	mark := e.logs.Mark()
	version, err := newTyped(e, cls).Update(e.ctx, id, params{Mode: "other", Value: 1})
	if err != nil {
		t.Fatal(err)
	}
	e.await(mark, "worker stopped for a restart with new attachments", "taskId", id)
	e.await(mark, "main running", "taskId", id, "mode", "other")
	got := e.waitTask(id, "the restart applied", func(tk *task.Task) bool {
		return tk.AppliedAttachmentsVersion == version && tk.LifecycleStatus == task.Running
	})
	if got.AssignmentEpoch != epoch {
		t.Fatalf("a restart changed the epoch from %d to %d", epoch, got.AssignmentEpoch)
	}
	// The history tells the restart from the first start.
	h, err := e.store.History(e.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	last := h.Entries[len(h.Entries)-1]
	if last.Event != task.EventRestarted || last.Version != version || last.Epoch != epoch || last.Node != rn.n.ID() {
		t.Fatalf("last history entry %+v; want restarted at version %d, epoch %d, on %s", last, version, epoch, rn.n.ID())
	}
	starts, releases, maxActive, updates := p.snapshot()
	if starts != 2 || releases != 1 || maxActive != 1 || len(updates) != 0 {
		t.Fatalf("starts %d releases %d maxActive %d updates %v; want 2, 1, 1 and no update hook call", starts, releases, maxActive, updates)
	}
}

func TestImmutableFieldIsRefusedByClientAndNode(t *testing.T) {
	e := newEnv(t)
	p := &probe{}
	cls := withPolicies(newClass(e.id("Frozen"), p))
	rn := e.startNode("node", node.Options{}, nil, cls)
	id := e.id("task")
	e.create(id, cls, params{Mode: "wait", Value: 1})
	epoch := e.assign(id, rn)
	before := e.running(id, rn, epoch)

	// The typed client refuses before writing anything.
	_, err := newTyped(e, cls).Update(e.ctx, id, params{Mode: "wait", Value: 2})
	if err == nil || !strings.Contains(err.Error(), "$.value: may not change while the task runs") {
		t.Fatalf("client update of an immutable field: got %v", err)
	}
	if tk, _ := e.store.Get(e.ctx, id); tk.AttachmentsVersion != before.AttachmentsVersion {
		t.Fatalf("the refused update was written: version %d, want %d", tk.AttachmentsVersion, before.AttachmentsVersion)
	}

	// A writer that bypasses the client is refused by the node.
	mark := e.logs.Mark()
	version, err := e.client.SetAttachments(e.ctx, id, cls.Encode(params{Mode: "wait", Value: 3}))
	if err != nil {
		t.Fatal(err)
	}
	r := e.await(mark, "attachments update rejected; the worker keeps its current attachments", "taskId", id)
	if !strings.Contains(errText(r), "$.value") {
		t.Fatalf("rejection %q does not name $.value", errText(r))
	}
	e.waitTask(id, "the rejection recorded", func(tk *task.Task) bool {
		return tk.AttachmentsRejection != nil && tk.AttachmentsRejection.Version == version
	})
	h, err := e.store.History(e.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if last := h.Entries[len(h.Entries)-1]; last.Event != task.EventUpdateRejected || last.Version != version || fmt.Sprint(last.Paths) != "[$.value]" {
		t.Fatalf("last history entry %+v; want the rejection of version %d at $.value", last, version)
	}
	if _, _, _, updates := p.snapshot(); len(updates) != 0 {
		t.Fatalf("the update hook ran for a refused change: %v", updates)
	}

	// The stored attachments now hold the refused value 3; the worker runs
	// with 1. The typed client checks against what runs: it refuses 3,
	// which the node would refuse, and lets through a change that keeps 1.
	if _, err := newTyped(e, cls).Update(e.ctx, id, params{Mode: "wait", Value: 3}); err == nil ||
		!strings.Contains(err.Error(), "$.value: may not change while the task runs") {
		t.Fatalf("client update to the stored but refused value: got %v, want the immutable error", err)
	}
	mark = e.logs.Mark()
	version, err = newTyped(e, cls).Update(e.ctx, id, params{Mode: "wait", Value: 1})
	if err != nil {
		t.Fatalf("client update that keeps the running value: %v", err)
	}
	e.await(mark, "attachments applied", "taskId", id, "attachmentsVersion", version)
	got := e.waitTask(id, "the update applied", func(tk *task.Task) bool {
		return tk.AppliedAttachmentsVersion == version && tk.AttachmentsRejection == nil
	})
	if applied, err := cls.Decode(got.AppliedAttachments); err != nil || applied != (params{Mode: "wait", Value: 1}) {
		t.Fatalf("appliedAttachments %s (%v), want the applied update", got.AppliedAttachments, err)
	}
}

// TestNodePublishesClassSchemas: a node publishes the schemas of the
// attachments, the progress and the result of each class it registers, in
// the hashes of its registry entry; a class that declares no progress or
// result type has no field there.
func TestNodePublishesClassSchemas(t *testing.T) {
	e := newEnv(t)
	cls := newClass(e.id("Schematic"), &probe{})
	cls.JSONSchema = []byte(`{"type":"object"}`)
	cls.ProgressSchema = []byte(`{"title":"Counted","type":"object"}`)
	cls.ResultSchema = []byte(`{"title":"Summary","type":"object"}`)
	plain := newClass(e.id("Plain"), &probe{})
	rn := e.startNode("node", node.Options{}, nil, cls, plain)
	rdb := redis.NewClient(&redis.Options{Addr: e.cfg.RedisAddr()})
	defer rdb.Close()
	ctx := context.Background()
	for key, want := range map[string]string{
		liveness.NodeSchemasKey(rn.n.ID()):         `{"type":"object"}`,
		liveness.NodeProgressSchemasKey(rn.n.ID()): `{"title":"Counted","type":"object"}`,
		liveness.NodeResultSchemasKey(rn.n.ID()):   `{"title":"Summary","type":"object"}`,
	} {
		got, err := rdb.HGet(ctx, key, cls.Name).Result()
		if err != nil || got != want {
			t.Errorf("%s %s in Redis: %q, %v; want %s", key, cls.Name, got, err, want)
		}
		if ttl := rdb.TTL(ctx, key).Val(); ttl <= 0 {
			t.Errorf("%s: TTL %v, want it to expire with the registry", key, ttl)
		}
	}
	if rdb.HExists(ctx, liveness.NodeProgressSchemasKey(rn.n.ID()), plain.Name).Val() ||
		rdb.HExists(ctx, liveness.NodeResultSchemasKey(rn.n.ID()), plain.Name).Val() {
		t.Errorf("class %s declares no progress or result, yet has a schema published", plain.Name)
	}
}
