package w

import "context"

//skald:model
type M struct {
	Inner Inner `json:"inner"`
}

type Inner struct{}

//skald:worker model=M
type W struct{}

//skald:main
func (W) Main(ctx context.Context) error { return nil }

// Register is the user's own.
func Register() {}

var WClass = 1

func decodeInner() {}
