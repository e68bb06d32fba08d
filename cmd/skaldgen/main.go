package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/skalds-go/skalds/internal/gen"
	"github.com/skalds-go/skalds/internal/gen/model"
	"github.com/skalds-go/skalds/internal/version"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// parseExit is the exit code of a failed flag parse: 0 for -h and -help,
// which asked for the usage just printed, else 2.
func parseExit(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	return 2
}

// run is main without the process: it returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "init" {
		return runInit(args[1:], stdout, stderr)
	}
	fl := flag.NewFlagSet("skaldgen", flag.ContinueOnError)
	fl.SetOutput(stderr)
	check := fl.Bool("check", false, "write nothing; exit 1 naming every generated file that is out of date or missing")
	markers := fl.Bool("markers", false, "print every marker, where it may stand and its arguments, and exit")
	verbose := fl.Bool("v", false, "print progress")
	schemaDir := fl.String("schema", "", "also write the JSON Schema of every model to `dir`/<Model>.schema.json")
	showVersion := fl.Bool("version", false, "print the version of skaldgen and exit")
	fl.Usage = func() {
		fmt.Fprintf(stderr, "usage: skaldgen [-check] [-v] [-schema dir] [packages]\n       skaldgen -markers\n       skaldgen -version\n       skaldgen init [-dir dir] name\n\nflags:\n")
		fl.PrintDefaults()
	}
	if err := fl.Parse(args); err != nil {
		return parseExit(err)
	}
	if *showVersion {
		fmt.Fprintln(stdout, "skaldgen", version.String())
		return 0
	}
	if *markers {
		if err := model.PrintMarkers(stdout); err != nil {
			fmt.Fprintf(stderr, "skaldgen: %v\n", err)
			return 1
		}
		return 0
	}
	opts := gen.Options{Patterns: fl.Args()}
	if *verbose {
		opts.Log = stderr
	}
	res, err := gen.Generate(opts)
	if err != nil {
		fmt.Fprintf(stderr, "skaldgen: %v\n", err)
		return 1
	}
	if len(res.Diagnostics) > 0 {
		for _, d := range res.Diagnostics {
			fmt.Fprintln(stderr, d.Format(relToCwd))
		}
		return 1
	}
	if *schemaDir != "" && !*check {
		if err := writeSchemas(res, *schemaDir, stderr, *verbose); err != nil {
			fmt.Fprintf(stderr, "skaldgen: %v\n", err)
			return 1
		}
	}
	if len(res.Files) == 0 {
		// Nothing to do is most often the wrong directory or pattern:
		// say so rather than pass silently.
		where := strings.Join(opts.Patterns, " ")
		if where == "" {
			where = "."
		}
		fmt.Fprintf(stderr, "skaldgen: no package in %s has a //skald: marker; nothing to generate (name the worker packages, such as ./...)\n", where)
		if *check {
			return 1
		}
		return 0
	}
	code := 0
	var checked []string
	for _, f := range res.Files {
		var st gen.State
		if *check {
			st, err = f.State()
		} else {
			st, err = f.Write()
		}
		if err != nil {
			fmt.Fprintf(stderr, "skaldgen: %v\n", err)
			return 1
		}
		name := relToCwd(f.Path)
		checked = append(checked, name)
		switch {
		case *check && st == gen.OutOfDate:
			fmt.Fprintf(stderr, "%s is out of date; run go generate ./...\n", name)
			code = 1
		case *check && st == gen.Missing:
			fmt.Fprintf(stderr, "%s is missing; run go generate ./...\n", name)
			code = 1
		case *check && st == gen.Stale:
			fmt.Fprintf(stderr, "%s is left over from a package that has no //skald: markers any more; delete it or run go generate ./...\n", name)
			code = 1
		case *verbose && !*check && st == gen.Stale:
			fmt.Fprintf(stderr, "removed %s\n", name)
		case *verbose && !*check && st != gen.UpToDate:
			fmt.Fprintf(stderr, "wrote %s\n", name)
		case *verbose:
			fmt.Fprintf(stderr, "%s is up to date\n", name)
		}
	}
	if *check && code == 0 {
		fmt.Fprintf(stdout, "skaldgen: %d generated file(s) up to date: %s\n", len(checked), strings.Join(checked, ", "))
	}
	return code
}

// relToCwd shortens path for messages the way compilers do, so that an
// editor run from the same directory can jump to it.
func relToCwd(path string) string {
	if !filepath.IsAbs(path) {
		return path
	}
	wd, err := os.Getwd()
	if err != nil {
		return path
	}
	rel, err := filepath.Rel(wd, path)
	if err != nil || strings.HasPrefix(rel, ".."+string(filepath.Separator)+"..") {
		return path
	}
	return rel
}

// writeSchemas writes the JSON Schema of every model into dir, leaving
// files whose contents are unchanged alone.
func writeSchemas(res *gen.Result, dir string, stderr io.Writer, verbose bool) error {
	schemas, err := res.Schemas()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return err
	}
	for _, name := range slices.Sorted(maps.Keys(schemas)) {
		f := gen.File{Path: filepath.Join(dir, name), Content: schemas[name]}
		st, err := f.Write()
		if err != nil {
			return err
		}
		if verbose && st != gen.UpToDate {
			fmt.Fprintf(stderr, "wrote %s\n", relToCwd(f.Path))
		}
	}
	return nil
}
