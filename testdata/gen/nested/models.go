// Package nestedmodels is in a directory of another name: the generated
// file is named after the package.
package nestedmodels

import (
	"context"
	"encoding/json"
	"time"
)

type Mode string

const ModeA Mode = "a"

type Priority uint8

type Tags []string

type Index map[string][]Point

type Stamp = time.Time

//skald:model
type Scene struct {
	Mode      Mode                `json:"mode" validate:"oneof=a b,required"`
	Priority  Priority            `json:"priority,omitempty"`
	Tags      Tags                `json:"tags,omitempty"`
	Index     Index               `json:"index"`
	Corners   *[4]Point           `json:"corners"`
	Path      []Point             `json:"path" validate:"dive,required"`
	Grid      [2][2]float32       `json:"grid"`
	Layers    map[string][]*Layer `json:"layers"`
	ByMode    map[Mode]Mode       `json:"byMode"`
	Taken     Stamp               `json:"taken"`
	Every     *time.Duration      `json:"every,omitempty"`
	Meta      json.RawMessage     `json:"meta"`
	Empty     Empty               `json:"empty"`
	Ptr       **int               `json:"ptr"`
	Zero      [0]int              `json:"zero,omitempty"`
	Flag      bool                `json:",omitempty"`
	Score     float64             `json:"score,omitempty"`
	Label     string              `json:"Mode2"`
	Mode2     string              `json:"other"`
	Unchanged string              `json:""`
	Nested    Scene2              `json:"nested" validate:"required"`
	internal  int
	Ignored   chan int `json:"-"`
}

type Point struct {
	X, Y float64
}

type Layer struct {
	Name  string `json:"name" validate:"required"`
	Child *Layer `json:"child"`
}

type Empty struct{}

type Scene2 struct {
	Count int64 `json:"count"`
}

//skald:worker model=Scene
type Renderer struct{}

//skald:main
func (Renderer) Main(ctx context.Context) error { return nil }
