package skaldtest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// Python returns the path of a Python interpreter that can import Python
// Skalds 0.3.8 (with its backend extra), for tests that run the Python side
// of the wire: $SKALDS_PYTHON when set, else the virtual environment that
// scripts/python-env creates from scripts/python/requirements.lock in the
// user's cache. When neither can import skalds, the test ends through
// Absent (a skip, or a failure under SKALDS_PEERS=required).
func Python(t testing.TB) string {
	t.Helper()
	py, why := findPython()
	if why != "" {
		Absent(t, "Python Skalds", why)
	}
	return py
}

var python struct {
	once sync.Once
	path string
	why  string
}

// findPython checks the interpreter once per test binary: importing skalds
// takes about a second.
func findPython() (path, why string) {
	python.once.Do(func() {
		python.path, python.why = locatePython()
		if python.why != "" {
			return
		}
		out, err := exec.Command(python.path, "-c", "import skalds").CombinedOutput()
		if err != nil {
			python.why = fmt.Sprintf("%s cannot import skalds: %v: %s", python.path, err, lastLine(out))
		}
	})
	return python.path, python.why
}

func locatePython() (path, why string) {
	if p := os.Getenv("SKALDS_PYTHON"); p != "" {
		return p, ""
	}
	venv, err := pythonEnvDir()
	if err != nil {
		return "", fmt.Sprintf("SKALDS_PYTHON is unset and the default environment cannot be located: %v", err)
	}
	p := filepath.Join(venv, "bin", "python")
	if _, err := os.Stat(filepath.Join(venv, ".complete")); err != nil {
		return "", fmt.Sprintf("SKALDS_PYTHON is unset and %s is not created; run scripts/python-env", venv)
	}
	return p, ""
}

// pythonEnvDir mirrors scripts/python-env: the cache directory, then
// python- and the first 12 hex digits of the lock file's SHA-256.
func pythonEnvDir() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", fmt.Errorf("no source path for skaldtest")
	}
	lock := filepath.Join(filepath.Dir(file), "..", "scripts", "python", "requirements.lock")
	data, err := os.ReadFile(lock)
	if err != nil {
		return "", fmt.Errorf("lock file: %w", err)
	}
	sum := sha256.Sum256(data)
	cache := os.Getenv("SKALDS_CACHE")
	if cache == "" {
		base := os.Getenv("XDG_CACHE_HOME")
		if base == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				return "", err
			}
			base = filepath.Join(home, ".cache")
		}
		cache = filepath.Join(base, "skalds-go")
	}
	return filepath.Join(cache, "python-"+hex.EncodeToString(sum[:])[:12]), nil
}

func lastLine(out []byte) string {
	s := strings.TrimSpace(string(out))
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return s
}
