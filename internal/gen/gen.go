// Package gen is skaldgen's generator: it loads packages (gen/load),
// builds the model of their //skald: markers and checks the user's code
// (gen/model), and renders one file per package (gen/render). The command
// in cmd/skaldgen only parses flags and writes what Generate returns.
package gen

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/skalds-go/skalds/internal/gen/load"
	"github.com/skalds-go/skalds/internal/gen/model"
	"github.com/skalds-go/skalds/internal/gen/render"
	"github.com/skalds-go/skalds/internal/gen/schema"
)

// Options configure one run of the generator.
type Options struct {
	// Dir is where the patterns are resolved; empty means the current
	// directory.
	Dir string
	// Patterns are go command package patterns; none means ".".
	Patterns []string
	// Overlay replaces file contents for the load, as in packages.Config.
	Overlay map[string][]byte
	// Model changes the checks of the model.
	Model model.Config
	// Log receives progress lines when not nil.
	Log io.Writer
}

// File is one output of a run.
type File struct {
	// Path is the absolute path of the file.
	Path string
	// Content is the generated source, or nil when the file is the stale
	// output of a package that no longer has markers and should go.
	Content []byte
}

// Result is what a run produced. Files is empty when there are
// diagnostics: skaldgen writes all of its output or none of it.
type Result struct {
	Files       []File
	Diagnostics []model.Diagnostic
	// Packages are the models built, for tests and tools.
	Packages []*model.Package
}

// Generate loads the packages once, builds their models and renders them.
// The error is for failures to load at all; problems in the user's code
// are in Result.Diagnostics.
func Generate(opts Options) (*Result, error) {
	start := time.Now()
	pkgs, fset, err := load.Load(load.Config{Dir: opts.Dir, Patterns: opts.Patterns, Overlay: opts.Overlay})
	if err != nil {
		return nil, err
	}
	logf(opts.Log, "loaded %d package(s) in %v", len(pkgs), time.Since(start).Round(time.Millisecond))

	models, diags := model.Build(fset, pkgs, opts.Model)
	res := &Result{Diagnostics: diags, Packages: models}
	if len(diags) > 0 {
		return res, nil
	}
	byPath := make(map[string]*load.Package, len(pkgs))
	for _, p := range pkgs {
		byPath[p.PkgPath] = p
	}
	for _, p := range models {
		src, err := render.File(p)
		if err != nil {
			return nil, err
		}
		if src == nil {
			// A package without markers keeps no generated file.
			for _, old := range byPath[p.Path].Generated {
				res.Files = append(res.Files, File{Path: old})
			}
			continue
		}
		logf(opts.Log, "%s: %d worker(s), %d model(s), %d struct type(s)", p.Path, len(p.Workers), len(p.Models), len(p.Structs))
		res.Files = append(res.Files, File{Path: p.Out, Content: src})
	}
	logf(opts.Log, "generated %d file(s) in %v", len(res.Files), time.Since(start).Round(time.Millisecond))
	return res, nil
}

func logf(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, format+"\n", args...)
	}
}

// State says how a File compares with the disk.
type State int

// The states of a generated file.
const (
	UpToDate State = iota
	OutOfDate
	Missing
	Stale // generated for a package that no longer has markers
)

// State compares f with the file on disk.
func (f File) State() (State, error) {
	old, err := os.ReadFile(f.Path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if f.Content == nil {
			return UpToDate, nil
		}
		return Missing, nil
	case err != nil:
		return 0, err
	case f.Content == nil:
		return Stale, nil
	case bytes.Equal(old, f.Content):
		return UpToDate, nil
	}
	return OutOfDate, nil
}

// Write brings the disk in line with f. It leaves an up-to-date file
// alone, so that build tools that watch modification times see no change.
func (f File) Write() (State, error) {
	st, err := f.State()
	if err != nil {
		return st, err
	}
	switch st {
	case Stale:
		err = os.Remove(f.Path)
	case Missing, OutOfDate:
		err = os.WriteFile(f.Path, f.Content, 0o666)
	}
	return st, err
}

// Schemas returns the JSON Schema of every model of the run, by file name
// (<Model>.schema.json). Two models of one name in different packages are
// an error: their files would overwrite each other.
func (res *Result) Schemas() (map[string][]byte, error) {
	out := make(map[string][]byte)
	from := make(map[string]string)
	for _, p := range res.Packages {
		for _, m := range p.Models {
			name := m.Name + ".schema.json"
			if other, dup := from[name]; dup {
				return nil, fmt.Errorf("models %s.%s and %s.%s would both be written to %s", other, m.Name, p.Path, m.Name, name)
			}
			js, err := schema.Model(m)
			if err != nil {
				return nil, err
			}
			out[name] = js
			from[name] = p.Path
		}
	}
	return out, nil
}
