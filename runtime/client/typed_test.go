package client

import (
	"encoding/json"
	"testing"

	"github.com/skalds-go/skalds/runtime/skald"
)

type params struct {
	Owner  string `json:"owner"`
	Source string `json:"source"`
}

func TestCheckUpdate(t *testing.T) {
	c := &skald.Class[params]{
		Decode: func(b []byte) (params, error) {
			var m params
			err := json.Unmarshal(b, &m)
			return m, err
		},
		Changes: func(old, next params) skald.Change {
			return skald.Change{Restart: old.Source != next.Source, Immutable: immutable(old.Owner != next.Owner)}
		},
	}
	doc := func(owner, source string) []byte { b, _ := json.Marshal(params{owner, source}); return b }
	if err := checkUpdate(c, doc("ann", "a"), params{"ann", "b"}); err != nil {
		t.Errorf("restart and hot changes are the node's business, got %v", err)
	}
	err := checkUpdate(c, doc("ann", "a"), params{"bob", "a"})
	if err == nil || err.Error() != "$.owner: may not change while the task runs" {
		t.Errorf("got %v, want the immutable error", err)
	}
	if err := checkUpdate(c, []byte("not json"), params{"bob", "a"}); err != nil {
		t.Errorf("undecodable current attachments: got %v, want nil", err)
	}
}

func immutable(ownerChanged bool) []string {
	if ownerChanged {
		return []string{"$.owner"}
	}
	return nil
}
