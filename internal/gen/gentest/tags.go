package gentest

import (
	"encoding/json"
	"time"

	"github.com/go-playground/validator/v10"
)

// Tagged uses every validate tag skaldgen generates as code, on every kind
// of value it applies to, so that the differential test can hold the
// generated checks against validator/v10.
//
//skald:model
type Tagged struct {
	Name     string            `json:"name" validate:"required,min=2,max=8"`
	Code     string            `json:"code" validate:"len=3"`
	Kind     string            `json:"kind" validate:"eq=a"`
	NotKind  string            `json:"notKind" validate:"ne=x"`
	Mode     Mode              `json:"mode" validate:"omitempty,oneof=fast slow"`
	URL      string            `json:"url" validate:"omitempty,url"`
	Email    string            `json:"email" validate:"omitempty,email"`
	ID       string            `json:"id" validate:"omitempty,uuid"`
	Count    int               `json:"count" validate:"gte=1,lte=10"`
	Small    int8              `json:"small" validate:"gt=-3,lt=3"`
	Level    Level             `json:"level" validate:"oneof=1 2 03"`
	Size     uint16            `json:"size" validate:"min=1,max=500"`
	Choice   uint              `json:"choice" validate:"oneof=0 7"`
	Ratio    float64           `json:"ratio" validate:"gt=0,lt=1"`
	Ratio32  float32           `json:"ratio32" validate:"gte=0.1,lte=0.9"`
	Exact    float64           `json:"exact" validate:"ne=0.5"`
	Same     int               `json:"same" validate:"eq=4"`
	Length   int               `json:"length" validate:"len=2"`
	Flag     bool              `json:"flag" validate:"eq=true"`
	Off      bool              `json:"off" validate:"ne=true"`
	Every    time.Duration     `json:"every" validate:"gte=1s,lte=1h"`
	Start    time.Time         `json:"start" validate:"required"`
	Ptr      *int              `json:"ptr" validate:"required,gte=5"`
	OptPtr   *string           `json:"optPtr" validate:"omitempty,min=3"`
	MinPtr   *int              `json:"minPtr" validate:"min=1"`
	Tags     []string          `json:"tags" validate:"required,min=1,max=3,dive,min=2"`
	Exactly  []int             `json:"exactly" validate:"len=2"`
	Empty    []int             `json:"empty" validate:"eq=0"`
	Grid     [][]int           `json:"grid" validate:"dive,max=2,dive,gte=0"`
	Pair     [2]string         `json:"pair" validate:"dive,required"`
	Labels   map[string]string `json:"labels" validate:"omitempty,max=3,dive,ne=x"`
	ByMode   map[Mode]int      `json:"byMode" validate:"dive,lt=10"`
	Items    []Item            `json:"items" validate:"dive"`
	ItemPtrs []*Item           `json:"itemPtrs" validate:"dive,required"`
	ItemMap  map[string]Item   `json:"itemMap" validate:"dive"`
	Main     Item              `json:"main" validate:"required"`
	Opt      *Item             `json:"opt"`
	Loose    []Item            `json:"loose"`
	Raw      json.RawMessage   `json:"raw" validate:"omitempty,max=20"`
	Legacy   Legacy            `json:"legacy"`
	Skipped  string            `json:"skipped" validate:"-"`
}

// Item is reached through a field, a pointer, slices and a map.
type Item struct {
	ID    string   `json:"id" validate:"required"`
	Score int      `json:"score" validate:"min=0,max=100"`
	Notes []string `json:"notes" validate:"omitempty,dive,max=5"`
}

// Legacy uses a tag skaldgen does not generate, so its checks fall back to
// validator/v10.
type Legacy struct {
	Code string `json:"code" validate:"omitempty,startswith=ab"`
	Hex  string `json:"hex" validate:"omitempty,hexadecimal"`
	Even int    `json:"even" validate:"even"`
}

// isEven checks the custom tag even, which the generated file registers.
//
//skald:validation tag=even
func isEven(fl validator.FieldLevel) bool { return fl.Field().Int()%2 == 0 }
