// Package analyzer publishes skaldgen's checks of //skald: markers as a
// go/analysis Analyzer, so that editors (gopls), go vet and linters that
// host analyzers report marker mistakes where they are typed, without
// running the generator. The checks and messages are the generator's own
// (internal/gen/model); only the way they are reported differs.
package analyzer

import (
	"go/ast"
	"go/token"
	"strings"

	"github.com/skalds-go/skalds/internal/gen/load"
	"github.com/skalds-go/skalds/internal/gen/model"
	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/packages"
)

// Analyzer reports every problem skaldgen would report for a package.
var Analyzer = &analysis.Analyzer{
	Name: "skaldmarkers",
	Doc: "check //skald: markers and the code they annotate\n\n" +
		"Reports what skaldgen would refuse to generate from: unknown or misplaced\n" +
		"markers, bad marker arguments, hook signatures, model field types, update\n" +
		"policies, and names that collide with generated code.",
	URL: "https://pkg.go.dev/github.com/skalds-go/skalds/cmd/skaldgen",
	Run: run,
}

func run(pass *analysis.Pass) (any, error) {
	lp := &load.Package{
		Package: &packages.Package{
			Name:      pass.Pkg.Name(),
			PkgPath:   pass.Pkg.Path(),
			Fset:      pass.Fset,
			Syntax:    pass.Files,
			Types:     pass.Pkg,
			TypesInfo: pass.TypesInfo,
		},
		Comments: make(map[*ast.File]ast.CommentMap, len(pass.Files)),
	}
	files := make(map[string]*token.File)
	for _, f := range pass.Files {
		tf := pass.Fset.File(f.Pos())
		if tf == nil {
			continue
		}
		name := tf.Name()
		files[name] = tf
		lp.GoFiles = append(lp.GoFiles, name)
		if isGenerated(f) {
			lp.Generated = append(lp.Generated, name)
		}
		lp.Comments[f] = ast.NewCommentMap(pass.Fset, f, f.Comments)
	}
	if len(lp.GoFiles) > 0 {
		lp.Dir = dirOf(lp.GoFiles[0])
	}
	_, diags := model.Build(pass.Fset, []*load.Package{lp}, model.Config{})
	for _, d := range diags {
		pos := token.NoPos
		if tf := files[d.Pos.Filename]; tf != nil && d.Pos.Line > 0 && d.Pos.Line <= tf.LineCount() {
			pos = tf.LineStart(d.Pos.Line) + token.Pos(max(d.Pos.Column-1, 0))
		}
		if !pos.IsValid() && len(pass.Files) > 0 {
			pos = pass.Files[0].Package
		}
		pass.Report(analysis.Diagnostic{Pos: pos, Message: d.Format(func(s string) string { return s })[len(prefix(d)):]})
	}
	return nil, nil
}

// prefix is the "file:line:col: " that Diagnostic.Format puts before the
// message; an analysis diagnostic carries its position apart.
func prefix(d model.Diagnostic) string {
	if d.Pos.Filename == "" {
		return ""
	}
	full := d.Format(func(s string) string { return s })
	i := strings.Index(full, ": ")
	if i < 0 {
		return ""
	}
	return full[:i+2]
}

func isGenerated(f *ast.File) bool {
	return len(f.Comments) > 0 && f.Comments[0].Pos() < f.Package && len(f.Comments[0].List) > 0 &&
		f.Comments[0].List[0].Text == load.Header
}

func dirOf(path string) string {
	if i := strings.LastIndexAny(path, `/\`); i >= 0 {
		return path[:i]
	}
	return "."
}
