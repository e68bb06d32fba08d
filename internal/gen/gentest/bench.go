package gentest

import "time"

// Simple has the fields and tags of the seed story's model
// (example/worker.MySimpleDataModel), for benchmarks inside this module.
//
//skald:model
type Simple struct {
	RTSPURL  string `json:"rtspUrl" validate:"required,url"`
	FixFrame int    `json:"fixFrame" validate:"required,gte=1,lte=1000"`
}

// Stream is a model of 20 fields with nested structs and slices, the size
// of a typical production worker's attachments.
//
//skald:model
type Stream struct {
	ID        string            `json:"id" validate:"required,uuid"`
	Name      string            `json:"name" validate:"required,min=1,max=64"`
	URL       string            `json:"url" validate:"required,url"`
	Owner     string            `json:"owner" validate:"omitempty,email"`
	Mode      Mode              `json:"mode" validate:"required,oneof=fast slow"`
	FPS       float64           `json:"fps" validate:"gt=0,lte=120"`
	Width     int               `json:"width" validate:"gte=1,lte=8192"`
	Height    int               `json:"height" validate:"gte=1,lte=8192"`
	Retries   uint8             `json:"retries" validate:"lte=10"`
	Enabled   bool              `json:"enabled"`
	Interval  time.Duration     `json:"interval" validate:"gte=1ms"`
	Started   time.Time         `json:"started"`
	Tags      []string          `json:"tags" validate:"max=8,dive,min=1,max=32"`
	Labels    map[string]string `json:"labels" validate:"dive,max=64"`
	Cameras   []Camera          `json:"cameras" validate:"required,min=1,dive"`
	Zones     []Zone            `json:"zones" validate:"dive"`
	Output    Output            `json:"output" validate:"required"`
	Limit     *int              `json:"limit" validate:"omitempty,gte=0"`
	Priority  int8              `json:"priority" validate:"gte=-5,lte=5"`
	Threshold float32           `json:"threshold" validate:"gte=0,lte=1"`
}

// Zone is a polygon of a Stream's picture.
type Zone struct {
	Name   string  `json:"name" validate:"required"`
	Points []Point `json:"points" validate:"min=3,dive"`
}

// Point is a position relative to the picture's size.
type Point struct {
	X float64 `json:"x" validate:"gte=0,lte=1"`
	Y float64 `json:"y" validate:"gte=0,lte=1"`
}

// Output is where a Stream's results go.
type Output struct {
	Topic  string `json:"topic" validate:"required"`
	Format string `json:"format" validate:"oneof=json avro"`
	Batch  int    `json:"batch" validate:"gte=1"`
}
