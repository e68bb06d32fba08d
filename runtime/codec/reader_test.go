package codec_test

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/skalds-go/skalds/runtime/codec"
)

// readV decodes {"v": <value>} and reads the value with read, the way a
// generated decoder reads one field. Errors of the value are at $.v.
func readV(value string, read func(r *codec.Reader) any) (any, error) {
	r := codec.NewReader([]byte(`{"v":` + value + `}`))
	var got any
	if r.BeginObject() {
		for r.More() {
			if string(r.Key()) == "v" {
				got = read(r)
			} else {
				r.Unknown()
			}
		}
	}
	return got, r.End()
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

var (
	readString = func(r *codec.Reader) any { return r.String() }
	readBool   = func(r *codec.Reader) any { return r.Bool() }
	readInt    = func(bits int) func(r *codec.Reader) any {
		return func(r *codec.Reader) any { return r.Int(bits) }
	}
	readUint = func(bits int) func(r *codec.Reader) any {
		return func(r *codec.Reader) any { return r.Uint(bits) }
	}
	readFloat = func(bits int) func(r *codec.Reader) any {
		return func(r *codec.Reader) any { return r.Float(bits) }
	}
	readNull     = func(r *codec.Reader) any { return r.Null() }
	readRaw      = func(r *codec.Reader) any { return string(r.Raw()) }
	readTime     = func(r *codec.Reader) any { return r.Time() }
	readDuration = func(r *codec.Reader) any { return r.Duration() }
	// readNullOrInt is how generated code reads a *int.
	readNullOrInt = func(r *codec.Reader) any {
		if r.Null() {
			return nil
		}
		return r.Int(0)
	}
)

func TestScalars(t *testing.T) {
	tm := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		name  string
		value string
		read  func(r *codec.Reader) any
		want  any
		err   string
	}{
		// Strings.
		{"string", `"abc"`, readString, "abc", ""},
		{"string empty", `""`, readString, "", ""},
		{"string escapes", `"a\"b\\c\/d\b\f\n\r\t"`, readString, "a\"b\\c/d\b\f\n\r\t", ""},
		{"string unicode escapes", `"\u00e9\u00E9 \ud83d\ude00 \u2028"`, readString, "éé 😀 \u2028", ""},
		{"string raw utf8", `"héllo 世界 😀"`, readString, "héllo 世界 😀", ""},
		{"string from number", `12`, readString, "", "$.v: expected string, got number"},
		{"string from null", `null`, readString, "", "$.v: expected string, got null"},
		{"string from object", `{"x":[1,{"y":2}]}`, readString, "", "$.v: expected string, got object"},
		{"string from array", `[1,2]`, readString, "", "$.v: expected string, got array"},
		{"string from bool", `true`, readString, "", "$.v: expected string, got boolean"},

		// Booleans.
		{"bool true", `true`, readBool, true, ""},
		{"bool false", `false`, readBool, false, ""},
		{"bool from string", `"x"`, readBool, false, "$.v: expected boolean, got string"},
		{"bool from number", `1`, readBool, false, "$.v: expected boolean, got number"},

		// Signed integers.
		{"int", `42`, readInt(0), int64(42), ""},
		{"int negative", `-7`, readInt(0), int64(-7), ""},
		{"int zero", `0`, readInt(0), int64(0), ""},
		{"int negative zero", `-0`, readInt(0), int64(0), ""},
		{"int exponent", `1e3`, readInt(0), int64(1000), ""},
		{"int fraction exponent", `2.50e1`, readInt(0), int64(25), ""},
		{"int negative exponent", `100e-2`, readInt(0), int64(1), ""},
		{"int zero fraction", `7.000`, readInt(0), int64(7), ""},
		{"int zero with exponent", `0.0e-9`, readInt(0), int64(0), ""},
		{"int fraction", `1.5`, readInt(0), int64(0), "$.v: 1.5 is not an integer"},
		{"int fraction exponent rest", `1.25e1`, readInt(0), int64(0), "$.v: 1.25e1 is not an integer"},
		{"int small exponent", `1e-1`, readInt(0), int64(0), "$.v: 1e-1 is not an integer"},
		{"int from string", `"1"`, readInt(0), int64(0), "$.v: expected integer, got string"},
		{"int from bool", `false`, readInt(0), int64(0), "$.v: expected integer, got boolean"},
		{"int from null", `null`, readInt(0), int64(0), "$.v: expected integer, got null"},
		{"int8 max", `127`, readInt(8), int64(127), ""},
		{"int8 min", `-128`, readInt(8), int64(-128), ""},
		{"int8 over", `300`, readInt(8), int64(0), "$.v: 300 is out of range for int8 (-128 to 127)"},
		{"int8 under", `-129`, readInt(8), int64(0), "$.v: -129 is out of range for int8 (-128 to 127)"},
		{"int16 over", `32768`, readInt(16), int64(0), "$.v: 32768 is out of range for int16 (-32768 to 32767)"},
		{"int32 min", `-2147483648`, readInt(32), int64(math.MinInt32), ""},
		{"int32 over", `2147483648`, readInt(32), int64(0), "$.v: 2147483648 is out of range for int32 (-2147483648 to 2147483647)"},
		{"int64 max", `9223372036854775807`, readInt(64), int64(math.MaxInt64), ""},
		{"int64 min", `-9223372036854775808`, readInt(64), int64(math.MinInt64), ""},
		{"int64 over", `9223372036854775808`, readInt(64), int64(0), "$.v: 9223372036854775808 is out of range for int64 (-9223372036854775808 to 9223372036854775807)"},
		{"int64 way over", `18446744073709551616`, readInt(64), int64(0), "$.v: 18446744073709551616 is out of range for int64 (-9223372036854775808 to 9223372036854775807)"},
		{"int huge exponent", `1e400`, readInt(0), int64(0), "$.v: 1e400 is out of range for int (-9223372036854775808 to 9223372036854775807)"},
		{"int exponent at max", `9.223372036854775807e18`, readInt(64), int64(math.MaxInt64), ""},
		{"int long token clipped", `1` + strings.Repeat("0", 50), readInt(64), int64(0), "$.v: 1" + strings.Repeat("0", 39) + "... is out of range for int64 (-9223372036854775808 to 9223372036854775807)"},

		// Unsigned integers.
		{"uint", `42`, readUint(0), uint64(42), ""},
		{"uint8 max", `255`, readUint(8), uint64(255), ""},
		{"uint8 over", `256`, readUint(8), uint64(0), "$.v: 256 is out of range for uint8 (0 to 255)"},
		{"uint8 negative", `-1`, readUint(8), uint64(0), "$.v: -1 is out of range for uint8 (0 to 255)"},
		{"uint negative zero", `-0`, readUint(0), uint64(0), ""},
		{"uint16 over", `65536`, readUint(16), uint64(0), "$.v: 65536 is out of range for uint16 (0 to 65535)"},
		{"uint32 max", `4294967295`, readUint(32), uint64(math.MaxUint32), ""},
		{"uint64 max", `18446744073709551615`, readUint(64), uint64(math.MaxUint64), ""},
		{"uint64 over", `18446744073709551616`, readUint(64), uint64(0), "$.v: 18446744073709551616 is out of range for uint64 (0 to 18446744073709551615)"},
		{"uint fraction", `-1.5`, readUint(0), uint64(0), "$.v: -1.5 is not an integer"},
		{"uint from string", `"7"`, readUint(0), uint64(0), "$.v: expected integer, got string"},

		// Floats.
		{"float", `1.5`, readFloat(64), 1.5, ""},
		{"float integer", `-3`, readFloat(64), -3.0, ""},
		{"float exponent", `-2.5e-3`, readFloat(64), -2.5e-3, ""},
		{"float max", `1.7976931348623157e308`, readFloat(64), math.MaxFloat64, ""},
		{"float64 over", `1e400`, readFloat(64), 0.0, "$.v: 1e400 is out of range for float64"},
		{"float underflow is zero", `1e-400`, readFloat(64), 0.0, ""},
		{"float32", `0.1`, readFloat(32), float64(float32(0.1)), ""},
		{"float32 max", `3.4028234663852886e38`, readFloat(32), float64(math.MaxFloat32), ""},
		{"float32 over", `1e39`, readFloat(32), 0.0, "$.v: 1e39 is out of range for float32"},
		{"float from string", `"1.5"`, readFloat(64), 0.0, "$.v: expected number, got string"},

		// Null, for pointers, slices and maps.
		{"null", `null`, readNull, true, ""},
		{"pointer null", `null`, readNullOrInt, nil, ""},
		{"pointer value", `5`, readNullOrInt, int64(5), ""},

		// Raw.
		{"raw object", `{"a": [1, 2.5, "x", null, true]}`, readRaw, `{"a": [1, 2.5, "x", null, true]}`, ""},
		{"raw string", `"a\nb"`, readRaw, `"a\nb"`, ""},
		{"raw number", `-1.5e3`, readRaw, `-1.5e3`, ""},

		// Times.
		{"time utc", `"2024-01-02T03:04:05Z"`, readTime, tm("2024-01-02T03:04:05Z"), ""},
		{"time offset nanos", `"2024-01-02T03:04:05.123456789+02:00"`, readTime, tm("2024-01-02T03:04:05.123456789+02:00"), ""},
		{"time not rfc3339", `"yesterday"`, readTime, time.Time{}, `$.v: invalid time "yesterday", want RFC 3339 like "2006-01-02T15:04:05Z"`},
		{"time bad hour", `"2024-01-02T25:04:05Z"`, readTime, time.Time{}, `$.v: invalid time "2024-01-02T25:04:05Z", want RFC 3339 like "2006-01-02T15:04:05Z"`},
		{"time from number", `1700000000`, readTime, time.Time{}, "$.v: expected string, got number"},

		// Durations.
		{"duration string", `"1m30s"`, readDuration, 90 * time.Second, ""},
		{"duration negative", `"-1.5h"`, readDuration, -90 * time.Minute, ""},
		{"duration nanoseconds", `1500`, readDuration, 1500 * time.Nanosecond, ""},
		{"duration bad string", `"soon"`, readDuration, time.Duration(0), `$.v: invalid duration "soon", want a duration like "1m30s"`},
		{"duration fraction", `1.5`, readDuration, time.Duration(0), "$.v: 1.5 is not an integer"},
		{"duration from bool", `true`, readDuration, time.Duration(0), "$.v: expected duration, got boolean"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readV(tt.value, tt.read)
			if g := errString(err); g != tt.err {
				t.Errorf("error\n got %q\nwant %q", g, tt.err)
			}
			if gt, ok := got.(time.Time); ok {
				if wt := tt.want.(time.Time); !gt.Equal(wt) || gt.Format(time.RFC3339Nano) != wt.Format(time.RFC3339Nano) {
					t.Errorf("got %v, want %v", gt, wt)
				}
				return
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestFloatNegativeZero(t *testing.T) {
	got, err := readV(`-0`, readFloat(64))
	if err != nil || !math.Signbit(got.(float64)) {
		t.Fatalf("got %v, %v; want -0", got, err)
	}
}

func TestDecodePaths(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		err  string
	}{
		{"valid", `{"name":"n","a":{"b":[{"c":1}]},"cameras":[{"id":"x","fixFrame":2}],"limit":3,"tags":["a"],"when":"2024-01-02T03:04:05Z"}`, ""},
		{"nested array element", `{"name":"n","a":{"b":[{"c":1},{"c":2},{"c":3},{"c":"x"}]}}`,
			"$.a.b[3].c: expected integer, got string"},
		{"array of strings", `{"name":"n","tags":["a","b",3]}`, "$.tags[2]: expected string, got number"},
		{"unknown", `{"name":"n","extra":{"deep":[1,2,{"x":null}]}}`, "$.extra: unknown field"},
		{"unknown not an identifier", `{"name":"n","a b":1}`, `$["a b"]: unknown field`},
		{"unknown escaped key", `{"name":"n","\u0061 \"b\"":1}`, `$["a \"b\""]: unknown field`},
		{"unknown key with dot", `{"name":"n","x.y":1}`, `$["x.y"]: unknown field`},
		{"unknown nested", `{"name":"n","cameras":[{"id":"a"},{"id":"b","fps":30}]}`, "$.cameras[1].fps: unknown field"},
		{"duplicate same spelling", `{"name":"n","name":"m"}`, "$.name: field given more than once"},
		{"duplicate go spelling", `{"name":"n","Name":"m"}`, "$.Name: field given more than once"},
		{"duplicate nested", `{"name":"n","cameras":[{"id":"a","ID":"b"}]}`, "$.cameras[0].ID: field given more than once"},
		{"missing", `{}`, "$.name: required field missing"},
		{"missing nested", `{"name":"n","cameras":[{"id":"a"},{"fixFrame":1}]}`, "$.cameras[1].id: required field missing"},
		{"missing deeper", `{"name":"n","a":{"b":[{"c":1},{}]}}`, "$.a.b[1].c: required field missing"},
		{"expected object", `{"name":"n","a":[1]}`, "$.a: expected object, got array"},
		{"expected object top level", `[{"name":"n"}]`, "$: expected object, got array"},
		{"expected object in array", `{"name":"n","cameras":[{"id":"a"},"b"]}`, "$.cameras[1]: expected object, got string"},
		{"expected array", `{"name":"n","cameras":{"id":"a"}}`, "$.cameras: expected array, got object"},
		{"null slice", `{"name":"n","cameras":null,"tags":null,"limit":null}`, ""},
		{"null not allowed", `{"name":null}`, "$.name: expected string, got null"},
		{"time in model", `{"name":"n","when":"now"}`, `$.when: invalid time "now", want RFC 3339 like "2006-01-02T15:04:05Z"`},
		{"multiple errors", `{"name":1,"a":{"b":[{"c":1.5},{"c":1,"d":2}]},"cameras":[{"fixFrame":"x"}],"tags":[true],"limit":"3","zzz":0}`,
			"8 errors: $.name: expected string, got number; $.a.b[0].c: 1.5 is not an integer; $.a.b[1].d: unknown field; " +
				"$.cameras[0].fixFrame: expected integer, got string; $.cameras[0].id: required field missing; " +
				"$.tags[0]: expected string, got boolean; $.limit: expected integer, got string; $.zzz: unknown field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m nestedModel
			r := codec.NewReader([]byte(tt.doc))
			decodeNestedModel(r, &m)
			if got := errString(r.End()); got != tt.err {
				t.Errorf("error\n got %q\nwant %q", got, tt.err)
			}
		})
	}
}

func TestDecodeValues(t *testing.T) {
	var m nestedModel
	r := codec.NewReader([]byte(`{
		"name": "n",
		"a": {"b": [{"c": 1}, {"C": 2}]},
		"Cameras": [{"id": "x", "fixFrame": 2}, {"ID": "y"}],
		"limit": 3,
		"tags": ["a", "b\u00e9"],
		"when": "2024-01-02T03:04:05Z"
	}`))
	decodeNestedModel(r, &m)
	if err := r.End(); err != nil {
		t.Fatal(err)
	}
	limit := 3
	want := nestedModel{
		Name:    "n",
		A:       nestedA{B: []nestedB{{C: 1}, {C: 2}}},
		Cameras: []camera{{ID: "x", FixFrame: 2}, {ID: "y", FixFrame: 0}},
		Limit:   &limit,
		Tags:    []string{"a", "bé"},
		When:    time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC),
	}
	if !reflect.DeepEqual(m, want) {
		t.Fatalf("got %+v\nwant %+v", m, want)
	}
}

func TestDuplicateKeepsFirst(t *testing.T) {
	m, err := DecodeSimpleModel([]byte(`{"rtspUrl":"rtsp://a/1","RTSPURL":{"x":[1]},"fixFrame":5}`))
	if got, want := errString(err), "$.RTSPURL: field given more than once"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	if m.RTSPURL != "rtsp://a/1" || m.FixFrame != 5 {
		t.Fatalf("got %+v", m)
	}
}

func TestGeneratedShape(t *testing.T) {
	tests := []struct {
		doc  string
		want simpleModel
		err  string
	}{
		{`{"rtspUrl":"rtsp://cam/1","fixFrame":10}`, simpleModel{RTSPURL: "rtsp://cam/1", FixFrame: 10}, ""},
		{`{"RTSPURL":"rtsp://cam/1","FixFrame":10}`, simpleModel{RTSPURL: "rtsp://cam/1", FixFrame: 10}, ""},
		{`{"rtspUrl":"rtsp://cam/1","fixFrame":0}`, simpleModel{RTSPURL: "rtsp://cam/1", FixFrame: 0}, "$.fixFrame: is required"},
		{`{"rtspUrl":"rtsp://cam/1","fixFrame":1001}`, simpleModel{RTSPURL: "rtsp://cam/1", FixFrame: 1001}, "$.fixFrame: must be at most 1000"},
		{`{"rtspUrl":"not a url","fixFrame":1}`, simpleModel{RTSPURL: "not a url", FixFrame: 1}, "$.rtspUrl: must be a valid URL"},
		{`{"fixFrame":"1"}`, simpleModel{}, "2 errors: $.fixFrame: expected integer, got string; $.rtspUrl: required field missing"},
	}
	for _, tt := range tests {
		m, err := DecodeSimpleModel([]byte(tt.doc))
		if got := errString(err); got != tt.err {
			t.Errorf("%s: error\n got %q\nwant %q", tt.doc, got, tt.err)
		}
		if m != tt.want {
			t.Errorf("%s: got %+v, want %+v", tt.doc, m, tt.want)
		}
	}
}

func TestErrorCap(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"name":"n"`)
	for i := 0; i < 30; i++ {
		b.WriteString(`,"x`)
		b.WriteByte(byte('a' + i%26))
		b.WriteString(`":1`)
	}
	b.WriteString(`,"tail":[}`) // a syntax error after the cap is not reported
	var m nestedModel
	r := codec.NewReader([]byte(b.String()))
	decodeNestedModel(r, &m)
	err := r.End()
	var errs codec.Errors
	if !errors.As(err, &errs) {
		t.Fatalf("got %T, want codec.Errors", err)
	}
	if len(errs) != 21 {
		t.Fatalf("got %d errors, want 21: %v", len(errs), err)
	}
	if got := errs[0].Error(); got != "$.xa: unknown field" {
		t.Errorf("first error %q", got)
	}
	if got := errs[20].Error(); got != "$: too many errors, stopped after 20" {
		t.Errorf("last error %q", got)
	}
	if !strings.HasPrefix(err.Error(), "21 errors: $.xa: unknown field; $.xb: unknown field; ") {
		t.Errorf("message %q", err)
	}
}

func TestSyntaxErrors(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		err  string
	}{
		{"empty", ``, "$: invalid JSON at offset 0: unexpected end of input"},
		{"whitespace only", " \n\t", "$: invalid JSON at offset 3: unexpected end of input"},
		{"bad start", `x`, "$: invalid JSON at offset 0: invalid character 'x' looking for beginning of value"},
		{"eof in object", `{"name":"n"`, "$: invalid JSON at offset 11: unexpected end of input"},
		{"eof after key", `{"name"`, "$.name: invalid JSON at offset 7: unexpected end of input"},
		{"eof after colon", `{"name":`, "$.name: invalid JSON at offset 8: unexpected end of input"},
		{"trailing comma object", `{"name":"n",}`, "$: invalid JSON at offset 12: trailing comma before '}'"},
		{"trailing comma array", `{"name":"n","tags":["a",]}`, "$.tags: invalid JSON at offset 24: trailing comma before ']'"},
		{"trailing comma skipped", `{"name":"n","x":[1,]}`, "2 errors: $.x: unknown field; $.x: invalid JSON at offset 19: trailing comma before ']'"},
		{"missing comma", `{"name":"n" "a":{}}`, "$: invalid JSON at offset 12: invalid character '\"' after object key:value pair"},
		{"missing comma array", `{"name":"n","tags":["a" "b"]}`, "$.tags: invalid JSON at offset 24: invalid character '\"' after array element"},
		{"missing colon", `{"name" "n"}`, "$.name: invalid JSON at offset 8: invalid character '\"' after object key"},
		{"unquoted key", `{name:"n"}`, "$: invalid JSON at offset 1: invalid character 'n' looking for beginning of object key string"},
		{"single quotes", `{"name":'n'}`, "$.name: invalid JSON at offset 8: invalid character '\\'' looking for beginning of value"},
		{"bad literal", `{"name":"n","limit":nul}`, "$.limit: invalid JSON at offset 23: invalid character '}' in literal null"},
		{"bad literal eof", `{"name":"n","x":tr`, "2 errors: $.x: unknown field; $.x: invalid JSON at offset 18: unexpected end of input"},
		{"leading zero", `{"name":"n","limit":01}`, "$: invalid JSON at offset 21: invalid character '1' after object key:value pair"},
		{"bad number", `{"name":"n","limit":-}`, "$.limit: invalid JSON at offset 21: invalid character '}' in numeric literal"},
		{"bad fraction", `{"name":"n","limit":1.}`, "$.limit: invalid JSON at offset 22: invalid character '}' in numeric literal"},
		{"bad exponent", `{"name":"n","limit":1e+}`, "$.limit: invalid JSON at offset 23: invalid character '}' in numeric literal"},
		{"plus sign", `{"name":"n","limit":+1}`, "$.limit: invalid JSON at offset 20: invalid character '+' looking for beginning of value"},
		{"unterminated string", `{"name":"abc`, "$.name: invalid JSON at offset 8: unterminated string"},
		{"unterminated key", `{"na`, "$: invalid JSON at offset 1: unterminated string"},
		{"bad escape", `{"name":"a\qb"}`, `$.name: invalid JSON at offset 10: invalid escape "\\q" in string`},
		{"short unicode escape", `{"name":"a\u12"}`, `$.name: invalid JSON at offset 10: invalid \u escape in string`},
		{"lone high surrogate", `{"name":"\ud800x"}`, `$.name: invalid JSON at offset 9: unpaired surrogate in \u escape`},
		{"lone low surrogate", `{"name":"\udc00"}`, `$.name: invalid JSON at offset 9: unpaired surrogate in \u escape`},
		{"high surrogate pair wrong", `{"name":"\ud800\u0041"}`, `$.name: invalid JSON at offset 9: unpaired surrogate in \u escape`},
		{"invalid utf8", "{\"name\":\"a\xffb\"}", "$.name: invalid JSON at offset 10: invalid UTF-8 in string"},
		{"utf8 surrogate bytes", "{\"name\":\"\xed\xa0\x80\"}", "$.name: invalid JSON at offset 9: invalid UTF-8 in string"},
		{"invalid utf8 in skipped value", "{\"name\":\"n\",\"x\":[\"\xc3\"]}", "2 errors: $.x: unknown field; $.x: invalid JSON at offset 18: invalid UTF-8 in string"},
		{"control character", "{\"name\":\"a\nb\"}", `$.name: invalid JSON at offset 10: invalid control character '\n' in string`},
		{"trailing data", `{"name":"n"} x`, "$: invalid JSON at offset 13: invalid character 'x' after top-level value"},
		{"second value", `{"name":"n"}{}`, "$: invalid JSON at offset 12: invalid character '{' after top-level value"},
		{"trailing whitespace ok", "{\"name\":\"n\"} \r\n\t", ""},
		{"errors before syntax error kept", `{"name":1,"limit":"x","tags": }`,
			"3 errors: $.name: expected string, got number; $.limit: expected integer, got string; $.tags: invalid JSON at offset 30: invalid character '}' looking for beginning of value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m nestedModel
			r := codec.NewReader([]byte(tt.doc))
			decodeNestedModel(r, &m)
			if got := errString(r.End()); got != tt.err {
				t.Errorf("error\n got %q\nwant %q", got, tt.err)
			}
		})
	}
}

func TestAfterSyntaxErrorEverythingStops(t *testing.T) {
	r := codec.NewReader([]byte(`{"a":}`))
	if !r.BeginObject() || !r.More() || string(r.Key()) != "a" {
		t.Fatal("bad start")
	}
	if r.Int(0) != 0 {
		t.Fatal("want 0")
	}
	if r.More() || r.BeginObject() || r.BeginArray() || r.Key() != nil || r.Null() ||
		r.String() != "" || r.Bool() || r.Uint(0) != 0 || r.Float(64) != 0 || r.Raw() != nil ||
		!r.Time().IsZero() || r.Duration() != 0 || !r.Seen(new(bool)) {
		t.Fatal("a call after a syntax error returned a value")
	}
	r.Unknown()
	r.Missing("x")
	r.Errorf("custom")
	if got, want := errString(r.End()), "$.a: invalid JSON at offset 5: invalid character '}' looking for beginning of value"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestErrorf(t *testing.T) {
	r := codec.NewReader([]byte(`{"cameras":[{"fixFrame":-3}]}`))
	r.BeginObject()
	for r.More() {
		r.Key()
		r.BeginArray()
		for r.More() {
			r.BeginObject()
			for r.More() {
				r.Key()
				if v := r.Int(0); v < 0 {
					r.Errorf("must not be negative, got %d", v)
				}
			}
		}
	}
	if got, want := errString(r.End()), "$.cameras[0].fixFrame: must not be negative, got -3"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestDeepNesting(t *testing.T) {
	nest := func(n int) string {
		return strings.Repeat("[", n) + strings.Repeat("]", n)
	}
	tests := []struct {
		name string
		doc  string
		err  string
	}{
		// The object is level 1, so 999 arrays inside reach the limit.
		{"skip at limit", `{"name":"n","x":` + nest(999) + `}`, "$.x: unknown field"},
		{"skip beyond limit", `{"name":"n","x":` + nest(1000) + `}`,
			"2 errors: $.x: unknown field; $.x: invalid JSON at offset 1015: exceeds the maximum nesting depth of 1000"},
		{"skip far beyond limit", `{"name":"n","x":` + nest(1_000_000) + `}`,
			"2 errors: $.x: unknown field; $.x: invalid JSON at offset 1015: exceeds the maximum nesting depth of 1000"},
		{"mismatch skip beyond limit", `{"name":` + strings.Repeat(`{"a":`, 1000) + `}`,
			"2 errors: $.name: expected string, got object; $.name: invalid JSON at offset 5003: exceeds the maximum nesting depth of 1000"},
		{"unclosed", `{"name":"n","x":` + strings.Repeat("[", 10), "2 errors: $.x: unknown field; $.x: invalid JSON at offset 26: unexpected end of input"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m nestedModel
			r := codec.NewReader([]byte(tt.doc))
			decodeNestedModel(r, &m)
			if got := errString(r.End()); got != tt.err {
				t.Errorf("error\n got %q\nwant %q", got, tt.err)
			}
		})
	}
}

func TestDeepDecoder(t *testing.T) {
	doc := func(n int, leaf string) []byte {
		return []byte(strings.Repeat(`{"child":`, n) + `{"v":` + leaf + `}` + strings.Repeat("}", n))
	}
	// Deeper than the Reader's inline frames.
	var m node
	r := codec.NewReader(doc(20, `"x"`))
	decodeNode(r, &m)
	want := "$" + strings.Repeat(".child", 20) + ".v: expected integer, got string"
	if got := errString(r.End()); got != want {
		t.Fatalf("got %q\nwant %q", got, want)
	}
	r.Reset(doc(30, `7`))
	m = node{}
	decodeNode(r, &m)
	if err := r.End(); err != nil {
		t.Fatal(err)
	}
	n, depth := &m, 0
	for n.Child != nil {
		n, depth = n.Child, depth+1
	}
	if depth != 30 || n.V != 7 {
		t.Fatalf("depth %d, leaf %d", depth, n.V)
	}
	// 1000 levels decode; one more is rejected.
	r.Reset(doc(999, `1`))
	decodeNode(r, new(node))
	if err := r.End(); err != nil {
		t.Fatal(err)
	}
	r.Reset(doc(1000, `1`))
	decodeNode(r, new(node))
	// The path is too long to quote whole: its start and its end remain.
	path := "$" + strings.Repeat(".child", 1000)
	want = path[:128] + "..." + path[len(path)-384:] + ": invalid JSON at offset 9000: exceeds the maximum nesting depth of 1000"
	if got := errString(r.End()); got != want {
		t.Fatalf("got %.80q...\nwant %.80q...", got, want)
	}
}

func TestKeyBuffer(t *testing.T) {
	r := codec.NewReader([]byte(`{"plain":1,"esc\u0061ped":2,"\u00e9":3}`))
	var keys []string
	r.BeginObject()
	for r.More() {
		keys = append(keys, string(r.Key()))
		r.Int(0)
	}
	if err := r.End(); err != nil {
		t.Fatal(err)
	}
	if want := []string{"plain", "escaped", "é"}; !reflect.DeepEqual(keys, want) {
		t.Fatalf("got %q, want %q", keys, want)
	}
}

func TestTopLevelScalars(t *testing.T) {
	r := codec.NewReader([]byte(` "x" `))
	if got := r.String(); got != "x" {
		t.Fatalf("got %q", got)
	}
	if err := r.End(); err != nil {
		t.Fatal(err)
	}
	r.Reset([]byte(`12x`))
	r.Int(0)
	if got, want := errString(r.End()), "$: invalid JSON at offset 2: invalid character 'x' after top-level value"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	r.Reset([]byte(`[1,2,"3"]`))
	var got []int64
	if r.BeginArray() {
		for r.More() {
			got = append(got, r.Int(0))
		}
	}
	if got, want := errString(r.End()), "$[2]: expected integer, got string"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	if !reflect.DeepEqual(got, []int64{1, 2, 0}) {
		t.Fatalf("got %v", got)
	}
}

func TestResetKeepsReturnedErrors(t *testing.T) {
	r := codec.NewReader([]byte(`{"a":1}`))
	decodeSimpleModel(r, new(simpleModel))
	err := r.End()
	r.Reset([]byte(`{"b":1}`))
	decodeSimpleModel(r, new(simpleModel))
	_ = r.End()
	if got, want := errString(err), "3 errors: $.a: unknown field; $.rtspUrl: required field missing; $.fixFrame: required field missing"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestErrorsFormatting(t *testing.T) {
	one := codec.Errors{{Path: "$.a", Msg: "x"}}
	if got := one.Error(); got != "$.a: x" {
		t.Errorf("got %q", got)
	}
	three := codec.Errors{{Path: "$.a", Msg: "x"}, {Path: "$.b[1]", Msg: "y"}, {Path: "$", Msg: "z"}}
	if got := three.Error(); got != "3 errors: $.a: x; $.b[1]: y; $: z" {
		t.Errorf("got %q", got)
	}
	var fe *codec.FieldError
	if !errors.As(error(three), &fe) || fe.Path != "$.a" {
		t.Errorf("errors.As: %v", fe)
	}
}

// TestErrorTextsBounded: keys and values from the sender are quoted in
// errors only in part, however long they are, so that a hostile document
// cannot turn into a huge log line or stored rejection.
func TestErrorTextsBounded(t *testing.T) {
	long := strings.Repeat("é", 5<<20) // 10 MB, two bytes a rune
	tests := []struct {
		name, doc, prefix string
	}{
		{"unknown key", `{"rtspUrl":"rtsp://a/b","fixFrame":1,"` + long + `":1}`, `$["éé`},
		{"key of a wrong value", `{"n":{"` + long + `":{"v":"x"}}}`, `$.n["éé`},
		{"time value", `{"t":"` + long + `"}`, `$.t: invalid time "éé`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			switch tt.name {
			case "unknown key":
				_, err = DecodeSimpleModel([]byte(tt.doc))
			case "key of a wrong value":
				r := codec.NewReader([]byte(tt.doc))
				if r.BeginObject() && r.More() && string(r.Key()) == "n" && r.BeginObject() {
					for r.More() {
						r.Key()
						var m node
						decodeNode(r, &m)
					}
				}
				for r.More() {
				}
				err = r.End()
			default:
				r := codec.NewReader([]byte(tt.doc))
				if r.BeginObject() && r.More() && string(r.Key()) == "t" {
					r.Time()
				}
				for r.More() {
				}
				err = r.End()
			}
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			if len(msg) > 1024 {
				t.Errorf("error is %d bytes long, want at most 1 KB: %.200q", len(msg), msg)
			}
			if !strings.HasPrefix(msg, tt.prefix) || !strings.Contains(msg, "...") || !utf8.ValidString(msg) {
				t.Errorf("error %.200q does not start with %q, or is not cut with \"...\" at a rune boundary", msg, tt.prefix)
			}
		})
	}
}
