package worker_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/skalds-go/skalds/example/internal/story"
	"github.com/skalds-go/skalds/example/worker"
	"github.com/skalds-go/skalds/runtime/event"
	"github.com/skalds-go/skalds/runtime/task"
	"github.com/skalds-go/skalds/skaldtest"
)

// storyOptions puts a test's stack on the real peers when they are there:
// the broker of SKALDS_TEST_KAFKA, and the local Redis. Other tests share
// that broker, so the node then gets an id, hence a consumer group, of its
// own.
func storyOptions(t testing.TB) story.Options {
	opts := story.Options{RedisAddr: skaldtest.RedisAddr(t), KafkaAddr: skaldtest.KafkaAddr(t)}
	if opts.KafkaAddr != "" {
		b := make([]byte, 4)
		_, _ = rand.Read(b)
		opts.NodeID = story.NodeID + "-" + hex.EncodeToString(b)
	}
	return opts
}

// start runs the seed story's servers, node and client for one test, on
// the real peers when they are there (storyOptions) and embedded ones
// otherwise.
func start(t *testing.T) (context.Context, *story.Harness) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	h, err := story.Start(ctx, storyOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := h.Close(); err != nil {
			t.Errorf("closing the harness: %v", err)
		}
	})
	if _, err := h.Logs.Await(ctx, skaldtest.Msg("node ready")); err != nil {
		t.Fatal(err)
	}
	return ctx, h
}

func await(ctx context.Context, t *testing.T, h *story.Harness, mark int, msg string, attrs ...any) skaldtest.Record {
	t.Helper()
	r, err := h.Logs.AwaitFrom(ctx, mark, skaldtest.Msg(msg, attrs...))
	if err != nil {
		t.Fatalf("awaiting %q %v: %v", msg, attrs, err)
	}
	return r
}

func TestSeedStory(t *testing.T) {
	ctx, h := start(t)
	const id = "task_123"
	first := worker.MySimpleDataModel{RTSPURL: "rtsp://example.com/stream", FixFrame: 10}
	second := worker.MySimpleDataModel{RTSPURL: "rtsp://example.com/new_stream", FixFrame: 60}

	if err := h.Tasks.Create(ctx, id, first); err != nil {
		t.Fatal(err)
	}
	if err := h.Tasks.Create(ctx, id, first); !isDuplicate(err) {
		t.Fatalf("second create: got %v, want a *task.DuplicateIDError", err)
	}
	if _, err := h.Tasks.Assign(ctx, id, h.NodeID); err != nil {
		t.Fatal(err)
	}
	await(ctx, t, h, 0, "starting", "taskId", id, "rtspUrl", first.RTSPURL, "fixFrame", 10)
	await(ctx, t, h, 0, "running", "taskId", id, "rtspUrl", first.RTSPURL, "fixFrame", 10)
	got, m := get(ctx, t, h, id)
	if got.LifecycleStatus != task.Running || *got.Executor != h.NodeID || m != first {
		t.Fatalf("after start: status %s, executor %s, attachments %+v", got.LifecycleStatus, *got.Executor, m)
	}

	mark := h.Logs.Mark()
	version, err := h.Tasks.Update(ctx, id, second)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Tasks.WaitApplied(ctx, id, version); err != nil {
		t.Fatal(err)
	}
	await(ctx, t, h, mark, "updated", "taskId", id, "rtspUrl", second.RTSPURL, "fixFrame", 60)
	await(ctx, t, h, mark, "running", "taskId", id, "rtspUrl", second.RTSPURL, "fixFrame", 60)
	got, m = get(ctx, t, h, id)
	if m != second || got.AttachmentsVersion != version || got.AppliedAttachmentsVersion != version {
		t.Fatalf("after update: attachments %+v, version %d, applied %d; want %+v, %d, %d",
			m, got.AttachmentsVersion, got.AppliedAttachmentsVersion, second, version, version)
	}
	raw := rawAttachments(ctx, t, h, id)
	if raw["rtspUrl"] != second.RTSPURL || raw["fixFrame"] != int32(60) {
		t.Fatalf("attachments in Mongo are %v, want rtspUrl and fixFrame keys with the new values", raw)
	}

	mark = h.Logs.Mark()
	if err := h.Tasks.Cancel(ctx, id); err != nil {
		t.Fatal(err)
	}
	await(ctx, t, h, mark, "released", "taskId", id)
	await(ctx, t, h, mark, "worker cancelled", "taskId", id)
	if got, _ = get(ctx, t, h, id); got.LifecycleStatus != task.Cancelled {
		t.Fatalf("after cancel: status %s, want Cancelled", got.LifecycleStatus)
	}
	if err := h.Alive(); err != nil {
		t.Fatal(err)
	}
}

func TestBadUpdatesAreRejected(t *testing.T) {
	ctx, h := start(t)
	const id = "task_bad_updates"
	good := worker.MySimpleDataModel{RTSPURL: "rtsp://example.com/stream", FixFrame: 10}
	if err := h.Tasks.Create(ctx, id, good); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Tasks.Assign(ctx, id, h.NodeID); err != nil {
		t.Fatal(err)
	}
	await(ctx, t, h, 0, "running", "taskId", id, "fixFrame", 10)

	pub := event.NewPublisher(event.Broker{Addr: h.Config.KafkaAddr()})
	defer pub.Close()
	coll := collection(ctx, t, h)
	for _, tc := range []struct {
		name        string
		attachments bson.D
		bumpVersion bool // Python tooling writes without bumping the version
		path, msg   string
	}{
		{"unknown key", bson.D{{Key: "rtspUrl", Value: "rtsp://a/b"}, {Key: "fixFrame", Value: 20}, {Key: "fps", Value: 5}}, true, "$.fps", "unknown field"},
		{"wrong type", bson.D{{Key: "rtspUrl", Value: "rtsp://a/b"}, {Key: "fixFrame", Value: "sixty"}}, true, "$.fixFrame", "expected"},
		{"failing validate tag", bson.D{{Key: "rtspUrl", Value: "rtsp://a/b"}, {Key: "fixFrame", Value: 5000}}, false, "$.fixFrame", "1000"},
		{"missing required field", bson.D{{Key: "fixFrame", Value: 20}}, true, "$.rtspUrl", "required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mark := h.Logs.Mark()
			update := bson.D{{Key: "$set", Value: bson.D{{Key: "attachments", Value: tc.attachments}}}}
			if tc.bumpVersion {
				update = append(update, bson.E{Key: "$inc", Value: bson.D{{Key: "attachmentsVersion", Value: 1}}})
			}
			if _, err := coll.UpdateOne(ctx, bson.D{{Key: "id", Value: id}}, update); err != nil {
				t.Fatal(err)
			}
			if err := pub.Publish(ctx, event.TopicUpdateAttachment, event.NewTaskEvent(id)); err != nil {
				t.Fatal(err)
			}
			r := await(ctx, t, h, mark, "attachments update rejected; the worker keeps its current attachments", "taskId", id)
			if msg := errText(r); !strings.Contains(msg, tc.path) || !strings.Contains(msg, tc.msg) {
				t.Fatalf("rejection %q does not name %s (%s)", msg, tc.path, tc.msg)
			}
			got, _ := get(ctx, t, h, id)
			rej := got.AttachmentsRejection
			if rej == nil || rej.Version != got.AttachmentsVersion || !hasField(rej.Fields, tc.path) {
				t.Fatalf("rejection in Mongo is %+v, want version %d with field %s", rej, got.AttachmentsVersion, tc.path)
			}
			// The worker keeps running with the values it had.
			await(ctx, t, h, h.Logs.Mark(), "running", "taskId", id, "rtspUrl", good.RTSPURL, "fixFrame", 10)
			if h.Logs.Count(skaldtest.Msg("updated", "taskId", id)) != 0 {
				t.Fatal("the update handler ran for a rejected update")
			}
		})
	}
	if err := h.Alive(); err != nil {
		t.Fatal(err)
	}
	// A good update after the bad ones is still applied.
	better := worker.MySimpleDataModel{RTSPURL: "rtsp://example.com/better", FixFrame: 30}
	version, err := h.Tasks.Update(ctx, id, better)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Tasks.WaitApplied(ctx, id, version); err != nil {
		t.Fatal(err)
	}
	await(ctx, t, h, 0, "updated", "taskId", id, "rtspUrl", better.RTSPURL, "fixFrame", 30)
}

func TestTypedClientRefusesInvalidAttachments(t *testing.T) {
	ctx, h := start(t)
	err := h.Tasks.Create(ctx, "task_invalid", worker.MySimpleDataModel{RTSPURL: "not a url", FixFrame: 0})
	if err == nil || !strings.Contains(err.Error(), "$.rtspUrl") || !strings.Contains(err.Error(), "$.fixFrame") {
		t.Fatalf("create with invalid attachments: got %v, want errors naming $.rtspUrl and $.fixFrame", err)
	}
	if _, _, err := h.Tasks.Get(ctx, "task_invalid"); err == nil {
		t.Fatal("an invalid task was written")
	}
}

func TestDuplicateAssignStartsOneWorker(t *testing.T) {
	ctx, h := start(t)
	const id = "task_dup_assign"
	if err := h.Tasks.Create(ctx, id, worker.MySimpleDataModel{RTSPURL: "rtsp://example.com/s", FixFrame: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Tasks.Assign(ctx, id, h.NodeID); err != nil {
		t.Fatal(err)
	}
	pub := event.NewPublisher(event.Broker{Addr: h.Config.KafkaAddr()})
	defer pub.Close()
	const extra = 3
	for range extra {
		if err := pub.Publish(ctx, event.TopicAssign, event.NewTaskEvent(id)); err != nil {
			t.Fatal(err)
		}
	}
	// Wait until the node has handled all four assign events.
	for i := range 1 + extra {
		deadline, cancel := context.WithTimeout(ctx, 20*time.Second)
		for h.Logs.Count(skaldtest.Msg("event handled", "topic", event.TopicAssign, "taskIds", []string{id})) <= i {
			if _, err := h.Logs.AwaitFrom(deadline, h.Logs.Mark(), skaldtest.Msg("event handled")); err != nil {
				cancel()
				t.Fatalf("the node handled %d of %d assign events: %v", i, 1+extra, err)
			}
		}
		cancel()
	}
	if n := h.Logs.Count(skaldtest.Msg("worker started", "taskId", id)); n != 1 {
		t.Fatalf("%d workers started, want 1", n)
	}
}

func isDuplicate(err error) bool {
	_, ok := err.(*task.DuplicateIDError)
	return ok
}

func get(ctx context.Context, t *testing.T, h *story.Harness, id string) (*task.Task, worker.MySimpleDataModel) {
	t.Helper()
	tk, err := h.Client.Tasks().Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := worker.DecodeMySimpleDataModel(tk.Attachments)
	return tk, m
}

func collection(ctx context.Context, t *testing.T, h *story.Harness) *mongo.Collection {
	t.Helper()
	c, err := mongo.Connect(options.Client().ApplyURI(h.Config.MongoHost))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Disconnect(context.Background()) })
	return c.Database(h.Config.DBName).Collection(task.Collection)
}

func rawAttachments(ctx context.Context, t *testing.T, h *story.Harness, id string) bson.M {
	t.Helper()
	var doc struct {
		Attachments bson.M `bson:"attachments"`
	}
	if err := collection(ctx, t, h).FindOne(ctx, bson.D{{Key: "id", Value: id}}).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	return doc.Attachments
}

func errText(r skaldtest.Record) string {
	if err, ok := r.Attrs["err"].(error); ok {
		return err.Error()
	}
	b, _ := json.Marshal(r.Attrs["err"])
	return string(b)
}

func hasField(fields []task.FieldError, path string) bool {
	for _, f := range fields {
		if f.Path == path {
			return true
		}
	}
	return false
}
