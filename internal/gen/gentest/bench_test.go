package gentest_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/skalds-go/skalds/internal/gen/gentest"
	"github.com/skalds-go/skalds/runtime/codec"
)

var simpleDoc = []byte(`{"rtspUrl":"rtsp://10.0.0.12:554/stream1","fixFrame":120}`)

var streamDoc = []byte(`{
  "id": "6ba7b810-9dad-11d1-80b4-00c04fd430c8",
  "name": "front door",
  "url": "rtsp://10.0.0.12:554/stream1",
  "owner": "ops@example.com",
  "mode": "fast",
  "fps": 29.97,
  "width": 1920,
  "height": 1080,
  "retries": 3,
  "enabled": true,
  "interval": "250ms",
  "started": "2024-05-06T07:08:09.123Z",
  "tags": ["outdoor", "entrance", "hd"],
  "labels": {"site": "berlin", "floor": "0"},
  "cameras": [
    {"id": "a", "fixFrame": 1, "region": {"X": 0, "Y": 0, "W": 640, "H": 480}},
    {"id": "b", "fixFrame": 25, "region": null}
  ],
  "zones": [
    {"name": "door", "points": [{"x": 0.1, "y": 0.1}, {"x": 0.9, "y": 0.1}, {"x": 0.5, "y": 0.9}]}
  ],
  "output": {"topic": "detections", "format": "json", "batch": 10},
  "limit": 50,
  "priority": -2,
  "threshold": 0.75
}`)

var streamStdDoc = func() []byte {
	var m map[string]any
	if err := json.Unmarshal(streamDoc, &m); err != nil {
		panic(err)
	}
	m["interval"] = 250_000_000
	b, _ := json.Marshal(m)
	return b
}()

func TestBenchDocsAgree(t *testing.T) {
	gen, err := gentest.DecodeStream(streamDoc)
	if err != nil {
		t.Fatal(err)
	}
	var std gentest.Stream
	if err := json.Unmarshal(streamStdDoc, &std); err != nil {
		t.Fatal(err)
	}
	if err := codec.Validate(&std); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(gen.Cameras, std.Cameras) || gen.Interval != std.Interval || !gen.Started.Equal(std.Started) ||
		gen.Output != std.Output || !reflect.DeepEqual(gen.Zones, std.Zones) || *gen.Limit != *std.Limit {
		t.Errorf("generated and encoding/json decode differ:\n%+v\n%+v", gen, std)
	}
	if _, err := gentest.DecodeSimple(simpleDoc); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkDecodeValidate compares a generated decode with validation
// against encoding/json followed by validator/v10 (through codec.Validate,
// which adds nothing on success), on the seed story's model and on a
// 20-field model with nesting and slices.
func BenchmarkDecodeValidate(b *testing.B) {
	b.Run("seed/generated", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(simpleDoc)))
		for b.Loop() {
			if _, err := gentest.DecodeSimple(simpleDoc); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("seed/encoding-json+validator", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(simpleDoc)))
		for b.Loop() {
			var m gentest.Simple
			if err := json.Unmarshal(simpleDoc, &m); err != nil {
				b.Fatal(err)
			}
			if err := codec.Validate(&m); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("stream/generated", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(streamDoc)))
		for b.Loop() {
			if _, err := gentest.DecodeStream(streamDoc); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("stream/encoding-json+validator", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(streamStdDoc)))
		for b.Loop() {
			var m gentest.Stream
			if err := json.Unmarshal(streamStdDoc, &m); err != nil {
				b.Fatal(err)
			}
			if err := codec.Validate(&m); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkValidate isolates validation: generated checks against
// validator/v10 on the same decoded value.
func BenchmarkValidate(b *testing.B) {
	m, err := gentest.DecodeStream(streamDoc)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("stream/generated", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := gentest.ValidateStream(m); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("stream/validator", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := codec.Validate(&m); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkEncode compares the generated encoder with encoding/json on the
// same value.
func BenchmarkEncode(b *testing.B) {
	m, err := gentest.DecodeStream(streamDoc)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("stream/generated", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = gentest.EncodeStream(m)
		}
	})
	b.Run("stream/encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(&m); err != nil {
				b.Fatal(err)
			}
		}
	})
}
