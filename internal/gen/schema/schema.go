// Package schema writes the JSON Schema (draft 2020-12) of an attachments
// model, for forms in a controller or dashboard and for producers written
// in other languages.
//
// The schema accepts exactly the documents the generated decoder accepts,
// validation included, as far as JSON Schema can say it: properties with
// their types, every name the decoder accepts (json name, Go name,
// aliases; at most one per field), the fields that must be given, no other
// properties, null where a nil value passes validation, the ranges of Go
// number types, and the validate tags as keywords. What it cannot say (a
// key given twice, tags that fall back to validator/v10, bounds of
// duration strings, lengths of json.RawMessage, float32 rounding) is left
// to the decoder; the differential test in internal/gen/gentest holds the
// two together.
//
// Nested struct types are $defs, referenced by name; a struct reached where
// validator/v10 does not look (elements without dive) has a second,
// unvalidated definition, <Name>.unvalidated. Update policies other than
// hot appear as "x-skald-update", other accepted names as properties with
// "x-skald-alias-of". Durations carry the format "x-skald-duration", which
// the controller checks with the decoder's parser. A field's doc comment
// (its line comment when it has none), without markers, is its
// "description", which the dashboard shows beside its forms' inputs and
// its rendering of progress and results.
package schema

import (
	"bytes"
	"encoding/json"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/skalds-go/skalds/internal/gen/model"
)

// Draft is the dialect every schema declares.
const Draft = "https://json-schema.org/draft/2020-12/schema"

// Model returns the schema of m, indented.
func Model(m *model.Struct) ([]byte, error) {
	b := &builder{defs: make(map[def]bool), top: m}
	root := b.object(def{m, true})
	root = append(obj{{"$schema", Draft}, {"title", m.Name}}, root...)
	if len(b.order) > 0 {
		defs := obj{}
		// object may add to b.order: walk it by index.
		for i := 0; i < len(b.order); i++ {
			defs = append(defs, kv{b.order[i].name(), b.object(b.order[i])})
		}
		root = append(root, kv{"$defs", defs})
	}
	raw, err := json.Marshal(root)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, raw, "", "  "); err != nil {
		return nil, err
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

// kv and obj make an object whose keys keep their order, so that the
// output is stable and reads in field order.
type kv struct {
	k string
	v any
}

type obj []kv

func (o obj) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, e := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(e.k)
		b.Write(k)
		b.WriteByte(':')
		v, err := json.Marshal(e.v)
		if err != nil {
			return nil, err
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func (o obj) get(k string) (any, bool) {
	for _, e := range o {
		if e.k == k {
			return e.v, true
		}
	}
	return nil, false
}

func (o *obj) set(k string, v any) {
	for i, e := range *o {
		if e.k == k {
			(*o)[i].v = v
			return
		}
	}
	*o = append(*o, kv{k, v})
}

type builder struct {
	top   *model.Struct
	defs  map[def]bool
	order []def
}

// def is a struct as validation sees it. validator/v10 does not descend
// into the elements of a slice or map without dive, nor below
// validate:"-"; a struct reached that way is only decoded: its fields
// must have their types and the required ones must be present, but no
// other rule applies. Such a struct has a $def of its own, named
// <Name>.unvalidated.
type def struct {
	s       *model.Struct
	checked bool
}

func (d def) name() string {
	if d.checked {
		return d.s.Name
	}
	return d.s.Name + ".unvalidated"
}

func (b *builder) ref(d def) obj {
	if d.s == b.top && d.checked {
		return obj{{"$ref", "#"}}
	}
	if !b.defs[d] {
		b.defs[d] = true
		b.order = append(b.order, d)
	}
	return obj{{"$ref", "#/$defs/" + pointerToken(d.name())}}
}

// pointerToken escapes one JSON Pointer token for use in a "$ref" URI
// fragment.
func pointerToken(name string) string {
	name = strings.ReplaceAll(strings.ReplaceAll(name, "~", "~0"), "/", "~1")
	return (&url.URL{Fragment: name}).EscapedFragment()
}

// describe gives the schema p of a field the field's doc comment as its
// description, ahead of a description its type has (a duration's format).
func describe(p obj, doc string) obj {
	for i, e := range p {
		if e.k == "description" {
			if have, ok := e.v.(string); ok {
				p[i].v = doc + " (" + have + ")"
				return p
			}
		}
	}
	return append(p, kv{"description", doc})
}

func (b *builder) object(d def) obj {
	s := d.s
	base := "#"
	if s != b.top || !d.checked {
		base = "#/$defs/" + pointerToken(d.name())
	}
	props := obj{}
	var required []string
	var all []any
	for _, f := range s.Fields {
		var rs *model.Rules
		if !f.NoValidate && s.Fallback == "" && d.checked {
			rs = f.Rules
		}
		p := b.value(f.Type, rs, d.checked && !f.NoValidate)
		if f.Doc != "" {
			p = describe(p, f.Doc)
		}
		if f.Policy != model.Hot {
			p = append(p, kv{"x-skald-update", f.Policy.String()})
		}
		props = append(props, kv{f.JSONName, p})
		// The other names the decoder accepts refer to the field's own
		// schema; at most one of them may be given.
		for _, k := range f.Keys[1:] {
			props = append(props, kv{k, obj{
				{"$ref", base + "/properties/" + pointerToken(f.JSONName)},
				{"description", "another accepted name of " + f.JSONName},
				{"x-skald-alias-of", f.JSONName},
			}})
		}
		for i, k := range f.Keys {
			for _, k2 := range f.Keys[i+1:] {
				all = append(all, obj{{"not", obj{{"required", []string{k, k2}}}}})
			}
		}
		// validator/v10 checks an absent field as its zero value, so a
		// field whose zero value fails is as good as required.
		mustGive := f.Required || d.checked && s.Fallback == "" && !f.NoValidate && zeroFails(f.Type, f.Rules, 0)
		switch {
		case !mustGive:
		case len(f.Keys) == 1:
			required = append(required, f.JSONName)
		default:
			var any []any
			for _, k := range f.Keys {
				any = append(any, obj{{"required", []string{k}}})
			}
			all = append(all, obj{{"anyOf", any}})
		}
	}
	o := obj{{"type", "object"}, {"properties", props}}
	if len(required) > 0 {
		o = append(o, kv{"required", required})
	}
	if len(all) > 0 {
		o = append(o, kv{"allOf", all})
	}
	return append(o, kv{"additionalProperties", false})
}

// durationPattern is the grammar of time.ParseDuration.
const durationPattern = `^[-+]?(0|(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+)$`

// zeroDurationPattern matches the duration strings that mean zero.
const zeroDurationPattern = `^[-+]?(0|((0+(\.0*)?|\.0+)(ns|us|µs|μs|ms|s|m|h))+)$`

// value is the schema of a t with rules rs.
func (b *builder) value(t *model.Type, rs *model.Rules, checked bool) obj {
	var list []model.Rule
	var dive *model.Rules
	if rs != nil {
		list, dive = rs.List, rs.Dive
	}
	// A nil pointer, slice or map is written and read as null, and passes
	// validation unless a rule before omitempty rejects it.
	nullable := false
	wasPtr := t.Kind == model.Pointer
	switch t.Kind {
	case model.Pointer:
		nullable = len(list) == 0 && dive == nil || len(list) > 0 && list[0].Tag == "omitempty"
	case model.Slice, model.Map:
		nullable = nilPasses(list)
	}
	for t.Kind == model.Pointer {
		t = t.Elem
	}
	var s obj
	switch t.Kind {
	case model.String:
		s = obj{{"type", "string"}}
	case model.Bool:
		s = obj{{"type", "boolean"}}
	case model.Int, model.Uint:
		lo, hi := intRange(t)
		s = obj{{"type", "integer"}, {"minimum", lo}, {"maximum", hi}}
	case model.Float:
		// The decoder refuses a number that rounds to infinity.
		lim := floatLimit(t.Bits)
		s = obj{{"type", "number"}, {"exclusiveMinimum", json.Number("-" + lim)}, {"exclusiveMaximum", json.Number(lim)}}
	case model.Time:
		s = obj{{"type", "string"}, {"format", "date-time"}}
	case model.Duration:
		s = obj{
			{"type", []string{"string", "integer"}},
			{"pattern", durationPattern},
			{"format", "x-skald-duration"},
			{"minimum", int64(math.MinInt64)}, {"maximum", int64(math.MaxInt64)},
			{"description", `a Go duration such as "1m30s", or an integer number of nanoseconds`},
		}
	case model.Raw:
		s = obj{}
	case model.StructKind:
		s = b.ref(def{t.Struct, checked})
	case model.Slice, model.Array:
		s = obj{{"type", "array"}, {"items", b.value(t.Elem, dive, checked && dive != nil)}}
		if t.Kind == model.Array {
			s = append(s, kv{"minItems", t.Len}, kv{"maxItems", t.Len})
		}
	case model.Map:
		s = obj{{"type", "object"}, {"additionalProperties", b.value(t.Elem, dive, checked && dive != nil)}}
	}
	// Rules after omitempty bind only a value that is not empty. Behind a
	// pointer, or on a collection, "empty" is nil, which nullable covers;
	// a scalar's empty value is its zero, which passes them.
	var after obj
	omit := false
	for _, r := range list {
		switch {
		case r.Tag == "omitempty":
			omit = true
		case !omit || wasPtr:
			applyRule(&s, t, r, wasPtr)
		default:
			applyRule(&after, t, r, wasPtr)
		}
	}
	if len(after) > 0 {
		switch zero := zeroValue(t); {
		case t.Kind == model.Slice || t.Kind == model.Map || t.Kind == model.Array:
			s = append(s, after...)
		case zero != nil:
			s = append(s, kv{"anyOf", []any{obj{{"const", zero}}, after}})
		}
	}
	if nullable {
		if typ, ok := s.get("type"); ok {
			switch typ := typ.(type) {
			case string:
				s.set("type", []string{typ, "null"})
			case []string:
				s.set("type", append(typ, "null"))
			}
		} else if len(s) > 0 {
			s = obj{{"anyOf", []any{s, obj{{"type", "null"}}}}}
		}
	}
	return s
}

// zeroSchema matches the JSON forms of t's zero value, or is nil when
// that cannot be said. A time matches only in its canonical spelling:
// another offset or a fraction of zero slips through, and the decoder still
// refuses it.
func zeroSchema(t *model.Type, depth int) obj {
	if depth > 8 {
		return nil
	}
	switch t.Kind {
	case model.Pointer, model.Slice, model.Map:
		return obj{{"type", "null"}}
	case model.String, model.Bool, model.Int, model.Uint, model.Float:
		return obj{{"const", zeroValue(t)}}
	case model.Time:
		return obj{{"const", "0001-01-01T00:00:00Z"}}
	case model.Duration:
		return obj{{"anyOf", []any{obj{{"const", 0}}, obj{{"type", "string"}, {"pattern", zeroDurationPattern}}}}}
	case model.Array:
		z := zeroSchema(t.Elem, depth+1)
		if z == nil {
			return nil
		}
		return obj{{"items", z}}
	case model.StructKind:
		props := obj{}
		for _, f := range t.Struct.Fields {
			z := zeroSchema(f.Type, depth+1)
			if z == nil {
				return nil
			}
			for _, k := range f.Keys {
				props = append(props, kv{k, z})
			}
		}
		return obj{{"type", "object"}, {"properties", props}}
	case model.Raw:
		return obj{{"not", obj{}}} // any value given is not nil
	}
	return nil
}

// zeroFails reports whether the zero value of t fails the rules rs, as
// validator/v10 applies them to a field the document leaves out.
func zeroFails(t *model.Type, rs *model.Rules, depth int) bool {
	var list []model.Rule
	var dive *model.Rules
	if rs != nil {
		list, dive = rs.List, rs.Dive
	}
	switch t.Kind {
	case model.Pointer:
		return !(len(list) == 0 && dive == nil || len(list) > 0 && list[0].Tag == "omitempty")
	case model.Slice, model.Map, model.Raw:
		return !nilPasses(list)
	}
	for _, r := range list {
		if r.Tag == "omitempty" {
			return false
		}
		if r.Tag == "required" || ruleFailsOnZero(t, r) {
			return true
		}
	}
	switch {
	case t.Kind == model.StructKind && depth < 8 && t.Struct.Fallback == "":
		for _, f := range t.Struct.Fields {
			if !f.NoValidate && zeroFails(f.Type, f.Rules, depth+1) {
				return true
			}
		}
	case t.Kind == model.Array && dive != nil && t.Len > 0:
		return zeroFails(t.Elem, dive, depth+1)
	}
	return false
}

// ruleFailsOnZero reports whether r fails on the zero value of t (an
// array has its fixed length).
func ruleFailsOnZero(t *model.Type, r model.Rule) bool {
	sign := 0
	switch n := r.Num.(type) {
	case int64:
		sign = cmpZero(n > 0, n < 0)
	case uint64:
		sign = cmpZero(n > 0, false)
	case float64:
		sign = cmpZero(n > 0, n < 0)
	}
	switch t.Kind {
	case model.String:
		switch r.Tag {
		case "eq":
			return r.Param != ""
		case "ne":
			return r.Param == ""
		case "oneof":
			return true // no choice is empty
		case "url", "email", "uuid":
			return true
		}
	case model.Bool:
		switch b, _ := r.Num.(bool); r.Tag {
		case "eq":
			return b
		case "ne":
			return !b
		}
		return false
	case model.Int, model.Uint:
		if r.Tag == "oneof" {
			return !slices.Contains(r.Values, "0")
		}
	case model.Array:
		sign = cmpZero(r.Num.(int64) > t.Len, r.Num.(int64) < t.Len)
	case model.Float, model.Duration:
	default:
		return false
	}
	switch r.Tag {
	case "min", "gte":
		return sign > 0
	case "max", "lte":
		return sign < 0
	case "gt":
		return sign >= 0
	case "lt":
		return sign <= 0
	case "len", "eq":
		return sign != 0
	case "ne":
		return sign == 0
	}
	return false
}

func cmpZero(pos, neg bool) int {
	switch {
	case pos:
		return 1
	case neg:
		return -1
	}
	return 0
}

// zeroValue is the JSON form of a scalar's zero value, or nil.
func zeroValue(t *model.Type) any {
	switch t.Kind {
	case model.String:
		return ""
	case model.Bool:
		return false
	case model.Int, model.Uint, model.Float:
		return 0
	}
	return nil
}

// nilPasses reports whether a nil slice or map passes the rules before
// omitempty: a rule there sees an empty collection.
func nilPasses(list []model.Rule) bool {
	for _, r := range list {
		if r.Tag == "omitempty" {
			return true
		}
		n, _ := r.Num.(int64)
		var fails bool
		switch r.Tag {
		case "required":
			fails = true
		case "min", "gte":
			fails = n > 0
		case "max", "lte":
			fails = n < 0
		case "len", "eq":
			fails = n != 0
		case "ne":
			fails = n == 0
		case "gt":
			fails = n >= 0
		case "lt":
			fails = n <= 0
		}
		if fails {
			return false
		}
	}
	return true
}

// applyRule adds the keyword of one validate tag, where there is one.
// Behind a pointer, required only rules out null.
func applyRule(s *obj, t *model.Type, r model.Rule, wasPtr bool) {
	var lo, hi, eqK string
	switch t.Kind {
	case model.String:
		lo, hi, eqK = "minLength", "maxLength", ""
	case model.Slice, model.Array:
		lo, hi = "minItems", "maxItems"
	case model.Map:
		lo, hi = "minProperties", "maxProperties"
	case model.Int, model.Uint, model.Float:
		lo, hi, eqK = "minimum", "maximum", "const"
	case model.Duration:
		// Bounds bind the integer form; the string form cannot say them.
		lo, hi, eqK = "minimum", "maximum", "const"
	}
	num := func() (any, bool) {
		switch n := r.Num.(type) {
		case int64:
			return n, true
		case uint64:
			return n, true
		case float64:
			return n, true
		}
		return nil, false
	}
	switch r.Tag {
	case "url", "email", "uuid":
		s.set("format", map[string]string{"url": "uri", "email": "email", "uuid": "uuid"}[r.Tag])
	case "oneof":
		var vals []any
		for _, v := range r.Values {
			switch t.Kind {
			case model.String:
				vals = append(vals, v)
			case model.Int:
				if n, err := strconv.ParseInt(v, 10, 64); err == nil && strconv.FormatInt(n, 10) == v {
					vals = append(vals, n)
				}
			case model.Uint:
				if n, err := strconv.ParseUint(v, 10, 64); err == nil && strconv.FormatUint(n, 10) == v {
					vals = append(vals, n)
				}
			}
		}
		s.set("enum", vals)
	case "required":
		if wasPtr {
			return
		}
		switch t.Kind {
		case model.String:
			s.set("minLength", 1)
		case model.Int, model.Uint, model.Float:
			s.set("not", obj{{"const", 0}})
		case model.Bool:
			s.set("const", true)
		case model.Duration:
			s.set("not", obj{{"anyOf", []any{obj{{"const", 0}}, obj{{"type", "string"}, {"pattern", zeroDurationPattern}}}}})
		case model.Time:
			s.set("not", zeroSchema(t, 0))
		case model.StructKind:
			// A struct is missing when every field holds its zero value.
			if z := zeroSchema(t, 0); z != nil {
				*s = obj{{"allOf", []any{*s, obj{{"not", z}}}}}
			}
		}
	case "min", "gte":
		if n, ok := num(); ok && lo != "" {
			s.set(lo, n)
		}
	case "max", "lte":
		if n, ok := num(); ok && hi != "" {
			s.set(hi, n)
		}
	case "gt", "lt":
		n, ok := r.Num.(int64)
		switch {
		case t.Kind == model.Int || t.Kind == model.Uint || t.Kind == model.Float || t.Kind == model.Duration:
			if v, ok := num(); ok {
				s.set(map[string]string{"gt": "exclusiveMinimum", "lt": "exclusiveMaximum"}[r.Tag], v)
			}
		case ok && lo != "" && r.Tag == "gt":
			s.set(lo, n+1)
		case ok && hi != "" && r.Tag == "lt" && n > 0:
			s.set(hi, n-1)
		case ok && hi != "" && r.Tag == "lt":
			s.set("not", obj{}) // fewer than zero items: nothing passes
		}
	case "len":
		if n, ok := num(); ok && lo != "" && t.Kind != model.Duration {
			// validator/v10 has no len for durations; skaldgen refuses it.
			if eqK == "const" {
				s.set("const", n)
			} else {
				s.set(lo, n)
				s.set(hi, n)
			}
		}
	case "eq":
		switch {
		case t.Kind == model.String:
			s.set("const", r.Param)
		case t.Kind == model.Bool:
			s.set("const", r.Num)
		case t.Kind == model.Duration:
		case eqK == "const":
			if n, ok := num(); ok {
				s.set("const", n)
			}
		default:
			if n, ok := num(); ok && lo != "" {
				s.set(lo, n)
				s.set(hi, n)
			}
		}
	case "ne":
		switch {
		case t.Kind == model.String:
			s.set("not", obj{{"const", r.Param}})
		case t.Kind == model.Bool:
			s.set("const", !r.Num.(bool))
		case t.Kind == model.Duration:
		case eqK == "const":
			if n, ok := num(); ok {
				s.set("not", obj{{"const", n}})
			}
		}
	}
}

// intRange is the range of an integer type, which the decoder enforces.
// int and uint are taken to be 64 bits wide, as on every platform the
// runtime supports.
func intRange(t *model.Type) (lo, hi any) {
	bits := t.Bits
	if bits == 0 {
		bits = 64
	}
	if t.Kind == model.Uint {
		return 0, uint64(math.MaxUint64) >> (64 - bits)
	}
	return -(int64(1) << (bits - 1)), int64(uint64(1)<<(bits-1) - 1)
}

// floatLimit bounds the magnitude of a float of the given size: the
// smallest number with few digits above the largest finite value plus half
// a unit in its last place, from where strconv.ParseFloat rounds to
// infinity. (The exact limits have 39 and 309 digits; between them and
// these, the schema refuses a few numbers that the decoder would round
// down to the largest float.)
func floatLimit(bits int) string {
	if bits == 32 {
		return "3.4028235677973367e38"
	}
	return "1.7976931348623159e308"
}
