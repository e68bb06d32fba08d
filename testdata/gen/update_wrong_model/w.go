package w

import "context"

// MySimpleDataModel are the attachments.
//
//skald:model
type MySimpleDataModel struct {
	FixFrame int `json:"fixFrame"`
}

// OtherModel is not the worker's model.
type OtherModel struct {
	FixFrame int `json:"fixFrame"`
}

//skald:worker model=MySimpleDataModel
type MySimpleWorker struct{}

//skald:main
func (w *MySimpleWorker) Run(ctx context.Context) error { return nil }

// Update takes the wrong model type.
//
//skald:update
func (w *MySimpleWorker) Update(ctx context.Context, m OtherModel) error { return nil }
