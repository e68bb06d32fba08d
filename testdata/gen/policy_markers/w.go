package w

import "context"

//skald:model
type M struct {
	// A is marked twice.
	//
	//skald:restart
	//skald:immutable
	A int `json:"a"`
	B int `json:"b"` //skald:restart
	// C is not in the JSON.
	//
	//skald:immutable
	C int `json:"-"`
	// D is unexported.
	//
	//skald:restart
	d int
}

// Unused is reached by no model.
type Unused struct {
	//skald:immutable
	X int
}

// A policy on a type.
//
//skald:restart
type T struct{}

//skald:worker model=M
type W struct{}

//skald:main
func (W) Main(ctx context.Context) error { return nil }
