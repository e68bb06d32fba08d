package gentest_test

import (
	"context"
	"encoding/json"
	"errors"
	"github.com/skalds-go/skalds/internal/erased"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/skalds-go/skalds/internal/gen/gentest"
	"github.com/skalds-go/skalds/runtime/codec"
)

// valid is a minimal correct document; cases splice their changes into it.
const valid = `{"name":"p","mode":"fast","cameras":[{"id":"a","fixFrame":1}],"weights":[1,2,3]}`

// fieldErrors decodes doc and returns its errors as "path: msg" lines.
func fieldErrors(t *testing.T, doc string) []string {
	t.Helper()
	_, err := gentest.DecodePipeline([]byte(doc))
	if err == nil {
		t.Fatalf("decode of %s succeeded, want an error", doc)
	}
	var errs codec.Errors
	if !errors.As(err, &errs) {
		t.Fatalf("decode error %v is %T, want codec.Errors", err, err)
	}
	var out []string
	for _, fe := range errs {
		out = append(out, fe.Error())
	}
	return out
}

// wantErrors checks the errors of doc, each against the start of the
// corresponding want: the path matters here, the codec's wording less.
func wantErrors(t *testing.T, doc string, want ...string) {
	t.Helper()
	got := fieldErrors(t, doc)
	ok := len(got) == len(want)
	for i := 0; ok && i < len(got); i++ {
		ok = strings.HasPrefix(got[i], want[i])
	}
	if !ok {
		t.Errorf("errors of %s:\n got %q\nwant %q", doc, got, want)
	}
}

func TestDecodeValid(t *testing.T) {
	m, err := gentest.DecodePipeline([]byte(valid))
	if err != nil {
		t.Fatal(err)
	}
	want := gentest.Pipeline{Name: "p", Mode: gentest.ModeFast, Cameras: []gentest.Camera{{ID: "a", FixFrame: 1}}, Weights: [3]float64{1, 2, 3}}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("got %+v, want %+v", m, want)
	}
}

func TestDecodeAcceptsGoNames(t *testing.T) {
	doc := `{"Name":"p","Mode":"slow","Cameras":[{"ID":"a","FixFrame":2,"Region":{"X":1,"Y":2,"W":3,"H":4}}],
		"Weights":[1,2,3],"Limits":{"fast":{"Max":5,"Window":"1m"}},"Enabled":true,"Timeout":"1s"}`
	m, err := gentest.DecodePipeline([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if m.Name != "p" || m.Mode != gentest.ModeSlow || m.Cameras[0].FixFrame != 2 || m.Cameras[0].Region.H != 4 ||
		m.Limits[gentest.ModeFast].Window != time.Minute || !m.Enabled || m.Timeout != time.Second {
		t.Errorf("decoded %+v", m)
	}
}

func TestDecodeUnknownField(t *testing.T) {
	wantErrors(t, `{"name":"p","mode":"fast","cameras":[{"id":"a","fixFrame":1,"fixframe":2}],"weights":[1,2,3],"colour":1}`,
		"$.cameras[0].fixframe: unknown field",
		"$.colour: unknown field")
}

func TestDecodeDuplicateInTwoSpellings(t *testing.T) {
	wantErrors(t, `{"name":"p","Name":"q","mode":"fast","cameras":[{"id":"a","fixFrame":1}],"weights":[1,2,3]}`,
		"$.Name: field given more than once")
}

// TestDecodeDuplicateMapKey: a key given twice inside a map field is an
// error at its path, like a struct member given twice; the first value
// stays, where encoding/json would keep the last one silently.
func TestDecodeDuplicateMapKey(t *testing.T) {
	base := `{"name":"p","mode":"fast","cameras":[{"id":"a","fixFrame":1}],"weights":[1,2,3],`
	wantErrors(t, base+`"labels":{"a":"1","b":"2","a":"3"}}`, `$.labels.a: key given more than once`)
	wantErrors(t, base+`"limits":{"fast":{"max":1},"fast":null}}`, `$.limits.fast: key given more than once`)
	// Escapes spell the same key differently; it is still the same key.
	wantErrors(t, base+`"labels":{"a b":"1","a\u0020b":"2"}}`, `$.labels["a b"]: key given more than once`)
}

// TestDecodeAndValidationErrorsTogether: a document with both kinds of
// error reports both, as pydantic does, except validation failures that
// only repeat a decode error: the value there is the decoder's zero value,
// not the sender's.
func TestDecodeAndValidationErrorsTogether(t *testing.T) {
	wantErrors(t, `{"name":"p","mode":"medium","cameras":[{"id":"a","fixFrame":1}],"weights":[1,2,3],"level":300}`,
		"$.level: 300 is out of range for int8",
		"$.mode: must be one of fast, slow")
	// fixFrame fails to decode; its required and gte=1 checks would only
	// repeat that, and are left out. The Go name is reported as the json
	// name, as validation names it.
	wantErrors(t, `{"name":"","mode":"fast","cameras":[{"id":"a","FixFrame":"1"}],"weights":[1,2,3]}`,
		"$.cameras[0].fixFrame: expected integer, got string",
		"$.name: is required")
	// A missing field is reported once, by the decoder.
	wantErrors(t, `{"mode":"fast","cameras":[{"id":"a","fixFrame":1}],"weights":[1,2,3]}`,
		"$.name: required field missing")
	// Malformed JSON: nothing decoded can be trusted, nothing is validated.
	wantErrors(t, `{"name":"","mode":"medium",`,
		"$: invalid JSON at offset 27")
}

func TestDecodeWrongTypeHasPath(t *testing.T) {
	wantErrors(t, `{"name":"p","mode":"fast","cameras":[{"id":"a","fixFrame":1},{"id":"b","fixFrame":"2"}],"weights":[1,2,3],"level":300}`,
		"$.cameras[1].fixFrame: expected integer, got string",
		"$.level: 300 is out of range for int8")
}

func TestDecodeMissingRequired(t *testing.T) {
	wantErrors(t, `{"mode":"fast","cameras":[{"fixFrame":1}]}`,
		"$.cameras[0].id: required field missing",
		"$.name: required field missing")
}

func TestDecodeArrayLength(t *testing.T) {
	base := `{"name":"p","mode":"fast","cameras":[{"id":"a","fixFrame":1}],"weights":`
	wantErrors(t, base+`[1,2]}`, "$.weights: got 2 elements, want 3")
	wantErrors(t, base+`[1,2,3,4]}`, "$.weights: got 4 elements, want 3")
}

func TestDecodeNull(t *testing.T) {
	m, err := gentest.DecodePipeline([]byte(`{"name":"p","mode":"fast","cameras":[{"id":"a","fixFrame":1,"region":null}],
		"weights":[1,2,3],"note":null,"labels":null,"matrix":[null,[1]],"limits":{"slow":null}}`))
	if err != nil {
		t.Fatal(err)
	}
	if m.Note != nil || m.Labels != nil || m.Matrix[0] != nil || m.Matrix[1][0] != 1 || m.Limits[gentest.ModeSlow] != nil {
		t.Errorf("decoded %+v", m)
	}
	// null is a value only where Go has nil.
	wantErrors(t, `{"name":null,"mode":"fast","cameras":[{"id":"a","fixFrame":1}],"weights":[1,2,3]}`,
		"$.name: expected string, got null")
}

func TestDecodeValidates(t *testing.T) {
	_, err := gentest.DecodePipeline([]byte(`{"name":"p","mode":"medium","cameras":[{"id":"a","fixFrame":1}],"weights":[1,2,3]}`))
	if err == nil || !strings.Contains(err.Error(), "$.mode") {
		t.Errorf("got %v, want a validation error at $.mode", err)
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	note := "hello"
	in := gentest.Pipeline{
		Name:    "p",
		Mode:    gentest.ModeSlow,
		Cameras: []gentest.Camera{{ID: "a", FixFrame: 1, Region: &gentest.Region{X: 1, Y: 2, W: 3, H: 4}}, {ID: "b", FixFrame: 7}},
		Labels:  map[string]string{"b": "2", "a": "1"},
		Backup:  &gentest.Camera{ID: "c", FixFrame: 3},
		Start:   time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC),
		Timeout: 90 * time.Second,
		Extra:   json.RawMessage(`{"free":["form"]}`),
		Weights: [3]float64{0.5, -1, 1e300},
		Level:   -7,
		Limits:  map[gentest.Mode]*gentest.Limit{gentest.ModeFast: {Max: 1 << 40, Window: time.Millisecond}, gentest.ModeSlow: nil},
		Matrix:  [][]int32{{1, 2}, nil, {}},
		Note:    &note,
		Ratio:   0.25,
		Count:   65535,
		Big:     1<<64 - 1,
		Enabled: true,
		Skipped: "not written",
	}
	out, err := gentest.DecodePipeline(gentest.EncodePipeline(in))
	if err != nil {
		t.Fatalf("decode of %s: %v", gentest.EncodePipeline(in), err)
	}
	in.Skipped = ""
	if !reflect.DeepEqual(out, in) {
		t.Errorf("round trip changed the model:\n got %+v\nwant %+v", out, in)
	}
}

func TestEncodeIsStableAndUsesJSONNames(t *testing.T) {
	m := gentest.Pipeline{Name: "p", Mode: gentest.ModeFast, Labels: map[string]string{"z": "1", "a": "2"}}
	got := string(gentest.EncodePipeline(m))
	want := `{"name":"p","mode":"fast","cameras":null,"labels":{"a":"2","z":"1"},"start":"0001-01-01T00:00:00Z",` +
		`"timeout":"0s","weights":[0,0,0],"level":0,"limits":null,"matrix":null,"note":null,"ratio":0,"count":0,"big":0,"Enabled":false}`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	// encoding/json reads what the generated encoder writes, durations
	// aside (it wants nanoseconds).
	var std map[string]any
	if err := json.Unmarshal([]byte(got), &std); err != nil {
		t.Fatal(err)
	}
}

func TestClassBindsHooks(t *testing.T) {
	c := gentest.PipelineWorkerClass
	if c.Name != "pipeline.v1" {
		t.Errorf("class name %q, want pipeline.v1", c.Name)
	}
	h := c.New()
	if h.Init == nil || h.Main == nil || h.Update == nil || h.Before != nil || h.After != nil || h.Release != nil {
		t.Errorf("hooks %+v: want init, main and update only", h)
	}
	in, err := erased.Of(c).Start([]byte(valid))
	if err != nil {
		t.Fatal(err)
	}
	if err := in.Main(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := in.Prepare([]byte(`{"name":"p"}`)); err == nil {
		t.Error("Prepare accepted an update without mode and cameras")
	}
}
