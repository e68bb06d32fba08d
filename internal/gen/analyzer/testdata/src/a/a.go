package a

import "context"

//skald:model
type M struct {
	// N must not change.
	//
	//skald:immutable
	N string   `json:"n" validate:"required"`
	C chan int `json:"c"` // want `field C has type chan int, which the generated decoder cannot handle`
}

//skald:worker model=M
type W struct{}

//skald:main
func (W) Main(ctx context.Context) error { return nil }

//skald:update
func (W) Update(m M) error { return nil } // want `update hook must be func\(context.Context, M\) error; Update is func\(m M\) error`

func Register() {} // want `Register is declared here, but skaldgen generates it for the package in a_skald.go; rename this declaration`
