package w

import "context"

//skald:model
type M struct{}

// W is a worker.
//
//skald:worker model=M
//skald:foo
type W struct{}

//skald:mian
func (W) Main(ctx context.Context) error { return nil }
