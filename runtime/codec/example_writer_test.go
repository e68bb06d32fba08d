package codec_test

import (
	"fmt"
	"math"
	"time"

	"github.com/skalds-go/skalds/runtime/codec"
)

// Generated encoders write fields in declaration order with their json key
// names; the Writer places the commas and escapes strings.
func ExampleWriter() {
	var w codec.Writer
	w.BeginObject()
	w.Key("name")
	w.String("lobby \"east\"")
	w.Key("every")
	w.Duration(90 * time.Second)
	w.Key("ratios")
	w.BeginArray()
	w.Float(0.25, 64)
	w.Float(1e21, 64)
	w.Float(math.NaN(), 64) // JSON has no NaN: written as null
	w.EndArray()
	w.EndObject()
	fmt.Println(string(w.Bytes()))
	// Output:
	// {"name":"lobby \"east\"","every":"1m30s","ratios":[0.25,1e+21,null]}
}

// Validate reports failed validate tags with the same JSON paths as decode
// errors.
func ExampleValidate() {
	type Camera struct {
		URL string `json:"url" validate:"required,url"`
	}
	type Model struct {
		FixFrame int      `json:"fixFrame" validate:"gte=1"`
		Mode     string   `json:"mode" validate:"oneof=fast slow"`
		Cameras  []Camera `json:"cameras" validate:"dive"`
	}
	err := codec.Validate(&Model{Mode: "fast", Cameras: []Camera{{URL: "rtsp://cam/1"}, {}}})
	fmt.Println(err)
	// Output:
	// 2 errors: $.fixFrame: must be at least 1; $.cameras[1].url: is required
}
