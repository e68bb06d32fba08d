package hooks

import "context"

// Params is shared by two workers.
//
//skald:model
type Params struct {
	URL string `json:"url" validate:"required,url"`
}

type (
	// Full has every hook.
	//
	//skald:worker model=Params name="full worker"
	Full struct{ p Params }

	// Lean has only main, with a value receiver.
	//skald:worker model=Params
	Lean struct{}
)

//skald:init
func (w *Full) Init(p Params) error { w.p = p; return nil }

//skald:before
func (w *Full) Before(ctx context.Context) error { return nil }

//skald:main
func (w *Full) Main(ctx context.Context) error { return nil }

//skald:after
func (w Full) After(ctx context.Context) error { return nil }

//skald:main
func (Lean) Work(ctx context.Context) error { return nil }

// Unused is a model without a worker: it still gets Decode, Encode and
// Validate.
//
//skald:model
type Unused struct {
	On bool `json:"on"`
}

// The generated file is not type-checked while generating, so code that
// uses what it declares must not stop the generator.
var _ = Register
