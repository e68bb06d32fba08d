package w

import "context"

//skald:model
type M struct{}

//skald:worker model=M
type W struct{}

//skald:main
func (W) Run(ctx context.Context) error { return nil }

//skald:main
func (W) Run2(ctx context.Context) error { return nil }

//skald:update
//skald:update
func (W) Update(ctx context.Context, m M) error { return nil }
