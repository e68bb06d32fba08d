package model

import (
	"go/token"
	"reflect"
	"testing"
)

func TestParseMarker(t *testing.T) {
	tests := []struct {
		text string
		name string
		args []markerArg
		err  string
	}{
		{text: "//skald:main", name: "main"},
		{text: "//skald:worker model=M", name: "worker", args: []markerArg{{key: "model", value: "M", off: 15, valueOff: 21}}},
		{text: "//skald:worker  model=M\tname=\"a b\"", name: "worker", args: []markerArg{
			{key: "model", value: "M", off: 16, valueOff: 22},
			{key: "name", value: "a b", off: 24, valueOff: 29},
		}},
		{text: "//skald:worker model", name: "worker", err: `marker argument "model" is not key=value`},
		{text: `//skald:worker name="x`, name: "worker", err: "argument name= has an unterminated string"},
		{text: `//skald:worker name="x"y`, name: "worker", err: "argument name= has text after its closing quote"},
		{text: "//skald:", name: ""},
	}
	for _, tt := range tests {
		name, args, _, err := parseMarker(tt.text)
		if name != tt.name || err != tt.err || (err == "" && !reflect.DeepEqual(args, tt.args)) {
			t.Errorf("parseMarker(%q) = %q, %+v, %q; want %q, %+v, %q", tt.text, name, args, err, tt.name, tt.args, tt.err)
		}
	}
}

func TestRequiredTag(t *testing.T) {
	tests := map[string]bool{
		"":                        false,
		"required":                true,
		"required,url":            true,
		"gte=1,required":          true,
		"required_if=Mode a":      false,
		"omitempty,dive,required": false,
		"min=1,keys,required":     false,
		" required ":              true,
	}
	for tag, want := range tests {
		if got := requiredTag(tag); got != want {
			t.Errorf("requiredTag(%q) = %v, want %v", tag, got, want)
		}
	}
}

func TestSuggest(t *testing.T) {
	for name, want := range map[string]string{"mian": "main", "modle": "model", "wroker": "worker", "foo": "", "relase": "release"} {
		if got := suggest(name); got != want {
			t.Errorf("suggest(%q) = %q, want %q", name, got, want)
		}
	}
}

func TestParsePos(t *testing.T) {
	for s, want := range map[string]token.Position{
		"/a/b.go:3:4": {Filename: "/a/b.go", Line: 3, Column: 4},
		"/a/b.go:3":   {Filename: "/a/b.go", Line: 3},
		"c:/x.go:1:2": {Filename: "c:/x.go", Line: 1, Column: 2},
		"-":           {},
		"":            {},
	} {
		if got := parsePos(s); got != want {
			t.Errorf("parsePos(%q) = %+v, want %+v", s, got, want)
		}
	}
}

func TestDiagnosticFormat(t *testing.T) {
	d := Diagnostic{
		Pos:     token.Position{Filename: "/m/w.go", Line: 3, Column: 1},
		Msg:     "second, first at " + relatedMark + "; fix it",
		Related: token.Position{Filename: "/m/v.go", Line: 1, Column: 2},
	}
	rel := func(p string) string { return p[len("/m/"):] }
	if got, want := d.Format(rel), "w.go:3:1: second, first at v.go:1:2; fix it"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
