package integration

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/skalds-go/skalds/runtime/event"
	"github.com/skalds-go/skalds/runtime/node"
	"github.com/skalds-go/skalds/runtime/task"
	"github.com/skalds-go/skalds/skaldtest"
)

// A Python tool cancels by publishing task.cancel alone, without writing
// MongoDB; the owning node records Cancelled (fenced on its epoch) and
// stops the worker, release included, as a Python node would.
func TestBareCancelIsHonoured(t *testing.T) {
	e := newEnv(t)
	p := &probe{}
	cls := newClass("BareCancel", p)
	a := e.startNode("a", node.Options{}, nil, cls)
	b := e.startNode("b", node.Options{}, nil, cls)
	id, other := e.id("cancelled"), e.id("elsewhere")
	e.create(id, cls, params{})
	e.create(other, cls, params{})
	epoch := e.assign(id, a)
	e.running(id, a, epoch)
	e.running(other, b, e.assign(other, b))

	mark := e.logs.Mark()
	if err := e.pub.Publish(e.ctx, event.TopicCancel, event.NewTaskEvent(id)); err != nil {
		t.Fatal(err)
	}
	e.await(mark, "task.cancel: recorded Cancelled; stopping the worker", "taskId", id, "skaldId", a.n.ID())
	e.await(mark, "released", "taskId", id)
	e.await(mark, "worker cancelled", "taskId", id)
	got := e.waitTask(id, "Cancelled", func(t *task.Task) bool { return t.LifecycleStatus == task.Cancelled })
	if got.AssignmentEpoch != epoch || got.Executor == nil || *got.Executor != a.n.ID() {
		t.Fatalf("cancelled task: %s; want it still on %s in epoch %d", describe(got), a.n.ID(), epoch)
	}
	e.awaitHeartbeat(id, "-2")
	// Node b saw the event too, and left the task alone: it is not its own.
	e.await(mark, "event handled", "topic", event.TopicCancel, "skaldId", b.n.ID())
	if n := e.logs.CountFrom(mark, skaldtest.Msg("task.cancel: recorded Cancelled; stopping the worker", "skaldId", b.n.ID())); n != 0 {
		t.Fatalf("node b recorded %d cancels of a task it does not own", n)
	}
	if tk, err := e.store.Get(e.ctx, other); err != nil || tk.LifecycleStatus != task.Running {
		t.Fatalf("the other task: %s, %v; want it Running", describe(tk), err)
	}
	if _, releases, _, _ := p.snapshot(); releases != 1 {
		t.Fatalf("releases %d, want 1", releases)
	}
}

// A cancel that was sent before the node started must not end a task that
// has been assigned to it since (a Python node, which starts at the newest
// offset, never sees it either). The node starts its consumer group at the
// topics' ends, so the old cancel does not even reach it; a later one does,
// and is honoured.
func TestOldBareCancelIsNotReplayed(t *testing.T) {
	e := newEnv(t)
	cls := newClass("OldCancel", &probe{})
	id := e.id("reassigned")
	e.create(id, cls, params{})
	if err := e.pub.Publish(e.ctx, event.TopicCancel, event.NewTaskEvent(id)); err != nil {
		t.Fatal(err)
	}
	a := e.startNode("a", node.Options{}, nil, cls)
	mark := e.logs.Mark()
	epoch := e.assign(id, a)
	e.running(id, a, epoch)
	// A cancel sent now is honoured.
	if err := e.pub.Publish(e.ctx, event.TopicCancel, event.NewTaskEvent(id)); err != nil {
		t.Fatal(err)
	}
	e.await(mark, "worker cancelled", "taskId", id)
	e.await(mark, "event handled", "topic", event.TopicCancel, "skaldId", a.n.ID())
	// Both cancels have the task's id as key, so they share a partition
	// and the old one would have come first.
	cancels := func(r skaldtest.Record) bool {
		return eventFor(a.n.ID(), id)(r) && r.Attrs["topic"] == event.TopicCancel
	}
	if n := e.logs.Count(cancels); n != 1 {
		t.Fatalf("the node handled %d cancels of the task, want only the one sent after its start", n)
	}
	if n := e.logs.Count(skaldtest.Msg("task.cancel: recorded Cancelled; stopping the worker")); n != 1 {
		t.Fatalf("%d cancels recorded, want 1", n)
	}
}

// TestNewNodeStartsAtTheTopicsEnds assigns a task to a node that has not
// started yet: the node runs it, found by the read of MongoDB at its start
// rather than by the event, because its consumer group (new, since the
// node's id is) starts at the topics' ends instead of replaying their
// retention. Events produced after the start all reach it. On the real
// broker (SKALDS_TEST_KAFKA) the topics hold every earlier test's events.
func TestNewNodeStartsAtTheTopicsEnds(t *testing.T) {
	e := newEnv(t)
	cls := newClass("FreshGroup", &probe{})
	before, after := e.id("before"), e.id("after")
	e.create(before, cls, params{})
	epoch, err := e.client.Assign(e.ctx, before, e.id("a"))
	if err != nil {
		t.Fatal(err)
	}
	a := e.startNode("a", node.Options{}, nil, cls)
	e.running(before, a, epoch)
	e.create(after, cls, params{})
	e.running(after, a, e.assign(after, a))
	e.handled(a.n.ID(), after)
	// The same event again, on the same partition as the first (same key),
	// comes after it: once this one is handled, the first would have been.
	mark := e.logs.Mark()
	if err := e.pub.Publish(e.ctx, event.TopicAssign, event.NewTaskEvent(before)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(e.ctx, deadline)
	defer cancel()
	if _, err := e.logs.AwaitFrom(ctx, mark, eventFor(a.n.ID(), before)); err != nil {
		t.Fatalf("the event sent after the start: %v", err)
	}
	if n := e.logs.Count(eventFor(a.n.ID(), before)); n != 1 {
		t.Fatalf("the node handled %d assign events of %s, want only the one sent after its start", n, before)
	}
	if n := e.logs.Count(skaldtest.Msg("events: the consumer group resumes at its committed offsets, or at the oldest")); n != 0 {
		t.Fatalf("the node's consumer group could not start at the topics' ends")
	}
}

// A node refuses an update written without a version bump (as Python
// tooling writes), then applies a good one written the same way: the
// stale rejection must go, or readers would think the newest attachments
// were refused.
func TestAppliedUpdateClearsStaleRejection(t *testing.T) {
	e := newEnv(t)
	cls := newClass("Rejection", &probe{})
	a := e.startNode("a", node.Options{}, nil, cls)
	id := e.id("rejected")
	e.create(id, cls, params{Value: 1})
	started := e.running(id, a, e.assign(id, a))
	version := started.AttachmentsVersion

	mark := e.logs.Mark()
	pythonWrite(t, e, id, `{"mode":"","value":2,"colour":"red"}`)
	e.await(mark, "attachments update rejected; the worker keeps its current attachments", "taskId", id)
	e.waitTask(id, "the rejection recorded", func(tk *task.Task) bool {
		return tk.AttachmentsRejection != nil && tk.AttachmentsRejection.Version == version
	})

	mark = e.logs.Mark()
	pythonWrite(t, e, id, `{"mode":"","value":3}`)
	e.await(mark, "updated", "taskId", id, "value", int64(3))
	got := e.waitTask(id, "the rejection cleared", func(tk *task.Task) bool { return tk.AttachmentsRejection == nil })
	if got.AttachmentsVersion != version || got.AppliedAttachmentsVersion != version {
		t.Fatalf("versions moved: %s; want %d", describe(got), version)
	}
}

// pythonWrite replaces the attachments of id as Python's
// TaskRepository.update_attachments does (no version bump) and publishes
// task.update.attachment.
func pythonWrite(t *testing.T, e *env, id, attachments string) {
	t.Helper()
	var doc bson.D
	if err := bson.UnmarshalExtJSON([]byte(attachments), false, &doc); err != nil {
		t.Fatal(err)
	}
	mc, err := mongo.Connect(options.Client().ApplyURI(e.stack.MongoURI))
	if err != nil {
		t.Fatal(err)
	}
	defer mc.Disconnect(context.Background())
	_, err = mc.Database(e.cfg.DBName).Collection(task.Collection).UpdateOne(e.ctx, bson.D{{Key: "id", Value: id}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "attachments", Value: doc}, {Key: "updateDateTime", Value: task.NowMillis()}}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.pub.Publish(e.ctx, event.TopicUpdateAttachment, event.NewTaskEvent(id)); err != nil {
		t.Fatal(err)
	}
}

// The Go publisher puts a task's events on the partition the Java client
// and kafka-python pick for its id, on a real broker.
func TestPublisherPartitionsByMurmur2(t *testing.T) {
	e := newEnv(t)
	const topic = "partition.check"
	b := event.Broker{Addr: e.stack.KafkaAddr, Partitions: 10}
	if err := event.EnsureTopics(e.ctx, b, topic); err != nil {
		t.Fatal(err)
	}
	// The Java client's partitions for these keys over 10 partitions
	// (kafka-python computes the same).
	want := map[string]int{"21": 0, "foobar": 6, "abc": 7, "task_123": 0, "a-little-bit-longer-string": 9, "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": 7}
	pub := event.NewPublisher(b)
	defer pub.Close()
	for key := range want {
		if err := pub.Publish(e.ctx, topic, event.NewTaskEvent(key)); err != nil {
			t.Fatal(err)
		}
	}
	got := readPartitions(t, e.ctx, e.stack.KafkaAddr, topic, len(want))
	for key, p := range want {
		if got[key] != p {
			t.Errorf("key %q on partition %d, want %d", key, got[key], p)
		}
	}
}

// readPartitions reads n messages of topic from the start and returns the
// partition of each key.
func readPartitions(t *testing.T, ctx context.Context, addr, topic string, n int) map[string]int {
	t.Helper()
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{addr}, GroupID: "partitions-" + randomID(), Topic: topic, StartOffset: kafka.FirstOffset, MaxWait: time.Second})
	defer r.Close()
	ctx, cancel := context.WithTimeout(ctx, deadline)
	defer cancel()
	got := map[string]int{}
	for len(got) < n {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("reading %s after %d of %d messages: %v", topic, len(got), n, err)
		}
		got[string(m.Key)] = m.Partition
	}
	return got
}

// TestCommitEndsRefusedWhileTheGroupHasAMember: the topics' ends are
// committed for a consumer group only while it is empty. A node restarted
// before its previous run has left its group (after a kill -9, until the
// session ends) so resumes at the group's own offsets instead of moving
// them under the member still there; once the member has left, the commit
// goes through.
func TestCommitEndsRefusedWhileTheGroupHasAMember(t *testing.T) {
	e := newEnv(t)
	b, err := event.NewBroker(e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	group := e.id("group")
	id := e.id("joined")
	sub := event.Subscribe(b, group, []string{event.TopicAssign}, discard())
	defer sub.Close()
	got := make(chan struct{})
	var once sync.Once
	go func() {
		_ = sub.RunBatch(e.ctx, 10, func(_ context.Context, batch []event.Delivery) error {
			for _, d := range batch {
				if slices.Contains(d.Event.TaskIDs, id) {
					once.Do(func() { close(got) })
				}
			}
			return nil
		})
	}()
	if err := e.pub.Publish(e.ctx, event.TopicAssign, event.NewTaskEvent(id)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-got:
	case <-time.After(deadline):
		t.Fatal("the group's member did not get the event")
	}
	if err := event.CommitEnds(e.ctx, b, group, event.TopicAssign); err == nil {
		t.Fatal("the ends were committed under a member of the group")
	} else if !contains(err.Error(), group) {
		t.Errorf("the refusal does not name the group: %v", err)
	}
	if err := sub.Close(); err != nil {
		t.Fatal(err)
	}
	if err := event.CommitEnds(e.ctx, b, group, event.TopicAssign); err != nil {
		t.Fatalf("the ends of an empty group: %v", err)
	}
}
