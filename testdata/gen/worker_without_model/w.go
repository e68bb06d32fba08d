package w

import "context"

//skald:worker
type W struct{}

//skald:main
func (W) Main(ctx context.Context) error { return nil }

//skald:worker model= name=x
type X struct{}
