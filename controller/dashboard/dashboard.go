// Package dashboard is the controller's web dashboard: plain HTML, one
// JavaScript module and one stylesheet under static/, embedded in the
// binary, so that "go build" alone produces it and a change needs no
// build step (edit the files, rebuild, reload).
//
// The page reads the REST API and follows the two event streams
// (/api/events/tasks and /api/events/skalds). With a token, open it as
// /dashboard/#token=<token>, or answer its prompt; the token is kept in
// sessionStorage for the tab and sent as a bearer header to the API. The
// streams, which EventSource cannot send headers to, are opened with the
// HttpOnly cookie that POST /api/events/session sets for a bearer of the
// token, so that the token never appears in a URL.
package dashboard

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"
)

//go:embed static
var files embed.FS

// Handler serves the dashboard under /dashboard/, redirecting /dashboard
// there. Every file is revalidated on each load (embedded files have no
// modification time to cache by, and they are small).
func Handler() http.Handler {
	sub, err := fs.Sub(files, "static")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	fileServer := http.StripPrefix("/dashboard/", http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		if r.URL.Path == "/dashboard" {
			http.Redirect(w, r, "/dashboard/", http.StatusMovedPermanently)
			return
		}
		h := w.Header()
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		if r.URL.Path == "/dashboard/" || strings.HasSuffix(r.URL.Path, ".html") {
			// The page loads only its own files and talks only to this
			// server.
			h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
		}
		fileServer.ServeHTTP(w, r)
	})
}
