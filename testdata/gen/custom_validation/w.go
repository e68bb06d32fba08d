package w

import (
	"context"

	"github.com/go-playground/validator/v10"
)

//skald:model
type M struct {
	Count int `json:"count" validate:"required,even"`
}

// even accepts even numbers.
//
//skald:validation tag=even
func even(fl validator.FieldLevel) bool { return fl.Field().Int()%2 == 0 }

//skald:worker model=M
type W struct{}

//skald:main
func (W) Main(ctx context.Context) error { return nil }
