package w

import "context"

//skald:model
type M struct {
	Name    string            `json:"name" validate:"requird"`
	Count   int               `json:"count" validate:"required,min=a"`
	Label   string            `json:"label" validate:"dive,required"`
	Port    int               `json:"port" validate:"url"`
	Ratio   float64           `json:"ratio" validate:"oneof=1 2"`
	On      bool              `json:"on" validate:"gte=1"`
	Tags    []string          `json:"tags" validate:"max=3,,dive,mn=2"`
	Labels  map[string]string `json:"labels" validate:"keys,max=2,endkeys"`
	ByName  map[string]int    `json:"byName" validate:"dive,keys,alpah,endkeys,gte=0"`
	Either  string            `json:"either" validate:"hexadecimal|numbr"`
	Prefix  string            `json:"prefix" validate:"startswith"`
	Alpha   string            `json:"alpha" validate:"alpha=x"`
	Every   int               `json:"every" validate:"gte=1s"`
	Quoted  string            "json:\"quoted\" validate:\"requird\""
	Good    string            `json:"good" validate:"omitempty,startswith=ab"`
	Fine    []int             `json:"fine" validate:"dive,gte=0"`
	Unknown string            `json:"unknown" validate:"required,frobnicate"`
}

//skald:worker model=M
type W struct{}

//skald:main
func (W) Main(ctx context.Context) error { return nil }
