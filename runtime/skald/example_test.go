package skald_test

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/skalds-go/skalds/runtime/skald"
)

type frames struct {
	FixFrame int `json:"fixFrame"`
}

// A Class is what skaldgen generates for a //skald:worker type; a node
// starts an instance from stored attachments and hands it later updates,
// each checked before the typed update hook sees it. skaldtest.Run runs
// one the same way in a unit test.
func ExampleClass() {
	decode := func(b []byte) (frames, error) {
		var p frames
		if err := json.Unmarshal(b, &p); err != nil {
			return p, err
		}
		if p.FixFrame < 1 {
			return p, fmt.Errorf("$.fixFrame: must be at least 1")
		}
		return p, nil
	}
	cls := &skald.Class[frames]{
		Name:   "FrameWorker",
		Decode: decode,
		Encode: func(p frames) []byte { b, _ := json.Marshal(p); return b },
		New: func() skald.Hooks[frames] {
			var current frames
			return skald.Hooks[frames]{
				Init: func(p frames) error { current = p; return nil },
				Main: func(ctx context.Context) error { <-ctx.Done(); return nil },
				Update: func(_ context.Context, p frames) error {
					fmt.Println("update hook:", current.FixFrame, "->", p.FixFrame)
					current = p
					return nil
				},
			}
		},
	}

	// A node is a Registrar; this one only prints what it is given.
	var r printer
	r.Register(cls)
	// Output:
	// registered FrameWorker
}

type printer struct{}

func (printer) Register(w skald.Worker) { fmt.Println("registered", w.ClassName()) }
