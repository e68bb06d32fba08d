package w

import "context"

//skald:model
type M struct{}

//skald:worker model=M
type Camera struct{}

//skald:main
func (Camera) Main(ctx context.Context) error { return nil }

//skald:worker model=M name=Camera
type CameraV2 struct{}

//skald:main
func (CameraV2) Main(ctx context.Context) error { return nil }
