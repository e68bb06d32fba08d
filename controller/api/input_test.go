package api

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/skalds-go/skalds/runtime/codec"
)

func TestParseWait(t *testing.T) {
	limit := time.Minute
	for in, want := range map[string]time.Duration{
		"": 0, "5s": 5 * time.Second, "500ms": 500 * time.Millisecond, "2.5": 2500 * time.Millisecond,
		"0": 0, "1m": limit, "1e-3": time.Millisecond,
	} {
		if got, err := parseWait(in, limit); err != nil || got != want {
			t.Errorf("parseWait(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for in, msg := range map[string]string{
		"1e30": "longer than the maximum 1m0s", "1e400": "longer than the maximum", "Inf": "longer than the maximum",
		"+Inf": "longer than the maximum", "NaN": "not a number", "-1": "negative", "-5s": "negative",
		"-Inf": "negative", "soon": "not a duration", "61": "longer than the maximum", "10m": "longer than the maximum",
	} {
		if _, err := parseWait(in, limit); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("parseWait(%q): %v, want an error saying %q", in, err, msg)
		}
	}
}

// TestWritesNeedJSONAndFitTheLimit checks the refusals that come before
// any handler, so no server is needed behind them.
func TestWritesNeedJSONAndFitTheLimit(t *testing.T) {
	h := New(Deps{}, Options{MaxBody: 64, CORSOrigins: []string{"https://ops.example"}}).Handler()
	do := func(method, path, ctype, origin, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	for _, ct := range []string{"", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=b", "application/jsonx"} {
		if rec := do("POST", "/api/tasks", ct, "", `{"className":"A"}`); rec.Code != http.StatusUnsupportedMediaType ||
			!strings.Contains(rec.Body.String(), "application/json") {
			t.Errorf("POST as %q: %d %s", ct, rec.Code, rec.Body)
		}
	}
	if rec := do("PUT", "/api/tasks/a/attachments", "application/json", "", `{"attachments":{"x":"`+strings.Repeat("y", 100)+`"}}`); rec.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("a body over the limit: %d %s", rec.Code, rec.Body)
	}
	pre := func(origin string) string {
		req := httptest.NewRequest(http.MethodOptions, "/api/tasks", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Header().Get("Access-Control-Allow-Origin")
	}
	if got := pre("https://ops.example"); got != "https://ops.example" {
		t.Errorf("preflight from the allowed origin: %q", got)
	}
	if got := pre("https://evil.example"); got != "" {
		t.Errorf("preflight from another origin: %q", got)
	}
}

// FuzzRequestDecoders checks that no body makes a decoder panic.
func FuzzRequestDecoders(f *testing.F) {
	for _, s := range []string{`{"className":"A","attachments":{"a":1},"dependencies":["x"]}`, `{"lifecycleStatus":"Created"}`,
		`{"attachments":{}}`, `[`, `{"priority":1e400}`, `{"class_name":"a","className":"b"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var req createRequest
		decodeCreate(codec.NewReader(data), &req)
		var status string
		decodeStatus(codec.NewReader(data), &status)
		var att []byte
		decodeAttachments(codec.NewReader(data), &att)
	})
}
