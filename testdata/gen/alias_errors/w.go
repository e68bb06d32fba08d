package w

import "context"

//skald:model
type M struct {
	//skald:alias name=b
	A string `json:"a"`
	B string `json:"b"`
	//skald:alias name=c
	C string `json:"c"`
	//skald:alias name=x
	D string `json:"d"`
	//skald:alias name=x
	E string `json:"e"`
	//skald:alias name=hidden
	Hidden string `json:"-"`
	//skald:alias name=pair
	P, Q int
	//skald:alias
	R int `json:"r"`
}

// Other is reached by no model.
type Other struct {
	//skald:alias name=o
	O string `json:"o"`
}

//skald:alias name=t
type T struct{}

//skald:worker model=M
type W struct{}

//skald:main
func (W) Main(ctx context.Context) error { return nil }
