package model

import (
	"bytes"
	"cmp"
	"fmt"
	"go/ast"
	"go/token"
	"go/types"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/skalds-go/skalds/internal/gen/load"
	"golang.org/x/tools/go/packages"
)

// Config changes what Build checks.
type Config struct {
	// SkipHookSignatures leaves hook signatures unchecked. The generated
	// code assigns every hook to a typed field of skald.Hooks, so the
	// compiler still rejects a wrong one; tests use this to prove it.
	SkipHookSignatures bool
}

// Build reads the markers of pkgs and returns one Package per loaded
// package, in load order, with every diagnostic found. The load errors of
// the packages are diagnostics too, except references to identifiers that
// skaldgen is about to generate: the previous output is not type-checked,
// so user code that calls, say, Register must not stop the generator.
func Build(fset *token.FileSet, pkgs []*load.Package, cfg Config) ([]*Package, []Diagnostic) {
	var out []*Package
	var diags []Diagnostic
	for _, lp := range pkgs {
		b := &builder{
			fset:         fset,
			lp:           lp,
			cfg:          cfg,
			docs:         make(map[*ast.CommentGroup]docOwner),
			models:       make(map[*types.TypeName]*modelMark),
			workerByType: make(map[*types.TypeName]*workerMark),
			structs:      make(map[*types.TypeName]*Struct),
			policies:     make(map[token.Pos]*policyMark),
			fieldTags:    make(map[token.Pos]*ast.BasicLit),
			fieldDocs:    make(map[token.Pos]string),
			aliases:      make(map[token.Pos][]*aliasMark),
			custom:       make(map[string]bool),
		}
		p := b.build()
		diags = append(diags, b.diags...)
		if p != nil {
			out = append(out, p)
		}
	}
	diags = append(diags, checkClassNames(out)...)
	return out, SortDiagnostics(diags)
}

// checkClassNames rejects two workers with one class name: the runtime
// finds a task's worker by class name, so one of them would never run.
func checkClassNames(pkgs []*Package) []Diagnostic {
	var diags []Diagnostic
	seen := make(map[string]*Worker)
	for _, p := range pkgs {
		for _, w := range p.Workers {
			if first, dup := seen[w.Class]; dup {
				diags = append(diags, Diagnostic{
					Pos:     w.Pos,
					Msg:     fmt.Sprintf("class name %q of %s is already used by %s at %s; give one of them another name=<ClassName>", w.Class, w.Name, first.Name, relatedMark),
					Related: first.Pos,
				})
				continue
			}
			seen[w.Class] = w
		}
	}
	return diags
}

type builder struct {
	fset  *token.FileSet
	lp    *load.Package
	cfg   Config
	diags []Diagnostic

	docs         map[*ast.CommentGroup]docOwner
	models       map[*types.TypeName]*modelMark
	workers      []*workerMark
	workerByType map[*types.TypeName]*workerMark
	hooks        []*hookMark
	structs      map[*types.TypeName]*Struct
	// policies are the update policy markers by the position of each name
	// of the field they stand on.
	policies map[token.Pos]*policyMark
	// aliases are the //skald:alias markers by the position of the name
	// of the field they stand on.
	aliases map[token.Pos][]*aliasMark
	// fieldTags are the tag literals of struct fields by the position of
	// each name of the field.
	fieldTags map[token.Pos]*ast.BasicLit
	// fieldDocs are the doc comments of struct fields (their line
	// comments when they have none) by the position of the field's name,
	// as text without markers.
	fieldDocs map[token.Pos]string
	// custom holds the validate tags declared with //skald:validation.
	custom      map[string]bool
	validations []*validationMark
	// markerErrors is set when a marker could not be read; a missing main
	// hook is then not reported, since the unreadable marker may be it.
	markerErrors bool
	// undefined holds type errors about undefined identifiers; they are
	// reported only if skaldgen does not generate the identifier.
	undefined []undefinedRef
}

// docOwner is the declaration a comment group documents.
type docOwner struct {
	node ast.Node
	tok  token.Token // for specs of a GenDecl: TYPE, VAR, CONST or IMPORT
}

type modelMark struct {
	pos token.Pos
	ok  bool // a usable struct type
}

type workerMark struct {
	w        *Worker
	pos      token.Pos // of the marker, the base of argument offsets
	modelArg *markerArg
	model    *types.TypeName // resolved from modelArg
	// outArgs are progress= and result=, and outs the struct types they
	// name, once resolved.
	outArgs map[string]*markerArg
	outs    map[string]*types.TypeName
	ok      bool // the marker's arguments and type are usable
	hooks   map[HookKind]*hookMark
}

type hookMark struct {
	def *MarkerDef
	fd  *ast.FuncDecl
	pos token.Pos
}

type policyMark struct {
	def   *MarkerDef
	pos   token.Pos
	field *ast.Field
	used  bool
}

type aliasMark struct {
	pos, valuePos token.Pos
	name          string
	used          bool
}

type validationMark struct {
	fd     *ast.FuncDecl
	pos    token.Pos
	tag    string
	tagPos token.Pos
}

type undefinedRef struct {
	name string
	d    Diagnostic
}

func (b *builder) errorf(pos token.Pos, format string, args ...any) {
	b.diags = append(b.diags, Diagnostic{Pos: b.fset.Position(pos), Msg: fmt.Sprintf(format, args...)})
}

// errorRel reports a diagnostic whose message mentions a second position,
// written as %@ in format.
func (b *builder) errorRel(pos, related token.Pos, format string, args ...any) {
	msg := fmt.Sprintf(strings.Replace(format, "%%@", relatedMark, 1), args...)
	b.diags = append(b.diags, Diagnostic{Pos: b.fset.Position(pos), Msg: msg, Related: b.fset.Position(related)})
}

func (b *builder) build() *Package {
	lp := b.lp
	if !mentionsMarkers(lp) {
		// A pattern such as ./... matches packages that have nothing to do
		// with skaldgen; their errors are not the generator's business.
		return &Package{Name: lp.Name, Path: lp.PkgPath, Dir: lp.Dir, Types: lp.Types}
	}
	b.loadErrors()
	if lp.Types == nil || lp.TypesInfo == nil {
		return nil
	}
	p := &Package{
		Name:  lp.Name,
		Path:  lp.PkgPath,
		Dir:   lp.Dir,
		Types: lp.Types,
	}
	if p.Dir == "" && len(lp.GoFiles) > 0 {
		p.Dir = filepath.Dir(lp.GoFiles[0])
	}
	p.Out = load.OutputFile(p.Dir, p.Name)

	for _, f := range lp.Syntax {
		b.collectDocs(f)
	}
	for _, f := range lp.Syntax {
		b.scanMarkers(f)
	}
	b.resolveValidations(p)
	for _, wm := range b.workers {
		b.resolveModel(wm)
		b.resolveOutputs(wm)
	}
	for _, hm := range b.hooks {
		b.resolveHook(hm)
	}
	for _, wm := range b.workers {
		if !wm.ok {
			continue
		}
		if wm.hooks[Main] == nil && !b.markerErrors {
			b.errorf(wm.pos, "worker %s has no //skald:main hook; mark the method that does the work with //skald:main", wm.w.Name)
		}
		wm.w.Model = b.structOf(wm.model)
		if tn := wm.outs["progress"]; tn != nil {
			wm.w.Progress = b.structOf(tn)
		}
		if tn := wm.outs["result"]; tn != nil {
			wm.w.Result = b.structOf(tn)
		}
		for _, k := range HookKinds {
			if hm := wm.hooks[k]; hm != nil {
				wm.w.Hooks = append(wm.w.Hooks, &Hook{Kind: k, Method: hm.fd.Name.Name, Pos: b.fset.Position(hm.pos)})
			}
		}
		p.Workers = append(p.Workers, wm.w)
	}

	var models []*types.TypeName
	for obj, mm := range b.models {
		if mm.ok {
			models = append(models, obj)
		}
	}
	b.sortByPos(models)
	for _, obj := range models {
		p.Models = append(p.Models, b.structOf(obj))
	}
	structObjs := make([]*types.TypeName, 0, len(b.structs))
	for obj := range b.structs {
		structObjs = append(structObjs, obj)
	}
	b.sortByPos(structObjs)
	for _, obj := range structObjs {
		p.Structs = append(p.Structs, b.structs[obj])
	}

	b.checkPolicies()
	b.checkOutputFile(p)
	b.checkGeneratedNames(p)
	return p
}

// checkPolicies reports policy markers on fields of structs that no model
// reaches: they would have no effect.
func (b *builder) checkPolicies() {
	seen := make(map[*policyMark]bool)
	for _, pm := range b.policies {
		if pm.used || seen[pm] {
			continue
		}
		seen[pm] = true
		b.errorf(pm.pos, "%s%s is on field %s of a struct that no //skald:model reaches; update policies apply to attachment fields only",
			MarkerPrefix, pm.def.Name, pm.field.Names[0].Name)
	}
	for _, marks := range b.aliases {
		for _, am := range marks {
			if !am.used {
				b.errorf(am.pos, "%salias is on a field of a struct that no //skald:model reaches, or that is not in the JSON; remove it", MarkerPrefix)
			}
		}
	}
}

// mentionsMarkers reports whether the package has generated output or a
// file with a marker. It reads the files rather than the syntax trees, so
// that a file that does not parse still counts.
func mentionsMarkers(lp *load.Package) bool {
	if len(lp.Generated) > 0 {
		return true
	}
	for _, name := range lp.GoFiles {
		if src, err := os.ReadFile(name); err == nil && (bytes.Contains(src, []byte(MarkerPrefix)) || spacedMarkerRE.Match(src)) {
			return true
		}
	}
	return false
}

// spacedMarkerRE finds the comments that spacedMarker looks at closely.
var spacedMarkerRE = regexp.MustCompile(`//[ \t]+skald:[a-z]`)

// sortByPos orders objects by file name and offset. Token positions alone
// would not do: files are added to the FileSet in parse order, which
// varies between runs.
func (b *builder) sortByPos(objs []*types.TypeName) {
	slices.SortFunc(objs, func(x, y *types.TypeName) int {
		px, py := b.fset.Position(x.Pos()), b.fset.Position(y.Pos())
		return cmp.Or(cmp.Compare(px.Filename, py.Filename), cmp.Compare(px.Offset, py.Offset))
	})
}

// loadErrors turns the package's load errors into diagnostics.
func (b *builder) loadErrors() {
	for _, e := range b.lp.Errors {
		d := Diagnostic{Pos: parsePos(e.Pos), Msg: e.Msg}
		if d.Pos.Filename == "" {
			d.Msg = b.lp.PkgPath + ": " + e.Msg
		}
		if e.Kind == packages.ListError && strings.HasPrefix(e.Msg, "# ") {
			// The go command compiled the package from disk to list it,
			// previous output included. The type checker has checked the
			// same files without that output and reported what matters.
			continue
		}
		if e.Kind == packages.TypeError {
			if name, ok := strings.CutPrefix(e.Msg, "undefined: "); ok && token.IsIdentifier(name) {
				b.undefined = append(b.undefined, undefinedRef{name: name, d: d})
				continue
			}
		}
		b.diags = append(b.diags, d)
	}
}

// parsePos parses the "file:line:col" of a packages.Error.
func parsePos(s string) token.Position {
	var p token.Position
	if s == "" || s == "-" {
		return p
	}
	rest := s
	nums := make([]int, 0, 2)
	for range 2 {
		i := strings.LastIndexByte(rest, ':')
		if i < 0 {
			break
		}
		n, err := strconv.Atoi(rest[i+1:])
		if err != nil {
			break
		}
		nums = append(nums, n)
		rest = rest[:i]
	}
	p.Filename = rest
	switch len(nums) {
	case 2:
		p.Line, p.Column = nums[1], nums[0]
	case 1:
		p.Line = nums[0]
	}
	return p
}

// collectDocs records which declaration each doc comment group belongs to.
func (b *builder) collectDocs(f *ast.File) {
	ast.Inspect(f, func(n ast.Node) bool {
		if st, ok := n.(*ast.StructType); ok {
			for _, fld := range st.Fields.List {
				if fld.Doc != nil {
					b.docs[fld.Doc] = docOwner{node: fld}
				}
				if fld.Tag != nil {
					for _, name := range fld.Names {
						b.fieldTags[name.Pos()] = fld.Tag
					}
				}
				doc := docText(fld.Doc)
				if doc == "" {
					doc = docText(fld.Comment)
				}
				if doc != "" {
					for _, name := range fld.Names {
						b.fieldDocs[name.Pos()] = doc
					}
				}
			}
		}
		return true
	})
	for _, decl := range f.Decls {
		switch d := decl.(type) {
		case *ast.FuncDecl:
			if d.Doc != nil {
				b.docs[d.Doc] = docOwner{node: d}
			}
		case *ast.GenDecl:
			if d.Doc != nil {
				if !d.Lparen.IsValid() && len(d.Specs) == 1 {
					// Without parentheses the doc comment is on the
					// GenDecl, but it documents the one spec.
					b.docs[d.Doc] = docOwner{node: d.Specs[0], tok: d.Tok}
				} else {
					b.docs[d.Doc] = docOwner{node: d, tok: d.Tok}
				}
			}
			for _, s := range d.Specs {
				var doc *ast.CommentGroup
				switch s := s.(type) {
				case *ast.TypeSpec:
					doc = s.Doc
				case *ast.ValueSpec:
					doc = s.Doc
				case *ast.ImportSpec:
					doc = s.Doc
				}
				if doc != nil {
					b.docs[doc] = docOwner{node: s, tok: d.Tok}
				}
			}
		}
	}
}

// docText is the text of a comment group on one line, without its
// markers (CommentGroup.Text leaves out //skald: and other directives).
func docText(cg *ast.CommentGroup) string {
	if cg == nil {
		return ""
	}
	return strings.Join(strings.Fields(cg.Text()), " ")
}

// enclosingFunc returns the function or method whose body holds pos.
func enclosingFunc(f *ast.File, pos token.Pos) *ast.FuncDecl {
	for _, d := range f.Decls {
		if fd, ok := d.(*ast.FuncDecl); ok && fd.Body != nil && fd.Body.Pos() <= pos && pos < fd.Body.End() {
			return fd
		}
	}
	return nil
}

// spacedMarker reports whether a comment is a marker written with a space
// after the slashes ("// skald:model"): a known marker name, then nothing
// or key=value arguments, as a marker would be; prose that merely
// mentions skald: does not look like that.
func spacedMarker(text string) (name string, ok bool) {
	rest, found := strings.CutPrefix(text, "//")
	if !found || rest == "" || (rest[0] != ' ' && rest[0] != '\t') {
		return "", false
	}
	rest = strings.TrimLeft(rest, " \t")
	if !strings.HasPrefix(rest, MarkerPrefix[2:]) {
		return "", false
	}
	name, args, _, perr := parseMarker("//" + rest)
	if lookupMarker(name) == nil || perr != "" {
		return "", false
	}
	for _, a := range args {
		if !token.IsIdentifier(a.key) {
			return "", false
		}
	}
	return name, true
}

// scanMarkers finds every marker comment of f, wherever it is, so that a
// misplaced one is reported instead of ignored.
func (b *builder) scanMarkers(f *ast.File) {
	for _, cg := range f.Comments {
		for _, c := range cg.List {
			if name, ok := spacedMarker(c.Text); ok {
				b.markerErrors = true
				b.errorf(c.Slash, "%q is not a marker: markers have no space after the slashes; write %s%s", c.Text, MarkerPrefix, name)
				continue
			}
			if !strings.HasPrefix(c.Text, MarkerPrefix) {
				continue
			}
			name, args, errOff, perr := parseMarker(c.Text)
			def := lookupMarker(name)
			if perr != "" {
				b.errorf(c.Slash+token.Pos(errOff), "%s", perr)
				b.markerErrors = true
				if def == nil {
					continue
				}
			}
			if def == nil {
				b.markerErrors = true
				msg := fmt.Sprintf("unknown marker %s%s", MarkerPrefix, name)
				if s := suggest(name); s != "" {
					msg += fmt.Sprintf("; did you mean %s%s?", MarkerPrefix, s)
				} else {
					msg += "; run skaldgen -markers to list the markers"
				}
				b.errorf(c.Slash, "%s", msg)
				continue
			}
			// After an argument that does not parse, the rest of the line
			// is unread: a "needs model=" would only follow from it.
			argsOK := b.checkArgs(def, c.Slash, args, perr == "") && perr == ""
			owner, isDoc := b.docs[cg]
			if !isDoc {
				if fn := enclosingFunc(f, c.Slash); fn != nil {
					b.markerErrors = true
					b.errorf(c.Slash, "%s%s is inside %s; markers apply to package-level declarations only, so move the declaration out of the function body",
						MarkerPrefix, def.Name, describe(docOwner{node: fn}))
					continue
				}
				owner = docOwner{node: b.commentNode(f, cg)}
			}
			b.place(def, c.Slash, args, argsOK, owner, isDoc)
		}
	}
}

// commentNode returns the node the comment map associates cg with, to
// describe a marker that is not in a doc comment.
func (b *builder) commentNode(f *ast.File, cg *ast.CommentGroup) ast.Node {
	for n, groups := range b.lp.Comments[f] {
		if slices.Contains(groups, cg) {
			return n
		}
	}
	return nil
}

// checkArgs reports unknown, repeated, empty and missing arguments.
func (b *builder) checkArgs(def *MarkerDef, base token.Pos, args []markerArg, complete bool) bool {
	ok := true
	seen := make(map[string]bool)
	for _, a := range args {
		if len(def.Args) == 0 {
			b.errorf(base+token.Pos(a.off), "%s%s takes no arguments; remove %q", MarkerPrefix, def.Name, a.key+"="+a.value)
			ok = false
			continue
		}
		ad := def.arg(a.key)
		if ad == nil {
			b.errorf(base+token.Pos(a.off), "unknown argument %q for %s%s; it takes %s", a.key, MarkerPrefix, def.Name, def.argList())
			ok = false
			continue
		}
		if seen[a.key] {
			b.errorf(base+token.Pos(a.off), "argument %s= is given twice", a.key)
			ok = false
			continue
		}
		seen[a.key] = true
		if a.value == "" {
			b.errorf(base+token.Pos(a.valueOff), "argument %s= needs a value: %s", a.key, ad.Value)
			ok = false
		}
	}
	for _, ad := range def.Args {
		if ad.Required && !seen[ad.Key] && complete {
			b.errorf(base, "%s%s needs %s=%s: %s", MarkerPrefix, def.Name, ad.Key, ad.Value, ad.Doc)
			ok = false
		}
	}
	return ok
}

func (d *MarkerDef) arg(key string) *ArgDef {
	for i := range d.Args {
		if d.Args[i].Key == key {
			return &d.Args[i]
		}
	}
	return nil
}

func (d *MarkerDef) argList() string {
	var keys []string
	for _, a := range d.Args {
		keys = append(keys, a.Key+"=")
	}
	if len(keys) == 1 {
		return keys[0]
	}
	return strings.Join(keys[:len(keys)-1], ", ") + " and " + keys[len(keys)-1]
}

// describe names what a misplaced marker stands on, for messages of the
// form "must stand on X, not on <describe>".
func describe(o docOwner) string {
	switch n := o.node.(type) {
	case *ast.FuncDecl:
		if n.Recv != nil {
			return "method " + n.Name.Name
		}
		return "function " + n.Name.Name
	case *ast.TypeSpec:
		return "type " + n.Name.Name
	case *ast.ValueSpec:
		return o.tok.String() + " " + n.Names[0].Name
	case *ast.ImportSpec:
		return "an import"
	case *ast.GenDecl:
		return "a parenthesized group of declarations; move it inside the parentheses, above one declaration"
	case *ast.Field:
		return "a struct field"
	}
	return "this declaration"
}

// placeOnField reports a field marker that does not stand in the doc
// comment of a named field.
func (b *builder) placeOnField(def *MarkerDef, pos token.Pos, owner docOwner, isDoc, onField bool) {
	switch {
	case onField && isDoc:
		b.errorf(pos, "%s%s cannot stand on an embedded field", MarkerPrefix, def.Name)
	case onField:
		b.errorf(pos, "%s%s is not in the field's doc comment; put it in the comment directly above the field", MarkerPrefix, def.Name)
	case !isDoc:
		b.errorf(pos, "%s%s is not in a doc comment; put it in the comment directly above a struct field", MarkerPrefix, def.Name)
	default:
		b.errorf(pos, "%s%s must stand on a struct field, not on %s", MarkerPrefix, def.Name, describe(owner))
	}
}

// place checks where a marker stands and records it.
func (b *builder) place(def *MarkerDef, pos token.Pos, args []markerArg, argsOK bool, owner docOwner, isDoc bool) {
	switch {
	case def.isAlias:
		fld, onField := owner.node.(*ast.Field)
		if !onField || !isDoc || len(fld.Names) != 1 {
			if onField && isDoc && len(fld.Names) > 1 {
				b.errorf(pos, "%s%s stands on %d fields at once; declare the field it names on a line of its own", MarkerPrefix, def.Name, len(fld.Names))
				return
			}
			b.placeOnField(def, pos, owner, isDoc, onField)
			return
		}
		if argsOK {
			name := fld.Names[0]
			b.aliases[name.Pos()] = append(b.aliases[name.Pos()], &aliasMark{pos: pos, name: args[0].value, valuePos: pos + token.Pos(args[0].valueOff)})
		}
	case def.isPolicy:
		fld, onField := owner.node.(*ast.Field)
		switch {
		case onField && isDoc && len(fld.Names) > 0:
			for _, name := range fld.Names {
				if first := b.policies[name.Pos()]; first != nil {
					b.errorRel(pos, first.pos, "field %s has two update policies: %s%s, and %s%s at %%@; keep one",
						name.Name, MarkerPrefix, def.Name, MarkerPrefix, first.def.Name)
					return
				}
			}
			pm := &policyMark{def: def, pos: pos, field: fld}
			for _, name := range fld.Names {
				b.policies[name.Pos()] = pm
			}
		default:
			b.placeOnField(def, pos, owner, isDoc, onField)
		}
	case !isDoc:
		if _, onField := owner.node.(*ast.Field); onField {
			b.errorf(pos, "%s%s must stand on a %s, not on a struct field", MarkerPrefix, def.Name, def.On)
			return
		}
		b.errorf(pos, "%s%s is not in a doc comment; put it in the comment directly above a %s, with no blank line in between", MarkerPrefix, def.Name, def.On)
	case def.isHook:
		fd, ok := owner.node.(*ast.FuncDecl)
		if !ok || fd.Recv == nil {
			b.errorf(pos, "%s%s must stand on a %s, not on %s", MarkerPrefix, def.Name, def.On, describe(owner))
			return
		}
		// A hook is placed even with bad arguments: which method it marks
		// is clear, and leaving it out would add a "no main hook" error.
		b.hooks = append(b.hooks, &hookMark{def: def, fd: fd, pos: pos})
	case def.Name == "validation":
		fd, ok := owner.node.(*ast.FuncDecl)
		if !ok || fd.Recv != nil {
			b.errorf(pos, "%s%s must stand on a %s, not on %s", MarkerPrefix, def.Name, def.On, describe(owner))
			return
		}
		if argsOK {
			b.validations = append(b.validations, &validationMark{fd: fd, pos: pos, tag: args[0].value, tagPos: pos + token.Pos(args[0].valueOff)})
		}
	default:
		spec, ok := owner.node.(*ast.TypeSpec)
		if !ok {
			b.errorf(pos, "%s%s must stand on a %s, not on %s", MarkerPrefix, def.Name, def.On, describe(owner))
			return
		}
		if def.Name == "model" {
			b.markModel(spec, pos)
		} else {
			b.markWorker(spec, pos, args, argsOK)
		}
	}
}

func (b *builder) markModel(spec *ast.TypeSpec, pos token.Pos) {
	obj, _ := b.lp.TypesInfo.Defs[spec.Name].(*types.TypeName)
	if obj == nil {
		return
	}
	if first := b.models[obj]; first != nil {
		b.errorRel(pos, first.pos, "%s is marked //skald:model twice; the first marker is at %%@; remove one", obj.Name())
		return
	}
	mm := &modelMark{pos: pos}
	b.models[obj] = mm
	switch {
	case spec.Assign.IsValid():
		b.errorf(pos, "//skald:model must stand on a struct type declaration, not on alias %s; mark the struct type it stands for", obj.Name())
	case spec.TypeParams != nil:
		b.errorf(pos, "model %s has type parameters; a model must be a non-generic struct type", obj.Name())
	default:
		if _, isStruct := obj.Type().Underlying().(*types.Struct); !isStruct {
			b.errorf(pos, "//skald:model must stand on a struct type declaration, and %s is %s; attachments are a JSON object, so declare a struct type", obj.Name(), b.typeString(obj.Type().Underlying()))
			return
		}
		mm.ok = true
	}
}

func (b *builder) markWorker(spec *ast.TypeSpec, pos token.Pos, args []markerArg, argsOK bool) {
	obj, _ := b.lp.TypesInfo.Defs[spec.Name].(*types.TypeName)
	if obj == nil {
		return
	}
	if first := b.workerByType[obj]; first != nil {
		b.errorRel(pos, first.pos, "%s is marked //skald:worker twice; the first marker is at %%@; remove one", obj.Name())
		return
	}
	wm := &workerMark{
		w:     &Worker{Name: obj.Name(), Class: obj.Name(), Pos: b.fset.Position(pos)},
		pos:   pos,
		ok:    argsOK,
		hooks: make(map[HookKind]*hookMark),

		outArgs: make(map[string]*markerArg),
		outs:    make(map[string]*types.TypeName),
	}
	b.workers = append(b.workers, wm)
	b.workerByType[obj] = wm
	for i, a := range args {
		switch a.key {
		case "model":
			wm.modelArg = &args[i]
		case "name":
			if a.value != "" {
				wm.w.Class = a.value
			}
		case "progress", "result":
			if a.value != "" {
				wm.outArgs[a.key] = &args[i]
			}
		}
	}
	switch {
	case spec.Assign.IsValid():
		b.errorf(pos, "//skald:worker must stand on a type declaration of its own, not on alias %s", obj.Name())
		wm.ok = false
	case spec.TypeParams != nil:
		b.errorf(pos, "worker %s has type parameters; declare a non-generic worker type", obj.Name())
		wm.ok = false
	default:
		if _, isIface := obj.Type().Underlying().(*types.Interface); isIface {
			b.errorf(pos, "worker %s is an interface type, which cannot have hook methods; declare a struct type", obj.Name())
			wm.ok = false
		}
	}
}

// resolveValidations checks the //skald:validation functions and makes
// their tags known before any validate tag is read.
func (b *builder) resolveValidations(p *Package) {
	first := make(map[string]*validationMark)
	for _, vm := range b.validations {
		switch {
		case strings.ContainsAny(vm.tag, ",|= \t"):
			b.errorf(vm.tagPos, "validate tag name %q cannot contain a comma, a bar, an equals sign or a space", vm.tag)
			continue
		case generatedTags[vm.tag] || validatorTags[vm.tag] || vm.tag == "dive" || vm.tag == "keys" || vm.tag == "endkeys" || vm.tag == "-":
			b.errorf(vm.tagPos, "validate tag %q is built in; give the custom validation another name", vm.tag)
			continue
		case first[vm.tag] != nil:
			b.errorRel(vm.tagPos, first[vm.tag].pos, "validate tag %q is declared twice, first at %%@; rename one", vm.tag)
			continue
		}
		first[vm.tag] = vm
		fn, _ := b.lp.TypesInfo.Defs[vm.fd.Name].(*types.Func)
		if fn == nil {
			continue
		}
		sig := fn.Type().(*types.Signature)
		ok := sig.TypeParams().Len() == 0 && sig.Params().Len() == 1 && !sig.Variadic() && sig.Results().Len() == 1 &&
			isNamed(sig.Params().At(0).Type(), validatorPath, "FieldLevel") &&
			types.Identical(sig.Results().At(0).Type(), types.Typ[types.Bool])
		// The tag is known either way: a wrong signature is one error,
		// not one more at every field that uses the tag.
		b.custom[vm.tag] = true
		if !ok {
			got := types.NewSignatureType(nil, nil, nil, sig.Params(), sig.Results(), sig.Variadic())
			b.errorf(vm.fd.Name.Pos(), "validation function %s must be func(validator.FieldLevel) bool, with validator from %s; it is %s", fn.Name(), validatorPath, b.typeString(got))
			continue
		}
		p.Validations = append(p.Validations, &Validation{Tag: vm.tag, Func: fn.Name(), Pos: b.fset.Position(vm.pos)})
	}
}

// validatorPath is the import path of validator/v10.
const validatorPath = "github.com/go-playground/validator/v10"

// resolveModel finds the type named by model=.
func (b *builder) resolveModel(wm *workerMark) {
	a := wm.modelArg
	if a == nil || a.value == "" {
		wm.ok = false
		return
	}
	at := wm.pos + token.Pos(a.valueOff)
	obj := b.lp.Types.Scope().Lookup(a.value)
	if obj == nil && strings.Contains(a.value, ".") {
		b.errorf(at, "model %s is not in this package; model= must name a //skald:model struct type declared in package %s", a.value, b.lp.Name)
		wm.ok = false
		return
	}
	if obj == nil {
		b.errorf(at, "model %s not found in package %s; model= must name a //skald:model struct type declared in this package", a.value, b.lp.Name)
		wm.ok = false
		return
	}
	tn, isType := obj.(*types.TypeName)
	if !isType {
		b.errorRel(at, obj.Pos(), "model= names %s, declared at %%@, which is not a type; it must name a //skald:model struct type", a.value)
		wm.ok = false
		return
	}
	mm := b.models[tn]
	switch {
	case mm == nil:
		if _, isStruct := tn.Type().Underlying().(*types.Struct); !isStruct || tn.IsAlias() {
			b.errorRel(at, tn.Pos(), "model %s, declared at %%@, is not a struct type; a model must be a //skald:model struct type", a.value)
		} else {
			b.errorRel(at, tn.Pos(), "model %s, declared at %%@, is not marked //skald:model; add //skald:model to its doc comment", a.value)
		}
		wm.ok = false
	case !mm.ok:
		wm.ok = false // already reported at the model
	default:
		wm.model = tn
	}
}

// resolveOutputs finds the types named by progress= and result=. Each
// must be a non-generic struct type of the package; it becomes a model of
// the package, so that it gets a decoder, an encoder, a validation and a
// JSON Schema exactly as attachments do.
func (b *builder) resolveOutputs(wm *workerMark) {
	for _, key := range []string{"progress", "result"} {
		a := wm.outArgs[key]
		if a == nil {
			continue
		}
		at := wm.pos + token.Pos(a.valueOff)
		obj := b.lp.Types.Scope().Lookup(a.value)
		if obj == nil {
			where := "not found in package " + b.lp.Name
			if strings.Contains(a.value, ".") {
				where = "is not in this package"
			}
			b.errorf(at, "%s type %s %s; %s= must name a struct type declared in package %s", key, a.value, where, key, b.lp.Name)
			wm.ok = false
			continue
		}
		tn, isType := obj.(*types.TypeName)
		if !isType {
			b.errorRel(at, obj.Pos(), "%s= names %s, declared at %%@, which is not a type; it must name a struct type", key, a.value)
			wm.ok = false
			continue
		}
		named, _ := tn.Type().(*types.Named)
		if _, isStruct := tn.Type().Underlying().(*types.Struct); !isStruct || tn.IsAlias() || named == nil || named.TypeParams().Len() > 0 {
			b.errorRel(at, tn.Pos(), "%s type %s, declared at %%@, is not a non-generic struct type; %s is stored as a JSON object, so declare a struct type", key, a.value, key)
			wm.ok = false
			continue
		}
		if mm := b.models[tn]; mm == nil {
			b.models[tn] = &modelMark{pos: tn.Pos(), ok: true}
		} else if !mm.ok {
			wm.ok = false // already reported at the model
			continue
		}
		wm.outs[key] = tn
	}
}

// resolveHook attaches a hook marker to its worker and checks the
// method's signature.
func (b *builder) resolveHook(hm *hookMark) {
	fn, _ := b.lp.TypesInfo.Defs[hm.fd.Name].(*types.Func)
	if fn == nil {
		return
	}
	sig := fn.Type().(*types.Signature)
	recv := sig.Recv().Type()
	if p, ok := recv.(*types.Pointer); ok {
		recv = p.Elem()
	}
	named, _ := types.Unalias(recv).(*types.Named)
	if named == nil {
		return // an invalid receiver; the type checker said so
	}
	recvObj := named.Origin().Obj()
	wm := b.workerByType[recvObj]
	kind := hm.def.hook
	if wm == nil {
		b.errorf(hm.pos, "%s%s is on method %s of %s, which is not a //skald:worker type; mark %s with //skald:worker model=<TypeName>, or move the marker",
			MarkerPrefix, hm.def.Name, fn.Name(), recvObj.Name(), recvObj.Name())
		return
	}
	if first := wm.hooks[kind]; first != nil && first.fd == hm.fd {
		b.errorRel(hm.pos, first.pos, "%s is marked %s%s twice; the first marker is at %%@; remove one", fn.Name(), MarkerPrefix, hm.def.Name)
		return
	}
	if first := wm.hooks[kind]; first != nil {
		b.errorRel(hm.pos, first.pos, "%s has two %s%s hooks: %s, and %s at %%@; remove one of the markers",
			wm.w.Name, MarkerPrefix, hm.def.Name, fn.Name(), first.fd.Name.Name)
		return
	}
	wm.hooks[kind] = hm
	if !b.cfg.SkipHookSignatures {
		b.checkSignature(hm, fn.Name(), sig, wm)
	}
}

// checkSignature reports a hook whose signature differs from the field of
// skald.Hooks it is bound to. The compiler would reject the generated code
// anyway, but with a message about generated code.
func (b *builder) checkSignature(hm *hookMark, method string, sig *types.Signature, wm *workerMark) {
	var model types.Type
	modelName := "<model>"
	if wm.modelArg != nil && wm.modelArg.value != "" {
		modelName = wm.modelArg.value
	}
	if wm.model != nil {
		model = wm.model.Type()
	}
	var want []string
	switch hm.def.hook {
	case Init:
		want = []string{"M"}
	case Update:
		want = []string{"ctx", "M"}
	default:
		want = []string{"ctx"}
	}
	params, results := sig.Params(), sig.Results()
	ok := params.Len() == len(want) && !sig.Variadic() &&
		results.Len() == 1 && types.Identical(results.At(0).Type(), types.Universe.Lookup("error").Type())
	for i := 0; ok && i < len(want); i++ {
		t := params.At(i).Type()
		if !isValid(t) {
			return // the type checker reported it
		}
		switch want[i] {
		case "ctx":
			ok = isNamed(t, "context", "Context")
		case "M":
			ok = model == nil || types.Identical(t, model)
		}
	}
	if ok {
		return
	}
	wantStr := strings.NewReplacer("ctx", "context.Context", "M", modelName).Replace(strings.Join(want, ", "))
	got := types.NewSignatureType(nil, nil, nil, params, results, sig.Variadic())
	b.errorf(hm.fd.Name.Pos(), "%s hook must be func(%s) error; %s is %s", hm.def.Name, wantStr, method, b.typeString(got))
}

func isValid(t types.Type) bool {
	return t != nil && t != types.Typ[types.Invalid]
}

// isNamed reports whether t is the named type path.name.
func isNamed(t types.Type, path, name string) bool {
	var obj *types.TypeName
	switch t := t.(type) {
	case *types.Named:
		obj = t.Obj()
	case *types.Alias:
		obj = t.Obj()
	default:
		return false
	}
	return obj.Name() == name && obj.Pkg() != nil && obj.Pkg().Path() == path
}

// typeString writes t as the user would in this package.
func (b *builder) typeString(t types.Type) string {
	return types.TypeString(t, func(p *types.Package) string {
		if p == b.lp.Types {
			return ""
		}
		return p.Name()
	})
}

// checkOutputFile refuses to overwrite a file skaldgen did not write.
func (b *builder) checkOutputFile(p *Package) {
	if len(p.Workers) == 0 && len(p.Models) == 0 {
		return
	}
	for _, f := range b.lp.GoFiles {
		if f == p.Out && !slices.Contains(b.lp.Generated, f) {
			b.diags = append(b.diags, Diagnostic{
				Pos: token.Position{Filename: f, Line: 1, Column: 1},
				Msg: fmt.Sprintf("%s was not written by skaldgen, which writes its output to this file; rename it", filepath.Base(f)),
			})
		}
	}
}

// GeneratedNames returns the package-level identifiers the generated file
// declares, each with what it is generated for.
func (p *Package) GeneratedNames() map[string]string {
	names := make(map[string]string)
	if len(p.Workers) == 0 && len(p.Models) == 0 {
		return names
	}
	names["Register"] = "the package"
	for _, w := range p.Workers {
		names[w.Name+"Class"] = "worker " + w.Name
		names["New"+w.Name+"Client"] = "worker " + w.Name
		if w.Progress != nil {
			names["Report"+w.Name+"Progress"] = "worker " + w.Name
		}
		if w.Result != nil {
			names["Set"+w.Name+"Result"] = "worker " + w.Name
		}
		if w.Progress != nil || w.Result != nil {
			names[w.Name+"Client"] = "worker " + w.Name
		}
	}
	for _, m := range p.Models {
		for _, pre := range []string{"Decode", "Encode", "Validate", "Changes", "schema"} {
			names[pre+m.Name] = "model " + m.Name
		}
	}
	for _, s := range p.Structs {
		for _, pre := range []string{"decode", "encode", "validate", "changes"} {
			names[pre+s.Name] = "struct " + s.Name
		}
	}
	return names
}

// checkGeneratedNames reports user declarations that the generated file
// would redeclare, and reports the deferred undefined-identifier errors
// that the generated file will not resolve.
func (b *builder) checkGeneratedNames(p *Package) {
	names := p.GeneratedNames()
	out := filepath.Base(p.Out)
	for _, name := range slices.Sorted(maps.Keys(names)) {
		if obj := p.Types.Scope().Lookup(name); obj != nil && obj.Pos().IsValid() &&
			!slices.Contains(b.lp.Generated, b.fset.Position(obj.Pos()).Filename) {
			// Declarations of the previous output are skaldgen's own; they
			// are type-checked when the analyzer runs under go vet.
			b.errorf(obj.Pos(), "%s is declared here, but skaldgen generates it for %s in %s; rename this declaration", name, names[name], out)
		}
	}
	for _, u := range b.undefined {
		if _, ok := names[u.name]; !ok {
			b.diags = append(b.diags, u.d)
		}
	}
}
