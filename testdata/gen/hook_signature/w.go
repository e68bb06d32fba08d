package w

import "context"

//skald:model
type M struct{}

//skald:worker model=M
type W struct{}

//skald:init
func (w *W) Init(ctx context.Context, m M) error { return nil }

//skald:before
func (w *W) Before() error { return nil }

//skald:main
func (w *W) Main(ctx context.Context) {}

//skald:after
func (w *W) After(ctx context.Context) (int, error) { return 0, nil }

//skald:release
func (w *W) Release(ctx context.Context, more ...int) error { return nil }

//skald:update
func (w *W) Update(ctx context.Context, m *M) error { return nil }
