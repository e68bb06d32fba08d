package runner_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/skalds-go/skalds/internal/erased"
	"github.com/skalds-go/skalds/internal/runner"
	"github.com/skalds-go/skalds/runtime/codec"
	"github.com/skalds-go/skalds/runtime/skald"
)

// params stands for a generated model: Owner is immutable, Source needs a
// restart, Rate is hot.
type params struct {
	Owner  string `json:"owner"`
	Source string `json:"source"`
	Rate   int    `json:"rate"`
}

func changes(old, next params) skald.Change {
	var ch skald.Change
	if old.Owner != next.Owner {
		ch.Immutable = append(ch.Immutable, "$.owner")
	}
	ch.Restart = old.Source != next.Source
	return ch
}

// newClass returns a class whose update hook records what it receives and
// refuses a negative rate.
func newClass(got *[]params) *skald.Class[params] {
	return &skald.Class[params]{
		Name:     "test",
		Decode:   decode,
		Encode:   func(m params) []byte { b, _ := json.Marshal(m); return b },
		Validate: func(params) error { return nil },
		New: func() skald.Hooks[params] {
			return skald.Hooks[params]{
				Main: func(context.Context) error { return nil },
				Update: func(_ context.Context, m params) error {
					if m.Rate < 0 {
						return errors.New("negative rate")
					}
					*got = append(*got, m)
					return nil
				},
			}
		},
		Changes:    changes,
		JSONSchema: []byte(`{"type":"object"}`),
	}
}

// decode decodes params with encoding/json.
func decode(b []byte) (params, error) {
	var m params
	err := json.Unmarshal(b, &m)
	return m, err
}

func doc(owner, source string, rate int) []byte {
	b, _ := json.Marshal(params{owner, source, rate})
	return b
}

// start starts an instance of c as a node does.
func start(c *skald.Class[params], attachments []byte) (*erased.Instance, error) {
	return runner.Of(c).Start(attachments)
}

func TestPrepareImmutable(t *testing.T) {
	var got []params
	in, err := start(newClass(&got), doc("ann", "a", 1))
	if err != nil {
		t.Fatal(err)
	}
	apply, err := in.Prepare(doc("bob", "a", 2))
	var errs codec.Errors
	if apply != nil || !errors.As(err, &errs) || len(errs) != 1 || errs[0].Path != "$.owner" || errs[0].Msg != "may not change while the task runs" {
		t.Fatalf("apply %v, err %v; want codec.Errors at $.owner", apply != nil, err)
	}
}

func TestPrepareRestart(t *testing.T) {
	var got []params
	in, _ := start(newClass(&got), doc("ann", "a", 1))
	apply, err := in.Prepare(doc("ann", "b", 1))
	if apply != nil || !errors.Is(err, erased.ErrRestart) {
		t.Fatalf("apply %v, err %v; want ErrRestart", apply != nil, err)
	}
	// An immutable change wins over a restart: a restart would not make
	// it acceptable.
	if _, err := in.Prepare(doc("bob", "b", 1)); errors.Is(err, erased.ErrRestart) || err == nil {
		t.Fatalf("got %v, want the immutable error", err)
	}
}

// TestPrepareCommitsOnApply shows that the model later updates are
// compared with moves only when the handler accepts an update.
func TestPrepareCommitsOnApply(t *testing.T) {
	var got []params
	in, _ := start(newClass(&got), doc("ann", "a", 1))

	// Prepared but never applied: the base stays at source "a", so going
	// back to "a" is not a restart.
	if _, err := in.Prepare(doc("ann", "a", 5)); err != nil {
		t.Fatal(err)
	}
	// Refused by the handler: not committed either.
	apply, err := in.Prepare(doc("ann", "a", -1))
	if err != nil {
		t.Fatal(err)
	}
	if err := apply(context.Background()); err == nil {
		t.Fatal("handler accepted a negative rate")
	}
	apply, err = in.Prepare(doc("ann", "a", 7))
	if err != nil {
		t.Fatal(err)
	}
	if err := apply(context.Background()); err != nil {
		t.Fatal(err)
	}
	if want := []params{{"ann", "a", 7}}; !slices.Equal(got, want) {
		t.Fatalf("handler got %+v, want %+v", got, want)
	}
}

func TestPrepareWithoutPolicies(t *testing.T) {
	var got []params
	c := newClass(&got)
	c.Changes = nil
	in, _ := start(c, doc("ann", "a", 1))
	apply, err := in.Prepare(doc("bob", "b", 2))
	if err != nil || apply == nil {
		t.Fatalf("apply %v, err %v; without Changes every field is hot", apply != nil, err)
	}
}

func TestWorkerSchema(t *testing.T) {
	if s := runner.Of(newClass(new([]params))).Schema; string(s) != `{"type":"object"}` {
		t.Errorf("Schema = %s", s)
	}
}
