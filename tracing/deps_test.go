package tracing

import (
	"slices"
	"strings"
	"testing"

	"golang.org/x/tools/go/packages"
)

// deps returns every package that pattern's packages import, directly or
// not, by the importing package.
func deps(t *testing.T, pattern string) map[string][]string {
	t.Helper()
	pkgs, err := packages.Load(&packages.Config{Mode: packages.NeedName | packages.NeedImports | packages.NeedDeps, Dir: ".."}, pattern)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, root := range pkgs {
		seen := map[string]bool{}
		var walk func(p *packages.Package)
		walk = func(p *packages.Package) {
			for path, imp := range p.Imports {
				if !seen[path] {
					seen[path] = true
					out[root.PkgPath] = append(out[root.PkgPath], path)
					walk(imp)
				}
			}
		}
		walk(root)
	}
	return out
}

// TestOnlyBinariesLinkTheExporter: the runtime links the OpenTelemetry
// API only, never the SDK or an exporter (a user picks those); the
// production binaries link the exporter but none of the test kit or the
// embedded servers.
func TestOnlyBinariesLinkTheExporter(t *testing.T) {
	runtime := deps(t, "github.com/skalds-go/skalds/runtime/...")
	if !slices.Contains(runtime["github.com/skalds-go/skalds/runtime/event"], "go.opentelemetry.io/otel/trace") {
		t.Fatalf("runtime/event does not link the OpenTelemetry API: the package graph was not read (%d packages)", len(runtime))
	}
	for pkg, ds := range runtime {
		for _, d := range ds {
			if strings.HasPrefix(d, "go.opentelemetry.io/otel/sdk") || strings.HasPrefix(d, "go.opentelemetry.io/otel/exporters") ||
				strings.HasPrefix(d, "google.golang.org/grpc") {
				t.Errorf("%s links %s", pkg, d)
			}
		}
	}
	for pkg, ds := range deps(t, "github.com/skalds-go/skalds/cmd/skald") {
		for _, d := range ds {
			for _, banned := range []string{"github.com/skalds-go/skalds/skaldtest", "github.com/skalds-go/skalds/embedded",
				"/kfake", "miniredis", "FerretDB", "sdk/trace/tracetest"} {
				if strings.Contains(d, banned) {
					t.Errorf("%s links %s", pkg, d)
				}
			}
		}
		if !slices.Contains(ds, "go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp") {
			t.Errorf("%s does not link the OTLP/HTTP exporter", pkg)
		}
	}
}
