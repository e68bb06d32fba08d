package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/skalds-go/skalds/internal/gen"
)

func TestScaffoldNames(t *testing.T) {
	for _, tc := range []struct{ pkg, worker, model string }{
		{"camera", "CameraWorker", "CameraModel"},
		{"cameraworker", "CameraWorker", "CameraModel"},
		{"worker", "Worker", "Model"},
	} {
		if got := names(tc.pkg); got.Worker != tc.worker || got.Model != tc.model {
			t.Errorf("names(%q) = %s, %s; want %s, %s", tc.pkg, got.Worker, got.Model, tc.worker, tc.model)
		}
	}
}

// TestScaffoldLeavesNothingOnFailure makes generation fail after the
// templates are written: the files and the directories init created go.
func TestScaffoldLeavesNothingOnFailure(t *testing.T) {
	tmp, err := os.MkdirTemp(".", "tmp-") // inside the module, as a package must be
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(tmp) })
	generate = func(gen.Options) (*gen.Result, error) { return nil, errors.New("no generation today") }
	t.Cleanup(func() { generate = gen.Generate })

	dir := filepath.Join(tmp, "new", "camera")
	if _, err := Scaffold(dir, "camera"); err == nil || !strings.Contains(err.Error(), "no generation today") {
		t.Fatalf("Scaffold: %v, want the generation error", err)
	}
	if entries, err := os.ReadDir(tmp); err != nil || len(entries) != 0 {
		t.Fatalf("left behind in %s: %v (%v)", tmp, entries, err)
	}
}
