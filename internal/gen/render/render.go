// Package render writes the Go file skaldgen generates for one package:
// registration, worker classes, typed clients, and a strict decoder and an
// encoder per struct type, all calling runtime/codec.
//
// The generated code binds every hook to a typed field of skald.Hooks, so a
// handler with the wrong signature fails to compile there even if the
// model's checks are bypassed. Output is deterministic: declarations follow
// source order and maps are written in sorted key order.
package render

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/token"
	"go/types"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/dave/jennifer/jen"
	"github.com/skalds-go/skalds/internal/gen/load"
	"github.com/skalds-go/skalds/internal/gen/model"
	"github.com/skalds-go/skalds/internal/gen/schema"
	"github.com/skalds-go/skalds/internal/version"
	"golang.org/x/tools/imports"
)

// Import paths of the runtime packages the generated code calls.
const (
	skaldPkg  = "github.com/skalds-go/skalds/runtime/skald"
	codecPkg  = "github.com/skalds-go/skalds/runtime/codec"
	clientPkg = "github.com/skalds-go/skalds/runtime/client"
)

// File returns the gofmt'ed source of p's generated file, or nil if p has
// no markers.
func File(p *model.Package) ([]byte, error) {
	if len(p.Workers) == 0 && len(p.Models) == 0 {
		return nil, nil
	}
	r := &renderer{pkg: p, need: validated(p), pol: strictest(p)}
	f := jen.NewFilePathName(p.Path, p.Name)
	f.HeaderComment(load.Header[len("// "):])
	f.HeaderComment("versions:")
	f.HeaderComment("\tskaldgen " + Version())
	f.HeaderComment("source: " + strings.Join(sources(p), ", "))
	// An import must not take a name the package declares.
	for _, path := range []string{skaldPkg, codecPkg, clientPkg, "maps", "slices", "time", "encoding/json", "context"} {
		name := path[strings.LastIndexByte(path, '/')+1:]
		if p.Types.Scope().Lookup(name) == nil {
			continue
		}
		alias := name + "pkg"
		for p.Types.Scope().Lookup(alias) != nil {
			alias += "_"
		}
		f.ImportAlias(path, alias)
	}
	r.guard(f)
	if len(p.Workers) > 0 {
		// Register of a package without workers would do nothing.
		r.register(f)
	}
	r.validations(f)
	for _, w := range p.Workers {
		r.worker(f, w)
	}
	for _, m := range p.Models {
		if err := r.model(f, m); err != nil {
			return nil, err
		}
	}
	for _, s := range p.Structs {
		r.decodeStruct(f, s)
		r.encodeStruct(f, s)
		if r.need[s] {
			r.validateStruct(f, s, r.need)
		}
		if r.pol[s] != model.Hot {
			r.changesStruct(f, s, r.pol)
		}
	}
	var buf bytes.Buffer
	if err := f.Render(&buf); err != nil {
		return nil, fmt.Errorf("rendering %s: %w", p.Out, err)
	}
	// FormatOnly groups the standard library imports apart from the
	// others, as goimports would, without looking anything up.
	src, err := imports.Process(p.Out, buf.Bytes(), &imports.Options{FormatOnly: true, Comments: true, TabIndent: true, TabWidth: 8})
	if err != nil {
		return nil, fmt.Errorf("formatting %s: %w", p.Out, err)
	}
	return src, nil
}

type renderer struct {
	pkg *model.Package
	// need holds the structs whose validation checks something.
	need map[*model.Struct]bool
	// pol holds the strictest update policy each struct reaches.
	pol map[*model.Struct]model.Policy
}

// APIVersion is the version of the runtime API the generated code is
// written against. Raise it, together with skald.MaxGenVersion, when
// generated code starts relying on something new in the runtime; raise
// skald.MinGenVersion when the runtime drops what older code relies on.
const APIVersion = 1

// guard writes the compile-time check, after protobuf-go's
// EnforceVersion, that the generated code and the runtime it is built
// with fit each other: a constant conversion to an unsigned type that
// fails when either side is too old.
func (r *renderer) guard(f *jen.File) {
	f.Line()
	f.Comment("These constants fail to compile when this file and the skalds runtime in")
	f.Comment("go.mod no longer fit each other: regenerate it (go generate ./...) with")
	f.Commentf("the skaldgen of that runtime. This file needs runtime API version %d.", APIVersion)
	f.Const().Defs(
		jen.Id("_").Op("=").Qual(skaldPkg, "EnforceVersion").Call(jen.Lit(APIVersion).Op("-").Qual(skaldPkg, "MinGenVersion")),
		jen.Id("_").Op("=").Qual(skaldPkg, "EnforceVersion").Call(jen.Qual(skaldPkg, "MaxGenVersion").Op("-").Lit(APIVersion)),
	)
}

// sources returns the base names of the files that hold p's markers, in
// order.
func sources(p *model.Package) []string {
	var names []string
	add := func(pos token.Position) {
		if n := filepath.Base(pos.Filename); pos.Filename != "" && !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	for _, w := range p.Workers {
		add(w.Pos)
	}
	for _, m := range p.Models {
		add(m.Pos)
	}
	slices.Sort(names)
	return names
}

// Version is the framework version skaldgen records in the header: the
// one in go.mod when it runs as a tool of another module, "(devel)" from
// the framework's own checkout or a replaced one.
func Version() string { return version.Dependency() }

func (r *renderer) register(f *jen.File) {
	f.Line()
	f.Comment("Register registers every worker class of this package with r.")
	f.Func().Id("Register").Params(jen.Id("r").Qual(skaldPkg, "Registrar")).BlockFunc(func(g *jen.Group) {
		for _, w := range r.pkg.Workers {
			g.Id("r").Dot("Register").Call(jen.Id(w.Name + "Class"))
		}
	})
}

// validations registers the package's custom validate tags before any
// decode can run. A failure is a conflict between packages of the binary
// (one tag, two functions): it stops the program at start, naming the tag,
// instead of validating with the wrong function.
func (r *renderer) validations(f *jen.File) {
	if len(r.pkg.Validations) == 0 {
		return
	}
	f.Line()
	f.Comment("init makes the //skald:validation tags of this package known to codec.")
	f.Func().Id("init").Params().BlockFunc(func(g *jen.Group) {
		for _, v := range r.pkg.Validations {
			g.If(jen.Err().Op(":=").Qual(codecPkg, "RegisterValidation").Call(jen.Lit(v.Tag), jen.Id(v.Func)), jen.Err().Op("!=").Nil()).Block(
				jen.Panic(jen.Err()),
			)
		}
	})
}

// multi renders a composite literal with one element per line.
var multi = jen.Options{Open: "{", Close: "}", Separator: ",", Multi: true}

func (r *renderer) worker(f *jen.File, w *model.Worker) {
	m := jen.Id(w.Model.Name)
	hooks := jen.Qual(skaldPkg, "Hooks").Types(jen.Id(w.Model.Name))
	var binds []jen.Code
	for _, h := range w.Hooks {
		binds = append(binds, jen.Id(h.Kind.Field()).Op(":").Id("w").Dot(h.Method))
	}
	f.Line()
	f.Commentf("%sClass describes %s to the runtime.", w.Name, w.Name)
	fields := []jen.Code{
		jen.Id("Name").Op(":").Lit(w.Class),
		jen.Id("Decode").Op(":").Id("Decode" + w.Model.Name),
		jen.Id("Encode").Op(":").Id("Encode" + w.Model.Name),
	}
	if r.need[w.Model] {
		fields = append(fields, jen.Id("Validate").Op(":").Id("Validate"+w.Model.Name))
	}
	fields = append(fields,
		jen.Id("New").Op(":").Func().Params().Add(hooks).Block(
			jen.Id("w").Op(":=").New(jen.Id(w.Name)),
			jen.Return(jen.Qual(skaldPkg, "Hooks").Types(jen.Id(w.Model.Name)).Custom(multi, binds...)),
		),
	)
	if r.pol[w.Model] != model.Hot {
		fields = append(fields, jen.Id("Changes").Op(":").Id("Changes"+w.Model.Name))
	}
	fields = append(fields, jen.Id("JSONSchema").Op(":").Index().Byte().Parens(jen.Id("schema"+w.Model.Name)))
	if w.Progress != nil {
		fields = append(fields, jen.Id("ProgressSchema").Op(":").Index().Byte().Parens(jen.Id("schema"+w.Progress.Name)))
	}
	if w.Result != nil {
		fields = append(fields, jen.Id("ResultSchema").Op(":").Index().Byte().Parens(jen.Id("schema"+w.Result.Name)))
	}
	f.Var().Id(w.Name+"Class").Op("=").Op("&").Qual(skaldPkg, "Class").Types(m).Custom(multi, fields...)
	r.outputs(f, w)
	f.Line()
	typed := jen.Qual(clientPkg, "Typed").Types(jen.Id(w.Model.Name))
	newTyped := jen.Qual(clientPkg, "NewTyped").Call(jen.Id("c"), jen.Id(w.Name+"Class"))
	if w.Progress == nil && w.Result == nil {
		f.Commentf("New%sClient returns a client that creates, assigns, updates and", w.Name)
		f.Commentf("cancels %s tasks with typed attachments.", w.Name)
		f.Func().Id("New" + w.Name + "Client").Params(jen.Id("c").Op("*").Qual(clientPkg, "Client")).
			Op("*").Add(typed).Block(jen.Return(newTyped))
		return
	}
	// The typed client of a worker with outputs adds their readers; it
	// embeds the plain typed client, so that it does all that one does.
	members := []jen.Code{jen.Op("*").Add(typed)}
	values := []jen.Code{jen.Id("Typed").Op(":").Add(newTyped)}
	if w.Progress != nil {
		members = append(members, jen.Op("*").Qual(clientPkg, "ProgressReader").Types(jen.Id(w.Progress.Name)))
		values = append(values, jen.Id("ProgressReader").Op(":").Qual(clientPkg, "NewProgressReader").Call(jen.Id("c"), jen.Id("Decode"+w.Progress.Name)))
	}
	if w.Result != nil {
		members = append(members, jen.Op("*").Qual(clientPkg, "ResultReader").Types(jen.Id(w.Result.Name)))
		values = append(values, jen.Id("ResultReader").Op(":").Qual(clientPkg, "NewResultReader").Call(jen.Id("c"), jen.Id("Decode"+w.Result.Name)))
	}
	f.Commentf("%sClient creates, assigns, updates and cancels %s tasks with typed", w.Name, w.Name)
	f.Comment("attachments, and reads what their workers report, typed.")
	f.Type().Id(w.Name + "Client").Struct(members...)
	f.Line()
	f.Commentf("New%sClient returns the typed client of %s tasks.", w.Name, w.Name)
	f.Func().Id("New" + w.Name + "Client").Params(jen.Id("c").Op("*").Qual(clientPkg, "Client")).
		Op("*").Id(w.Name + "Client").Block(jen.Return(jen.Op("&").Id(w.Name+"Client").Custom(multi, values...)))
}

// outputs writes the typed calls that report w's progress and set its
// result.
func (r *renderer) outputs(f *jen.File, w *model.Worker) {
	ctx := jen.Id("ctx").Qual("context", "Context")
	if p := w.Progress; p != nil {
		f.Line()
		f.Commentf("Report%sProgress reports p as the progress of the %s task", w.Name, w.Name)
		f.Comment("that ctx, the context of one of its hooks, belongs to. It never blocks:")
		f.Comment("the node stores the newest report at most once per its progress")
		f.Comment("interval, and with the terminal status. See skald.ReportProgress.")
		f.Func().Id("Report"+w.Name+"Progress").Params(ctx, jen.Id("p").Id(p.Name)).Block(
			jen.Qual(skaldPkg, "ReportProgress").Call(jen.Id("ctx"), jen.Id("Encode"+p.Name).Call(jen.Id("p"))),
		)
	}
	if res := w.Result; res != nil {
		f.Line()
		f.Commentf("Set%sResult sets res as the result of the %s task that ctx,", w.Name, w.Name)
		f.Comment("the context of one of its hooks, belongs to; the last result set is")
		f.Comment("stored with the terminal status. See skald.SetResult.")
		f.Func().Id("Set"+w.Name+"Result").Params(jen.Id("ctx").Qual("context", "Context"), jen.Id("res").Id(res.Name)).Block(
			jen.Qual(skaldPkg, "SetResult").Call(jen.Id("ctx"), jen.Id("Encode"+res.Name).Call(jen.Id("res"))),
		)
	}
}

func (r *renderer) model(f *jen.File, s *model.Struct) error {
	n := s.Name
	js, err := schema.Model(s)
	if err != nil {
		return fmt.Errorf("schema of %s: %w", n, err)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, js); err != nil {
		return err
	}
	// Only a worker's class carries the schema; skaldgen -schema writes
	// every model's from the generator itself.
	if slices.ContainsFunc(r.pkg.Workers, func(w *model.Worker) bool { return w.Model == s || w.Progress == s || w.Result == s }) {
		f.Line()
		f.Commentf("schema%s is the JSON Schema of %s; skaldgen -schema writes it to a file.", n, n)
		lit := jen.Lit(compact.String())
		if !strings.Contains(compact.String(), "`") {
			// A raw string keeps the schema readable in the generated file.
			lit = jen.Op("`" + compact.String() + "`")
		}
		f.Const().Id("schema" + n).Op("=").Add(lit)
	}
	finish := jen.Id("r").Dot("End").Call()
	if r.need[s] {
		finish = jen.Id("r").Dot("Finish").Call(jen.Func().Params().Error().Block(
			jen.Return(jen.Id("Validate" + n).Call(jen.Id("m"))),
		))
	}
	f.Line()
	f.Commentf("Decode%s strictly decodes %s from JSON and validates it. Decode", n, n)
	f.Comment("and validation errors are reported together, as long as the document")
	f.Comment("is well-formed JSON.")
	f.Func().Id("Decode"+n).Params(jen.Id("data").Index().Byte()).Params(jen.Id(n), jen.Error()).Block(
		jen.Var().Id("m").Id(n),
		jen.Id("r").Op(":=").Qual(codecPkg, "NewReader").Call(jen.Id("data")),
		jen.Id("decode"+n).Call(jen.Id("r"), jen.Op("&").Id("m")),
		jen.Return(jen.Id("m"), finish),
	)
	f.Line()
	f.Commentf("Encode%s writes %s as JSON with its json key names.", n, n)
	f.Func().Id("Encode"+n).Params(jen.Id("m").Id(n)).Index().Byte().Block(
		jen.Var().Id("w").Qual(codecPkg, "Writer"),
		jen.Id("encode"+n).Call(jen.Op("&").Id("w"), jen.Op("&").Id("m")),
		jen.Return(jen.Id("w").Dot("Bytes").Call()),
	)
	// A model whose fields are all hot gets no Changes function: nil in
	// Class.Changes already means that every change reaches the update
	// hook, and no validate tag means no Validate function either.
	if r.pol[s] != model.Hot {
		r.changes(f, n)
	}
	if r.need[s] {
		r.validate(f, n)
	}
	return nil
}

func (r *renderer) changes(f *jen.File, n string) {
	f.Line()
	f.Commentf("Changes%s compares two versions of %s by the update policies of", n, n)
	f.Comment("their fields: whether a restart is needed, and which immutable fields")
	f.Comment("changed.")
	f.Func().Id("Changes"+n).Params(jen.List(jen.Id("old"), jen.Id("next")).Id(n)).Qual(skaldPkg, "Change").BlockFunc(func(g *jen.Group) {
		g.Var().Id("ch").Qual(skaldPkg, "Change")
		g.Var().Id("p").Qual(codecPkg, "Path")
		g.Id("changes"+n).Call(jen.Op("&").Id("ch"), jen.Op("&").Id("p"), jen.Op("&").Id("old"), jen.Op("&").Id("next"))
		g.Return(jen.Id("ch"))
	})
}

func (r *renderer) validate(f *jen.File, n string) {
	f.Line()
	f.Commentf("Validate%s checks the validate tags of %s, with the messages and", n, n)
	f.Comment("paths of codec.Validate.")
	f.Func().Id("Validate" + n).Params(jen.Id("m").Id(n)).Error().BlockFunc(func(g *jen.Group) {
		g.Var().Id("c").Qual(codecPkg, "Check")
		g.Var().Id("p").Qual(codecPkg, "Path")
		g.Id("validate"+n).Call(jen.Op("&").Id("c"), jen.Op("&").Id("p"), jen.Op("&").Id("m"))
		g.Return(jen.Id("c").Dot("Err").Call())
	})
}

func (r *renderer) decodeStruct(f *jen.File, s *model.Struct) {
	f.Line()
	f.Func().Id("decode"+s.Name).Params(
		jen.Id("r").Op("*").Qual(codecPkg, "Reader"),
		jen.Id("m").Op("*").Id(s.Name),
	).BlockFunc(func(g *jen.Group) {
		g.If(jen.Op("!").Id("r").Dot("BeginObject").Call()).Block(jen.Return())
		if len(s.Fields) > 0 {
			g.Var().Id("seen").Index(jen.Lit(len(s.Fields))).Bool()
		}
		g.For(jen.Id("r").Dot("More").Call()).Block(
			jen.Switch(jen.String().Call(jen.Id("r").Dot("Key").Call())).BlockFunc(func(sw *jen.Group) {
				for i, fd := range s.Fields {
					var keys []jen.Code
					for _, k := range fd.Keys {
						keys = append(keys, jen.Lit(k))
					}
					seen := jen.Id("r").Dot("Seen").Call(jen.Op("&").Id("seen").Index(jen.Lit(i)))
					if len(fd.Keys) > 1 {
						seen = jen.Id("r").Dot("SeenAs").Call(jen.Op("&").Id("seen").Index(jen.Lit(i)), jen.Lit(fd.JSONName))
					}
					body := []jen.Code{jen.If(seen).Block(jen.Continue())}
					body = append(body, r.decode(fd.Type, fieldLval(fd.GoName), 0)...)
					sw.Case(keys...).Block(body...)
				}
				sw.Default().Block(jen.Id("r").Dot("Unknown").Call())
			}),
		)
		for i, fd := range s.Fields {
			if fd.Required {
				g.If(jen.Op("!").Id("seen").Index(jen.Lit(i))).Block(
					jen.Id("r").Dot("Missing").Call(jen.Lit(fd.JSONName)),
				)
			}
		}
	})
}

func (r *renderer) encodeStruct(f *jen.File, s *model.Struct) {
	f.Line()
	f.Func().Id("encode"+s.Name).Params(
		jen.Id("w").Op("*").Qual(codecPkg, "Writer"),
		jen.Id("m").Op("*").Id(s.Name),
	).BlockFunc(func(g *jen.Group) {
		g.Id("w").Dot("BeginObject").Call()
		for _, fd := range s.Fields {
			l := fieldLval(fd.GoName)
			key := jen.Id("w").Dot("Key").Call(jen.Lit(fd.JSONName))
			var cond jen.Code
			if fd.OmitEmpty {
				cond = nonEmpty(fd.Type, l)
			}
			switch {
			case cond == nil:
				addAll(g, append([]jen.Code{key}, r.encode(fd.Type, l, 0, false)...))
			case cond == never:
				// a zero-length array is always empty
			default:
				// Non-empty pointers, slices and maps are not nil either.
				g.If(cond).Block(append([]jen.Code{key}, r.encode(fd.Type, l, 0, true)...)...)
			}
		}
		g.Id("w").Dot("EndObject").Call()
	})
}

func addAll(g *jen.Group, stmts []jen.Code) {
	for _, s := range stmts {
		g.Add(s)
	}
}

// never marks an omitempty field that is always empty.
var never = jen.False()

// nonEmpty returns the condition under which encoding/json writes an
// omitempty field, or nil if it always does.
func nonEmpty(t *model.Type, l lval) jen.Code {
	switch t.Kind {
	case model.String:
		return l.expr().Op("!=").Lit("")
	case model.Bool:
		return l.expr()
	case model.Int, model.Uint, model.Float, model.Duration:
		return l.expr().Op("!=").Lit(0)
	case model.Pointer:
		return l.expr().Op("!=").Nil()
	case model.Slice, model.Map, model.Raw:
		return jen.Len(l.expr()).Op("!=").Lit(0)
	case model.Array:
		if t.Len == 0 {
			return never
		}
	}
	return nil
}

// lval is an assignable expression the generated code reads into or
// writes from. Statements are built fresh on every call, since a jennifer
// Statement must not appear twice in a tree.
type lval struct {
	expr  func() *jen.Statement
	addr  func() *jen.Statement
	deref bool // expr is *x, which needs parentheses before an index
}

func fieldLval(name string) lval { return memberLval("m", name) }

// memberLval is field name of the struct that the pointer base points to.
func memberLval(base, name string) lval {
	return lval{
		expr: func() *jen.Statement { return jen.Id(base).Dot(name) },
		addr: func() *jen.Statement { return jen.Op("&").Id(base).Dot(name) },
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func localLval(name string) lval {
	return lval{
		expr: func() *jen.Statement { return jen.Id(name) },
		addr: func() *jen.Statement { return jen.Op("&").Id(name) },
	}
}

// elem is the value a pointer lval points to.
func (l lval) elem() lval {
	return lval{
		expr:  func() *jen.Statement { return jen.Op("*").Add(l.expr()) },
		addr:  l.expr,
		deref: true,
	}
}

// index is element i of an array, slice or map lval.
func (l lval) index(i string) lval {
	base := l.expr
	if l.deref {
		base = func() *jen.Statement { return jen.Parens(l.expr()) }
	}
	expr := func() *jen.Statement { return base().Index(jen.Id(i)) }
	return lval{expr: expr, addr: func() *jen.Statement { return jen.Op("&").Add(expr()) }}
}

// names returns the local variable names for nesting depth d, so that
// nested loops do not shadow the variables of outer ones.
func names(d int) (v, k, i, n string) {
	sfx := ""
	if d > 0 {
		sfx = strconv.Itoa(d)
	}
	return "v" + sfx, "k" + sfx, "i" + sfx, "n" + sfx
}

func reader(method string, args ...jen.Code) *jen.Statement {
	return jen.Id("r").Dot(method).Call(args...)
}

func writer(method string, args ...jen.Code) *jen.Statement {
	return jen.Id("w").Dot(method).Call(args...)
}

// scalar reports whether t is read with a single codec call.
func scalar(t *model.Type) bool {
	switch t.Kind {
	case model.StructKind, model.Pointer, model.Slice, model.Array, model.Map:
		return false
	}
	return true
}

// read returns the expression that reads a scalar t, converted to t.Go.
func (r *renderer) read(t *model.Type) jen.Code {
	var call *jen.Statement
	switch t.Kind {
	case model.String:
		call = reader("String")
	case model.Bool:
		call = reader("Bool")
	case model.Int:
		call = reader("Int", jen.Lit(t.Bits))
	case model.Uint:
		call = reader("Uint", jen.Lit(t.Bits))
	case model.Float:
		call = reader("Float", jen.Lit(t.Bits))
	case model.Time:
		return reader("Time")
	case model.Duration:
		return reader("Duration")
	case model.Raw:
		return reader("Raw")
	default:
		panic(fmt.Sprintf("read of non-scalar kind %d", t.Kind))
	}
	if t.Exact {
		return call
	}
	return r.typ(t.Go).Call(call)
}

// decode returns the statements that read a t into l.
func (r *renderer) decode(t *model.Type, l lval, d int) []jen.Code {
	if scalar(t) {
		return []jen.Code{l.expr().Op("=").Add(r.read(t))}
	}
	v, k, _, n := names(d)
	switch t.Kind {
	case model.StructKind:
		return []jen.Code{jen.Id("decode"+t.Struct.Name).Call(jen.Id("r"), l.addr())}
	case model.Pointer:
		body := append([]jen.Code{l.expr().Op("=").New(r.typ(t.Elem.Go))}, r.decode(t.Elem, l.elem(), d)...)
		return []jen.Code{jen.If(reader("Null")).Block(l.expr().Op("=").Nil()).Else().Block(body...)}
	case model.Slice:
		var loop []jen.Code
		if scalar(t.Elem) {
			loop = []jen.Code{l.expr().Op("=").Append(l.expr(), r.read(t.Elem))}
		} else {
			loop = append([]jen.Code{jen.Var().Id(v).Add(r.typ(t.Elem.Go))}, r.decode(t.Elem, localLval(v), d+1)...)
			loop = append(loop, l.expr().Op("=").Append(l.expr(), jen.Id(v)))
		}
		return []jen.Code{jen.If(reader("Null")).Block(l.expr().Op("=").Nil()).Else().If(reader("BeginArray")).Block(
			l.expr().Op("=").Add(r.typ(t.Go)).Values(),
			jen.For(reader("More")).Block(loop...),
		)}
	case model.Array:
		return []jen.Code{jen.If(reader("BeginArray")).Block(
			jen.Id(n).Op(":=").Lit(0),
			jen.For(reader("More")).Block(
				jen.If(jen.Id(n).Op("<").Lit(int(t.Len))).Block(r.decode(t.Elem, l.index(n), d+1)...).Else().Block(reader("Raw")),
				jen.Id(n).Op("++"),
			),
			jen.If(jen.Id(n).Op("!=").Lit(int(t.Len))).Block(
				reader("Errorf", jen.Lit(fmt.Sprintf("got %%d elements, want %d", t.Len)), jen.Id(n)),
			),
		)}
	case model.Map:
		key := jen.String().Call(reader("Key"))
		if !t.Key.Exact {
			key = r.typ(t.Key.Go).Call(reader("Key"))
		}
		loop := []jen.Code{
			jen.Id(k).Op(":=").Add(key),
			jen.If(jen.List(jen.Id("_"), jen.Id("dup")).Op(":=").Add(l.index(k).expr()), reader("Repeated", jen.Id("dup"))).Block(jen.Continue()),
		}
		if scalar(t.Elem) {
			loop = append(loop, l.index(k).expr().Op("=").Add(r.read(t.Elem)))
		} else {
			loop = append(loop, jen.Var().Id(v).Add(r.typ(t.Elem.Go)))
			loop = append(loop, r.decode(t.Elem, localLval(v), d+1)...)
			loop = append(loop, l.index(k).expr().Op("=").Id(v))
		}
		return []jen.Code{jen.If(reader("Null")).Block(l.expr().Op("=").Nil()).Else().If(reader("BeginObject")).Block(
			l.expr().Op("=").Add(r.typ(t.Go)).Values(),
			jen.For(reader("More")).Block(loop...),
		)}
	}
	panic(fmt.Sprintf("decode of kind %d", t.Kind))
}

// encode returns the statements that write the t in l; nonNil says that
// the caller has already ruled out nil.
func (r *renderer) encode(t *model.Type, l lval, d int, nonNil bool) []jen.Code {
	v, k, i, _ := names(d)
	switch t.Kind {
	case model.String:
		return []jen.Code{writer("String", convUnless(t.Exact, jen.String(), l.expr()))}
	case model.Bool:
		return []jen.Code{writer("Bool", convUnless(t.Exact, jen.Bool(), l.expr()))}
	case model.Int:
		return []jen.Code{writer("Int", convUnless(t.Exact, jen.Int64(), l.expr()))}
	case model.Uint:
		return []jen.Code{writer("Uint", convUnless(t.Exact, jen.Uint64(), l.expr()))}
	case model.Float:
		return []jen.Code{writer("Float", convUnless(t.Exact, jen.Float64(), l.expr()), jen.Lit(t.Bits))}
	case model.Time:
		return []jen.Code{writer("Time", l.expr())}
	case model.Duration:
		return []jen.Code{writer("Duration", l.expr())}
	case model.Raw:
		return []jen.Code{writer("Raw", l.expr())}
	case model.StructKind:
		return []jen.Code{jen.Id("encode"+t.Struct.Name).Call(jen.Id("w"), l.addr())}
	case model.Pointer:
		body := r.encode(t.Elem, l.elem(), d, false)
		if nonNil {
			return body
		}
		return []jen.Code{jen.If(l.expr().Op("==").Nil()).Block(writer("Null")).Else().Block(body...)}
	case model.Slice, model.Array:
		body := []jen.Code{
			writer("BeginArray"),
			jen.For(jen.Id(i).Op(":=").Range().Add(l.expr())).Block(r.encode(t.Elem, l.index(i), d+1, false)...),
			writer("EndArray"),
		}
		if t.Kind == model.Array || nonNil {
			return body
		}
		return []jen.Code{jen.If(l.expr().Op("==").Nil()).Block(writer("Null")).Else().Block(body...)}
	case model.Map:
		elem := l.index(k)
		var loop []jen.Code
		loop = append(loop, writer("Key", convUnless(t.Key.Exact, jen.String(), jen.Id(k))))
		if scalar(t.Elem) {
			loop = append(loop, r.encode(t.Elem, elem, d+1, false)...)
		} else {
			// Map elements are not addressable; struct encoders take a
			// pointer.
			loop = append(loop, jen.Id(v).Op(":=").Add(elem.expr()))
			loop = append(loop, r.encode(t.Elem, localLval(v), d+1, false)...)
		}
		sorted := jen.Qual("slices", "Sorted").Call(jen.Qual("maps", "Keys").Call(l.expr()))
		body := []jen.Code{
			writer("BeginObject"),
			jen.For(jen.List(jen.Id("_"), jen.Id(k)).Op(":=").Range().Add(sorted)).Block(loop...),
			writer("EndObject"),
		}
		if nonNil {
			return body
		}
		return []jen.Code{jen.If(l.expr().Op("==").Nil()).Block(writer("Null")).Else().Block(body...)}
	}
	panic(fmt.Sprintf("encode of kind %d", t.Kind))
}

// convUnless converts x to the type to unless x already has that type.
func convUnless(exact bool, to *jen.Statement, x jen.Code) jen.Code {
	if exact {
		return x
	}
	return to.Call(x)
}

// typ renders t as the generated file refers to it.
func (r *renderer) typ(t types.Type) *jen.Statement {
	switch t := t.(type) {
	case *types.Basic:
		return jen.Id(t.Name())
	case *types.Alias:
		return r.qual(t.Obj())
	case *types.Named:
		return r.qual(t.Obj())
	case *types.Pointer:
		return jen.Op("*").Add(r.typ(t.Elem()))
	case *types.Slice:
		return jen.Index().Add(r.typ(t.Elem()))
	case *types.Array:
		return jen.Index(jen.Lit(int(t.Len()))).Add(r.typ(t.Elem()))
	case *types.Map:
		return jen.Map(r.typ(t.Key())).Add(r.typ(t.Elem()))
	}
	panic(fmt.Sprintf("type %s has no rendering", t))
}

func (r *renderer) qual(obj *types.TypeName) *jen.Statement {
	if obj.Pkg() == nil || obj.Pkg() == r.pkg.Types {
		return jen.Id(obj.Name())
	}
	return jen.Qual(obj.Pkg().Path(), obj.Name())
}
