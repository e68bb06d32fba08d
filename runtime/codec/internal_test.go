package codec

import (
	"testing"
	"time"
)

// decodeFlat reads an object of numbers and booleans the way generated code
// does; none of its values allocate.
func decodeFlat(data []byte) (sum int64, err error) {
	r := NewReader(data)
	if r.BeginObject() {
		for r.More() {
			switch string(r.Key()) {
			case "a", "b":
				sum += r.Int(0)
			case "c":
				sum += int64(r.Uint(8))
			case "f":
				sum += int64(r.Float(64))
			case "ok":
				if r.Bool() {
					sum++
				}
			case "d":
				sum += int64(r.Duration() / time.Second)
			case "t":
				sum += int64(r.Time().Second())
			case "p":
				if !r.Null() {
					sum += r.Int(32)
				}
			case "list":
				if r.BeginArray() {
					for r.More() {
						if r.BeginObject() {
							for r.More() {
								r.Key()
								sum += r.Int(0)
							}
						}
					}
				}
			default:
				r.Unknown()
			}
		}
	}
	return sum, r.End()
}

func TestReaderAllocations(t *testing.T) {
	data := []byte(`{"a": 1, "b": -2, "c": 200, "f": 2.5e1, "ok": true, "p": null,
		"list": [{"x": 1}, {"y": 2}], "unknownButSkipped": {"deep": [1, "s", {"k": null}]}}`)
	if _, err := decodeFlat(data); err == nil || err.Error() != "$.unknownButSkipped: unknown field" {
		t.Fatalf("unexpected result %v", err)
	}
	data = []byte(`{"a": 1, "b": -2, "c": 200, "f": 2.5e1, "ok": true, "p": null, "list": [{"x": 1}, {"y": 2}],
		"d": "1m30s", "t": "2024-01-02T03:04:05.5Z"}`)
	sum, err := decodeFlat(data)
	if err != nil || sum != 1-2+200+25+1+1+2+90+5 {
		t.Fatalf("got %d, %v", sum, err)
	}
	if n := testing.AllocsPerRun(100, func() { decodeFlat(data) }); n != 0 {
		t.Errorf("decode with a new Reader allocates %v times, want 0", n)
	}

	// Strings allocate once each; escaped keys and values reuse buffers.
	var r Reader
	doc := []byte(`{"k\u0065y": "v\u00e9", "plain": "some text", "n": 12.5}`)
	read := func() {
		r.Reset(doc)
		r.BeginObject()
		for r.More() {
			switch string(r.Key()) {
			case "key", "plain":
				_ = r.String()
			default:
				r.Float(64)
			}
		}
		if err := r.End(); err != nil {
			t.Fatal(err)
		}
	}
	read() // grow the buffers
	if n := testing.AllocsPerRun(100, read); n != 2 {
		t.Errorf("reused Reader allocates %v times for two strings, want 2", n)
	}
}

func TestPathOnlyOnError(t *testing.T) {
	r := NewReader([]byte(`{"a b":{"c":[0,1,{"\"":true}]}}`))
	r.BeginObject()
	r.More()
	r.Key()
	r.BeginObject()
	r.More()
	r.Key()
	r.BeginArray()
	r.More()
	r.Int(0)
	r.More()
	r.Int(0)
	r.More()
	r.BeginObject()
	r.More()
	r.Key()
	if got, want := r.path("", false), `$["a b"].c[2]["\""]`; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	if got, want := r.path("x", true), `$["a b"].c[2]["\""].x`; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

func TestJSONPath(t *testing.T) {
	tests := []struct{ ns, top, want string }{
		{"Model.fixFrame", "Model", "$.fixFrame"},
		{"Model.cameras[2].fixFrame", "Model", "$.cameras[2].fixFrame"},
		{"Model.labels[zone a]", "Model", `$.labels["zone a"]`},
		{"Model.labels[zone]", "Model", `$.labels.zone`},
		{"Model[int].v", "Model[int]", "$.v"},
		{"Model.a[1][2]", "Model", "$.a[1][2]"},
		{"Other.x", "Model", "$.x"},
		{"Model", "Model", "$"},
		{"Model.bad[", "Model", `$.bad[""]`},
	}
	for _, tt := range tests {
		if got := jsonPath(tt.ns, tt.top); got != tt.want {
			t.Errorf("jsonPath(%q, %q) = %s, want %s", tt.ns, tt.top, got, tt.want)
		}
	}
}

func TestIsIdent(t *testing.T) {
	for key, want := range map[string]bool{"a": true, "_a1": true, "rtspUrl": true, "": false, "1a": false, "a b": false, "a-b": false, "é": false, "$": false} {
		if got := isIdent([]byte(key)); got != want {
			t.Errorf("isIdent(%q) = %v", key, got)
		}
	}
}

func TestSpecial8(t *testing.T) {
	plain := func(c byte) bool { return c >= ' ' && c < 0x80 && c != '"' && c != '\\' }
	check := func(b []byte) {
		want := false
		for _, c := range b {
			want = want || !plain(c)
		}
		if got := special8(load8(b, 0)); got != want {
			t.Fatalf("special8(%q) = %v, want %v", b, got, want)
		}
	}
	// Every byte value in every position, with plain and special neighbours.
	for _, fill := range []byte{'a', ' ', 0x7f, 0x1f, '"', 0x80} {
		for pos := 0; pos < 8; pos++ {
			for c := 0; c < 256; c++ {
				b := []byte{fill, fill, fill, fill, fill, fill, fill, fill}
				b[pos] = byte(c)
				check(b)
			}
		}
	}
}

func TestParseDurationMatchesTime(t *testing.T) {
	inputs := []string{
		"0", "-0", "+0", "", "-", "+", "s", ".s", "-.s", "1", "1.", ".5s", "5.s", "1.5h", "-1.5h", "+2m",
		"1h2m3.456789012s", "300ms", "1us", "1µs", "1μs", "1ns", "1ks", "1d", "1h1", "1.2.3s",
		"2562047h47m16.854775807s", "2562047h47m16.854775808s", "-2562047h47m16.854775808s",
		"-2562047h47m16.854775809s", "9223372036854775807ns", "9223372036854775808ns", "-9223372036854775808ns",
		"99999999999999999999ns", "0.1234567890123456789012345h", "1.000000000000000000001s", "3m.5s",
		"1h 2m", "1H", "1e3s", "0.5us", "0.3333333333h",
	}
	for d := time.Duration(1); d > 0 && d < 1<<62; d = d*7 + 3 {
		inputs = append(inputs, d.String(), (-d).String())
	}
	for _, s := range inputs {
		want, err := time.ParseDuration(s)
		got, ok := parseDuration([]byte(s))
		if ok != (err == nil) || got != want {
			t.Errorf("parseDuration(%q) = %v, %v; time.ParseDuration = %v, %v", s, got, ok, want, err)
		}
	}
}

func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"1m30s", "-1.5h", "0", ".5us", "2562047h47m16.854775807s", "1µs"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := time.ParseDuration(s)
		got, ok := parseDuration([]byte(s))
		if ok != (err == nil) || got != want {
			t.Fatalf("parseDuration(%q) = %v, %v; time.ParseDuration = %v, %v", s, got, ok, want, err)
		}
	})
}
