package skaldtest_test

import (
	"testing"

	"github.com/skalds-go/skalds/runtime/task"
	"github.com/skalds-go/skalds/skaldtest"
)

// A worker's unit test runs its class (in a real package, the generated
// <Worker>Class) in-process, pushes updates, and cancels it.
func ExampleRun() {
	testWorker := func(t *testing.T) {
		tk := skaldtest.Run(t, class(behaviour{}), params{Owner: "ann", Source: "rtsp://a", Rate: 10})
		tk.Await(skaldtest.Msg("starting", "source", "rtsp://a"))

		if err := tk.Update(params{Owner: "ann", Source: "rtsp://a", Rate: 60}); err != nil {
			t.Fatalf("a hot update was rejected: %v", err)
		}
		if err := tk.UpdateJSON([]byte(`{"owner":"bob","source":"rtsp://a","rate":60}`)); err == nil {
			t.Fatal("an immutable change was accepted")
		}
		if out := tk.Cancel(); out.Status != task.Cancelled {
			t.Fatalf("outcome %v", out)
		}
		t.Log(tk.Hooks()) // [init before main update release]
	}
	_ = testWorker // in a _test.go file: func TestWorker(t *testing.T) { ... }
}
