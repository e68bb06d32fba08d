package skald_test

import (
	"testing"

	"github.com/skalds-go/skalds/runtime/skald"
)

func TestChangeErr(t *testing.T) {
	if err := (skald.Change{Restart: true}).Err(); err != nil {
		t.Errorf("a restart alone is no error: %v", err)
	}
	err := skald.Change{Immutable: []string{"$.a", "$.b[1]"}}.Err()
	if err == nil || err.Error() != "2 errors: $.a: may not change while the task runs; $.b[1]: may not change while the task runs" {
		t.Errorf("got %v", err)
	}
}
