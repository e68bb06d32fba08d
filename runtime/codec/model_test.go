package codec_test

import (
	"time"

	"github.com/skalds-go/skalds/runtime/codec"
)

// The decoders and encoders in this file are written the way skaldgen
// generates them, so the tests exercise the Reader through the same call
// sequences real models use.

// simpleModel is the model of example/worker, with its generated code.
type simpleModel struct {
	RTSPURL  string `json:"rtspUrl" validate:"required,url"`
	FixFrame int    `json:"fixFrame" validate:"required,gte=1,lte=1000"`
}

func decodeSimpleModel(r *codec.Reader, m *simpleModel) {
	if !r.BeginObject() {
		return
	}
	var seen [2]bool
	for r.More() {
		switch string(r.Key()) {
		case "rtspUrl", "RTSPURL":
			if r.Seen(&seen[0]) {
				continue
			}
			m.RTSPURL = r.String()
		case "fixFrame", "FixFrame":
			if r.Seen(&seen[1]) {
				continue
			}
			m.FixFrame = int(r.Int(0))
		default:
			r.Unknown()
		}
	}
	if !seen[0] {
		r.Missing("rtspUrl")
	}
	if !seen[1] {
		r.Missing("fixFrame")
	}
}

func encodeSimpleModel(w *codec.Writer, m *simpleModel) {
	w.BeginObject()
	w.Key("rtspUrl")
	w.String(m.RTSPURL)
	w.Key("fixFrame")
	w.Int(int64(m.FixFrame))
	w.EndObject()
}

// DecodeSimpleModel mirrors the generated top-level function.
func DecodeSimpleModel(data []byte) (simpleModel, error) {
	var m simpleModel
	r := codec.NewReader(data)
	decodeSimpleModel(r, &m)
	return m, r.Finish(func() error { return codec.Validate(&m) })
}

// nestedModel has the shapes that matter for paths: a nested object, an
// array of objects with arrays inside, a nullable slice and pointer.
type nestedModel struct {
	Name    string    `json:"name"`
	A       nestedA   `json:"a"`
	Cameras []camera  `json:"cameras"`
	Limit   *int      `json:"limit"`
	Tags    []string  `json:"tags"`
	When    time.Time `json:"when"`
}

type nestedA struct {
	B []nestedB `json:"b"`
}

type nestedB struct {
	C int `json:"c"`
}

type camera struct {
	ID       string `json:"id"`
	FixFrame int    `json:"fixFrame"`
}

func decodeNestedModel(r *codec.Reader, m *nestedModel) {
	if !r.BeginObject() {
		return
	}
	var seen [6]bool
	for r.More() {
		switch string(r.Key()) {
		case "name", "Name":
			if r.Seen(&seen[0]) {
				continue
			}
			m.Name = r.String()
		case "a", "A":
			if r.Seen(&seen[1]) {
				continue
			}
			decodeNestedA(r, &m.A)
		case "cameras", "Cameras":
			if r.Seen(&seen[2]) {
				continue
			}
			if r.Null() {
				m.Cameras = nil
				continue
			}
			if r.BeginArray() {
				for r.More() {
					var v camera
					decodeCamera(r, &v)
					m.Cameras = append(m.Cameras, v)
				}
			}
		case "limit", "Limit":
			if r.Seen(&seen[3]) {
				continue
			}
			if r.Null() {
				m.Limit = nil
				continue
			}
			v := int(r.Int(0))
			m.Limit = &v
		case "tags", "Tags":
			if r.Seen(&seen[4]) {
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
		case "when", "When":
			if r.Seen(&seen[5]) {
				continue
			}
			m.When = r.Time()
		default:
			r.Unknown()
		}
	}
	if !seen[0] {
		r.Missing("name")
	}
}

func decodeNestedA(r *codec.Reader, m *nestedA) {
	if !r.BeginObject() {
		return
	}
	var seen [1]bool
	for r.More() {
		switch string(r.Key()) {
		case "b", "B":
			if r.Seen(&seen[0]) {
				continue
			}
			if r.Null() {
				m.B = nil
				continue
			}
			if r.BeginArray() {
				for r.More() {
					var v nestedB
					decodeNestedB(r, &v)
					m.B = append(m.B, v)
				}
			}
		default:
			r.Unknown()
		}
	}
}

func decodeNestedB(r *codec.Reader, m *nestedB) {
	if !r.BeginObject() {
		return
	}
	var seen [1]bool
	for r.More() {
		switch string(r.Key()) {
		case "c", "C":
			if r.Seen(&seen[0]) {
				continue
			}
			m.C = int(r.Int(0))
		default:
			r.Unknown()
		}
	}
	if !seen[0] {
		r.Missing("c")
	}
}

func decodeCamera(r *codec.Reader, m *camera) {
	if !r.BeginObject() {
		return
	}
	var seen [2]bool
	for r.More() {
		switch string(r.Key()) {
		case "id", "ID":
			if r.Seen(&seen[0]) {
				continue
			}
			m.ID = r.String()
		case "fixFrame", "FixFrame":
			if r.Seen(&seen[1]) {
				continue
			}
			m.FixFrame = int(r.Int(0))
		default:
			r.Unknown()
		}
	}
	if !seen[0] {
		r.Missing("id")
	}
}

// node nests to any depth, for tests of deep paths and the depth limit.
type node struct {
	Child *node `json:"child"`
	V     int   `json:"v"`
}

func decodeNode(r *codec.Reader, m *node) {
	if !r.BeginObject() {
		return
	}
	for r.More() {
		switch string(r.Key()) {
		case "child":
			if r.Null() {
				continue
			}
			m.Child = new(node)
			decodeNode(r, m.Child)
		case "v":
			m.V = int(r.Int(0))
		default:
			r.Unknown()
		}
	}
}
