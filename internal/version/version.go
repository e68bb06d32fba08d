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
