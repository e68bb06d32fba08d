package integration

import (
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/skalds-go/skalds/runtime/node"
	"github.com/skalds-go/skalds/runtime/task"
)

// TestTaskKeys: a task written here has its id as _id, so that reading
// it by id is a primary-key lookup; a task written by Python tooling (an
// ObjectID _id) is still found, updated and run by id.
func TestTaskKeys(t *testing.T) {
	e := newEnv(t)
	mc, err := mongo.Connect(options.Client().ApplyURI(e.stack.MongoURI))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mc.Disconnect(e.ctx) })
	coll := mc.Database(e.cfg.DBName).Collection(task.Collection)
	p := &probe{}
	cls := newClass("Keys", p)

	goID := e.id("go")
	e.create(goID, cls, params{Value: 1})
	var raw bson.M
	if err := coll.FindOne(e.ctx, bson.D{{Key: "_id", Value: goID}}).Decode(&raw); err != nil || raw["id"] != goID {
		t.Fatalf("the task written here is not under _id %q: %v %v", goID, raw, err)
	}

	// As Python Skalds' create_task_script.py writes it: no _id of its own
	// (the server gives an ObjectID), no version fields.
	pyID := e.id("py")
	if _, err := coll.InsertOne(e.ctx, bson.D{
		{Key: "id", Value: pyID}, {Key: "className", Value: cls.Name}, {Key: "source", Value: "TestingScript"},
		{Key: "executor", Value: nil}, {Key: "mode", Value: "Passive"}, {Key: "lifecycleStatus", Value: "Created"},
		{Key: "priority", Value: 0}, {Key: "attachments", Value: bson.D{{Key: "mode", Value: ""}, {Key: "value", Value: 1}}},
	}); err != nil {
		t.Fatal(err)
	}
	got, err := e.store.Get(e.ctx, pyID)
	if err != nil || got.ID != pyID {
		t.Fatalf("Get of the Python task: %+v %v", got, err)
	}
	if _, ok := got.Key.(bson.ObjectID); !ok {
		t.Errorf("the Python task's _id is %T, want the ObjectID the server gave it", got.Key)
	}
	many, err := e.store.GetMany(e.ctx, []string{goID, pyID, e.id("missing")})
	if err != nil || len(many) != 2 {
		t.Fatalf("GetMany of both and a missing id: %d tasks, %v", len(many), err)
	}

	// The client's writes by id reach it, and a node runs it and applies
	// an update to it.
	n := e.startNode("keys", node.Options{}, nil, cls)
	epoch := e.assign(pyID, n)
	e.running(pyID, n, epoch)
	mark := e.logs.Mark()
	v, err := e.client.SetAttachments(e.ctx, pyID, cls.Encode(params{Value: 2}))
	if err != nil {
		t.Fatal(err)
	}
	e.await(mark, "attachments applied", "taskId", pyID, "attachmentsVersion", v)
	if err := e.client.Cancel(e.ctx, pyID); err != nil {
		t.Fatal(err)
	}
	e.await(mark, "worker cancelled", "taskId", pyID)
	if _, err := e.store.Get(e.ctx, e.id("missing")); err == nil {
		t.Error("Get of a missing id found something")
	}
}
