// Package version tells which build of skalds-go a binary is, for
// "skald version", "skaldgen -version" and the controller's API.
package version

import "runtime/debug"

// version is set by release builds:
//
//	go build -ldflags "-X github.com/skalds-go/skalds/internal/version.version=v1.2.3" ./cmd/skald
var version string

// String is the release set at build time; else the module version that
// "go install ...@v1.2.3" records; else "dev" with the commit the binary
// was built from, when the build recorded one.
func String() string {
	if version != "" {
		return version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	if bi.Main.Path != Module {
		// A tool of another module (go tool skaldgen): the framework is a
		// dependency, at the version that module's go.mod names.
		if v := Dependency(); v != "(devel)" {
			return v
		}
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = ", modified"
			}
		}
	}
	if rev == "" {
		return "dev"
	}
	return "dev (" + rev[:min(len(rev), 12)] + modified + ")"
}

// Module is the framework's module path.
const Module = "github.com/skalds-go/skalds"

// Dependency is the version of the framework as the module that built the
// binary requires it: what go.mod names when the binary is a tool of
// another module, and "(devel)" when it was built from the framework's own
// checkout or a replaced one. Unlike String it never depends on the
// commit, so generated files that record it stay the same from build to
// build.
func Dependency() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok || bi.Main.Path == Module {
		return "(devel)"
	}
	for _, d := range bi.Deps {
		if d.Path == Module {
			if d.Replace != nil {
				return "(devel)"
			}
			return d.Version
		}
	}
	return "(devel)"
}
