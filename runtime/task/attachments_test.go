package task

import (
	"errors"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/skalds-go/skalds/runtime/codec"
)

func TestAttachmentsBSONIsPlainJSON(t *testing.T) {
	raw, err := AttachmentsBSON([]byte(`{"n":5,"big":5000000000,"f":1.5,"s":"x\u0000y","b":true,"z":null,"a":[1,{"k":"v"}],"o":{"numberLong":"5"}}`))
	if err != nil {
		t.Fatal(err)
	}
	var got bson.D
	if err := bson.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	want := bson.D{
		{Key: "n", Value: int32(5)}, {Key: "big", Value: int64(5000000000)}, {Key: "f", Value: 1.5},
		{Key: "s", Value: "x\x00y"}, {Key: "b", Value: true}, {Key: "z", Value: nil},
		{Key: "a", Value: bson.A{int32(1), bson.D{{Key: "k", Value: "v"}}}},
		{Key: "o", Value: bson.D{{Key: "numberLong", Value: "5"}}},
	}
	if g, w := bson.Raw(raw).String(), mustRaw(t, want).String(); g != w {
		t.Fatalf("converted\n%s\nwant\n%s", g, w)
	}
	// And back: what was stored reads as the same plain JSON.
	var a Attachments
	if err := a.UnmarshalBSONValue(byte(bson.TypeEmbeddedDocument), raw); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(a), `"o":{"numberLong":"5"}`) || !strings.Contains(string(a), `"big":5000000000`) {
		t.Fatalf("read back as %s", a)
	}
}

func mustRaw(t *testing.T, d bson.D) bson.Raw {
	t.Helper()
	raw, err := bson.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestAttachmentsBSONRefusesWithPaths(t *testing.T) {
	deep := strings.Repeat(`{"a":`, MaxAttachmentsDepth+5) + "1" + strings.Repeat("}", MaxAttachmentsDepth+5)
	cases := []struct {
		name, in string
		paths    []string
		msg      string
	}{
		{"extended json long", `{"a":{"$numberLong":"5"}}`, []string{`$.a["$numberLong"]`}, `start with "$"`},
		{"extended json date", `{"$date":0}`, []string{`$["$date"]`}, `start with "$"`},
		{"operator", `{"q":{"$gt":""}}`, []string{`$.q["$gt"]`}, "operators"},
		{"dot in key", `{"a.b":1}`, []string{`$["a.b"]`}, "rename the key"},
		{"dot in a nested map key", `{"m":{"ok":1,"x.y":[1]}}`, []string{`$.m["x.y"]`}, `contain "."`},
		{"nul in key", `{"a\u0000b":1}`, []string{`$["a\u0000b"]`}, "NUL"},
		{"duplicate", `{"a":1,"a":2}`, []string{"$.a"}, "more than once"},
		{"deep", deep, []string{"$" + strings.Repeat(".a", MaxAttachmentsDepth)}, "nested deeper"},
		{"huge number", `{"x":[1,1e400]}`, []string{"$.x[1]"}, "out of the range"},
		{"several", `{"$a":1,"b":{"$c":2}}`, []string{`$["$a"]`, `$.b["$c"]`}, ""},
		{"not an object", `[1]`, []string{"$"}, "must be a JSON object, got array"},
		{"broken", `{"a":`, []string{"$.a"}, "invalid JSON"},
		{"trailing", `{"a":1} {}`, []string{"$"}, "after the attachments"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := AttachmentsBSON([]byte(c.in))
			var errs codec.Errors
			if !errors.As(err, &errs) {
				t.Fatalf("error %v is not codec.Errors", err)
			}
			var paths []string
			for _, fe := range errs {
				paths = append(paths, fe.Path)
			}
			if strings.Join(paths, " ") != strings.Join(c.paths, " ") {
				t.Fatalf("paths %q, want %q (%v)", paths, c.paths, err)
			}
			if !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("error %q does not say %q", err, c.msg)
			}
		})
	}
}

func TestAttachmentsMarshalRefusesWhatTheConversionRefuses(t *testing.T) {
	_, err := bson.Marshal(bson.D{{Key: "attachments", Value: Attachments(`{"$where":"1"}`)}})
	if err == nil || !strings.Contains(err.Error(), `$["$where"]`) {
		t.Fatalf("marshal: %v", err)
	}
}

func FuzzAttachmentsBSON(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":[1,2,{"b":null}]}`, `{"$a":1}`, `{"a.b":1}`, `{"a":1e999}`, `[`, `{"a":"\u0000"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		raw, err := AttachmentsBSON(data)
		if err == nil {
			if verr := bson.Raw(raw).Validate(); verr != nil {
				t.Fatalf("%q converted to invalid BSON: %v", data, verr)
			}
		}
	})
}

func TestValidateID(t *testing.T) {
	for _, ok := range []string{"task_123", "a", "6f1c2d9e-8b1a-4c3e-9f00-1234567890ab", "cam-1.front:main@site", strings.Repeat("x", MaxIDLength)} {
		if err := ValidateID(ok); err != nil {
			t.Errorf("ValidateID(%q): %v", ok, err)
		}
	}
	for bad, msg := range map[string]string{
		"":                          "empty",
		strings.Repeat("x", 10<<10): "10240 bytes long",
		"a\x00b":                    "byte 0x00 at byte 1",
		"a\nb":                      "byte 0x0a at byte 1",
		"   ":                       "' ' at byte 0",
		"../../etc/passwd":          "'.' at byte 0",
		"a/b":                       "'/' at byte 1",
		"$gt":                       "'$' at byte 0",
		"a?b":                       "'?' at byte 1",
		"a#b":                       "'#' at byte 1",
		"-x":                        "'-' at byte 0",
		"é":                         "byte 0xc3 at byte 0",
	} {
		err := ValidateID(bad)
		if err == nil || !strings.Contains(err.Error(), msg) || !strings.Contains(err.Error(), IDSyntax) {
			t.Errorf("ValidateID(%q) = %v, want an error saying %q and the syntax", bad, err, msg)
		}
		if err != nil && len(err.Error()) > 300 {
			t.Errorf("ValidateID(%q): error of %d bytes", bad, len(err.Error()))
		}
	}
}

// TestCreateChecksTheIDFirst: every writer (the Go client, the typed
// client, the API, edge YAML) goes through Store.Create, which refuses a
// bad id before it reaches MongoDB (this Store has no connection).
func TestCreateChecksTheIDFirst(t *testing.T) {
	err := (&Store{}).Create(t.Context(), &Task{ID: "../../etc/passwd", ClassName: "C"})
	if err == nil || !strings.Contains(err.Error(), IDSyntax) {
		t.Fatalf("Create with a bad id: %v", err)
	}
}
