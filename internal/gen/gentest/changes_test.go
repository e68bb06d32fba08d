package gentest_test

import (
	"context"
	"errors"
	"github.com/skalds-go/skalds/internal/erased"
	"slices"
	"testing"

	"github.com/skalds-go/skalds/internal/gen/gentest"
	"github.com/skalds-go/skalds/runtime/codec"
)

func basePipeline() gentest.Pipeline {
	return gentest.Pipeline{
		Name:    "p",
		Mode:    gentest.ModeFast,
		Cameras: []gentest.Camera{{ID: "a", FixFrame: 1}, {ID: "b", FixFrame: 2}},
		Limits:  map[gentest.Mode]*gentest.Limit{gentest.ModeFast: {Max: 1}},
	}
}

func TestChangesPipeline(t *testing.T) {
	tests := []struct {
		name      string
		modify    func(m *gentest.Pipeline)
		restart   bool
		immutable []string
	}{
		{"nothing", func(m *gentest.Pipeline) {}, false, nil},
		{"hot field", func(m *gentest.Pipeline) { m.Labels = map[string]string{"a": "b"}; m.Cameras[0].FixFrame = 9 }, false, nil},
		{"hot field of a nested struct", func(m *gentest.Pipeline) { m.Cameras[0].Region = &gentest.Region{X: 1} }, false, nil},
		{"immutable", func(m *gentest.Pipeline) { m.Name = "q" }, false, []string{"$.name"}},
		{"restart", func(m *gentest.Pipeline) { m.Mode = gentest.ModeSlow }, true, nil},
		{"immutable in a slice element", func(m *gentest.Pipeline) { m.Cameras[1].ID = "c" }, false, []string{"$.cameras[1].id"}},
		{"slice length", func(m *gentest.Pipeline) { m.Cameras = m.Cameras[:1] }, false, []string{"$.cameras"}},
		{"pointer appears", func(m *gentest.Pipeline) { m.Backup = &gentest.Camera{ID: "x"} }, false, []string{"$.backup"}},
		{"restart behind a map of pointers", func(m *gentest.Pipeline) { m.Limits[gentest.ModeFast] = &gentest.Limit{Max: 2} }, true, nil},
		{"map keys", func(m *gentest.Pipeline) { m.Limits[gentest.ModeSlow] = nil }, true, nil},
		{"both", func(m *gentest.Pipeline) { m.Name = "q"; m.Mode = gentest.ModeSlow; m.Cameras[0].ID = "z" }, true, []string{"$.name", "$.cameras[0].id"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old, next := basePipeline(), basePipeline()
			tt.modify(&next)
			ch := gentest.ChangesPipeline(old, next)
			if ch.Restart != tt.restart || !slices.Equal(ch.Immutable, tt.immutable) {
				t.Errorf("got %+v, want restart %v, immutable %q", ch, tt.restart, tt.immutable)
			}
		})
	}
}

// TestPrepareEnforcesPolicies runs the generated class the way a node
// does.
func TestPrepareEnforcesPolicies(t *testing.T) {
	c := gentest.PipelineWorkerClass
	in, err := erased.Of(c).Start(gentest.EncodePipeline(basePipeline()))
	if err != nil {
		t.Fatal(err)
	}
	m := basePipeline()
	m.Name = "renamed"
	apply, err := in.Prepare(gentest.EncodePipeline(m))
	var errs codec.Errors
	if apply != nil || !errors.As(err, &errs) || err.Error() != "$.name: may not change while the task runs" {
		t.Errorf("immutable change: apply %v, err %v", apply != nil, err)
	}
	m = basePipeline()
	m.Mode = gentest.ModeSlow
	if apply, err := in.Prepare(gentest.EncodePipeline(m)); apply != nil || !errors.Is(err, erased.ErrRestart) {
		t.Errorf("restart change: apply %v, err %v", apply != nil, err)
	}
	m = basePipeline()
	m.Labels = map[string]string{"hot": "yes"}
	apply, err = in.Prepare(gentest.EncodePipeline(m))
	if err != nil {
		t.Fatal(err)
	}
	if err := apply(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The client refuses the immutable change before writing it.
	next := basePipeline()
	next.Cameras[0].ID = "other"
	if err := gentest.ChangesPipeline(basePipeline(), next).Err(); err == nil || err.Error() != "$.cameras[0].id: may not change while the task runs" {
		t.Errorf("Changes: %v", err)
	}
}
