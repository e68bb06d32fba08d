package event

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestTaskEventWritesCamelCase(t *testing.T) {
	b, err := json.Marshal(NewTaskEvent("task_123"))
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"taskIds":["task_123"]`, `"id":"task_123"`, `"createDateTime":`, `"updateDateTime":`, `"title":null`} {
		if !strings.Contains(string(b), key) {
			t.Errorf("%s lacks %s", b, key)
		}
	}
}

func TestTaskEventReadsBothSpellings(t *testing.T) {
	for _, in := range []string{
		`{"id":null,"title":null,"initiator":null,"recipient":null,"createDateTime":1,"updateDateTime":2,"taskIds":["a","b"]}`,
		`{"id":null,"title":null,"initiator":null,"recipient":null,"create_date_time":1,"update_date_time":2,"task_ids":["a","b"]}`,
	} {
		var e TaskEvent
		if err := json.Unmarshal([]byte(in), &e); err != nil {
			t.Fatal(err)
		}
		want := TaskEvent{CreateDateTime: 1, UpdateDateTime: 2, TaskIDs: []string{"a", "b"}}
		if !reflect.DeepEqual(e, want) {
			t.Errorf("%s: got %+v", in, e)
		}
	}
}

func TestTaskEventNeedsTaskIDs(t *testing.T) {
	var e TaskEvent
	if err := json.Unmarshal([]byte(`{"id":"x"}`), &e); err == nil || !strings.Contains(err.Error(), "taskIds") {
		t.Fatalf("got %v, want an error naming taskIds", err)
	}
}
