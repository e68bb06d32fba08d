package codec_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/skalds-go/skalds/runtime/codec"
)

var fuzzSeeds = []string{
	``,
	`{}`,
	`[]`,
	`null`,
	`{"name":"n","a":{"b":[{"c":1},{"c":"x"}]},"cameras":[{"id":"x","fixFrame":2}],"limit":3,"tags":["a"],"when":"2024-01-02T03:04:05Z"}`,
	`{"name":"\u00e9\ud83d\ude00","Name":1,"x":[1,2,{"y":null}],"limit":1e3}`,
	`{"child":{"child":{"v":1.5}}}`,
	`{"name":"n",}`,
	`{"name":"\ud800"}`,
	"{\"name\":\"\xff\"}",
	`[[[[[[[[[[]]]]]]]]]]`,
	`{"a":-0.0e-0,"b":true,"c":false,"d":"\"\\\/\b\f\n\r\t"}`,
	` 1 `,
	`"str"`,
	`{"a":"1m30s","b":-3,"c":1e2,"d":2.5,"e":[1,null],"f":{"g":"x"},"h":"2024-01-02T03:04:05Z","i":true}`,
}

// FuzzReader checks that no input makes the Reader panic or hang, that
// errors are well formed, and that the Reader accepts exactly the JSON that
// encoding/json accepts, apart from the Reader's stricter rules (valid
// UTF-8, paired surrogates, nesting depth).
func FuzzReader(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkErrors := func(err error) {
			if err == nil {
				return
			}
			errs, ok := err.(codec.Errors)
			if !ok {
				t.Fatalf("End returned %T", err)
			}
			if len(errs) == 0 || len(errs) > 21 {
				t.Fatalf("%d errors", len(errs))
			}
			for _, e := range errs {
				if !strings.HasPrefix(e.Path, "$") || e.Msg == "" {
					t.Fatalf("malformed error %q", e)
				}
			}
		}

		var m nestedModel
		r := codec.NewReader(data)
		decodeNestedModel(r, &m)
		checkErrors(r.End())

		r.Reset(data)
		decodeNode(r, new(node))
		checkErrors(r.End())

		r.Reset(data)
		walk(r, 0)
		checkErrors(r.End())

		r.Reset(data)
		raw := r.Raw()
		err := r.End()
		checkErrors(err)
		valid := json.Valid(data)
		if err == nil {
			if !valid {
				t.Fatalf("Reader accepts invalid JSON %q", data)
			}
			if !bytes.Equal(raw, bytes.TrimSpace(data)) {
				t.Fatalf("Raw = %q for %q", raw, data)
			}
		} else if valid && utf8.Valid(data) && !bytes.Contains(bytes.ToLower(data), []byte(`\ud`)) &&
			bytes.Count(data, []byte("["))+bytes.Count(data, []byte("{")) < 1000 {
			t.Fatalf("Reader rejects valid JSON %q: %v", data, err)
		}
	})
}

// walk reads an object with a reader call chosen by each key's first byte,
// so fuzzed input reaches every scalar reader.
func walk(r *codec.Reader, depth int) {
	if !r.BeginObject() {
		return
	}
	var seen bool
	for r.More() {
		k := r.Key()
		sel := 0
		if len(k) > 0 {
			sel = int(k[0]) % 13
		}
		switch sel {
		case 0:
			_ = r.String()
		case 1:
			r.Bool()
		case 2:
			r.Int(8)
		case 3:
			r.Uint(16)
		case 4:
			r.Float(32)
		case 5:
			r.Float(64)
		case 6:
			r.Raw()
		case 7:
			r.Time()
		case 8:
			r.Duration()
		case 9:
			if depth < 100 {
				walk(r, depth+1)
			} else {
				r.Unknown()
			}
		case 10:
			if r.BeginArray() {
				for r.More() {
					if !r.Null() {
						r.Int(0)
					}
				}
			}
		case 11:
			if !r.Seen(&seen) {
				r.Errorf("custom check %q", k)
				r.Unknown()
			}
		default:
			r.Missing(string(k))
			r.Unknown()
		}
	}
}

// FuzzWriterRoundTrip checks that any string, valid UTF-8 or not, is
// written exactly as encoding/json writes it and reads back unchanged
// (with invalid bytes replaced) as both a key and a value.
func FuzzWriterRoundTrip(f *testing.F) {
	for _, s := range testStrings {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var w codec.Writer
		w.String(s)
		if got, want := string(w.Bytes()), stdString(t, s); got != want {
			t.Fatalf("Writer writes %s, encoding/json %s", got, want)
		}

		w.Reset()
		w.BeginObject()
		w.Key(s)
		w.String(s)
		w.EndObject()
		want := validUTF8(s)

		r := codec.NewReader(w.Bytes())
		var key, val string
		if r.BeginObject() {
			for r.More() {
				key = string(r.Key())
				val = r.String()
			}
		}
		if err := r.End(); err != nil {
			t.Fatalf("reading %s: %v", w.Bytes(), err)
		}
		if key != want || val != want {
			t.Fatalf("read back key %q, value %q; want %q", key, val, want)
		}

		var std map[string]string
		if err := json.Unmarshal(w.Bytes(), &std); err != nil || len(std) != 1 || std[want] != want {
			t.Fatalf("encoding/json reads %q, %v", std, err)
		}
	})
}
