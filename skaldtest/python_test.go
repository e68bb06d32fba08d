package skaldtest

import (
	"os/exec"
	"strings"
	"testing"
)

func TestPythonImportsSkalds(t *testing.T) {
	py := Python(t)
	out, err := exec.Command(py, "-c", "import importlib.metadata as m; print(m.version('skalds'), m.version('kafka-python'))").Output()
	if err != nil {
		t.Fatalf("%s: %v", py, err)
	}
	if got := strings.TrimSpace(string(out)); got != "0.3.8 2.2.7" {
		t.Fatalf("skalds and kafka-python versions %q, want the locked 0.3.8 2.2.7", got)
	}
}
