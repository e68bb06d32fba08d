package render

import (
	"fmt"
	"go/types"
	"strconv"

	"github.com/dave/jennifer/jen"
	"github.com/skalds-go/skalds/internal/gen/model"
	"github.com/skalds-go/skalds/runtime/codec"
)

// This file renders validation: the validate tags of each struct as plain
// Go comparisons, in the order validator/v10 checks them, with the same
// messages and JSON paths (codec.Message and codec.Path make sure of
// that). A struct whose tags cannot all be generated calls validator/v10
// through codec.Check.Reflect instead.

// validated returns the structs whose validation does something: they have
// rules of their own, fall back to validator/v10, or reach such a struct.
// Validation of the others is skipped entirely.
func validated(p *model.Package) map[*model.Struct]bool {
	need := make(map[*model.Struct]bool)
	for _, s := range p.Structs {
		if s.Fallback != "" {
			need[s] = true
			continue
		}
		for _, f := range s.Fields {
			if !f.NoValidate && f.Rules != nil && (len(f.Rules.List) > 0 || f.Rules.Dive != nil) {
				need[s] = true
			}
		}
	}
	for changed := true; changed; {
		changed = false
		for _, s := range p.Structs {
			if need[s] {
				continue
			}
			for _, f := range s.Fields {
				if !f.NoValidate && reachesStruct(f.Type, f.Rules, need) {
					need[s] = true
					changed = true
					break
				}
			}
		}
	}
	return need
}

// reachesStruct reports whether validating a t with rules rs descends into
// a struct that needs validation. validator/v10 descends into struct
// fields and pointers to structs, and into elements only after dive.
func reachesStruct(t *model.Type, rs *model.Rules, need map[*model.Struct]bool) bool {
	for t.Kind == model.Pointer {
		t = t.Elem
	}
	switch t.Kind {
	case model.StructKind:
		return need[t.Struct]
	case model.Slice, model.Array, model.Map:
		if rs != nil && rs.Dive != nil {
			return reachesStruct(t.Elem, rs.Dive, need)
		}
	}
	return false
}

// pathRef is where a value is, for failure messages: member of the Path
// that ptr points to, or that Path itself when member is not set.
type pathRef struct {
	ptr       func() *jen.Statement
	recv      func() *jen.Statement // for method calls
	member    string
	hasMember bool
}

// vgen renders the checks of one validate function.
type vgen struct {
	r    *renderer
	need map[*model.Struct]bool
	n    int // counter for local names
	// ifs marks the statements that are a single if, so that a rule
	// before them can chain them with else if.
	ifs map[jen.Code]bool
}

func (v *vgen) isIf(c jen.Code) bool { return v.ifs[c] }

func (v *vgen) markIf(c *jen.Statement) *jen.Statement {
	v.ifs[c] = true
	return c
}

func (v *vgen) local(prefix string) string {
	v.n++
	return prefix + strconv.Itoa(v.n)
}

func (v *vgen) fail(at pathRef, msg string) jen.Code {
	if at.hasMember {
		return jen.Id("c").Dot("Fail").Call(at.ptr(), jen.Lit(at.member), jen.Lit(msg))
	}
	return jen.Id("c").Dot("FailAt").Call(at.ptr(), jen.Lit(msg))
}

// node declares a Path variable for at, so that steps can be added to it.
func (v *vgen) node(at pathRef) (jen.Code, pathRef) {
	if !at.hasMember {
		return nil, at
	}
	name := v.local("p")
	decl := jen.Id(name).Op(":=").Add(at.recv()).Dot("Member").Call(jen.Lit(at.member))
	return decl, localPath(name)
}

// localPath refers to a Path variable.
func localPath(name string) pathRef {
	return pathRef{
		ptr:  func() *jen.Statement { return jen.Op("&").Id(name) },
		recv: func() *jen.Statement { return jen.Id(name) },
	}
}

func (r *renderer) validateStruct(f *jen.File, s *model.Struct, need map[*model.Struct]bool) {
	f.Line()
	f.Func().Id("validate"+s.Name).Params(
		jen.Id("c").Op("*").Qual(codecPkg, "Check"),
		jen.Id("p").Op("*").Qual(codecPkg, "Path"),
		jen.Id("m").Op("*").Id(s.Name),
	).BlockFunc(func(g *jen.Group) {
		if s.Fallback != "" {
			g.Comment("validator/v10 checks this struct: skaldgen does not generate " + s.Fallback + ".")
			g.Id("c").Dot("Reflect").Call(jen.Id("p"), jen.Id("m"))
			return
		}
		v := &vgen{r: r, need: need, ifs: make(map[jen.Code]bool)}
		p := func() *jen.Statement { return jen.Id("p") }
		for _, fd := range s.Fields {
			if fd.NoValidate {
				continue
			}
			addAll(g, v.value(fd.Type, fd.Rules, fieldLval(fd.GoName), pathRef{ptr: p, recv: p, member: fd.JSONName, hasMember: true}, false))
		}
	})
}

// value returns the checks of the value t in l. wasPtr says that l was
// reached through a non-nil pointer, which validator/v10 counts as a
// value even when it points to a zero.
func (v *vgen) value(t *model.Type, rs *model.Rules, l lval, at pathRef, wasPtr bool) []jen.Code {
	var list []model.Rule
	var dive *model.Rules
	if rs != nil {
		list, dive = rs.List, rs.Dive
	}
	if t.Kind == model.Pointer {
		inner := v.value(t.Elem, rs, l.elem(), at, true)
		var first string
		var firstParam string
		switch {
		case len(list) > 0:
			first, firstParam = list[0].Tag, list[0].Param
		case dive != nil:
			first = "dive"
		}
		if first == "" || first == "omitempty" {
			if len(inner) == 0 {
				return nil
			}
			return []jen.Code{v.markIf(jen.If(l.expr().Op("!=").Nil()).Block(inner...))}
		}
		nilFail := v.fail(at, codec.Message(first, firstParam, codec.KindOther))
		if len(inner) == 0 {
			return []jen.Code{v.markIf(jen.If(l.expr().Op("==").Nil()).Block(nilFail))}
		}
		st := jen.If(l.expr().Op("==").Nil()).Block(nilFail)
		if len(inner) == 1 && v.isIf(inner[0]) {
			return []jen.Code{v.markIf(st.Else().Add(inner[0]))}
		}
		return []jen.Code{v.markIf(st.Else().Block(inner...))}
	}

	// What follows the rules: elements after dive, or the fields of a
	// struct.
	var rest []jen.Code
	switch {
	case dive != nil:
		rest = v.dive(t, dive, l, at)
	case t.Kind == model.StructKind && v.need[t.Struct]:
		decl, node := v.node(at)
		call := jen.Id("validate"+t.Struct.Name).Call(jen.Id("c"), node.ptr(), l.addr())
		if decl != nil {
			rest = []jen.Code{decl, call}
		} else {
			rest = []jen.Code{call}
		}
	}
	for i := len(list) - 1; i >= 0; i-- {
		rule := list[i]
		if rule.Tag == "omitempty" {
			if len(rest) == 0 {
				continue
			}
			cond := v.noValue(t, l, wasPtr, true)
			if cond == nil {
				continue
			}
			rest = []jen.Code{v.markIf(jen.If(cond).Block(rest...))}
			continue
		}
		cond := v.failCond(t, rule, l, wasPtr)
		if cond == nil {
			continue // cannot fail
		}
		st := jen.If(cond).Block(v.fail(at, codec.Message(rule.Tag, rule.Param, kindOf(t))))
		switch {
		case len(rest) == 0:
		case len(rest) == 1 && v.isIf(rest[0]):
			st = st.Else().Add(rest[0])
		default:
			st = st.Else().Block(rest...)
		}
		rest = []jen.Code{v.markIf(st)}
	}
	return rest
}

// dive returns the loop that checks every element of the collection in l.
func (v *vgen) dive(t *model.Type, rs *model.Rules, l lval, at pathRef) []jen.Code {
	var elem lval
	var idx, key, val string
	switch t.Kind {
	case model.Slice, model.Array:
		idx = v.local("i")
		elem = l.index(idx)
	case model.Map:
		key, val = v.local("k"), v.local("v")
		elem = localLval(val)
	default:
		panic(fmt.Sprintf("dive on kind %d", t.Kind))
	}
	decl, node := v.node(at)
	elemNode := v.local("p")
	var step jen.Code
	if t.Kind == model.Map {
		k := jen.Id(key)
		if !t.Key.Exact {
			k = jen.String().Call(jen.Id(key))
		}
		step = jen.Id(elemNode).Op(":=").Add(node.recv()).Dot("MapKey").Call(k)
	} else {
		step = jen.Id(elemNode).Op(":=").Add(node.recv()).Dot("Index").Call(jen.Id(idx))
	}
	body := v.value(t.Elem, rs, elem, localPath(elemNode), false)
	if len(body) == 0 {
		return nil
	}
	body = append([]jen.Code{step}, body...)
	var out []jen.Code
	if decl != nil {
		out = append(out, decl)
	}
	if t.Kind != model.Map {
		return append(out, jen.For(jen.Id(idx).Op(":=").Range().Add(l.expr())).Block(body...))
	}
	// Go maps have no order; when something fails, check again in key
	// order so that the errors are listed in a stable order.
	n := v.local("n")
	sorted := jen.Qual("slices", "Sorted").Call(jen.Qual("maps", "Keys").Call(l.expr()))
	again := append([]jen.Code{jen.Id(val).Op(":=").Add(l.index(key).expr())}, body...)
	return append(out,
		jen.Id(n).Op(":=").Id("c").Dot("Len").Call(),
		jen.For(jen.List(jen.Id(key), jen.Id(val)).Op(":=").Range().Add(l.expr())).Block(body...),
		jen.If(jen.Id("c").Dot("Len").Call().Op(">").Id(n)).Block(
			jen.Id("c").Dot("Truncate").Call(jen.Id(n)),
			jen.For(jen.List(jen.Id("_"), jen.Id(key)).Op(":=").Range().Add(sorted)).Block(again...),
		),
	)
}

// kindOf says how a failure message measures t.
func kindOf(t *model.Type) int {
	switch t.Kind {
	case model.String:
		return codec.KindString
	case model.Slice, model.Array, model.Map, model.Raw:
		return codec.KindCollection
	}
	return codec.KindOther
}

// noValue is the failure of validator/v10's required (and the skip of
// omitempty): nil for slices and maps; never behind a non-nil pointer;
// else the zero value. With has set it returns the opposite test. nil
// means the test is constant: a value is always present.
func (v *vgen) noValue(t *model.Type, l lval, wasPtr, has bool) *jen.Statement {
	op := "=="
	if has {
		op = "!="
	}
	switch t.Kind {
	case model.Slice, model.Map, model.Raw:
		return l.expr().Op(op).Nil()
	}
	if wasPtr {
		return nil
	}
	return v.r.isZero(t.Go, l.expr, has)
}

// isZero returns a condition that is true when x (of type t) is its zero
// value in the sense of reflect.Value.IsZero, or, with not, when it is
// not.
func (r *renderer) isZero(t types.Type, x func() *jen.Statement, not bool) *jen.Statement {
	op := "=="
	if not {
		op = "!="
	}
	if types.Comparable(t) {
		switch u := t.Underlying().(type) {
		case *types.Basic:
			switch {
			case u.Info()&types.IsBoolean != 0:
				if not {
					return x()
				}
				return jen.Op("!").Add(x())
			case u.Info()&types.IsString != 0:
				return x().Op(op).Lit("")
			case u.Kind() == types.UnsafePointer:
				return x().Op(op).Nil()
			}
			return x().Op(op).Lit(0)
		case *types.Pointer, *types.Chan, *types.Interface:
			return x().Op(op).Nil()
		}
		return x().Op(op).Parens(r.typ(t).Values())
	}
	switch u := t.Underlying().(type) {
	case *types.Slice, *types.Map, *types.Signature:
		return x().Op(op).Nil()
	case *types.Struct:
		var conds []jen.Code
		for i := range u.NumFields() {
			name := u.Field(i).Name()
			if name == "_" {
				continue
			}
			conds = append(conds, r.isZero(u.Field(i).Type(), func() *jen.Statement { return x().Dot(name) }, not))
		}
		if len(conds) == 0 {
			return jen.Lit(!not)
		}
		join := "&&"
		if not {
			join = "||"
		}
		st := jen.Add(conds[0])
		for _, c := range conds[1:] {
			st = st.Op(join).Add(c)
		}
		return jen.Parens(st)
	}
	panic(fmt.Sprintf("no zero test for %s", t))
}

// failCond returns the condition under which rule fails for the t in l,
// or nil if it cannot fail.
func (v *vgen) failCond(t *model.Type, rule model.Rule, l lval, wasPtr bool) *jen.Statement {
	switch rule.Tag {
	case "required":
		return v.noValue(t, l, wasPtr, false)
	case "url":
		return jen.Op("!").Qual(codecPkg, "IsURL").Call(convUnless(t.Exact, jen.String(), l.expr()))
	case "email":
		return jen.Op("!").Qual(codecPkg, "IsEmail").Call(convUnless(t.Exact, jen.String(), l.expr()))
	case "uuid":
		return jen.Op("!").Qual(codecPkg, "IsUUID").Call(convUnless(t.Exact, jen.String(), l.expr()))
	case "oneof":
		return v.notOneOf(t, rule, l)
	}
	if t.Kind == model.Bool {
		want := rule.Num.(bool)
		if rule.Tag == "ne" {
			want = !want
		}
		if want {
			return jen.Op("!").Add(l.expr())
		}
		return l.expr()
	}
	if t.Kind == model.String && (rule.Tag == "eq" || rule.Tag == "ne") {
		op := map[string]string{"eq": "!=", "ne": "=="}[rule.Tag]
		return l.expr().Op(op).Lit(rule.Param)
	}
	var x *jen.Statement
	switch t.Kind {
	case model.String:
		x = jen.Int64().Call(jen.Qual("unicode/utf8", "RuneCountInString").Call(convUnless(t.Exact, jen.String(), l.expr())))
	case model.Slice, model.Array, model.Map, model.Raw:
		x = jen.Int64().Call(jen.Len(l.expr()))
	case model.Int, model.Duration:
		x = jen.Int64().Call(l.expr())
	case model.Uint:
		x = jen.Uint64().Call(l.expr())
	case model.Float:
		x = jen.Float64().Call(l.expr())
	default:
		panic(fmt.Sprintf("%s on kind %d", rule.Tag, t.Kind))
	}
	if t.Kind == model.Float {
		// Written as the passing comparison, negated, so that NaN fails
		// every bound as it does in validator/v10.
		pass := map[string]string{
			"min": ">=", "gte": ">=", "max": "<=", "lte": "<=", "gt": ">", "lt": "<",
		}[rule.Tag]
		if pass != "" {
			return jen.Op("!").Parens(x.Op(pass).Op(constant(rule.Num)))
		}
	}
	op := map[string]string{
		"min": "<", "gte": "<", "max": ">", "lte": ">", "gt": "<=", "lt": ">=",
		"len": "!=", "eq": "!=", "ne": "==",
	}[rule.Tag]
	return x.Op(op).Op(constant(rule.Num))
}

// notOneOf is the failure of oneof. validator/v10 compares the value's
// decimal form with each choice, so a choice such as "01" never matches a
// number.
func (v *vgen) notOneOf(t *model.Type, rule model.Rule, l lval) *jen.Statement {
	var conds []jen.Code
	for _, val := range rule.Values {
		switch t.Kind {
		case model.String:
			conds = append(conds, l.expr().Op("!=").Lit(val))
		case model.Int:
			if n, err := strconv.ParseInt(val, 10, 64); err == nil && strconv.FormatInt(n, 10) == val {
				conds = append(conds, jen.Int64().Call(l.expr()).Op("!=").Op(val))
			}
		case model.Uint:
			if n, err := strconv.ParseUint(val, 10, 64); err == nil && strconv.FormatUint(n, 10) == val {
				conds = append(conds, jen.Uint64().Call(l.expr()).Op("!=").Op(val))
			}
		}
	}
	if len(conds) == 0 {
		return jen.True()
	}
	st := jen.Add(conds[0])
	for _, c := range conds[1:] {
		st = st.Op("&&").Add(c)
	}
	return st
}

// constant writes a parsed tag parameter as a Go constant.
func constant(n any) string {
	switch n := n.(type) {
	case int64:
		return strconv.FormatInt(n, 10)
	case uint64:
		return strconv.FormatUint(n, 10)
	case float64:
		s := strconv.FormatFloat(n, 'g', -1, 64)
		return s
	}
	panic(fmt.Sprintf("constant %T", n))
}
