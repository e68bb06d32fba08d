package model

import (
	"fmt"
	"go/types"
	"math"
	"strconv"
	"strings"
	"time"
)

// Rules are the validate tags of one value, in tag order, as generated
// code checks them. Validation of a value stops at its first failing rule,
// as in validator/v10.
type Rules struct {
	List []Rule
	// Dive holds the rules after "dive", applied to every element of a
	// slice, array or map; nil when the tag has no dive.
	Dive *Rules
}

// Rule is one tag such as gte=1.
type Rule struct {
	Tag   string
	Param string
	// Num is Param parsed as validator/v10 parses it for this value's
	// type: an int64, uint64 or float64 for numeric bounds and lengths, a
	// bool for eq on booleans; nil otherwise.
	Num any
	// Values are the choices of oneof.
	Values []string
}

// Tags generated as code. Any other tag makes its struct fall back to
// validator/v10 (see Struct.Fallback).
var generatedTags = map[string]bool{
	"required": true, "omitempty": true, "dive": true,
	"min": true, "max": true, "len": true, "eq": true, "ne": true,
	"gt": true, "gte": true, "lt": true, "lte": true,
	"oneof": true, "url": true, "email": true, "uuid": true,
}

// GeneratedTags lists the validate tags skaldgen turns into code, sorted,
// for documentation and help text.
func GeneratedTags() []string {
	return []string{"dive", "email", "eq", "gt", "gte", "len", "lt", "lte", "max", "min", "ne", "oneof", "omitempty", "required", "url", "uuid"}
}

// parseRules splits a validate tag into Rules, or says why generated code
// cannot check it exactly like validator/v10 does.
func parseRules(tag string) (*Rules, string) {
	root := &Rules{}
	cur := root
	for part := range strings.SplitSeq(tag, ",") {
		if strings.Contains(part, "|") {
			return nil, fmt.Sprintf("alternatives (%s)", part)
		}
		name, param, _ := strings.Cut(part, "=")
		if !generatedTags[name] {
			return nil, fmt.Sprintf("tag %q", name)
		}
		if name == "dive" {
			if param != "" {
				return nil, "dive with a parameter"
			}
			cur.Dive = &Rules{}
			cur = cur.Dive
			continue
		}
		cur.List = append(cur.List, Rule{Tag: name, Param: param})
	}
	return root, ""
}

// checkRules fills in parsed parameters and reports why rs cannot be
// generated for a value of type t, or "" when it can.
func (b *builder) checkRules(t *Type, rs *Rules) string {
	if rs == nil {
		return ""
	}
	for t.Kind == Pointer {
		t = t.Elem
	}
	for i := range rs.List {
		if why := b.checkRule(t, &rs.List[i]); why != "" {
			return why
		}
	}
	if rs.Dive != nil {
		switch t.Kind {
		case Slice, Array, Map:
			return b.checkRules(t.Elem, rs.Dive)
		}
		return fmt.Sprintf("dive on %s", b.typeString(t.Go))
	}
	return ""
}

func (b *builder) checkRule(t *Type, r *Rule) string {
	bad := func() string { return fmt.Sprintf("%s on %s", r.Tag, b.typeString(t.Go)) }
	switch r.Tag {
	case "omitempty":
		if r.Param != "" {
			return "omitempty with a parameter"
		}
		if (t.Kind == StructKind || t.Kind == Array) && !zeroable(t.Go, b.lp.Types) {
			return bad()
		}
		return ""
	case "required":
		if r.Param != "" {
			return "required with a parameter"
		}
		if (t.Kind == StructKind || t.Kind == Array) && !zeroable(t.Go, b.lp.Types) {
			return bad()
		}
		return ""
	case "url", "email", "uuid":
		if r.Param != "" || t.Kind != String {
			return bad()
		}
		if r.Tag == "uuid" && hasMethod(t.Go, "String") {
			// validator/v10 checks what String returns.
			return bad()
		}
		return ""
	case "oneof":
		if strings.Contains(r.Param, "'") {
			return "oneof with quoted values"
		}
		r.Values = strings.Fields(r.Param)
		switch t.Kind {
		case String, Int, Uint:
			return ""
		}
		return bad()
	}
	// Bounds, lengths and equality.
	if r.Param == "" {
		return bad()
	}
	var ok bool
	switch t.Kind {
	case String, Slice, Array, Map, Raw:
		if r.Tag == "eq" || r.Tag == "ne" {
			if t.Kind == String {
				return ""
			}
		}
		r.Num, ok = parseInt(r.Param)
	case Int:
		r.Num, ok = parseInt(r.Param)
	case Duration:
		r.Num, ok = parseDuration(r.Param)
	case Uint:
		var u uint64
		u, ok = parseUint(r.Param)
		r.Num = u
	case Float:
		bits := 64
		if t.Bits == 32 {
			bits = 32
		}
		f, err := strconv.ParseFloat(r.Param, bits)
		ok = err == nil && !math.IsInf(f, 0) && !math.IsNaN(f)
		r.Num = f
	case Bool:
		if r.Tag != "eq" && r.Tag != "ne" {
			return bad()
		}
		r.Num, ok = parseBool(r.Param)
	default:
		return bad()
	}
	if !ok {
		return fmt.Sprintf("%s=%s on %s", r.Tag, r.Param, b.typeString(t.Go))
	}
	return ""
}

func parseInt(s string) (any, bool) {
	v, err := strconv.ParseInt(s, 0, 64)
	return v, err == nil
}

func parseUint(s string) (uint64, bool) {
	v, err := strconv.ParseUint(s, 0, 64)
	return v, err == nil
}

func parseBool(s string) (any, bool) {
	v, err := strconv.ParseBool(s)
	return v, err == nil
}

// parseDuration reads a bound of a time.Duration field as validator/v10
// does: a duration string, or else an integer of nanoseconds.
func parseDuration(s string) (any, bool) {
	if d, err := time.ParseDuration(s); err == nil {
		return int64(d), true
	}
	return parseInt(s)
}

// zeroable reports whether generated code can test a value of type t for
// its zero value the way reflect.Value.IsZero does: with == for
// comparable types, field by field for structs that are not.
func zeroable(t types.Type, pkg *types.Package) bool {
	if !renderable(t) {
		return false
	}
	if types.Comparable(t) {
		return true
	}
	switch u := t.Underlying().(type) {
	case *types.Slice, *types.Map, *types.Signature:
		return true
	case *types.Struct:
		for i := range u.NumFields() {
			f := u.Field(i)
			if !f.Exported() && f.Pkg() != pkg || !zeroable(f.Type(), pkg) {
				return false
			}
		}
		return true
	}
	return false
}

// renderable reports whether t can be written in generated code without
// spelling out a struct, func, chan or interface literal type.
func renderable(t types.Type) bool {
	switch t := types.Unalias(t).(type) {
	case *types.Basic:
		return t.Kind() != types.UnsafePointer
	case *types.Named:
		return t.TypeArgs().Len() == 0
	case *types.Pointer:
		return renderable(t.Elem())
	case *types.Slice:
		return renderable(t.Elem())
	case *types.Array:
		return renderable(t.Elem())
	case *types.Map:
		return renderable(t.Key()) && renderable(t.Elem())
	}
	return false
}

func hasMethod(t types.Type, name string) bool {
	obj, _, _ := types.LookupFieldOrMethod(types.NewPointer(t), true, nil, name)
	_, ok := obj.(*types.Func)
	return ok
}
