package gentest_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	cschema "github.com/skalds-go/skalds/controller/schema"
	"github.com/skalds-go/skalds/example/worker"
	"github.com/skalds-go/skalds/internal/gen"
	"github.com/skalds-go/skalds/internal/gen/gentest"
	"github.com/skalds-go/skalds/testdata/gen/hooks"
	nested "github.com/skalds-go/skalds/testdata/gen/nested"
)

// The JSON Schema a model publishes must accept exactly the documents its
// generated decoder accepts: the controller refuses attachments by the
// schema, and the node by the decoder. These tests hold the two against
// each other on random documents from both sides: documents built from
// the schema (types, names, bounds, with deliberate faults), and Go values
// of the model written by the generated encoder. The controller's own
// validator judges the schema side.
//
// Left out, because no JSON Schema can say them and the README lists
// them: a key given twice (a JSON parser keeps one), validate tags that
// fall back to validator/v10, bounds on durations written as strings,
// bounds and lengths of json.RawMessage, float32 values that pass a bound
// only after rounding, numbers beyond 1e300, and spellings of the zero
// time other than the canonical one.

// subject is one model under test.
type subject struct {
	name   string
	schema []byte
	decode func([]byte) error
	// fixed holds generators for properties whose values must stay
	// within the exceptions above.
	fixed map[string]func(*rand.Rand) string
}

func decodeErr[M any](decode func([]byte) (M, error)) func([]byte) error {
	return func(b []byte) error { _, err := decode(b); return err }
}

func subjects() []subject {
	durs := func(vals ...string) func(*rand.Rand) string {
		return func(r *rand.Rand) string { return vals[r.IntN(len(vals))] }
	}
	return []subject{
		{name: "example", schema: worker.MySimpleWorkerClass.JSONSchema, decode: decodeErr(worker.DecodeMySimpleDataModel)},
		{name: "pipeline", schema: gentest.PipelineWorkerClass.JSONSchema, decode: decodeErr(gentest.DecodePipeline)},
		{name: "stream", schema: generated("Stream"), decode: decodeErr(gentest.DecodeStream), fixed: map[string]func(*rand.Rand) string{
			"threshold": durs("0", "0.5", "1", "-0.5", "1.5"),
			"interval":  durs(`"1s"`, `"1m"`, `1000000`, `999999`),
		}},
		{name: "tagged", schema: generated("Tagged"), decode: decodeErr(gentest.DecodeTagged), fixed: map[string]func(*rand.Rand) string{
			"every":   durs(`"1s"`, `"1h"`, `"30m"`, `1000000000`, `"1h0m0s"`, `999999999`, `3600000000001`),
			"ratio32": durs("0.05", "0.5", "0.95", "0.2"),
			"raw":     durs(`1`, `"a"`, `[1,2]`, `{}`, `null`),
			"legacy":  durs(`{}`, `{"code":"ab","hex":"0f","even":2}`),
		}},
		{name: "nested", schema: golden("nested", "Scene"), decode: decodeErr(nested.DecodeScene)},
		{name: "hooks", schema: golden("hooks", "Params"), decode: decodeErr(hooks.DecodeParams)},
	}
}

// generatedSchemas are the schemas skaldgen writes for this package's
// models, of which only the worker's is compiled in.
var generatedSchemas = sync.OnceValues(func() (map[string][]byte, error) {
	dir, err := filepath.Abs(".")
	if err != nil {
		return nil, err
	}
	res, err := gen.Generate(gen.Options{Dir: dir})
	if err != nil {
		return nil, err
	}
	return res.Schemas()
})

func generated(model string) []byte {
	all, err := generatedSchemas()
	if err != nil {
		panic(err)
	}
	if all[model+".schema.json"] == nil {
		panic("skaldgen wrote no schema for " + model)
	}
	return all[model+".schema.json"]
}

// golden reads the committed schema of a generator test case.
func golden(dir, model string) []byte {
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "testdata", "gen", dir, model+".schema.json"))
	if err != nil {
		panic(err)
	}
	return b
}

// judge checks doc against the schema with the controller's validator.
func judge(t testing.TB, v *cschema.Validator, schema, doc []byte) bool {
	t.Helper()
	res, err := v.Check(doc, []cschema.Source{{Schema: schema, Nodes: []string{"n"}}})
	if err != nil {
		t.Fatalf("schema does not compile: %v", err)
	}
	return res.Valid()
}

// agree fails when the decoder and the schema disagree about doc, and
// reports whether the decoder accepted it.
func agree(t testing.TB, v *cschema.Validator, s subject, doc []byte) bool {
	t.Helper()
	derr := s.decode(doc)
	ok := judge(t, v, s.schema, doc)
	if (derr == nil) != ok {
		res, _ := v.Check(doc, []cschema.Source{{Schema: s.schema, Nodes: []string{"n"}}})
		t.Fatalf("%s: decoder and schema disagree on\n%s\ndecoder: %v\nschema valid: %v %+v", s.name, doc, derr, ok, res.Errors)
	}
	return derr == nil
}

// TestSchemaAgreesWithDecoder: documents generated from each schema, with
// faults, are accepted by the schema exactly when the decoder accepts
// them; both kinds occur.
func TestSchemaAgreesWithDecoder(t *testing.T) {
	// The corpus is fixed (seeded) and takes a few seconds; -short keeps
	// it whole, since the rich models need that many documents to show a
	// valid one.
	const n = 3000
	v := cschema.NewValidator()
	for i, s := range subjects() {
		t.Run(s.name, func(t *testing.T) {
			var root map[string]any
			dec := json.NewDecoder(bytes.NewReader(s.schema))
			dec.UseNumber()
			if err := dec.Decode(&root); err != nil {
				t.Fatal(err)
			}
			g := &docGen{r: rand.New(rand.NewPCG(uint64(i), 7)), root: root, fixed: s.fixed}
			accepted := 0
			for range n {
				g.faults = g.r.IntN(3) // a third of the documents are faultless
				if agree(t, v, s, []byte(g.value(root, "", 0))) {
					accepted++
				}
			}
			// The rich models have so many rules that few random documents
			// pass them all; a handful is enough to show both kinds.
			if accepted == 0 || accepted > n*19/20 {
				t.Errorf("decoder accepted %d of %d documents; the corpus should hold both kinds", accepted, n)
			}
		})
	}
}

// TestSchemaAgreesOnEncodedValues: random Go values of the rich model,
// written by the generated encoder, many of them invalid.
func TestSchemaAgreesOnEncodedValues(t *testing.T) {
	v := cschema.NewValidator()
	s := subjects()[3]
	src := &source{rnd: rand.New(rand.NewPCG(3, 4))}
	accepted := 0
	const n = 1500
	for i := range n {
		m := randTagged(src)
		if i%2 == 0 {
			m = mix(src, m)
		}
		// The exceptions: see the top of this file.
		m.Legacy = gentest.Legacy{}
		m.Raw = nil
		m.Ratio32 = pick(src, float32(0.5), 0.05, 0.95)
		m.Every = pick(src, time.Second, time.Minute, time.Hour)
		if agree(t, v, s, gentest.EncodeTagged(m)) {
			accepted++
		}
	}
	if accepted == 0 || accepted == n {
		t.Errorf("decoder accepted %d of %d values; the corpus should hold both kinds", accepted, n)
	}
}

// TestSchemaIntegerSpellings pins the decision on integers: any JSON
// number with no fraction is an integer (1e2, 1.0, 2.50e1), as in JSON
// Schema and pydantic's lax mode; a fraction or a value out of range is
// refused by both sides.
func TestSchemaIntegerSpellings(t *testing.T) {
	v := cschema.NewValidator()
	s := subjects()[0]
	for doc, want := range map[string]bool{
		`{"rtspUrl":"rtsp://a/b","fixFrame":100}`:                        true,
		`{"rtspUrl":"rtsp://a/b","fixFrame":1e2}`:                        true,
		`{"rtspUrl":"rtsp://a/b","fixFrame":100.0}`:                      true,
		`{"rtspUrl":"rtsp://a/b","fixFrame":2.50e1}`:                     true,
		`{"rtspUrl":"rtsp://a/b","fixFrame":1.5}`:                        false,
		`{"rtspUrl":"rtsp://a/b","fixFrame":1e-1}`:                       false,
		`{"rtspUrl":"rtsp://a/b","fixFrame":"100"}`:                      false,
		`{"rtspUrl":"rtsp://a/b","fixFrame":1e3}`:                        true,
		`{"rtspUrl":"rtsp://a/b","fixFrame":1.001e3}`:                    false,
		`{"rtsp_url":"rtsp://a/b","fix_frame":60}`:                       true,
		`{"rtsp_url":"rtsp://a/b","rtspUrl":"rtsp://a/b","fixFrame":60}`: false,
	} {
		if got := agree(t, v, s, []byte(doc)); got != want {
			t.Errorf("%s: accepted %v, want %v", doc, got, want)
		}
	}
}

// FuzzSchemaAgreement lets the fuzzer write the documents, for the models
// where no exception applies.
func FuzzSchemaAgreement(f *testing.F) {
	f.Add(0, []byte(`{"rtspUrl":"rtsp://a/b","fixFrame":1e2}`))
	f.Add(0, []byte(`{"rtsp_url":"rtsp://a/b","FixFrame":1000}`))
	f.Add(1, []byte(valid))
	f.Add(1, []byte(`{"name":"p","mode":"fast","cameras":[{"id":"a","fixFrame":1,"region":{"X":1}}],"weights":[1,2,3],"timeout":1e9,"labels":null,"matrix":[null]}`))
	f.Add(4, []byte(`{"mode":"a","path":[{"x":0}],"nested":{"a":1},"grid":[[0,1],[2,3]]}`))
	f.Add(5, []byte(`{"url":"http://x"}`))
	v := cschema.NewValidator()
	subs := subjects()
	f.Fuzz(func(t *testing.T, which int, doc []byte) {
		s := subs[[]int{0, 1, 4, 5}[uint(which)%4]]
		if !plainJSON(doc) {
			return
		}
		agree(t, v, s, doc)
	})
}

// plainJSON reports whether doc is JSON without the inputs this test
// leaves out: duplicate keys, huge exponents (which the schema validator
// would expand in full), lone surrogates and invalid UTF-8.
func plainJSON(doc []byte) bool {
	if !json.Valid(doc) || !strings.Contains(string(doc), "{") {
		return false
	}
	if strings.Contains(strings.ToLower(string(doc)), `\ud`) || !utf8Valid(doc) {
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	type frame struct {
		obj  bool
		keys map[string]bool
		key  bool // next string token is a key
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return true
		}
		if err != nil {
			return false
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch tok := tok.(type) {
		case json.Delim:
			switch tok {
			case '{', '[':
				if top != nil && top.obj {
					top.key = true
				}
				stack = append(stack, &frame{obj: tok == '{', keys: map[string]bool{}, key: true})
				continue
			default:
				stack = stack[:len(stack)-1]
				continue
			}
		case string:
			if top != nil && top.obj && top.key {
				if top.keys[tok] {
					return false
				}
				top.keys[tok] = true
				top.key = false
				continue
			}
		case json.Number:
			if i := strings.IndexAny(string(tok), "eE"); i >= 0 {
				if e, err := strconv.Atoi(strings.TrimPrefix(string(tok[i+1:]), "+")); err != nil || e > 300 || e < -300 {
					return false
				}
			}
		}
		if top != nil && top.obj {
			top.key = true
		}
	}
}

func utf8Valid(b []byte) bool { return strings.ToValidUTF8(string(b), "\uFFFD") == string(b) }

// docGen writes random documents that follow a schema most of the time.
type docGen struct {
	r      *rand.Rand
	root   map[string]any
	fixed  map[string]func(*rand.Rand) string
	faults int // faults still to make in the current document
}

// fault reports whether to break the rule at hand, about once in 12
// chances, while the document has faults left to make.
func (g *docGen) fault() bool {
	if g.faults > 0 && g.r.IntN(12) == 0 {
		g.faults--
		return true
	}
	return false
}

func (g *docGen) resolve(s map[string]any) map[string]any {
	for range 16 {
		ref, ok := s["$ref"].(string)
		if !ok {
			return s
		}
		var cur any = g.root
		for _, tok := range strings.Split(strings.TrimPrefix(ref, "#"), "/")[1:] {
			tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
			cur = cur.(map[string]any)[tok]
		}
		s = cur.(map[string]any)
	}
	return s
}

// value writes a value for schema s, found under property name.
func (g *docGen) value(s map[string]any, name string, depth int) string {
	if f := g.fixed[name]; f != nil {
		return f(g.r)
	}
	s = g.resolve(s)
	if g.fault() || depth > 6 {
		return g.any(depth)
	}
	if alts, ok := s["anyOf"].([]any); ok {
		if _, typed := s["type"]; !typed {
			return g.value(alts[g.r.IntN(len(alts))].(map[string]any), name, depth)
		}
	}
	if all, ok := s["allOf"].([]any); ok && s["type"] == nil {
		return g.value(all[0].(map[string]any), name, depth)
	}
	if enum, ok := s["enum"].([]any); ok && !g.fault() {
		b, _ := json.Marshal(enum[g.r.IntN(len(enum))])
		return string(b)
	}
	if c, ok := s["const"]; ok && !g.fault() {
		b, _ := json.Marshal(c)
		return string(b)
	}
	var types []string
	switch t := s["type"].(type) {
	case string:
		types = []string{t}
	case []any:
		for _, x := range t {
			types = append(types, x.(string))
		}
	default:
		return g.any(depth)
	}
	switch typ := types[g.r.IntN(len(types))]; typ {
	case "null":
		return "null"
	case "boolean":
		return pickR(g.r, "true", "false")
	case "string":
		bad := g.fault()
		if s["pattern"] != nil {
			if bad {
				return strconv.Quote(pickR(g.r, "9999999999h", "1x", "", "1.", ".s", "0", "0s"))
			}
			return strconv.Quote(pickR(g.r, "1s", "1m30s", "-1.5h", "250ms", "+.5us", "1µs", "1.s"))
		}
		switch s["format"] {
		case "uri":
			if bad {
				return strconv.Quote(pickR(g.r, "", "no url", "/rel", "file:///"))
			}
			return strconv.Quote(pickR(g.r, "http://a.example/x", "rtsp://10.0.0.1:554/s", "file:///tmp/x", "HTTP://UP.CASE", "x:#frag"))
		case "email":
			if bad {
				return strconv.Quote(pickR(g.r, "", "a@", "a b@c.d", "Name <a@b.co>"))
			}
			return strconv.Quote(pickR(g.r, "a@b.co", "first.last@example.com"))
		case "uuid":
			if bad {
				return strconv.Quote(pickR(g.r, "", "6ba7b8109dad11d180b400c04fd430c8", "6ba7b810-9dad-11d1-80b4-00c04fd430cZ"))
			}
			return strconv.Quote(pickR(g.r, "6ba7b810-9dad-11d1-80b4-00c04fd430c8", "6BA7B810-9DAD-11D1-80B4-00C04FD430C8"))
		case "date-time":
			if bad {
				return strconv.Quote(pickR(g.r, "0001-01-01T00:00:00Z", "2024-13-01T00:00:00Z", "yesterday", "2024-01-02 03:04:05Z"))
			}
			return strconv.Quote(pickR(g.r, "2024-01-02T03:04:05Z", "2024-01-02T03:04:05.5+02:00"))
		}
		if bad {
			return strconv.Quote(pickR(g.r, "", "x", "abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0123456789"))
		}
		return strconv.Quote(g.str(s))
	case "integer":
		return g.integer(s)
	case "number":
		if g.fault() {
			return pickR(g.r, "0", "-0", "-1", "1e2", "3.4e38", "1e39", "-7.25", "121", "1e300")
		}
		return pickR(g.r, "0.5", "0.25", "0.75", "2.5e-1")
	case "array":
		items, _ := s["items"].(map[string]any)
		n := g.length(s, "minItems", "maxItems")
		var b strings.Builder
		b.WriteByte('[')
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(g.value(items, "", depth+1))
		}
		b.WriteByte(']')
		return b.String()
	case "object":
		return g.object(s, depth)
	}
	return g.any(depth)
}

func (g *docGen) object(s map[string]any, depth int) string {
	var b strings.Builder
	b.WriteByte('{')
	n := 0
	member := func(k, v string) {
		if n > 0 {
			b.WriteByte(',')
		}
		n++
		b.WriteString(strconv.Quote(k))
		b.WriteByte(':')
		b.WriteString(v)
	}
	props, _ := s["properties"].(map[string]any)
	if props == nil {
		// A map: random keys, each once.
		elem, _ := s["additionalProperties"].(map[string]any)
		keys := []string{"a", "b c", "7", "fast", "slow", "ü", ""}
		g.r.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
		for _, k := range keys[:g.length(s, "minProperties", "maxProperties")] {
			member(k, g.value(elem, "", depth+1))
		}
		b.WriteByte('}')
		return b.String()
	}
	// Group each field's names; write one of them, or, as a fault, two.
	names := map[string][]string{}
	var fields []string
	for k, p := range props {
		canon := k
		if a, ok := p.(map[string]any)["x-skald-alias-of"].(string); ok {
			canon = a
		}
		if names[canon] == nil {
			fields = append(fields, canon)
		}
		names[canon] = append(names[canon], k)
	}
	slices.Sort(fields)
	req := map[string]bool{}
	if rs, ok := s["required"].([]any); ok {
		for _, k := range rs {
			req[k.(string)] = true
		}
	}
	if all, ok := s["allOf"].([]any); ok {
		for _, part := range all {
			if alts, ok := part.(map[string]any)["anyOf"].([]any); ok {
				req[alts[0].(map[string]any)["required"].([]any)[0].(string)] = true
			}
		}
	}
	for _, f := range fields {
		ks := names[f]
		slices.Sort(ks)
		if req[f] && !g.fault() || !req[f] && g.r.IntN(3) > 0 {
			// present
		} else {
			continue // absent; a required one makes the document invalid
		}
		k := ks[g.r.IntN(len(ks))]
		member(k, g.value(props[f].(map[string]any), f, depth+1))
		if len(ks) > 1 && g.fault() {
			for _, k2 := range ks {
				if k2 != k {
					member(k2, g.value(props[f].(map[string]any), f, depth+1))
					break
				}
			}
		}
	}
	if g.fault() {
		member("unknownKey", "1")
	}
	b.WriteByte('}')
	return b.String()
}

// length picks a length around the bounds lo and hi of s.
func (g *docGen) length(s map[string]any, lo, hi string) int {
	a, z := 0, 4
	if v, err := num(s[lo]); err == nil {
		a = int(v)
	}
	if v, err := num(s[hi]); err == nil {
		z = int(v)
	}
	n := a + g.r.IntN(min(z, a+4)-a+1)
	if g.fault() {
		n = z + 1
		if g.r.IntN(2) == 0 && a > 0 {
			n = a - 1
		}
	}
	return min(n, 7)
}

func (g *docGen) str(s map[string]any) string {
	n := g.length(s, "minLength", "maxLength")
	alphabet := []rune("abxé😀 ")
	var b strings.Builder
	for range n {
		b.WriteRune(alphabet[g.r.IntN(len(alphabet))])
	}
	if g.r.IntN(6) == 0 {
		return pickR(g.r, "a", "x", "fast", "slow", "")
	}
	return b.String()
}

func (g *docGen) integer(s map[string]any) string {
	if !g.fault() {
		lo, hi := int64(-3), int64(300)
		if v, err := num(s["minimum"]); err == nil {
			lo = max(lo, v)
		}
		if v, err := num(s["maximum"]); err == nil {
			hi = min(hi, v)
		}
		if v, err := num(s["exclusiveMaximum"]); err == nil {
			hi = min(hi, v-1)
		}
		if v, err := num(s["exclusiveMinimum"]); err == nil {
			lo = max(lo, v+1)
		}
		if lo <= hi {
			n := lo + g.r.Int64N(hi-lo+1)
			if n == 0 && s["not"] != nil {
				n = hi
			}
			return pickR(g.r, strconv.FormatInt(n, 10), strconv.FormatInt(n, 10)+".0", strconv.FormatInt(n, 10)+"e0")
		}
	}
	var cands []string
	for _, k := range []string{"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"} {
		if i, err := num(s[k]); err == nil {
			if i > -1e15 && i < 1e15 {
				cands = append(cands, fmt.Sprint(i-1), fmt.Sprint(i), fmt.Sprint(i+1))
			}
		}
	}
	cands = append(cands, "0", "1", "2", "5", "10", "1e2", "1.0", "2.50e1", "1.5", "-3", "300", "65536", "9223372036854775807", "9223372036854775808", "18446744073709551616", "-9223372036854775809")
	return pickR(g.r, cands...)
}

// any writes a random value of any JSON kind.
func (g *docGen) any(depth int) string {
	switch g.r.IntN(7) {
	case 0:
		return "null"
	case 1:
		return "true"
	case 2:
		return `"s"`
	case 3:
		return "1"
	case 4:
		return "-2.5"
	case 5:
		if depth < 4 {
			return "[" + g.any(depth+1) + "]"
		}
		return "[]"
	}
	return "{}"
}

// num reads an integer keyword of the schema.
func num(v any) (int64, error) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, fmt.Errorf("not a number: %v", v)
	}
	return n.Int64()
}

func pickR[T any](r *rand.Rand, vals ...T) T { return vals[r.IntN(len(vals))] }
