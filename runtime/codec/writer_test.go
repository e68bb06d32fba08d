package codec_test

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/skalds-go/skalds/runtime/codec"
)

// stdString is what encoding/json writes for s without HTML escaping.
func stdString(t testing.TB, s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// validUTF8 replaces each invalid byte with U+FFFD, as encoding/json does.
func validUTF8(s string) string {
	var b strings.Builder
	for _, r := range s {
		b.WriteRune(r)
	}
	return b.String()
}

var testStrings = []string{
	"",
	"plain",
	`quote " backslash \ slash /`,
	"\b\f\n\r\t",
	"\x00\x01\x1f\x7f",
	"<html> & 'apos'",
	"é 世界 😀",
	"\u2028 line \u2029 para",
	"\ufffd",
	"bad \xff byte",
	"cut \xe4\xb8",
	"surrogate bytes \xed\xa0\x80",
}

func TestWriterStrings(t *testing.T) {
	for _, s := range testStrings {
		var w codec.Writer
		w.String(s)
		got := string(w.Bytes())
		if want := stdString(t, s); got != want {
			t.Errorf("String(%q) = %s, encoding/json writes %s", s, got, want)
		}
		r := codec.NewReader(w.Bytes())
		back := r.String()
		if err := r.End(); err != nil {
			t.Errorf("%q: read back: %v", s, err)
		}
		if want := validUTF8(s); back != want {
			t.Errorf("%q: read back %q, want %q", s, back, want)
		}
	}
}

func TestWriterStructure(t *testing.T) {
	var w codec.Writer
	w.BeginObject()
	w.Key("a")
	w.Int(-1)
	w.Key("b c")
	w.BeginArray()
	w.Uint(2)
	w.Bool(true)
	w.Null()
	w.BeginObject()
	w.EndObject()
	w.BeginArray()
	w.EndArray()
	w.Raw([]byte(`{"x":[1]}`))
	w.Raw(nil)
	w.EndArray()
	w.Key("f")
	w.Float(0.5, 64)
	w.Key("t")
	w.Time(time.Date(2024, 1, 2, 3, 4, 5, 600, time.UTC))
	w.Key("d")
	w.Duration(90 * time.Second)
	w.Key("k\"")
	w.String("v")
	w.EndObject()
	want := `{"a":-1,"b c":[2,true,null,{},[],{"x":[1]},null],"f":0.5,"t":"2024-01-02T03:04:05.0000006Z","d":"1m30s","k\"":"v"}`
	if got := string(w.Bytes()); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if !json.Valid(w.Bytes()) {
		t.Fatal("not valid JSON")
	}
	w.Reset()
	w.BeginArray()
	w.Int(1)
	w.EndArray()
	if got := string(w.Bytes()); got != "[1]" {
		t.Fatalf("after Reset: %s", got)
	}
}

func TestWriterFloats(t *testing.T) {
	f64 := []float64{0, math.Copysign(0, -1), 1, -1, 0.1, 1.5, 1e-6, 9.99e-7, 1e20, 1e21, 123456789.125,
		math.MaxFloat64, -math.MaxFloat64, math.SmallestNonzeroFloat64, 5e-324, 1.7976931348623157e308, 3.0000000000000004,
		1e-7, 2.5e-10, 12345678901234567890}
	for _, f := range f64 {
		var w codec.Writer
		w.Float(f, 64)
		want, _ := json.Marshal(f)
		if got := string(w.Bytes()); got != string(want) {
			t.Errorf("Float(%v, 64) = %s, encoding/json writes %s", f, got, want)
		}
		r := codec.NewReader(w.Bytes())
		back := r.Float(64)
		if err := r.End(); err != nil || back != f || math.Signbit(back) != math.Signbit(f) {
			t.Errorf("%v: read back %v, %v", f, back, err)
		}
		var std float64
		if err := json.Unmarshal(w.Bytes(), &std); err != nil || std != f {
			t.Errorf("%v: encoding/json reads %v, %v", f, std, err)
		}
	}
	f32 := []float32{0, 0.1, 1.5, -2.75, 1e-6, 9.99e-7, 1e20, 1e21, math.MaxFloat32, math.SmallestNonzeroFloat32, 16777217}
	for _, f := range f32 {
		var w codec.Writer
		w.Float(float64(f), 32)
		want, _ := json.Marshal(f)
		if got := string(w.Bytes()); got != string(want) {
			t.Errorf("Float(%v, 32) = %s, encoding/json writes %s", f, got, want)
		}
		r := codec.NewReader(w.Bytes())
		if back := float32(r.Float(32)); back != f || r.End() != nil {
			t.Errorf("%v: read back %v", f, back)
		}
	}
	for _, f := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		var w codec.Writer
		w.BeginArray()
		w.Float(f, 64)
		w.Int(1)
		w.EndArray()
		if got := string(w.Bytes()); got != "[null,1]" {
			t.Errorf("Float(%v) = %s, want null", f, got)
		}
	}
}

func TestWriterIntegers(t *testing.T) {
	ints := []int64{0, -1, 1, math.MaxInt8, math.MinInt8, math.MaxInt32, math.MinInt32, math.MaxInt64, math.MinInt64}
	for _, v := range ints {
		var w codec.Writer
		w.Int(v)
		r := codec.NewReader(w.Bytes())
		if back := r.Int(64); back != v || r.End() != nil {
			t.Errorf("%d: read back %d", v, back)
		}
		var std int64
		if err := json.Unmarshal(w.Bytes(), &std); err != nil || std != v {
			t.Errorf("%d: encoding/json reads %d, %v", v, std, err)
		}
	}
	for _, v := range []uint64{0, math.MaxUint8, math.MaxUint32, math.MaxUint64} {
		var w codec.Writer
		w.Uint(v)
		r := codec.NewReader(w.Bytes())
		if back := r.Uint(64); back != v || r.End() != nil {
			t.Errorf("%d: read back %d", v, back)
		}
	}
}

func TestWriterTimes(t *testing.T) {
	times := []time.Time{
		time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC),
		time.Date(2024, 1, 2, 3, 4, 5, 123456789, time.UTC),
		time.Date(1999, 12, 31, 23, 59, 59, 1000, time.FixedZone("", -7*3600-30*60)),
		time.Date(2024, 6, 1, 12, 0, 0, 0, time.FixedZone("", 5*3600)),
	}
	for _, tm := range times {
		var w codec.Writer
		w.Time(tm)
		want, _ := json.Marshal(tm)
		if got := string(w.Bytes()); got != string(want) {
			t.Errorf("Time(%v) = %s, encoding/json writes %s", tm, got, want)
		}
		r := codec.NewReader(w.Bytes())
		back := r.Time()
		if err := r.End(); err != nil || !back.Equal(tm) {
			t.Errorf("%v: read back %v, %v", tm, back, err)
		}
		_, off1 := back.Zone()
		_, off2 := tm.Zone()
		if off1 != off2 {
			t.Errorf("%v: offset %d, want %d", tm, off1, off2)
		}
		var std time.Time
		if err := json.Unmarshal(w.Bytes(), &std); err != nil || !std.Equal(tm) {
			t.Errorf("%v: encoding/json reads %v, %v", tm, std, err)
		}
	}
}

func TestWriterDurations(t *testing.T) {
	for _, d := range []time.Duration{0, 1, -1, 90 * time.Second, 1500 * time.Millisecond, 36*time.Hour + 1, math.MaxInt64, math.MinInt64} {
		var w codec.Writer
		w.Duration(d)
		if got, want := string(w.Bytes()), `"`+d.String()+`"`; got != want {
			t.Errorf("Duration(%v) = %s, want %s", d, got, want)
		}
		r := codec.NewReader(w.Bytes())
		if back := r.Duration(); back != d || r.End() != nil {
			t.Errorf("%v: read back %v", d, back)
		}
	}
}

func TestWriterRoundTripModel(t *testing.T) {
	limit := 7
	in := nestedModel{
		Name:    "cam \"1\"\n",
		A:       nestedA{B: []nestedB{{C: 1}, {C: -2}}},
		Cameras: []camera{{ID: "x", FixFrame: 2}},
		Limit:   &limit,
		Tags:    []string{"é", "\u2028"},
		When:    time.Date(2024, 1, 2, 3, 4, 5, 6, time.UTC),
	}
	var w codec.Writer
	encodeNestedModel(&w, &in)
	var out nestedModel
	r := codec.NewReader(w.Bytes())
	decodeNestedModel(r, &out)
	if err := r.End(); err != nil {
		t.Fatal(err)
	}
	if out.Name != in.Name || *out.Limit != 7 || out.Tags[1] != "\u2028" || !out.When.Equal(in.When) || out.A.B[1].C != -2 {
		t.Fatalf("got %+v", out)
	}
	var std nestedModel
	if err := json.Unmarshal(w.Bytes(), &std); err != nil {
		t.Fatal(err)
	}
	stdOut, _ := json.Marshal(std)
	inOut, _ := json.Marshal(in)
	if !bytes.Equal(stdOut, inOut) {
		t.Fatalf("encoding/json reads\n%s\nwant\n%s", stdOut, inOut)
	}
}

func encodeNestedModel(w *codec.Writer, m *nestedModel) {
	w.BeginObject()
	w.Key("name")
	w.String(m.Name)
	w.Key("a")
	w.BeginObject()
	w.Key("b")
	if m.A.B == nil {
		w.Null()
	} else {
		w.BeginArray()
		for i := range m.A.B {
			w.BeginObject()
			w.Key("c")
			w.Int(int64(m.A.B[i].C))
			w.EndObject()
		}
		w.EndArray()
	}
	w.EndObject()
	w.Key("cameras")
	if m.Cameras == nil {
		w.Null()
	} else {
		w.BeginArray()
		for i := range m.Cameras {
			w.BeginObject()
			w.Key("id")
			w.String(m.Cameras[i].ID)
			w.Key("fixFrame")
			w.Int(int64(m.Cameras[i].FixFrame))
			w.EndObject()
		}
		w.EndArray()
	}
	w.Key("limit")
	if m.Limit == nil {
		w.Null()
	} else {
		w.Int(int64(*m.Limit))
	}
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
	w.Key("when")
	w.Time(m.When)
	w.EndObject()
}

func TestEncodeSimpleModel(t *testing.T) {
	var w codec.Writer
	encodeSimpleModel(&w, &simpleModel{RTSPURL: "rtsp://cam/1", FixFrame: 3})
	want, _ := json.Marshal(simpleModel{RTSPURL: "rtsp://cam/1", FixFrame: 3})
	if !bytes.Equal(w.Bytes(), want) {
		t.Fatalf("got %s, want %s", w.Bytes(), want)
	}
}
