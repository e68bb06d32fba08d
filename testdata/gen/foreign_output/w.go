package w

import "context"

//skald:model
type M struct{}

//skald:worker model=M
type W struct{}

//skald:main
func (W) Main(ctx context.Context) error { return nil }
