package model

import (
	"fmt"
	"go/token"
	"go/types"
	"reflect"
	"strings"
)

// structOf returns the Struct of a named struct type of this package,
// analysing its fields the first time. Recursive types are fine: the
// Struct is recorded before its fields are.
func (b *builder) structOf(obj *types.TypeName) *Struct {
	if s := b.structs[obj]; s != nil {
		return s
	}
	s := &Struct{Name: obj.Name(), Pos: b.fset.Position(obj.Pos())}
	b.structs[obj] = s
	st := obj.Type().Underlying().(*types.Struct)
	byKey := make(map[string]keyClaim)
	for i := range st.NumFields() {
		if f := b.field(st.Field(i), st.Tag(i)); f != nil {
			b.addKeys(s, f, byKey, st.Field(i).Pos())
		} else if why := skippedFieldValidation(st.Field(i), st.Tag(i)); why != "" && s.Fallback == "" {
			s.Fallback = why
		}
	}
	for _, f := range s.Fields {
		why, probs := b.checkRules(f.Type, f.Rules)
		probs = append(f.tagProbs, probs...)
		for _, p := range probs {
			b.errorf(f.tagAt(p.off), "field %s: %s", f.GoName, p.msg)
		}
		if why == "" {
			why = f.RulesErr
		}
		if why != "" && s.Fallback == "" {
			s.Fallback = fmt.Sprintf("field %s: %s", f.GoName, why)
		}
	}
	return s
}

// tagAt is the position of byte off of the field's validate tag value,
// or of the field when the tag literal is not a raw string, whose offsets
// escapes would shift.
func (f *Field) tagAt(off int) token.Pos {
	if f.tagPos.IsValid() {
		return f.tagPos + token.Pos(off)
	}
	return f.pos
}

// validateTagPos returns the position of the value of the validate key in
// the tag literal of the field named at pos, or NoPos.
func (b *builder) validateTagPos(pos token.Pos) token.Pos {
	lit := b.fieldTags[pos]
	if lit == nil || !strings.HasPrefix(lit.Value, "`") {
		return token.NoPos
	}
	// The key is at the start or after a space, as reflect.StructTag reads
	// it.
	for i := 0; ; {
		j := strings.Index(lit.Value[i:], `validate:"`)
		if j < 0 {
			return token.NoPos
		}
		i += j
		if c := lit.Value[i-1]; c == '`' || c == ' ' {
			return lit.Pos() + token.Pos(i+len(`validate:"`))
		}
		i++
	}
}

// skippedFieldValidation says why validator/v10 would check a field that
// the model leaves out of the JSON (an exported field tagged json:"-"), so
// that its struct falls back to validator/v10 instead of missing it.
func skippedFieldValidation(v *types.Var, tag string) string {
	if !v.Exported() || v.Embedded() {
		return ""
	}
	st := reflect.StructTag(tag)
	if st.Get("json") != "-" {
		return ""
	}
	vt := st.Get("validate")
	if vt == "-" {
		return ""
	}
	if vt != "" {
		return fmt.Sprintf("field %s is not in the JSON but has validate tags", v.Name())
	}
	t := v.Type()
	for {
		p, ok := t.Underlying().(*types.Pointer)
		if !ok {
			break
		}
		t = p.Elem()
	}
	if _, isStruct := t.Underlying().(*types.Struct); isStruct && !isNamed(types.Unalias(t), "time", "Time") {
		return fmt.Sprintf("field %s is not in the JSON but validator/v10 would check its struct", v.Name())
	}
	return ""
}

// Kinds of accepted key, by precedence when two fields claim one key.
const (
	keyJSON = iota
	keyAlias
	keyGo
)

type keyClaim struct {
	f    *Field
	kind int
}

// addKeys appends f to s. Two fields with one json name are an error (where
// encoding/json would silently drop both), and so is an alias that is
// another field's json name or alias. A Go name that equals another
// field's json name or alias is not accepted as a key: the explicit name
// wins.
func (b *builder) addKeys(s *Struct, f *Field, byKey map[string]keyClaim, pos token.Pos) {
	if other, ok := byKey[f.JSONName]; ok {
		switch other.kind {
		case keyJSON:
			b.errorf(pos, "field %s has json key %q, which field %s already has; give one of them another json tag", f.GoName, f.JSONName, other.f.GoName)
			return
		case keyAlias:
			b.errorf(pos, "field %s has json key %q, which is an alias of field %s; remove the alias or rename the key", f.GoName, f.JSONName, other.f.GoName)
			return
		}
		other.f.Keys = removeKey(other.f.Keys, f.JSONName)
	}
	byKey[f.JSONName] = keyClaim{f, keyJSON}
	for _, am := range f.aliasMarks {
		other, taken := byKey[am.name]
		switch {
		case taken && other.f == f && other.kind != keyGo:
			b.errorf(am.valuePos, "%q is already a name of field %s; remove this alias", am.name, f.GoName)
			continue
		case taken && other.kind != keyGo:
			b.errorf(am.valuePos, "alias %q of field %s is already a name of field %s; remove one of them", am.name, f.GoName, other.f.GoName)
			continue
		case taken:
			other.f.Keys = removeKey(other.f.Keys, am.name)
		}
		byKey[am.name] = keyClaim{f, keyAlias}
		f.Keys = append(f.Keys, am.name)
		f.Aliases = append(f.Aliases, am.name)
	}
	if f.GoName != f.JSONName {
		if _, taken := byKey[f.GoName]; !taken {
			byKey[f.GoName] = keyClaim{f, keyGo}
			f.Keys = append(f.Keys, f.GoName)
		}
	}
	s.Fields = append(s.Fields, f)
}

func removeKey(keys []string, k string) []string {
	out := keys[:0]
	for _, x := range keys {
		if x != k {
			out = append(out, x)
		}
	}
	return out
}

// field maps one struct field to a JSON member, or returns nil if the
// field is skipped or wrong.
func (b *builder) field(v *types.Var, tag string) *Field {
	pm := b.policies[v.Pos()]
	if pm != nil {
		pm.used = true
	}
	st := reflect.StructTag(tag)
	jsonTag, hasJSON := st.Lookup("json")
	if jsonTag == "-" || (!v.Exported() && !v.Embedded()) {
		if pm != nil {
			b.errorf(pm.pos, "field %s is not in the JSON, so it has no update policy; remove %s%s", v.Name(), MarkerPrefix, pm.def.Name)
		}
	}
	if jsonTag == "-" {
		return nil
	}
	name, opts, _ := strings.Cut(jsonTag, ",")
	if v.Embedded() {
		b.errorf(v.Pos(), "embedded fields are not supported; name the field (%s %s), or tag it json:\"-\"", v.Name(), b.typeString(v.Type()))
		return nil
	}
	if !v.Exported() {
		if hasJSON {
			b.errorf(v.Pos(), "field %s is unexported, so it cannot be decoded or encoded; export it, or remove its json tag", v.Name())
		}
		return nil
	}
	if name == "" {
		name = v.Name()
	}
	ok := true
	if why := unstorableKey(name); why != "" {
		b.errorf(v.Pos(), "field %s has json key %q, which %s; give the field a json tag without it", v.Name(), name, why)
		ok = false
	}
	f := &Field{GoName: v.Name(), JSONName: name, Keys: []string{name}, Doc: b.fieldDocs[v.Pos()]}
	for _, am := range b.aliases[v.Pos()] {
		am.used = true
		if why := unstorableKey(am.name); why != "" {
			b.errorf(am.valuePos, "alias %q of field %s %s; rename the alias", am.name, v.Name(), why)
			ok = false
			continue
		}
		f.aliasMarks = append(f.aliasMarks, am)
	}
	if pm != nil {
		f.Policy = pm.def.policy
		f.PolicyPos = b.fset.Position(pm.pos)
	}
	for opt := range strings.SplitSeq(opts, ",") {
		switch opt {
		case "omitempty":
			f.OmitEmpty = true
		case "string", "omitzero":
			b.errorf(v.Pos(), "field %s: the json option %q is not supported by skaldgen; remove it", v.Name(), opt)
			ok = false
		}
	}
	vtag := st.Get("validate")
	f.Required = requiredTag(vtag)
	f.pos = v.Pos()
	switch vtag {
	case "":
	case "-":
		f.NoValidate = true
	default:
		f.tagPos = b.validateTagPos(v.Pos())
		f.Rules, f.RulesErr, f.tagProbs = parseRules(vtag, b.custom)
	}
	f.Type = b.fieldType(v.Type(), v)
	if f.Type == nil || !ok {
		return nil
	}
	return f
}

// unstorableKey says why key cannot be a key of the document MongoDB
// stores (attachments, progress and results are stored as they are
// written, and task.AttachmentsBSON refuses such keys at run time), or "".
func unstorableKey(key string) string {
	switch {
	case strings.HasPrefix(key, "$"):
		return `starts with "$" (MongoDB reads it as an operator)`
	case strings.Contains(key, "."):
		return `contains "." (MongoDB reads it as a path into the document, and FerretDB refuses it)`
	}
	return ""
}

// requiredTag reports whether a validate tag makes the field itself
// required. Tags after dive (or keys) apply to the elements, not the field.
func requiredTag(tag string) bool {
	for part := range strings.SplitSeq(tag, ",") {
		switch strings.TrimSpace(part) {
		case "dive", "keys":
			return false
		case "required":
			return true
		}
	}
	return false
}

// jsonMethods are the methods encoding/json would call instead of looking
// at the value, which the generated code does not do.
var jsonMethods = []string{"MarshalJSON", "UnmarshalJSON", "MarshalText", "UnmarshalText"}

// fieldType maps the type t of field v, or reports why it cannot and
// returns nil.
func (b *builder) fieldType(t types.Type, v *types.Var) *Type {
	fail := func(reason, advice string) *Type {
		if advice == "" {
			advice = `tag it json:"-" to leave it out of the JSON`
		}
		b.errorf(v.Pos(), "field %s has type %s, which the generated decoder cannot handle: %s; %s", v.Name(), b.typeString(v.Type()), reason, advice)
		return nil
	}
	switch {
	case !isValid(t):
		return nil // the type checker reported it
	case isNamed(types.Unalias(t), "time", "Time"):
		return &Type{Kind: Time, Go: t}
	case isNamed(types.Unalias(t), "time", "Duration"):
		return &Type{Kind: Duration, Go: t}
	case isNamed(types.Unalias(t), "encoding/json", "RawMessage"):
		return &Type{Kind: Raw, Go: t}
	}
	if named, ok := types.Unalias(t).(*types.Named); ok {
		if named.TypeArgs().Len() > 0 {
			return fail(fmt.Sprintf("generic type %s is not supported", b.typeString(named)), "declare a non-generic type")
		}
		for _, m := range jsonMethods {
			obj, _, _ := types.LookupFieldOrMethod(types.NewPointer(named), true, named.Obj().Pkg(), m)
			if _, isFunc := obj.(*types.Func); isFunc {
				return fail(fmt.Sprintf("%s has a %s method, which the generated code would not call", b.typeString(named), m),
					"use json.RawMessage and decode the value yourself, or remove the method")
			}
		}
		if named.Obj().Pkg() == b.lp.Types && isLocalName(named.Obj().Name()) {
			return fail(fmt.Sprintf("the name of type %s is also a variable of the generated code", named.Obj().Name()),
				"rename the type")
		}
		if _, isStruct := named.Underlying().(*types.Struct); isStruct {
			if named.Obj().Pkg() != b.lp.Types {
				return fail(fmt.Sprintf("struct type %s is declared in another package", b.typeString(named)),
					"declare the struct type in this package")
			}
			return &Type{Kind: StructKind, Go: t, Struct: b.structOf(named.Obj())}
		}
	}
	switch u := t.Underlying().(type) {
	case *types.Basic:
		return b.basic(t, u, fail)
	case *types.Pointer:
		elem := b.fieldType(u.Elem(), v)
		if elem == nil {
			return nil
		}
		return &Type{Kind: Pointer, Go: t, Elem: elem}
	case *types.Slice:
		if e, ok := u.Elem().Underlying().(*types.Basic); ok && e.Kind() == types.Uint8 {
			return fail("encoding/json writes byte slices as base64, which skaldgen does not",
				"use string for text, or json.RawMessage for raw JSON")
		}
		elem := b.fieldType(u.Elem(), v)
		if elem == nil {
			return nil
		}
		return &Type{Kind: Slice, Go: t, Elem: elem}
	case *types.Array:
		elem := b.fieldType(u.Elem(), v)
		if elem == nil {
			return nil
		}
		return &Type{Kind: Array, Go: t, Elem: elem, Len: u.Len()}
	case *types.Map:
		k, ok := u.Key().Underlying().(*types.Basic)
		if !ok || k.Kind() != types.String {
			return fail(fmt.Sprintf("map key type %s is not a string type", b.typeString(u.Key())),
				"use a map with string keys")
		}
		key := &Type{Kind: String, Go: u.Key(), Exact: types.Identical(u.Key(), types.Typ[types.String])}
		elem := b.fieldType(u.Elem(), v)
		if elem == nil {
			return nil
		}
		return &Type{Kind: Map, Go: t, Key: key, Elem: elem}
	case *types.Struct:
		return fail("anonymous struct types are not supported", "declare a named struct type for it")
	case *types.Interface:
		return fail("an interface has no fixed JSON form", "use a concrete type, or json.RawMessage for free-form JSON")
	case *types.Chan:
		return fail("channels have no JSON form", "")
	case *types.Signature:
		return fail("funcs have no JSON form", "")
	}
	return fail("it has no JSON form", "")
}

// basic maps a type whose underlying type is basic.
func (b *builder) basic(t types.Type, u *types.Basic, fail func(string, string) *Type) *Type {
	exact := func(k types.BasicKind) bool { return types.Identical(t, types.Typ[k]) }
	switch u.Kind() {
	case types.String:
		return &Type{Kind: String, Go: t, Exact: exact(types.String)}
	case types.Bool:
		return &Type{Kind: Bool, Go: t, Exact: exact(types.Bool)}
	case types.Int:
		return &Type{Kind: Int, Go: t}
	case types.Int8:
		return &Type{Kind: Int, Go: t, Bits: 8}
	case types.Int16:
		return &Type{Kind: Int, Go: t, Bits: 16}
	case types.Int32:
		return &Type{Kind: Int, Go: t, Bits: 32}
	case types.Int64:
		return &Type{Kind: Int, Go: t, Bits: 64, Exact: exact(types.Int64)}
	case types.Uint:
		return &Type{Kind: Uint, Go: t}
	case types.Uint8:
		return &Type{Kind: Uint, Go: t, Bits: 8}
	case types.Uint16:
		return &Type{Kind: Uint, Go: t, Bits: 16}
	case types.Uint32:
		return &Type{Kind: Uint, Go: t, Bits: 32}
	case types.Uint64:
		return &Type{Kind: Uint, Go: t, Bits: 64, Exact: exact(types.Uint64)}
	case types.Float32:
		return &Type{Kind: Float, Go: t, Bits: 32}
	case types.Float64:
		return &Type{Kind: Float, Go: t, Bits: 64, Exact: exact(types.Float64)}
	case types.Complex64, types.Complex128:
		return fail("complex numbers have no JSON form", "")
	}
	return fail(fmt.Sprintf("%s has no JSON form", u.Name()), "")
}

// isLocalName reports whether name is a parameter or variable of the
// generated decode and encode functions, where it would hide a type of
// that name.
func isLocalName(name string) bool {
	switch name {
	case "r", "m", "m2", "w", "c", "p", "ch", "seen":
		return true
	}
	if name == "" || !strings.ContainsRune("vkinp", rune(name[0])) {
		return false
	}
	for _, c := range name[1:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
