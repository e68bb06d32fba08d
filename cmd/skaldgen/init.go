package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"go/token"
	"io"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/skalds-go/skalds/internal/gen"
	"github.com/skalds-go/skalds/internal/version"
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
		return parseExit(err)
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

// generate is gen.Generate; a test makes it fail.
var generate = gen.Generate

// Scaffold writes the package name into dir, which must not hold Go files
// yet, generates its code and returns the paths written. It checks
// everything it can before writing (the name, the directory, a go.mod
// that requires the framework) and removes what it wrote when a later step
// fails, so that a failed init leaves nothing half-written behind. In a
// module of its own (not the framework's), it then runs go mod tidy, so
// that go.sum holds what the scaffold's test needs.
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
	mod, err := moduleOf(abs, name)
	if err != nil {
		return nil, err
	}
	tmpls, err := templates.Files()
	if err != nil {
		return nil, err
	}
	data := names(name)
	// Render everything before touching the disk.
	contents := map[string][]byte{}
	for _, pattern := range slices.Sorted(maps.Keys(tmpls)) {
		var b bytes.Buffer
		if err := tmpls[pattern].Execute(&b, data); err != nil {
			return nil, err
		}
		contents[filepath.Join(abs, fmt.Sprintf(pattern, name))] = b.Bytes()
	}

	var written []string
	created, err := mkdirNew(abs)
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if ok {
			return
		}
		for _, f := range written {
			os.Remove(f)
		}
		if created != "" {
			os.RemoveAll(created)
		}
	}()
	for _, path := range slices.Sorted(maps.Keys(contents)) {
		if err := os.WriteFile(path, contents[path], 0o666); err != nil {
			return nil, err
		}
		written = append(written, path)
	}
	res, err := generate(gen.Options{Dir: abs})
	if err != nil {
		return nil, err
	}
	if len(res.Diagnostics) > 0 {
		var msgs []string
		for _, d := range res.Diagnostics {
			msgs = append(msgs, d.Format(relToCwd))
		}
		return nil, errors.New("the templates do not generate:\n" + strings.Join(msgs, "\n"))
	}
	for _, f := range res.Files {
		if _, err := f.Write(); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		written = append(written, f.Path)
	}
	ok = true
	if mod.Path != version.Module {
		if out, err := goCmd(abs, "mod", "tidy"); err != nil {
			return written, fmt.Errorf("the package is written, but go mod tidy failed; run it yourself before go test:\n%s", out)
		}
	}
	return written, nil
}

// names chooses the type names of the scaffold: camera gives CameraWorker
// and CameraModel; a name that already ends in "worker" is not repeated
// (cameraworker gives CameraWorker, worker gives Worker and Model).
func names(pkg string) templates.Worker {
	base := strings.TrimSuffix(pkg, "worker")
	if base != "" {
		base = strings.ToUpper(base[:1]) + base[1:]
	}
	return templates.Worker{Package: pkg, Worker: base + "Worker", Model: base + "Model"}
}

// mkdirNew creates dir and the parents it lacks, and returns the topmost
// directory it created ("" if dir existed), for removal on failure.
func mkdirNew(dir string) (string, error) {
	top := ""
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil {
			break
		}
		top = d
		if filepath.Dir(d) == d {
			break
		}
	}
	return top, os.MkdirAll(dir, 0o777)
}

// module is what go list -m says about a module.
type module struct {
	Path string
	Dir  string
}

// moduleOf finds the module dir will belong to and checks that it
// requires the framework. When either is missing it returns an error with
// the exact commands to run first, since nothing can build without them.
func moduleOf(dir, name string) (*module, error) {
	// dir may not exist yet: ask from its nearest existing parent.
	at := dir
	for {
		if _, err := os.Stat(at); err == nil || filepath.Dir(at) == at {
			break
		}
		at = filepath.Dir(at)
	}
	get := "go get -tool " + version.Module + "/cmd/skaldgen"
	// Pin the version this skaldgen is (go run ...@v1.2.3, or a tool at
	// that version), so that the tool and the runtime fit each other.
	if v := version.String(); strings.HasPrefix(v, "v") {
		get += "@" + v
	}
	gomod, err := goCmd(at, "env", "GOMOD")
	if err != nil {
		return nil, fmt.Errorf("go env GOMOD: %v\n%s", err, gomod)
	}
	if gomod = strings.TrimSpace(gomod); gomod == "" || gomod == os.DevNull {
		return nil, fmt.Errorf("no go.mod in %s or above: a worker package lives in a Go module. Nothing was written; run first:\n"+
			"\tgo mod init example.com/%s   # your module path\n\t%s\n\tgo tool skaldgen init %s", at, name, get, name)
	}
	out, err := goCmd(at, "list", "-m", "-json", version.Module)
	if err != nil {
		return nil, fmt.Errorf("%s does not require %s. Nothing was written; run first:\n\t%s\n\tgo tool skaldgen init %s",
			gomod, version.Module, get, name)
	}
	var m module
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		return nil, fmt.Errorf("go list -m %s: %v", version.Module, err)
	}
	return &m, nil
}

// goCmd runs the go command in dir and returns its standard output, or
// its combined output on failure.
func goCmd(dir string, args ...string) (string, error) {
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String() + errb.String(), err
	}
	return out.String(), nil
}
