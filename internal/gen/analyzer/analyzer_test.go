package analyzer_test

import (
	"testing"

	"github.com/skalds-go/skalds/internal/gen/analyzer"
	"golang.org/x/tools/go/analysis/analysistest"
)

func TestAnalyzer(t *testing.T) {
	analysistest.Run(t, analysistest.TestData(), analyzer.Analyzer, "a", "b")
}
