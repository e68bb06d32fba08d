package w

import (
	"context"

	"github.com/go-playground/validator/v10"
)

//skald:model
type M struct {
	A int `json:"a" validate:"odd"`
	B int `json:"b" validate:"even"`
}

//skald:validation tag=odd
func odd(v int) bool { return v%2 == 1 }

//skald:validation tag=min
func min2(fl validator.FieldLevel) bool { return true }

//skald:validation tag=even
func even(fl validator.FieldLevel) bool { return true }

//skald:validation tag=even
func even2(fl validator.FieldLevel) bool { return true }

//skald:validation tag=a,b
func comma(fl validator.FieldLevel) bool { return true }

//skald:validation tag=x
type T struct{}

//skald:worker model=M
type W struct{}

//skald:validation tag=y
func (W) Check(fl validator.FieldLevel) bool { return true }

//skald:main
func (W) Main(ctx context.Context) error { return nil }
