// Package gentest is a model that reaches every kind of field skaldgen
// supports. Its generated file is committed and kept current by the golden
// test at the module root, and gentest_test.go checks how the generated
// decoder and encoder behave.
package gentest

//go:generate go run github.com/skalds-go/skalds/cmd/skaldgen

import (
	"context"
	"encoding/json"
	"time"
)

// Mode is an enum carried as a string.
type Mode string

// The modes of a Pipeline.
const (
	ModeFast Mode = "fast"
	ModeSlow Mode = "slow"
)

// Level is a small integer with a name of its own.
type Level int8

// Pipeline is the model under test.
//
//skald:model
type Pipeline struct {
	// Name identifies the pipeline for as long as its task exists.
	//
	//skald:immutable
	Name string `json:"name" validate:"required"`
	// Mode is read when the worker starts.
	//
	//skald:restart
	Mode    Mode              `json:"mode" validate:"required,oneof=fast slow"`
	Cameras []Camera          `json:"cameras" validate:"required,min=1,dive"`
	Labels  map[string]string `json:"labels,omitempty"`
	Backup  *Camera           `json:"backup,omitempty"`
	Start   time.Time         `json:"start"`
	Timeout time.Duration     `json:"timeout"`
	Extra   json.RawMessage   `json:"extra,omitempty"`
	Weights [3]float64        `json:"weights"`
	Level   Level             `json:"level"`
	Limits  map[Mode]*Limit   `json:"limits"`
	Matrix  [][]int32         `json:"matrix"`
	Note    *string           `json:"note"`
	Ratio   float32           `json:"ratio"`
	Count   uint16            `json:"count"`
	Big     uint64            `json:"big"`
	Enabled bool
	Skipped string `json:"-"`
}

// Camera is a struct reached through a slice and a pointer.
type Camera struct {
	//skald:immutable
	ID       string  `json:"id" validate:"required"`
	FixFrame int     `json:"fixFrame" validate:"required,gte=1"`
	Region   *Region `json:"region"`
}

// Region has no json tags: its keys are the Go field names.
type Region struct {
	//skald:hot
	X, Y, W, H int
}

// Limit is a struct reached through a map of pointers.
type Limit struct {
	//skald:restart
	Max    int64         `json:"max"`
	Window time.Duration `json:"window"`
}

// PipelineWorker exercises a value receiver and a class name of its own.
//
//skald:worker model=Pipeline name=pipeline.v1
type PipelineWorker struct {
	p Pipeline
}

// Init keeps the attachments.
//
//skald:init
func (w *PipelineWorker) Init(p Pipeline) error {
	w.p = p
	return nil
}

// Run does nothing.
//
//skald:main
func (w PipelineWorker) Run(ctx context.Context) error { return nil }

// Update replaces the attachments.
//
//skald:update
func (w *PipelineWorker) Update(ctx context.Context, p Pipeline) error {
	w.p = p
	return nil
}
