package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"go/token"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/skalds-go/skalds/internal/gen"
	"github.com/skalds-go/skalds/templates"
)

// runInit implements "skaldgen init [-dir dir] name": it writes a new
// worker package from the embedded templates and generates its code, so
// that the package builds and its test passes at once.
func runInit(args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("skaldgen init", flag.ContinueOnError)
	fl.SetOutput(stderr)
	dir := fl.String("dir", "", "write the package to `dir` instead of ./<name>")
	fl.Usage = func() {
		fmt.Fprintf(stderr, "usage: skaldgen init [-dir dir] name\n\n"+
			"Writes a worker package named name (a Go identifier such as camera) with\n"+
			"an annotated model and worker and a test, and generates its code.\n\nflags:\n")
		fl.PrintDefaults()
	}
	if err := fl.Parse(args); err != nil {
		return 2
	}
	if fl.NArg() != 1 {
		fl.Usage()
		return 2
	}
	name := fl.Arg(0)
	if *dir == "" {
		*dir = name
	}
	files, err := Scaffold(*dir, name)
	if err != nil {
		fmt.Fprintf(stderr, "skaldgen init: %v\n", err)
		return 1
	}
	for _, f := range files {
		fmt.Fprintf(stdout, "wrote %s\n", relToCwd(f))
	}
	return 0
}

// Scaffold writes the package name into dir, which must not hold Go files
// yet, generates its code and returns the paths written.
func Scaffold(dir, name string) ([]string, error) {
	if !token.IsIdentifier(name) || token.IsKeyword(name) || strings.ToLower(name) != name {
		return nil, fmt.Errorf("package name %q is not a lower-case Go identifier", name)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if existing, _ := filepath.Glob(filepath.Join(abs, "*.go")); len(existing) > 0 {
		return nil, fmt.Errorf("%s already holds Go files; choose an empty directory with -dir", dir)
	}
	tmpls, err := templates.Files()
	if err != nil {
		return nil, err
	}
	title := strings.ToUpper(name[:1]) + name[1:]
	data := templates.Worker{Package: name, Worker: title + "Worker", Model: title + "Model"}
	if err := os.MkdirAll(abs, 0o777); err != nil {
		return nil, err
	}
	var written []string
	for _, pattern := range slices.Sorted(maps.Keys(tmpls)) {
		t := tmpls[pattern]
		var b bytes.Buffer
		if err := t.Execute(&b, data); err != nil {
			return nil, err
		}
		path := filepath.Join(abs, fmt.Sprintf(pattern, name))
		if err := os.WriteFile(path, b.Bytes(), 0o666); err != nil {
			return nil, err
		}
		written = append(written, path)
	}
	res, err := gen.Generate(gen.Options{Dir: abs})
	if err != nil {
		return written, err
	}
	if len(res.Diagnostics) > 0 {
		var msgs []string
		for _, d := range res.Diagnostics {
			msgs = append(msgs, d.Format(relToCwd))
		}
		return written, errors.New("the templates do not generate:\n" + strings.Join(msgs, "\n"))
	}
	for _, f := range res.Files {
		if _, err := f.Write(); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return written, err
		}
		written = append(written, f.Path)
	}
	return written, nil
}
