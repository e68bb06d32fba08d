package w

import "context"

//skald:model
type M struct{}

// W forgot its main hook.
//
//skald:worker model=M
type W struct{}

//skald:before
func (W) Before(ctx context.Context) error { return nil }

// Run would be the main hook.
func (W) Run(ctx context.Context) error { return nil }
