package w

import "context"

//skald:model
type Params struct {
	Source string `json:"source" validate:"required"`
}

// Counted is reported as progress; it needs no //skald:model marker.
type Counted struct {
	Done  int64 `json:"done" validate:"gte=0"`
	Total int64 `json:"total,omitempty"`
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
