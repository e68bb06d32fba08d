// Skaldvet reports mistakes in //skald: markers and the code they annotate
// the way go vet reports other mistakes, with skaldgen's own checks and
// messages, so that they show up in editors and CI before anyone runs the
// generator.
//
// Usage:
//
//	go install github.com/skalds-go/skalds/cmd/skaldvet
//	go vet -vettool=$(which skaldvet) ./...
//
// or standalone: skaldvet ./...
package main

import (
	"github.com/skalds-go/skalds/internal/gen/analyzer"
	"golang.org/x/tools/go/analysis/singlechecker"
)

func main() { singlechecker.Main(analyzer.Analyzer) }
