// Package templates holds the files `skaldgen init` writes for a new worker
// package: the annotated model and worker, and a test of the generated
// decoder. They are embedded, so the command needs nothing on disk.
package templates

import (
	"embed"
	"text/template"
)

//go:embed *.tmpl
var files embed.FS

// Worker is the data the templates are executed with.
type Worker struct {
	Package string // Go package name, e.g. "camera"
	Worker  string // worker type and class name, e.g. "CameraWorker"
	Model   string // attachments model type, e.g. "CameraModel"
}

// Files maps each file name that init writes to its template.
func Files() (map[string]*template.Template, error) {
	names := map[string]string{
		"worker.go.tmpl":      "%s.go",
		"worker_test.go.tmpl": "%s_test.go",
	}
	out := make(map[string]*template.Template, len(names))
	for tmpl, pattern := range names {
		t, err := template.ParseFS(files, tmpl)
		if err != nil {
			return nil, err
		}
		out[pattern] = t
	}
	return out, nil
}
