package codec_test

import (
	"errors"
	"fmt"

	"github.com/skalds-go/skalds/runtime/codec"
)

// Settings and Stream are an attachments model. skaldgen writes decoders
// like decodeSettings and decodeStream for such types.
type Settings struct {
	Name    string   `json:"name"`
	Streams []Stream `json:"streams"`
}

type Stream struct {
	URL      string `json:"url"`
	FixFrame int16  `json:"fixFrame"`
}

func decodeSettings(r *codec.Reader, m *Settings) {
	if !r.BeginObject() {
		return
	}
	var seen [2]bool
	for r.More() {
		switch string(r.Key()) {
		case "name", "Name":
			if r.Seen(&seen[0]) {
				continue
			}
			m.Name = r.String()
		case "streams", "Streams":
			if r.Seen(&seen[1]) {
				continue
			}
			if r.Null() {
				m.Streams = nil
				continue
			}
			if r.BeginArray() {
				for r.More() {
					var v Stream
					decodeStream(r, &v)
					m.Streams = append(m.Streams, v)
				}
			}
		default:
			r.Unknown()
		}
	}
	if !seen[0] {
		r.Missing("name")
	}
}

func decodeStream(r *codec.Reader, m *Stream) {
	if !r.BeginObject() {
		return
	}
	var seen [2]bool
	for r.More() {
		switch string(r.Key()) {
		case "url", "URL":
			if r.Seen(&seen[0]) {
				continue
			}
			m.URL = r.String()
		case "fixFrame", "FixFrame":
			if r.Seen(&seen[1]) {
				continue
			}
			m.FixFrame = int16(r.Int(16))
		default:
			r.Unknown()
		}
	}
	if !seen[0] {
		r.Missing("url")
	}
}

// A decode reports every problem in the document, each at its JSON path,
// and still fills in everything that was right.
func Example() {
	data := []byte(`{
		"name": "lobby",
		"streams": [
			{"url": "rtsp://cam/1", "fixFrame": 10},
			{"url": 7, "fixFrame": 1.5, "fps": 30},
			{"fixFrame": 40000}
		],
		"Name": "hall"
	}`)

	var s Settings
	r := codec.NewReader(data)
	decodeSettings(r, &s)
	err := r.End()

	var errs codec.Errors
	if errors.As(err, &errs) {
		for _, e := range errs {
			fmt.Println(e)
		}
	}
	fmt.Printf("%s: %d streams, first %+v\n", s.Name, len(s.Streams), s.Streams[0])
	// Output:
	// $.streams[1].url: expected string, got number
	// $.streams[1].fixFrame: 1.5 is not an integer
	// $.streams[1].fps: unknown field
	// $.streams[2].fixFrame: 40000 is out of range for int16 (-32768 to 32767)
	// $.streams[2].url: required field missing
	// $.Name: field given more than once
	// lobby: 3 streams, first {URL:rtsp://cam/1 FixFrame:10}
}
