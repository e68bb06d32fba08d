package w

import "context"

//skald:model
type Params struct{}

//skald:worker model=Params progress=Nope
type A struct{}

//skald:main
func (A) Main(ctx context.Context) error { return nil }

//skald:worker model=Params result=Number
type B struct{}

//skald:main
func (B) Main(ctx context.Context) error { return nil }

//skald:worker model=Params progress=helper
type C struct{}

//skald:main
func (C) Main(ctx context.Context) error { return nil }

//skald:worker model=Params result=time.Time
type D struct{}

//skald:main
func (D) Main(ctx context.Context) error { return nil }

//skald:worker model=Params progress=Generic
type E struct{}

//skald:main
func (E) Main(ctx context.Context) error { return nil }

//skald:worker model=Params progress=
type F struct{}

//skald:main
func (F) Main(ctx context.Context) error { return nil }

//skald:worker model=Params progress=Bad
type G struct{}

//skald:main
func (G) Main(ctx context.Context) error { return nil }

type Number int

type Generic[T any] struct{ V T }

type Bad struct {
	C chan int `json:"c"`
}

func helper() {}
