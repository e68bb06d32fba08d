package codec_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/skalds-go/skalds/runtime/codec"
)

// benchModel is a typical small attachments model of 20 fields.
type benchModel struct {
	ID        string    `json:"id" validate:"required"`
	Name      string    `json:"name" validate:"required,min=1,max=64"`
	RTSPURL   string    `json:"rtspUrl" validate:"required,url"`
	FixFrame  int       `json:"fixFrame" validate:"gte=1,lte=1000"`
	Width     int32     `json:"width" validate:"gte=1"`
	Height    int32     `json:"height" validate:"gte=1"`
	FPS       float64   `json:"fps" validate:"gt=0"`
	Scale     float32   `json:"scale"`
	Enabled   bool      `json:"enabled"`
	Debug     bool      `json:"debug"`
	Retries   uint8     `json:"retries" validate:"lte=10"`
	Priority  int8      `json:"priority"`
	Offset    int64     `json:"offset"`
	Bytes     uint64    `json:"bytes"`
	Mode      string    `json:"mode" validate:"oneof=fast slow"`
	Region    string    `json:"region"`
	Threshold float64   `json:"threshold"`
	Tags      []string  `json:"tags" validate:"dive,min=1"`
	Limit     *int      `json:"limit"`
	Started   time.Time `json:"started"`
}

var benchDoc = []byte(`{
  "id": "6ba7b810-9dad-11d1-80b4-00c04fd430c8",
  "name": "front door",
  "rtspUrl": "rtsp://10.0.0.12:554/stream1",
  "fixFrame": 120,
  "width": 1920,
  "height": 1080,
  "fps": 29.97,
  "scale": 0.5,
  "enabled": true,
  "debug": false,
  "retries": 3,
  "priority": -2,
  "offset": 1234567890123,
  "bytes": 18446744073709551615,
  "mode": "fast",
  "region": "eu-west-1",
  "threshold": 0.875,
  "tags": ["outdoor", "entrance", "hd"],
  "limit": 50,
  "started": "2024-05-06T07:08:09.123Z"
}`)

func decodeBenchModel(r *codec.Reader, m *benchModel) {
	if !r.BeginObject() {
		return
	}
	var seen [20]bool
	for r.More() {
		switch string(r.Key()) {
		case "id", "ID":
			if r.Seen(&seen[0]) {
				continue
			}
			m.ID = r.String()
		case "name", "Name":
			if r.Seen(&seen[1]) {
				continue
			}
			m.Name = r.String()
		case "rtspUrl", "RTSPURL":
			if r.Seen(&seen[2]) {
				continue
			}
			m.RTSPURL = r.String()
		case "fixFrame", "FixFrame":
			if r.Seen(&seen[3]) {
				continue
			}
			m.FixFrame = int(r.Int(0))
		case "width", "Width":
			if r.Seen(&seen[4]) {
				continue
			}
			m.Width = int32(r.Int(32))
		case "height", "Height":
			if r.Seen(&seen[5]) {
				continue
			}
			m.Height = int32(r.Int(32))
		case "fps", "FPS":
			if r.Seen(&seen[6]) {
				continue
			}
			m.FPS = r.Float(64)
		case "scale", "Scale":
			if r.Seen(&seen[7]) {
				continue
			}
			m.Scale = float32(r.Float(32))
		case "enabled", "Enabled":
			if r.Seen(&seen[8]) {
				continue
			}
			m.Enabled = r.Bool()
		case "debug", "Debug":
			if r.Seen(&seen[9]) {
				continue
			}
			m.Debug = r.Bool()
		case "retries", "Retries":
			if r.Seen(&seen[10]) {
				continue
			}
			m.Retries = uint8(r.Uint(8))
		case "priority", "Priority":
			if r.Seen(&seen[11]) {
				continue
			}
			m.Priority = int8(r.Int(8))
		case "offset", "Offset":
			if r.Seen(&seen[12]) {
				continue
			}
			m.Offset = r.Int(64)
		case "bytes", "Bytes":
			if r.Seen(&seen[13]) {
				continue
			}
			m.Bytes = r.Uint(64)
		case "mode", "Mode":
			if r.Seen(&seen[14]) {
				continue
			}
			m.Mode = r.String()
		case "region", "Region":
			if r.Seen(&seen[15]) {
				continue
			}
			m.Region = r.String()
		case "threshold", "Threshold":
			if r.Seen(&seen[16]) {
				continue
			}
			m.Threshold = r.Float(64)
		case "tags", "Tags":
			if r.Seen(&seen[17]) {
				continue
			}
			if r.Null() {
				m.Tags = nil
				continue
			}
			if r.BeginArray() {
				for r.More() {
					m.Tags = append(m.Tags, r.String())
				}
			}
		case "limit", "Limit":
			if r.Seen(&seen[18]) {
				continue
			}
			if r.Null() {
				m.Limit = nil
				continue
			}
			v := int(r.Int(0))
			m.Limit = &v
		case "started", "Started":
			if r.Seen(&seen[19]) {
				continue
			}
			m.Started = r.Time()
		default:
			r.Unknown()
		}
	}
	if !seen[0] {
		r.Missing("id")
	}
	if !seen[1] {
		r.Missing("name")
	}
	if !seen[2] {
		r.Missing("rtspUrl")
	}
}

func encodeBenchModel(w *codec.Writer, m *benchModel) {
	w.BeginObject()
	w.Key("id")
	w.String(m.ID)
	w.Key("name")
	w.String(m.Name)
	w.Key("rtspUrl")
	w.String(m.RTSPURL)
	w.Key("fixFrame")
	w.Int(int64(m.FixFrame))
	w.Key("width")
	w.Int(int64(m.Width))
	w.Key("height")
	w.Int(int64(m.Height))
	w.Key("fps")
	w.Float(m.FPS, 64)
	w.Key("scale")
	w.Float(float64(m.Scale), 32)
	w.Key("enabled")
	w.Bool(m.Enabled)
	w.Key("debug")
	w.Bool(m.Debug)
	w.Key("retries")
	w.Uint(uint64(m.Retries))
	w.Key("priority")
	w.Int(int64(m.Priority))
	w.Key("offset")
	w.Int(m.Offset)
	w.Key("bytes")
	w.Uint(m.Bytes)
	w.Key("mode")
	w.String(m.Mode)
	w.Key("region")
	w.String(m.Region)
	w.Key("threshold")
	w.Float(m.Threshold, 64)
	w.Key("tags")
	if m.Tags == nil {
		w.Null()
	} else {
		w.BeginArray()
		for _, s := range m.Tags {
			w.String(s)
		}
		w.EndArray()
	}
	w.Key("limit")
	if m.Limit == nil {
		w.Null()
	} else {
		w.Int(int64(*m.Limit))
	}
	w.Key("started")
	w.Time(m.Started)
	w.EndObject()
}

func decodeBench(data []byte) (benchModel, error) {
	var m benchModel
	r := codec.NewReader(data)
	decodeBenchModel(r, &m)
	return m, r.End()
}

func TestBenchModelAgreesWithEncodingJSON(t *testing.T) {
	got, err := decodeBench(benchDoc)
	if err != nil {
		t.Fatal(err)
	}
	var want benchModel
	if err := json.Unmarshal(benchDoc, &want); err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal(got)
	b, _ := json.Marshal(want)
	if string(a) != string(b) {
		t.Fatalf("codec:         %s\nencoding/json: %s", a, b)
	}
	if err := codec.Validate(&got); err != nil {
		t.Fatal(err)
	}
	var w codec.Writer
	encodeBenchModel(&w, &got)
	if string(w.Bytes()) != string(b) {
		t.Fatalf("Writer:        %s\nencoding/json: %s", w.Bytes(), b)
	}
}

func BenchmarkReader20Fields(b *testing.B) {
	b.Run("codec", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(benchDoc)))
		for b.Loop() {
			if _, err := decodeBench(benchDoc); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("codec-reused-reader", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(benchDoc)))
		var r codec.Reader
		for b.Loop() {
			var m benchModel
			r.Reset(benchDoc)
			decodeBenchModel(&r, &m)
			if err := r.End(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(benchDoc)))
		for b.Loop() {
			var m benchModel
			if err := json.Unmarshal(benchDoc, &m); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkReaderDecodeAndValidate measures what a generated Decode does:
// decode, then run the validate tags.
func BenchmarkReaderDecodeAndValidate(b *testing.B) {
	b.Run("codec", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			m, err := decodeBench(benchDoc)
			if err == nil {
				err = codec.Validate(&m)
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var m benchModel
			err := json.Unmarshal(benchDoc, &m)
			if err == nil {
				err = codec.Validate(&m)
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkReaderErrors measures a decode that reports errors, the path
// where messages and paths are built.
func BenchmarkReaderErrors(b *testing.B) {
	doc := []byte(`{"id": 1, "name": "n", "rtspUrl": "u", "fixFrame": 1.5, "width": "x", "tags": [1, 2], "extra": {}}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodeBench(doc); err == nil {
			b.Fatal("want errors")
		}
	}
}

func BenchmarkWriter20Fields(b *testing.B) {
	m, err := decodeBench(benchDoc)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("codec", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var w codec.Writer
			encodeBenchModel(&w, &m)
			_ = w.Bytes()
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(&m); err != nil {
				b.Fatal(err)
			}
		}
	})
}
