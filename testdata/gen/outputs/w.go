package w

import (
	"context"
	"time"
)

//skald:model
type Params struct {
	// Source is where the items come from. Its doc comment, without the
	// marker, is its description in the schema.
	//
	//skald:immutable
	Source string `json:"source" validate:"required"`
}

// Counted is reported as progress; it needs no //skald:model marker.
type Counted struct {
	// Done counts the items processed.
	Done  int64 `json:"done" validate:"gte=0"`
	Total int64 `json:"total,omitempty"` // items in all, when known
	// Elapsed is the time spent so far; the schema says how it is written
	// after this.
	Elapsed time.Duration `json:"elapsed"`
}

// Summary is the result.
type Summary struct {
	Items []string `json:"items"`
}

//skald:worker model=Params progress=Counted result=Summary
type Both struct{}

//skald:main
func (Both) Main(ctx context.Context) error {
	ReportBothProgress(ctx, Counted{Done: 1})
	SetBothResult(ctx, Summary{Items: []string{"a"}})
	return nil
}

// OnlyProgress shares the progress type and declares no result.
//
//skald:worker model=Params progress=Counted
type OnlyProgress struct{}

//skald:main
func (OnlyProgress) Main(ctx context.Context) error {
	ReportOnlyProgressProgress(ctx, Counted{Done: 2})
	return nil
}
