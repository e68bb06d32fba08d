package w

import "context"

//skald:model strict=true
type M struct{}

//skald:worker model=M nmae=Camera
type A struct{}

//skald:main fast
func (A) Main(ctx context.Context) error { return nil }

//skald:worker model=M model=M
type B struct{}

//skald:main now=1
func (B) Main(ctx context.Context) error { return nil }

//skald:worker model=M name="unterminated
type C struct{}

//skald:main
func (C) Main(ctx context.Context) error { return nil }
