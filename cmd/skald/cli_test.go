package main

import (
	"encoding/json"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"
)

// commands walks the command tree below c.
func commands(c *cobra.Command) []*cobra.Command {
	out := []*cobra.Command{c}
	for _, s := range c.Commands() {
		out = append(out, commands(s)...)
	}
	return out
}

func TestHelpExitsZeroEverywhere(t *testing.T) {
	t.Setenv("SKALD_API_TOKEN", "secret-token-value")
	all := commands(newRoot(io.Discard, io.Discard))
	if len(all) < 10 {
		t.Fatalf("only %d commands in the tree", len(all))
	}
	for _, c := range all {
		path := strings.Fields(c.CommandPath())[1:]
		if c.Short == "" || c.Example == "" {
			t.Errorf("%q lacks a description or an example", c.CommandPath())
		}
		for _, h := range []string{"--help", "-h"} {
			code, out, errs := runArgs(append(path, h)...)
			if code != 0 || !strings.Contains(out, "Usage:") || !strings.Contains(out, "Examples:") || errs != "" {
				t.Errorf("%s %s: exit %d\nstdout %q\nstderr %q", c.CommandPath(), h, code, out, errs)
			}
			if strings.Contains(out, "secret-token-value") {
				t.Errorf("%s %s shows the token from the environment", c.CommandPath(), h)
			}
		}
	}
}

func TestUsageErrorsExitTwoAndSayWhatToDo(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"tasks"}, "name a command: list, get, create, update, cancel, logs, history"},
		{[]string{"tasks", "lsit"}, `unknown command "lsit"; did you mean list`},
		{[]string{"nodes", "ls"}, `unknown command "ls"`},
		{[]string{"bogus"}, `unknown command "bogus"`},
		{[]string{"tasks", "get"}, "takes ID, got 0 argument(s)"},
		{[]string{"tasks", "cancel", "a", "b"}, "takes ID, got 2 argument(s)"},
		{[]string{"tasks", "list", "-o", "xml"}, `-o "xml" is not an output format; use table, json or yaml`},
		{[]string{"nodes", "list", "-server", "http://x"}, "long flags take two dashes: --server"},
		{[]string{"tasks", "list", "--bogus"}, "unknown flag: --bogus"},
		{[]string{"tasks", "list", "--size", "500"}, "--size from 1 to 100"},
		{[]string{"tasks", "create"}, "--class is required"},
		{[]string{"tasks", "create", "--class", "A", "--attachments", "[1]"}, "--attachments must be a JSON object"},
		{[]string{"tasks", "update", "t1"}, "--attachments is required"},
		{[]string{"tasks", "create", "--class", "A", "--id", "../etc/passwd"}, `task id "../etc/passwd" has '.' at byte 0`},
		{[]string{"tasks", "create", "--class", "A", "--id", "a b"}, `task id "a b" has ' ' at byte 1`},
		{[]string{"tasks", "list", "--server", "localhost:8000"}, "is not a controller URL; give one like http://localhost:8000"},
		{[]string{"version", "extra"}, "takes no arguments"},
	} {
		code, out, errs := runArgs(c.args...)
		if code != 2 || !strings.Contains(errs, c.want) || !strings.Contains(errs, "--help' for usage.") || out != "" {
			t.Errorf("skald %s: exit %d\nstderr %q\nwant exit 2 and %q with a pointer to --help", strings.Join(c.args, " "), code, errs, c.want)
		}
		if strings.Contains(errs, "?:") {
			t.Errorf("skald %s: stray '?' in %q", strings.Join(c.args, " "), errs)
		}
	}
}

func TestErrorsNameThePathWithoutAStrayQuestionMark(t *testing.T) {
	srv, last := fakeAPI(t)
	code, _, errs := runArgs("nodes", "list", "--server", srv.URL)
	if code != 1 || !strings.Contains(errs, "GET /api/skalds: 401 missing bearer token\n") || strings.Contains(errs, "?") ||
		!strings.Contains(errs, "(--token or SKALD_API_TOKEN)") {
		t.Errorf("exit %d, stderr %q", code, errs)
	}
	if seen := last.URL.String(); seen != "/api/skalds" {
		t.Errorf("requested %q, want /api/skalds without an empty query", seen)
	}
	t.Setenv("SKALD_API_TOKEN", "tok")
	if code, _, errs := runArgs("nodes", "list", "--server", srv.URL, "--status", "online"); code != 0 || last.URL.String() != "/api/skalds?status=online" {
		t.Errorf("with a filter and the token from the environment: exit %d, requested %q, stderr %q", code, last.URL, errs)
	}
}

func TestOutputFormats(t *testing.T) {
	srv, _ := fakeAPI(t)
	zone := time.Local
	time.Local = time.FixedZone("UTC+1", 3600)
	t.Cleanup(func() { time.Local = zone })
	base := []string{"nodes", "list", "--server", srv.URL, "--token", "tok"}

	code, table, _ := runArgs(base...)
	if code != 0 || !strings.Contains(table, "2023-11-14 23:13:20 +01:00") || !strings.Contains(table, "A,B,123,true,null") {
		t.Errorf("table (exit %d), want the time with its zone:\n%s", code, table)
	}
	code, js, _ := runArgs(append(base, "-o", "json")...)
	var fromJSON any
	if err := json.Unmarshal([]byte(js), &fromJSON); code != 0 || err != nil {
		t.Fatalf("-o json: exit %d, %v\n%s", code, err, js)
	}
	code, ym, _ := runArgs(append(base, "--output", "yaml")...)
	var fromYAML any
	if err := yaml.Unmarshal([]byte(ym), &fromYAML); code != 0 || err != nil {
		t.Fatalf("-o yaml: exit %d, %v\n%s", code, err, ym)
	}
	if strings.Contains(ym, "{") || strings.Contains(ym, "ID  ") || !strings.Contains(ym, "items:\n  - id: n1\n") {
		t.Errorf("-o yaml is not block YAML:\n%s", ym)
	}
	// The same document: strings that look like numbers, booleans or null
	// stay strings.
	if !reflect.DeepEqual(normalize(fromJSON), normalize(fromYAML)) {
		t.Errorf("-o yaml says\n%v\n-o json says\n%v", fromYAML, fromJSON)
	}
}

// normalize makes YAML's integers JSON's float64s, for comparing.
func normalize(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = normalize(e)
		}
	case []any:
		for i, e := range x {
			x[i] = normalize(e)
		}
	case int:
		return float64(x)
	}
	return v
}

func TestVersion(t *testing.T) {
	code, out, _ := runArgs("version")
	if code != 0 || !strings.HasPrefix(out, "skald ") || len(strings.TrimSpace(out)) <= len("skald") {
		t.Errorf("version: exit %d %q", code, out)
	}
	if code, out2, _ := runArgs("--version"); code != 0 || !strings.Contains(out2, strings.TrimPrefix(strings.TrimSpace(out), "skald ")) {
		t.Errorf("--version: exit %d %q", code, out2)
	}
}

func TestCompletionOffersCommandsAndFlagValues(t *testing.T) {
	code, out, _ := runArgs("__complete", "tasks", "")
	if code != 0 || !strings.Contains(out, "list\t") || !strings.Contains(out, "cancel\t") {
		t.Errorf("commands: exit %d %q", code, out)
	}
	code, out, _ = runArgs("__complete", "nodes", "list", "-o", "")
	if code != 0 || !strings.HasPrefix(out, "table\njson\nyaml\n:4") {
		t.Errorf("-o values: exit %d %q", code, out)
	}
	if code, out, _ := runArgs("completion", "bash"); code != 0 || !strings.Contains(out, "bash completion") {
		t.Errorf("bash script: exit %d", code)
	}
}
