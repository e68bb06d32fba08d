package w

import "context"

//skald:worker model=Nope
type A struct{}

//skald:main
func (A) Main(ctx context.Context) error { return nil }

//skald:worker model=Number
type B struct{}

//skald:main
func (B) Main(ctx context.Context) error { return nil }

//skald:worker model=Plain
type C struct{}

//skald:main
func (C) Main(ctx context.Context) error { return nil }

//skald:worker model=helper
type D struct{}

//skald:main
func (D) Main(ctx context.Context) error { return nil }

//skald:worker model=time.Time
type E struct{}

//skald:main
func (E) Main(ctx context.Context) error { return nil }

type Number int

type Plain struct{}

func helper() {}
