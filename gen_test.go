package skalds_test

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/skalds-go/skalds/internal/gen"
	"github.com/skalds-go/skalds/internal/gen/gentest"
	"github.com/skalds-go/skalds/internal/gen/model"
	"golang.org/x/tools/go/packages"
)

var update = flag.Bool("update", false, "rewrite the golden files of the generator tests")

// goldenPackages are the packages whose committed generated file must be
// exactly what skaldgen writes today.
var goldenPackages = []string{"example/worker", "internal/gen/gentest", "runtime/codec/internal/codectest"}

// TestGenerate checks the committed generated files of the example worker
// and of the behaviour-test package. With -update it rewrites them.
func TestGenerate(t *testing.T) {
	for _, dir := range goldenPackages {
		t.Run(dir, func(t *testing.T) {
			res := generate(t, dir, model.Config{})
			if len(res.Files) != 1 {
				t.Fatalf("generated %d files, want 1", len(res.Files))
			}
			checkGolden(t, res.Files[0].Path, res.Files[0].Content)
		})
	}
}

// TestGenerateCases runs the generator on each package under
// testdata/gen. A case with expected.stderr must fail with exactly those
// diagnostics (paths relative to the case directory); any other case must
// produce its committed <package>_skald.go, which must compile together
// with the package.
func TestGenerateCases(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join("testdata", "gen", "*"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no cases in testdata/gen (%v)", err)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			res := generate(t, dir, model.Config{})
			stderrFile := filepath.Join(dir, "expected.stderr")
			_, statErr := os.Stat(stderrFile)
			wantFailure := statErr == nil
			if *update {
				wantFailure = len(res.Diagnostics) > 0
			}
			if wantFailure {
				checkGolden(t, stderrFile, []byte(formatDiagnostics(res.Diagnostics, dir)))
				if len(res.Files) > 0 {
					t.Errorf("a failed run returned %d files, want none", len(res.Files))
				}
				return
			}
			if len(res.Diagnostics) > 0 {
				t.Fatalf("unexpected diagnostics:\n%s", formatDiagnostics(res.Diagnostics, dir))
			}
			if len(res.Files) != 1 {
				t.Fatalf("generated %d files, want 1", len(res.Files))
			}
			if *update {
				os.Remove(stderrFile)
			}
			f := res.Files[0]
			checkGolden(t, f.Path, f.Content)
			if errs := typeCheck(t, dir, map[string][]byte{f.Path: f.Content}); len(errs) > 0 {
				t.Errorf("generated code does not compile:\n%s", strings.Join(errs, "\n"))
			}
			schemas, err := res.Schemas()
			if err != nil {
				t.Fatal(err)
			}
			for name, js := range schemas {
				checkGolden(t, filepath.Join(dir, name), js)
			}
		})
	}
}

// TestWrongModelFailsToCompile shows that the generated code itself
// rejects an update hook that takes another model type: with the
// generator's signature check turned off, the output still does not
// type-check, and the compiler names the wrong type.
func TestWrongModelFailsToCompile(t *testing.T) {
	dir := filepath.Join("testdata", "gen", "update_wrong_model")
	res := generate(t, dir, model.Config{SkipHookSignatures: true})
	if len(res.Diagnostics) > 0 {
		t.Fatalf("unexpected diagnostics:\n%s", formatDiagnostics(res.Diagnostics, dir))
	}
	f := res.Files[0]
	errs := typeCheck(t, dir, map[string][]byte{f.Path: f.Content})
	if len(errs) == 0 {
		t.Fatal("generated code type-checks, want an error about the update hook")
	}
	all := strings.Join(errs, "\n")
	if !strings.Contains(all, "w.Update") || !strings.Contains(all, "OtherModel") || !strings.Contains(all, "MySimpleDataModel") {
		t.Errorf("type errors do not name the update hook and both models:\n%s", all)
	}
	if !strings.Contains(all, filepath.Base(f.Path)) {
		t.Errorf("type errors are not in the generated file:\n%s", all)
	}
}

// TestVersionGuardFailsToCompile shows that generated code and a runtime
// that no longer fit each other fail at build time, on the guard line,
// whose comment says to regenerate: once for code older than the runtime
// accepts, once for code newer than it knows.
func TestVersionGuardFailsToCompile(t *testing.T) {
	dir := filepath.Join("example", "worker")
	res := generate(t, dir, model.Config{})
	if len(res.Diagnostics) > 0 || len(res.Files) != 1 {
		t.Fatalf("generating %s: %d files, diagnostics:\n%s", dir, len(res.Files), formatDiagnostics(res.Diagnostics, dir))
	}
	f := res.Files[0]
	if errs := typeCheck(t, dir, map[string][]byte{f.Path: f.Content}); len(errs) > 0 {
		t.Fatalf("the generated file does not type-check as it is:\n%s", strings.Join(errs, "\n"))
	}
	src := string(f.Content)
	if !strings.Contains(src, "regenerate it (go generate ./...)") {
		t.Fatalf("the guard's comment does not say to regenerate:\n%s", src)
	}
	for _, tc := range []struct{ name, from, to string }{
		{"older than the runtime", "1 - skald.MinGenVersion", "0 - skald.MinGenVersion"},
		{"newer than the runtime", "skald.MaxGenVersion - 1", "skald.MaxGenVersion - 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(src, tc.from) {
				t.Fatalf("the generated file has no %q", tc.from)
			}
			changed := strings.Replace(src, tc.from, tc.to, 1)
			errs := typeCheck(t, dir, map[string][]byte{f.Path: []byte(changed)})
			line := 1 + strings.Count(changed[:strings.Index(changed, tc.to)], "\n")
			at := fmt.Sprintf("%s:%d:", filepath.Base(f.Path), line)
			found := false
			for _, e := range errs {
				found = found || strings.Contains(e, at) && strings.Contains(e, "overflows skald.EnforceVersion")
			}
			if !found {
				t.Errorf("type errors %q, want one at %s about skald.EnforceVersion", errs, at)
			}
		})
	}
}

// TestOwnRepository drives the path of a new author from an empty
// directory outside this repository, as the README's "In your own
// repository" section gives it: skaldgen init without a module prints the
// commands to run and writes nothing; then, in a module that has the tool,
// init writes a package whose generated file is up to date and whose test
// passes at once. The framework comes from this checkout (a replace
// directive), which stands in for the go get -tool of a published version.
func TestOwnRepository(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a module of its own")
	}
	bin := buildSkaldgen(t)
	root, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	env := append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
	goRun := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("go", args...)
		cmd.Dir, cmd.Env = dir, env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	initCmd := func() (string, string, int) {
		t.Helper()
		cmd := exec.Command(bin, "init", "camera")
		cmd.Dir, cmd.Env = dir, env
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			t.Fatal(err)
		}
		return out.String(), errb.String(), cmd.ProcessState.ExitCode()
	}
	empty := func(when string) {
		t.Helper()
		entries, _ := os.ReadDir(dir)
		var names []string
		for _, e := range entries {
			if e.Name() != "go.mod" {
				names = append(names, e.Name())
			}
		}
		if len(names) > 0 {
			t.Fatalf("%s, init left %v behind", when, names)
		}
	}

	_, stderr, code := initCmd()
	if code != 1 || !strings.Contains(stderr, "go mod init example.com/camera") || !strings.Contains(stderr, "go get -tool github.com/skalds-go/skalds/cmd/skaldgen") {
		t.Fatalf("init without go.mod: exit %d, stderr %q; want 1 and the commands to run", code, stderr)
	}
	empty("without go.mod")

	goRun("mod", "init", "example.com/cameras")
	_, stderr, code = initCmd()
	if code != 1 || !strings.Contains(stderr, "go get -tool github.com/skalds-go/skalds/cmd/skaldgen") {
		t.Fatalf("init without the framework: exit %d, stderr %q; want 1 and the go get -tool command", code, stderr)
	}
	empty("without the framework in go.mod")

	// go get -tool github.com/skalds-go/skalds/cmd/skaldgen, from this
	// checkout.
	goRun("mod", "edit", "-replace", "github.com/skalds-go/skalds="+root,
		"-require", "github.com/skalds-go/skalds@v0.0.0-00010101000000-000000000000",
		"-tool", "github.com/skalds-go/skalds/cmd/skaldgen")
	goRun("mod", "tidy")

	out := goRun("tool", "skaldgen", "init", "camera")
	if want := "wrote camera/camera.go\nwrote camera/camera_test.go\nwrote camera/camera_skald.go\n"; out != want {
		t.Errorf("init printed %q, want %q", out, want)
	}
	src, err := os.ReadFile(filepath.Join(dir, "camera", "camera.go"))
	if err != nil || !bytes.Contains(src, []byte("type CameraWorker struct")) || !bytes.Contains(src, []byte("type CameraModel struct")) {
		t.Errorf("camera.go lacks CameraWorker and CameraModel (%v)", err)
	}
	gen, err := os.ReadFile(filepath.Join(dir, "camera", "camera_skald.go"))
	if want := "// Code generated by skaldgen. DO NOT EDIT.\n// versions:\n// \tskaldgen (devel)\n// source: camera.go\n"; err != nil || !strings.HasPrefix(string(gen), want) {
		t.Errorf("camera_skald.go does not start with %q (%v):\n%.200s", want, err, gen)
	}
	if out := goRun("tool", "skaldgen", "-check", "./..."); !strings.Contains(out, "camera/camera_skald.go") {
		t.Errorf("-check printed %q, want it to name camera/camera_skald.go", out)
	}
	goRun("generate", "./...")
	goRun("test", "-count=1", "./camera")
}

// TestMarkersHelp checks the text of skaldgen -markers.
func TestMarkersHelp(t *testing.T) {
	var b bytes.Buffer
	if err := model.PrintMarkers(&b); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, filepath.Join("testdata", "markers.golden"), b.Bytes())
}

// TestCommand runs the skaldgen binary the way go generate and CI do.
func TestCommand(t *testing.T) {
	bin := buildSkaldgen(t)

	t.Run("markers", func(t *testing.T) {
		out, _, code := runSkaldgen(t, bin, ".", "-markers")
		want, err := os.ReadFile(filepath.Join("testdata", "markers.golden"))
		if err != nil {
			t.Fatal(err)
		}
		if code != 0 || out != string(want) {
			t.Errorf("exit %d, output differs from testdata/markers.golden:\n%s", code, out)
		}
	})

	t.Run("check up to date", func(t *testing.T) {
		out, stderr, code := runSkaldgen(t, bin, ".", "-check", "./example/worker", "github.com/skalds-go/skalds/internal/gen/gentest")
		if code != 0 || stderr != "" {
			t.Errorf("exit %d, stderr %q; want 0 and nothing", code, stderr)
		}
		if want := "skaldgen: 2 generated file(s) up to date: " + filepath.Join("example", "worker", "worker_skald.go") + ", " + filepath.Join("internal", "gen", "gentest", "gentest_skald.go") + "\n"; out != want {
			t.Errorf("-check printed %q, want %q", out, want)
		}
	})

	t.Run("check without markers", func(t *testing.T) {
		_, stderr, code := runSkaldgen(t, bin, ".", "-check", "./controller/...")
		if code != 1 || !strings.Contains(stderr, "no package in ./controller/... has a //skald: marker") {
			t.Errorf("exit %d, stderr %q; want 1 and a message that nothing has markers", code, stderr)
		}
	})

	t.Run("check, write, check", func(t *testing.T) {
		dir := tempPackageDir(t)
		for _, name := range []string{"worker.go", "worker_skald.go"} {
			b, err := os.ReadFile(filepath.Join("example", "worker", name))
			if err != nil {
				t.Fatal(err)
			}
			if name == "worker_skald.go" {
				// Stale output that no longer compiles must not stop the
				// generator from replacing it.
				b = bytes.Replace(b, []byte("w.Run"), []byte("w.Gone"), 1)
			}
			if err := os.WriteFile(filepath.Join(dir, name), b, 0o666); err != nil {
				t.Fatal(err)
			}
		}
		_, stderr, code := runSkaldgen(t, bin, dir, "-check")
		if want := "worker_skald.go is out of date; run go generate ./...\n"; code != 1 || stderr != want {
			t.Errorf("-check: exit %d, stderr %q; want 1 and %q", code, stderr, want)
		}
		if _, stderr, code := runSkaldgen(t, bin, dir); code != 0 || stderr != "" {
			t.Errorf("write: exit %d, stderr %q", code, stderr)
		}
		if _, stderr, code := runSkaldgen(t, bin, dir, "-check"); code != 0 {
			t.Errorf("-check after write: exit %d, stderr %q", code, stderr)
		}
		got, _ := os.ReadFile(filepath.Join(dir, "worker_skald.go"))
		want, _ := os.ReadFile(filepath.Join("example", "worker", "worker_skald.go"))
		if !bytes.Equal(got, want) {
			t.Error("written file differs from example/worker/worker_skald.go")
		}
		os.Remove(filepath.Join(dir, "worker_skald.go"))
		_, stderr, code = runSkaldgen(t, bin, dir, "-check")
		if want := "worker_skald.go is missing; run go generate ./...\n"; code != 1 || stderr != want {
			t.Errorf("-check without the file: exit %d, stderr %q; want 1 and %q", code, stderr, want)
		}
	})

	t.Run("left over output", func(t *testing.T) {
		dir := tempPackageDir(t)
		files := map[string]string{
			"plain.go":       "package plain\n\n// T no longer has markers.\ntype T struct{}\n",
			"plain_skald.go": "// Code generated by skaldgen. DO NOT EDIT.\n\npackage plain\n\nfunc Register() { undefined() }\n",
		}
		for name, src := range files {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o666); err != nil {
				t.Fatal(err)
			}
		}
		_, stderr, code := runSkaldgen(t, bin, dir, "-check")
		if code != 1 || !strings.HasPrefix(stderr, "plain_skald.go is left over") {
			t.Errorf("-check: exit %d, stderr %q; want 1 and a left-over message", code, stderr)
		}
		if _, stderr, code := runSkaldgen(t, bin, dir); code != 0 || stderr != "" {
			t.Errorf("write: exit %d, stderr %q", code, stderr)
		}
		if _, err := os.Stat(filepath.Join(dir, "plain_skald.go")); !os.IsNotExist(err) {
			t.Errorf("left-over file still there (%v)", err)
		}
	})

	t.Run("init", func(t *testing.T) {
		dir := tempPackageDir(t)
		pkg := filepath.Join(dir, "camera")
		out, stderr, code := runSkaldgen(t, bin, dir, "init", "camera")
		if code != 0 || stderr != "" {
			t.Fatalf("init: exit %d, stderr %q", code, stderr)
		}
		if want := "wrote camera/camera.go\nwrote camera/camera_test.go\nwrote camera/camera_skald.go\n"; out != want {
			t.Errorf("init printed %q, want %q", out, want)
		}
		if _, stderr, code := runSkaldgen(t, bin, pkg, "-check"); code != 0 {
			t.Errorf("-check after init: exit %d, stderr %q", code, stderr)
		}
		cmd := exec.Command("go", "test", "-count=1", ".")
		cmd.Dir = pkg
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("the scaffold's test fails: %v\n%s", err, out)
		}
		if _, stderr, code := runSkaldgen(t, bin, dir, "init", "camera"); code != 1 || !strings.Contains(stderr, "already holds Go files") {
			t.Errorf("init over an existing package: exit %d, stderr %q", code, stderr)
		}
		if _, stderr, code := runSkaldgen(t, bin, dir, "init", "Bad-Name"); code != 1 || !strings.Contains(stderr, "not a lower-case Go identifier") {
			t.Errorf("init with a bad name: exit %d, stderr %q", code, stderr)
		}
	})

	t.Run("schema", func(t *testing.T) {
		dir := t.TempDir()
		if _, stderr, code := runSkaldgen(t, bin, ".", "-schema", dir, "./testdata/gen/nested"); code != 0 {
			t.Fatalf("exit %d, stderr %q", code, stderr)
		}
		got, _ := os.ReadFile(filepath.Join(dir, "Scene.schema.json"))
		want, _ := os.ReadFile(filepath.Join("testdata", "gen", "nested", "Scene.schema.json"))
		if len(got) == 0 || !bytes.Equal(got, want) {
			t.Errorf("-schema wrote %q, want testdata/gen/nested/Scene.schema.json", got)
		}
	})

	t.Run("diagnostics relative to cwd", func(t *testing.T) {
		_, stderr, code := runSkaldgen(t, bin, ".", "./testdata/gen/hook_twice", "./testdata/gen/no_main_hook")
		want, err := os.ReadFile(filepath.Join("testdata", "cmd_diagnostics.golden"))
		if err != nil && !*update {
			t.Fatal(err)
		}
		if *update {
			os.WriteFile(filepath.Join("testdata", "cmd_diagnostics.golden"), []byte(stderr), 0o666)
			want = []byte(stderr)
		}
		if code != 1 || stderr != string(want) {
			t.Errorf("exit %d, stderr:\n%s\nwant 1 and:\n%s", code, stderr, want)
		}
	})
}

// TestGenerate100Workers times one run on a package of 100 workers, each
// with its own model and nested struct, and checks that the output
// compiles.
func TestGenerate100Workers(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	dir := benchPackage(t, 100)
	start := time.Now()
	res := generate(t, dir, model.Config{})
	elapsed := time.Since(start)
	if len(res.Diagnostics) > 0 || len(res.Files) != 1 {
		t.Fatalf("%d diagnostics, %d files", len(res.Diagnostics), len(res.Files))
	}
	if n := len(res.Packages[0].Workers); n != 100 {
		t.Fatalf("%d workers, want 100", n)
	}
	t.Logf("skaldgen on 100 workers: %v (%d bytes of output)", elapsed.Round(time.Millisecond), len(res.Files[0].Content))
	f := res.Files[0]
	if errs := typeCheck(t, dir, map[string][]byte{f.Path: f.Content}); len(errs) > 0 {
		t.Errorf("generated code does not compile:\n%s", strings.Join(errs[:min(len(errs), 10)], "\n"))
	}
}

// BenchmarkGenerate100Workers measures a whole run (load, model, render)
// on 100 workers.
func BenchmarkGenerate100Workers(b *testing.B) {
	dir := benchPackage(b, 100)
	for b.Loop() {
		res, err := gen.Generate(gen.Options{Dir: dir})
		if err != nil || len(res.Diagnostics) > 0 {
			b.Fatal(err, res.Diagnostics)
		}
	}
}

func generate(t testing.TB, dir string, cfg model.Config) *gen.Result {
	t.Helper()
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	res, err := gen.Generate(gen.Options{Dir: abs, Model: cfg})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// formatDiagnostics prints ds as skaldgen does when run in dir.
func formatDiagnostics(ds []model.Diagnostic, dir string) string {
	abs, _ := filepath.Abs(dir)
	rel := func(p string) string {
		if r, err := filepath.Rel(abs, p); err == nil {
			return filepath.ToSlash(r)
		}
		return p
	}
	var b strings.Builder
	for _, d := range ds {
		b.WriteString(d.Format(rel) + "\n")
	}
	return b.String()
}

// checkGolden compares got with the file at path, or rewrites the file
// with -update.
func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o666); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v; run go test -run %s -update .", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the generator's output; run go test -run %s -update . if the change is intended\n%s",
			path, strings.Split(t.Name(), "/")[0], lineDiff(string(want), string(got)))
	}
}

// lineDiff shows the first lines where want and got differ.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := range max(len(w), len(g)) {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return fmt.Sprintf("line %d:\n-%s\n+%s", i+1, wl, gl)
		}
	}
	return ""
}

// typeCheck loads the package in dir with overlay and returns its errors.
func typeCheck(t testing.TB, dir string, overlay map[string][]byte) []string {
	t.Helper()
	abs, _ := filepath.Abs(dir)
	pkgs, err := packages.Load(&packages.Config{
		Mode:    packages.NeedName | packages.NeedFiles | packages.NeedSyntax | packages.NeedTypes | packages.NeedTypesInfo,
		Dir:     abs,
		Overlay: overlay,
	}, ".")
	if err != nil {
		t.Fatal(err)
	}
	var errs []string
	for _, p := range pkgs {
		for _, e := range p.Errors {
			errs = append(errs, e.Error())
		}
	}
	return errs
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// buildSkaldgen builds the command once per test binary.
func buildSkaldgen(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "skaldgen-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "skaldgen")
		if runtime.GOOS == "windows" {
			binPath += ".exe"
		}
		out, err := exec.Command("go", "build", "-o", binPath, "./cmd/skaldgen").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build ./cmd/skaldgen: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func runSkaldgen(t *testing.T, bin, dir string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

// tempPackageDir returns a new directory inside the module, so that a
// package written there resolves the module's imports; it is removed when
// the test ends.
func tempPackageDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("testdata", "tmp-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

// benchPackage writes a package of n workers, one file each.
func benchPackage(t testing.TB, n int) string {
	t.Helper()
	dir := tempPackageDir(t)
	for i := range n {
		src := strings.ReplaceAll(benchWorker, "NNN", fmt.Sprintf("%03d", i))
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("w%03d.go", i)), []byte(src), 0o666); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const benchWorker = `package bench

import (
	"context"
	"time"
)

// ModelNNN are the attachments of WorkerNNN.
//
//skald:model
type ModelNNN struct {
	URL     string            ` + "`" + `json:"url" validate:"required,url"` + "`" + `
	Frame   int               ` + "`" + `json:"frame" validate:"required,gte=1"` + "`" + `
	Every   time.Duration     ` + "`" + `json:"every"` + "`" + `
	Cameras []CameraNNN       ` + "`" + `json:"cameras" validate:"dive"` + "`" + `
	Labels  map[string]string ` + "`" + `json:"labels,omitempty"` + "`" + `
}

// CameraNNN is nested in ModelNNN.
type CameraNNN struct {
	ID   string  ` + "`" + `json:"id" validate:"required"` + "`" + `
	Zoom *float64 ` + "`" + `json:"zoom"` + "`" + `
}

// WorkerNNN is worker number NNN.
//
//skald:worker model=ModelNNN
type WorkerNNN struct{ m ModelNNN }

//skald:init
func (w *WorkerNNN) Init(m ModelNNN) error { w.m = m; return nil }

//skald:main
func (w *WorkerNNN) Run(ctx context.Context) error { return nil }

//skald:update
func (w *WorkerNNN) Update(ctx context.Context, m ModelNNN) error { w.m = m; return nil }
`

// TestSchemaValidatesDocuments checks the generated JSON Schemas with a
// JSON Schema 2020-12 validator: documents the generated decoder accepts
// are valid, and documents it refuses for a reason the schema can state
// are not.
func TestSchemaValidatesDocuments(t *testing.T) {
	res := generate(t, filepath.Join("internal", "gen", "gentest"), model.Config{})
	schemas, err := res.Schemas()
	if err != nil {
		t.Fatal(err)
	}
	compile := func(name string) *jsonschema.Schema {
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schemas[name]))
		if err != nil {
			t.Fatal(err)
		}
		c := jsonschema.NewCompiler()
		c.AssertFormat()
		if err := c.AddResource(name, doc); err != nil {
			t.Fatal(err)
		}
		s, err := c.Compile(name)
		if err != nil {
			t.Fatalf("%s does not compile as a schema: %v", name, err)
		}
		return s
	}
	tests := []struct {
		schema string
		decode func([]byte) error
		doc    string
		valid  bool
	}{
		{"Pipeline.schema.json", decodeErr(gentest.DecodePipeline), `{"name":"p","mode":"fast","cameras":[{"id":"a","fixFrame":1}],"weights":[1,2,3]}`, true},
		{"Pipeline.schema.json", decodeErr(gentest.DecodePipeline), `{"name":"p","mode":"fast","cameras":[{"id":"a","fixFrame":1,"region":{"X":1,"Y":2,"W":3,"H":4}}],` +
			`"weights":[1,2,3],"labels":null,"limits":{"fast":{"max":1,"window":"1s"},"slow":null},"start":"2024-05-06T07:08:09Z","level":-128,"count":65535}`, true},
		{"Pipeline.schema.json", decodeErr(gentest.DecodePipeline), `{"name":"p","mode":"medium","cameras":[{"id":"a","fixFrame":1}],"weights":[1,2,3]}`, false},
		{"Pipeline.schema.json", decodeErr(gentest.DecodePipeline), `{"name":"p","mode":"fast","cameras":[{"id":"a","fixFrame":1}],"weights":[1,2,3],"colour":1}`, false},
		{"Pipeline.schema.json", decodeErr(gentest.DecodePipeline), `{"mode":"fast","cameras":[{"id":"a","fixFrame":1}],"weights":[1,2,3]}`, false},
		{"Pipeline.schema.json", decodeErr(gentest.DecodePipeline), `{"name":"p","mode":"fast","cameras":[{"id":"a","fixFrame":0}],"weights":[1,2,3]}`, false},
		{"Pipeline.schema.json", decodeErr(gentest.DecodePipeline), `{"name":"p","mode":"fast","cameras":[{"id":"a","fixFrame":1}],"weights":[1,2]}`, false},
		{"Pipeline.schema.json", decodeErr(gentest.DecodePipeline), `{"name":"p","mode":"fast","cameras":[{"id":"a","fixFrame":1}],"weights":[1,2,3],"level":128}`, false},
		{"Stream.schema.json", decodeErr(gentest.DecodeStream), `{"id":"6ba7b810-9dad-11d1-80b4-00c04fd430c8","name":"n","url":"http://a.example","mode":"slow",` +
			`"fps":1,"width":1,"height":1,"interval":"1s","cameras":[{"id":"a","fixFrame":1}],"output":{"topic":"t","format":"avro","batch":1}}`, true},
		{"Stream.schema.json", decodeErr(gentest.DecodeStream), `{"id":"not-a-uuid","name":"n","url":"http://a.example","mode":"slow",` +
			`"fps":1,"width":1,"height":1,"interval":"1s","cameras":[{"id":"a","fixFrame":1}],"output":{"topic":"t","format":"avro","batch":1}}`, false},
		{"Stream.schema.json", decodeErr(gentest.DecodeStream), `{"id":"6ba7b810-9dad-11d1-80b4-00c04fd430c8","name":"n","url":"http://a.example","mode":"slow",` +
			`"fps":1,"width":1,"height":1,"interval":"1s","cameras":[{"id":"a","fixFrame":1}],"zones":[{"name":"z","points":[{"x":2,"y":0}]}],` +
			`"output":{"topic":"t","format":"xml","batch":1}}`, false},
	}
	for i, tt := range tests {
		s := compile(tt.schema)
		doc, err := jsonschema.UnmarshalJSON(strings.NewReader(tt.doc))
		if err != nil {
			t.Fatal(err)
		}
		verr := s.Validate(doc)
		if (verr == nil) != tt.valid {
			t.Errorf("case %d: schema says %v, want valid=%v", i, verr, tt.valid)
		}
		if derr := tt.decode([]byte(tt.doc)); (derr == nil) != tt.valid {
			t.Errorf("case %d: the decoder says %v, want valid=%v", i, derr, tt.valid)
		}
	}
}

func decodeErr[M any](decode func([]byte) (M, error)) func([]byte) error {
	return func(b []byte) error {
		_, err := decode(b)
		return err
	}
}
