package w

import "context"

// skald:model
type M struct{}

//skald:worker model="M
type A struct{}

//skald:main
func (A) Main(ctx context.Context) error { return nil }

func local() {
	//skald:model
	type L struct{}
	_ = L{}
}

//  skald:main
func (A) Other(ctx context.Context) error { return nil }
