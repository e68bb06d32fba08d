package schema

import (
	"reflect"
	"strings"
	"testing"
)

const camera = `{"type":"object","properties":{"rtspUrl":{"type":"string","format":"uri"},"fixFrame":{"type":"integer","minimum":1,"maximum":1000},"zones":{"type":"array","items":{"type":"object","properties":{"name":{"type":"string","minLength":1}}}}},"required":["rtspUrl","fixFrame"],"additionalProperties":false}`

func paths(fs []FieldError) []string {
	out := []string{}
	for _, f := range fs {
		out = append(out, f.Path)
	}
	return out
}

func TestCheckReportsEveryField(t *testing.T) {
	v := NewValidator()
	src := []Source{{Schema: []byte(camera), Nodes: []string{"n1"}}}
	for _, tc := range []struct {
		doc  string
		want []string
	}{
		{`{"rtspUrl":"rtsp://cam/1","fixFrame":5}`, []string{}},
		{`{"rtspUrl":"rtsp://cam/1","fixFrame":0}`, []string{"$.fixFrame"}},
		{`{"rtspUrl":"not a uri","fixFrame":2000,"extra":1}`, []string{"$.extra", "$.fixFrame", "$.rtspUrl"}},
		{`{}`, []string{"$.fixFrame", "$.rtspUrl"}},
		{`{"rtspUrl":"rtsp://x","fixFrame":1,"zones":[{"name":"a"},{"name":""}]}`, []string{"$.zones[1].name"}},
		{`[]`, []string{"$"}},
	} {
		res, err := v.Check([]byte(tc.doc), src)
		if err != nil {
			t.Fatal(err)
		}
		if !res.Checked {
			t.Errorf("%s: not checked", tc.doc)
		}
		if got := paths(res.Errors); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: paths %v, want %v (%+v)", tc.doc, got, tc.want, res.Errors)
		}
	}
}

func TestCheckPolicy(t *testing.T) {
	v := NewValidator()
	res, err := v.Check([]byte(`{"anything":true}`), nil)
	if err != nil || res.Checked || !res.Valid() {
		t.Errorf("no schema: %+v %v; want accepted unchecked", res, err)
	}
	// Two versions during an upgrade: valid against both is required, so
	// that no node can loosen the checks of the class.
	newer := `{"type":"object","properties":{"fixFrame":{"type":"integer"},"fps":{"type":"integer"}},"required":["fixFrame","fps"],"additionalProperties":false}`
	srcs := []Source{{Schema: []byte(newer), Nodes: []string{"b"}}, {Schema: []byte(camera), Nodes: []string{"a", "c"}}}
	Sort(srcs)
	if srcs[0].Nodes[0] != "a" {
		t.Fatalf("sort: %+v", srcs)
	}
	res, _ = v.Check([]byte(`{"fixFrame":3,"fps":25}`), srcs)
	if res.Valid() || !reflect.DeepEqual(res.Nodes, []string{"a", "c"}) || !reflect.DeepEqual(paths(res.Errors), []string{"$.fps", "$.rtspUrl"}) {
		t.Errorf("valid for the newer schema only: %+v; want the older schema's errors", res)
	}
	loose := `{"type":"object"}`
	res, _ = v.Check([]byte(`{"fixFrame":"x"}`), append(srcs, Source{Schema: []byte(loose), Nodes: []string{"rogue"}}))
	if res.Valid() {
		t.Errorf("a looser schema of a rogue node let invalid attachments through: %+v", res)
	}
	res, _ = v.Check([]byte(`{"fixFrame":3}`), srcs)
	if res.Valid() || !reflect.DeepEqual(res.Nodes, []string{"a", "c", "b"}) || !reflect.DeepEqual(paths(res.Errors), []string{"$.rtspUrl", "$.fps"}) {
		t.Errorf("invalid for both: %+v; want the errors of both, most published first", res)
	}
	// A broken schema is skipped; when all are broken, accept and say why.
	res, err = v.Check([]byte(`{}`), []Source{{Schema: []byte(`{"type":12}`), Nodes: []string{"x"}}})
	if err == nil || res.Checked {
		t.Errorf("broken schema: %+v %v", res, err)
	}
	// External references are never loaded.
	if _, err := v.Compile([]byte(`{"$ref":"file:///etc/passwd"}`)); err == nil {
		t.Error("a schema with an external $ref compiled")
	}
}

func TestPath(t *testing.T) {
	inst := map[string]any{"a b": []any{map[string]any{"1": 2}}}
	if got := Path(inst, []string{"a b", "0", "1"}); got != `$["a b"][0]["1"]` {
		t.Errorf("got %s", got)
	}
}

// TestErrorPathsBounded: a huge unknown key is named in part, as the
// nodes name it, so that a response cannot be made as large as the input.
func TestErrorPathsBounded(t *testing.T) {
	key := strings.Repeat("k", 1<<20)
	doc := `{"rtspUrl":"rtsp://a/b","fixFrame":1,"` + key + `":1}`
	res, err := NewValidator().Check([]byte(doc), []Source{{Schema: []byte(camera), Nodes: []string{"n"}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Errors) != 1 || len(res.Errors[0].Path) > 100 || !strings.HasPrefix(res.Errors[0].Path, `$["kkk`) || !strings.HasSuffix(res.Errors[0].Path, `..."]`) {
		t.Fatalf("errors %.200v", res.Errors)
	}
}
