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
	// diveOff is the offset of "dive" in the tag, for problems.
	diveOff int
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
	// off is the offset of the rule in the validate tag, for problems.
	off int
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

// tagProblem is a validate tag that validator/v10 would panic on, or that
// it does not know: an error at generation time. off is the offset of the
// offending tag in the validate tag's value.
type tagProblem struct {
	off int
	msg string
}

// parseRules splits a validate tag into Rules. It returns why generated
// code cannot check the tag exactly like validator/v10 does, if it cannot
// (the struct then falls back to validator/v10), and the problems that no
// validation could run with. custom holds the tags declared with
// //skald:validation.
func parseRules(tag string, custom map[string]bool) (root *Rules, fallback string, probs []tagProblem) {
	root = &Rules{}
	cur := root
	fall := func(why string) {
		if fallback == "" {
			fallback = why
		}
	}
	known := func(name string) bool { return generatedTags[name] || validatorTags[name] || custom[name] }
	parts := strings.Split(tag, ",")
	off := 0
	for i := 0; i < len(parts); i++ {
		part, at := parts[i], off
		off += len(part) + 1
		name, param, hasParam := strings.Cut(part, "=")
		switch {
		case part == "":
			probs = append(probs, tagProblem{at, "empty validate tag: two commas in a row, or a comma at an end; remove the extra comma"})
			continue
		case strings.Contains(part, "|"):
			fall(fmt.Sprintf("alternatives (%s)", part))
			for alt := range strings.SplitSeq(part, "|") {
				an, _, _ := strings.Cut(alt, "=")
				if !known(an) || an == "dive" || an == "keys" || an == "endkeys" || an == "omitempty" {
					probs = append(probs, unknownTag(at, an, custom, fmt.Sprintf(" in alternatives %q", part)))
				}
			}
			cur.List = append(cur.List, Rule{Tag: part, off: at})
			continue
		case name == "dive":
			if hasParam {
				probs = append(probs, tagProblem{at, fmt.Sprintf("validate tag %q: dive takes no parameter", part)})
			}
			cur.Dive = &Rules{diveOff: at}
			cur = cur.Dive
			if i+1 < len(parts) && parts[i+1] == "keys" {
				// dive,keys,<rules for the keys>,endkeys: validator/v10
				// checks map keys; skaldgen leaves that to it.
				fall("keys")
				j := i + 2
				koff := off + len(parts[i+1]) + 1
				for ; j < len(parts) && parts[j] != "endkeys"; j++ {
					kn, _, _ := strings.Cut(parts[j], "=")
					if !known(kn) && !strings.Contains(parts[j], "|") {
						probs = append(probs, unknownTag(koff, kn, custom, " for map keys"))
					}
					koff += len(parts[j]) + 1
				}
				if j == len(parts) {
					probs = append(probs, tagProblem{off, "validate tag keys has no endkeys: write dive,keys,<rules for the keys>,endkeys"})
				}
				for k := i + 1; k <= j && k < len(parts); k++ {
					off += len(parts[k]) + 1
				}
				i = j
			}
			continue
		case name == "keys":
			probs = append(probs, tagProblem{at, "validate tag keys must follow dive directly: write dive,keys,<rules for the keys>,endkeys"})
			continue
		case name == "endkeys":
			probs = append(probs, tagProblem{at, "validate tag endkeys has no keys before it: write dive,keys,<rules for the keys>,endkeys"})
			continue
		case generatedTags[name]:
			cur.List = append(cur.List, Rule{Tag: name, Param: param, off: at})
			continue
		case validatorTags[name] || custom[name]:
			fall(fmt.Sprintf("tag %q", name))
			switch {
			case noParamTags[name] && hasParam:
				probs = append(probs, tagProblem{at, fmt.Sprintf("validate tag %q: %s takes no parameter; remove =%s", part, name, param)})
			case paramTags[name] && param == "":
				probs = append(probs, tagProblem{at, fmt.Sprintf("validate tag %q needs a parameter: %s=<value>", part, name)})
			}
			cur.List = append(cur.List, Rule{Tag: name, Param: param, off: at})
			continue
		}
		probs = append(probs, unknownTag(at, name, custom, ""))
	}
	return root, fallback, probs
}

// unknownTag reports a tag that neither skaldgen, validator/v10 nor a
// //skald:validation knows, with the closest known one.
func unknownTag(off int, name string, custom map[string]bool, where string) tagProblem {
	msg := fmt.Sprintf("unknown validate tag %q%s", name, where)
	if s := closestTag(name, custom); s != "" {
		msg += fmt.Sprintf("; did you mean %q?", s)
	} else {
		msg += "; declare a custom one with //skald:validation tag=" + name
	}
	return tagProblem{off, msg}
}

// closestTag returns the known tag nearest to name, if it is a likely
// typo: one edit for short names, two for longer ones.
func closestTag(name string, custom map[string]bool) string {
	best, bestDist := "", 3
	consider := func(t string) {
		allowed := 1
		if len(t) >= 5 {
			allowed = 2
		}
		if d := editDistance(name, t); d <= allowed && (d < bestDist || d == bestDist && t < best) {
			best, bestDist = t, d
		}
	}
	for t := range generatedTags {
		consider(t)
	}
	for t := range validatorTags {
		consider(t)
	}
	for t := range custom {
		consider(t)
	}
	return best
}

// checkRules fills in parsed parameters, and reports why rs cannot be
// generated for a value of type t (the struct then falls back to
// validator/v10) and the rules that cannot apply to t at all.
func (b *builder) checkRules(t *Type, rs *Rules) (fallback string, probs []tagProblem) {
	if rs == nil {
		return "", nil
	}
	for t.Kind == Pointer {
		t = t.Elem
	}
	for i := range rs.List {
		why, prob := b.checkRule(t, &rs.List[i])
		if prob != "" {
			probs = append(probs, tagProblem{rs.List[i].off, prob})
		} else if why != "" && fallback == "" {
			fallback = why
		}
	}
	if rs.Dive != nil {
		switch t.Kind {
		case Slice, Array, Map:
			why, more := b.checkRules(t.Elem, rs.Dive)
			if fallback == "" {
				fallback = why
			}
			probs = append(probs, more...)
		default:
			probs = append(probs, tagProblem{rs.Dive.diveOff, fmt.Sprintf("validate tag dive applies to slices, arrays and maps, not to %s; remove dive, or move the tags after it onto the element type", b.typeString(t.Go))})
		}
	}
	return fallback, probs
}

// checkRule checks one rule against the type it applies to. why says that
// generated code cannot check it (validator/v10 will); prob that the rule
// cannot apply to t, where validator/v10 would panic.
func (b *builder) checkRule(t *Type, r *Rule) (why, prob string) {
	ts := b.typeString(t.Go)
	on := func(what string) string {
		return fmt.Sprintf("validate tag %s applies to %s, not to %s", r.Tag, what, ts)
	}
	if !generatedTags[r.Tag] {
		return "", "" // validator/v10 checks it; its name and parameter are checked
	}
	switch r.Tag {
	case "omitempty", "required":
		if r.Param != "" {
			return "", fmt.Sprintf("validate tag %s takes no parameter; remove =%s", r.Tag, r.Param)
		}
		if (t.Kind == StructKind || t.Kind == Array) && !zeroable(t.Go, b.lp.Types) {
			return fmt.Sprintf("%s on %s", r.Tag, ts), ""
		}
		return "", ""
	case "url", "email", "uuid":
		if r.Param != "" {
			return "", fmt.Sprintf("validate tag %s takes no parameter; remove =%s", r.Tag, r.Param)
		}
		if t.Kind != String {
			return "", on("strings")
		}
		if r.Tag == "uuid" && hasMethod(t.Go, "String") {
			// validator/v10 checks what String returns.
			return fmt.Sprintf("uuid on %s", ts), ""
		}
		return "", ""
	case "oneof":
		switch t.Kind {
		case String, Int, Uint:
		default:
			return "", on("strings and integers")
		}
		if r.Param == "" {
			return "", "validate tag oneof needs its choices: oneof=<a> <b> ..."
		}
		if strings.Contains(r.Param, "'") {
			return "oneof with quoted values", ""
		}
		r.Values = strings.Fields(r.Param)
		return "", ""
	}
	// Bounds, lengths and equality.
	if r.Param == "" {
		return "", fmt.Sprintf("validate tag %s needs a parameter: %s=<value>", r.Tag, r.Tag)
	}
	want := "an integer"
	var ok bool
	switch t.Kind {
	case String, Slice, Array, Map, Raw:
		if t.Kind == String && (r.Tag == "eq" || r.Tag == "ne") {
			return "", ""
		}
		r.Num, ok = parseInt(r.Param)
		want = "an integer length"
	case Int:
		r.Num, ok = parseInt(r.Param)
	case Duration:
		r.Num, ok = parseDuration(r.Param)
		want = `a duration such as "1m30s"`
	case Uint:
		var u uint64
		u, ok = parseUint(r.Param)
		r.Num = u
		want = "a non-negative integer"
	case Float:
		bits := 64
		if t.Bits == 32 {
			bits = 32
		}
		f, err := strconv.ParseFloat(r.Param, bits)
		ok = err == nil && !math.IsInf(f, 0) && !math.IsNaN(f)
		r.Num = f
		want = "a number"
	case Bool:
		if r.Tag != "eq" && r.Tag != "ne" {
			return "", on("numbers, strings, durations and collections")
		}
		r.Num, ok = parseBool(r.Param)
		want = "true or false"
	case Time:
		// validator/v10 compares times with the present; skaldgen leaves
		// that to it, with or without a parameter it ignores.
		switch r.Tag {
		case "gt", "gte", "lt", "lte":
			return fmt.Sprintf("%s on %s", r.Tag, ts), ""
		}
		return "", on("numbers, strings, durations and collections")
	default:
		return "", on("numbers, strings, durations and collections")
	}
	if !ok {
		return "", fmt.Sprintf("validate tag %s=%s: the parameter must be %s for %s", r.Tag, r.Param, want, ts)
	}
	return "", ""
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
