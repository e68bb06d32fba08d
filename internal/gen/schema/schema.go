// Package schema writes the JSON Schema (draft 2020-12) of an attachments
// model, for forms in a controller or dashboard and for producers written
// in other languages.
//
// The schema describes what the generated decoder accepts under the
// canonical (json tag) names, so that a document valid for the schema
// decodes: properties with their types, the fields that must be present
// ("required"), no other properties, and the validate tags that map cleanly
// onto JSON Schema keywords (min, max, gte, lte, gt, lt, len, eq, oneof,
// url, email, uuid; after dive for items). Tags after omitempty are left
// out, since they do not bind the empty value, and so are tags that only
// validator/v10 knows. The decoder is stricter than any schema in one way
// only: it checks number ranges of Go types, which the schema states as
// minimum and maximum for sized integers.
//
// Nested struct types are $defs, referenced by name; update policies other
// than hot appear as "x-skald-update".
package schema

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"

	"github.com/skalds-go/skalds/internal/gen/model"
)

// Draft is the dialect every schema declares.
const Draft = "https://json-schema.org/draft/2020-12/schema"

// Model returns the schema of m, indented.
func Model(m *model.Struct) ([]byte, error) {
	b := &builder{defs: make(map[*model.Struct]bool), top: m}
	root := b.object(m)
	root = append(obj{{"$schema", Draft}, {"title", m.Name}}, root...)
	if len(b.order) > 0 {
		defs := obj{}
		// object may add to b.order: walk it by index.
		for i := 0; i < len(b.order); i++ {
			defs = append(defs, kv{b.order[i].Name, b.object(b.order[i])})
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
	defs  map[*model.Struct]bool
	order []*model.Struct
}

func (b *builder) ref(s *model.Struct) obj {
	if s == b.top {
		return obj{{"$ref", "#"}}
	}
	if !b.defs[s] {
		b.defs[s] = true
		b.order = append(b.order, s)
	}
	return obj{{"$ref", "#/$defs/" + s.Name}}
}

func (b *builder) object(s *model.Struct) obj {
	props := obj{}
	var required []string
	for _, f := range s.Fields {
		var rs *model.Rules
		if !f.NoValidate && s.Fallback == "" {
			rs = f.Rules
		}
		p := b.value(f.Type, rs)
		if f.Policy != model.Hot {
			p = append(p, kv{"x-skald-update", f.Policy.String()})
		}
		props = append(props, kv{f.JSONName, p})
		if f.Required {
			required = append(required, f.JSONName)
		}
	}
	o := obj{{"type", "object"}, {"properties", props}}
	if len(required) > 0 {
		o = append(o, kv{"required", required})
	}
	return append(o, kv{"additionalProperties", false})
}

// value is the schema of a t with rules rs.
func (b *builder) value(t *model.Type, rs *model.Rules) obj {
	var list []model.Rule
	var dive *model.Rules
	if rs != nil {
		list, dive = rs.List, rs.Dive
	}
	// A nil pointer, slice or map is written and read as null, unless a
	// rule before omitempty rejects it.
	nullable := false
	switch t.Kind {
	case model.Pointer, model.Slice, model.Map:
		nullable = !rejectsNil(list)
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
		s = obj{{"type", "integer"}}
		if lo, hi, ok := intRange(t); ok {
			s = append(s, kv{"minimum", lo}, kv{"maximum", hi})
		}
	case model.Float:
		s = obj{{"type", "number"}}
	case model.Time:
		s = obj{{"type", "string"}, {"format", "date-time"}}
	case model.Duration:
		s = obj{{"type", "string"}, {"description", `a Go duration such as "1m30s"`}}
	case model.Raw:
		s = obj{}
	case model.StructKind:
		s = b.ref(t.Struct)
	case model.Slice, model.Array:
		s = obj{{"type", "array"}, {"items", b.value(t.Elem, dive)}}
		if t.Kind == model.Array {
			s = append(s, kv{"minItems", t.Len}, kv{"maxItems", t.Len})
		}
	case model.Map:
		s = obj{{"type", "object"}, {"additionalProperties", b.value(t.Elem, dive)}}
	}
	for _, r := range list {
		if r.Tag == "omitempty" {
			break
		}
		applyRule(&s, t, r)
	}
	if nullable {
		if typ, ok := s.get("type"); ok {
			s.set("type", []string{typ.(string), "null"})
		} else if len(s) > 0 {
			s = obj{{"anyOf", []any{s, obj{{"type", "null"}}}}}
		}
	}
	return s
}

// rejectsNil reports whether a rule fails on nil before omitempty could
// skip the value.
func rejectsNil(list []model.Rule) bool {
	return len(list) > 0 && list[0].Tag != "omitempty"
}

// applyRule adds the keyword of one validate tag, where there is one.
func applyRule(s *obj, t *model.Type, r model.Rule) {
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
		switch t.Kind {
		case model.String:
			s.set("minLength", 1)
		case model.Int, model.Uint, model.Float:
			s.set("not", obj{{"const", 0}})
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
		case t.Kind == model.Int || t.Kind == model.Uint || t.Kind == model.Float:
			if v, ok := num(); ok {
				s.set(map[string]string{"gt": "exclusiveMinimum", "lt": "exclusiveMaximum"}[r.Tag], v)
			}
		case ok && lo != "" && r.Tag == "gt":
			s.set(lo, n+1)
		case ok && hi != "" && r.Tag == "lt" && n > 0:
			s.set(hi, n-1)
		}
	case "len":
		if n, ok := num(); ok && lo != "" {
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
	}
}

// intRange is the range of a sized integer type, which the decoder
// enforces; int, uint and 64-bit types give none, except that unsigned
// ones cannot be negative.
func intRange(t *model.Type) (lo, hi any, ok bool) {
	switch {
	case t.Kind == model.Int && t.Bits > 0 && t.Bits < 64:
		return -(int64(1) << (t.Bits - 1)), int64(1)<<(t.Bits-1) - 1, true
	case t.Kind == model.Uint && t.Bits > 0 && t.Bits < 64:
		return 0, uint64(1)<<t.Bits - 1, true
	case t.Kind == model.Uint:
		return 0, uint64(math.MaxUint64), true
	}
	return nil, nil, false
}
