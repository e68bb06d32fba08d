package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestVersionAndHelpExitZero(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"-version"}, &out, &errb); code != 0 || !strings.HasPrefix(out.String(), "skaldgen ") {
		t.Errorf("-version: exit %d, %q %q", code, out.String(), errb.String())
	}
	for _, args := range [][]string{{"-h"}, {"-help"}, {"init", "-h"}} {
		errb.Reset()
		if code := run(args, &out, &errb); code != 0 || !strings.Contains(errb.String(), "usage: skaldgen") {
			t.Errorf("%v: exit %d, %q", args, code, errb.String())
		}
	}
	if code := run([]string{"-bogus"}, &out, &errb); code != 2 {
		t.Errorf("-bogus: exit %d, want 2", code)
	}
}
