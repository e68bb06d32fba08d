package w

import "context"

//skald:model
type M struct {
	// A is a field.
	//skald:model
	A int
}

//skald:worker model=M
type W struct{}

//skald:main
func (W) Main(ctx context.Context) error { return nil }

// A model marker on a function.
//
//skald:model
func NotAType() {}

// A hook marker on a function.
//
//skald:main
func Run(ctx context.Context) error { return nil }

// A worker marker on a var.
//
//skald:worker model=M
var V W

// Other is not a worker.
type Other struct{}

// A hook marker on a method of a type that is not a worker.
//
//skald:before
func (o *Other) Before(ctx context.Context) error { return nil }

//skald:model
type (
	G1 struct{}
	G2 struct{}
)

//skald:update

// A marker separated from the declaration by a blank line.
func (W) Update(ctx context.Context, m M) error { return nil }

func body() {
	//skald:main
	_ = 1
}
