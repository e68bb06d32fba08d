package task

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// TestRejectionBounded: a rejection of any size is stored within the caps,
// cut at rune boundaries, with what fits kept as it was.
func TestRejectionBounded(t *testing.T) {
	long := strings.Repeat("é", 1<<20)
	r := Rejection{Version: 3, Message: "$.x: " + long}
	for range 30 {
		r.Fields = append(r.Fields, FieldError{Path: "$[\"" + long + "\"]", Message: "unknown field"})
	}
	b := r.Bounded()
	if len(b.Message) > MaxRejectionMessage+3 || !strings.HasSuffix(b.Message, "...") || !utf8.ValidString(b.Message) {
		t.Errorf("message of %d bytes, suffix %q", len(b.Message), b.Message[len(b.Message)-5:])
	}
	if len(b.Fields) != MaxRejectionFields {
		t.Errorf("%d fields, want %d", len(b.Fields), MaxRejectionFields)
	}
	for _, f := range b.Fields {
		if len(f.Path) > maxFieldText+3 || !utf8.ValidString(f.Path) || f.Message != "unknown field" {
			t.Fatalf("field %.40q (%d bytes): %q", f.Path, len(f.Path), f.Message)
		}
	}
	if len(r.Fields[0].Path) <= maxFieldText {
		t.Error("Bounded changed the rejection it was called on")
	}
	small := Rejection{Version: 1, Message: "$.a: is required", Fields: []FieldError{{Path: "$.a", Message: "is required"}}}
	if got := small.Bounded(); got.Message != small.Message || got.Fields[0] != small.Fields[0] {
		t.Errorf("a small rejection changed: %+v", got)
	}
}
