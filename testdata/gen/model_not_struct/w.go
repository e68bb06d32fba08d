package w

import "context"

//skald:model
type M int

//skald:model
type S = M2

type M2 struct{}

//skald:model
type G[T any] struct{ V T }

//skald:worker model=M
type W struct{}

//skald:main
func (W) Main(ctx context.Context) error { return nil }
