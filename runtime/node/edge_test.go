package node

import (
	"strings"
	"testing"
)

func TestEdgeYAMLRefusesBadTaskIDs(t *testing.T) {
	for yaml, want := range map[string]string{
		"TaskWorkers:\n  ok-1:\n    className: C\n  \"../x\":\n    className: C\n": "line 4: task id \"../x\" has '.' at byte 0",
		"TaskWorkers:\n  \"a b\":\n    className: C\n":                             "line 2: task id \"a b\" has ' ' at byte 1",
		"TaskWorkers:\n  \"\":\n    className: C\n":                                "line 2: task id is empty",
	} {
		_, err := parseTaskWorkers([]byte(yaml))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("parsing %q: %v, want %q", yaml, err, want)
		}
	}
	tasks, err := parseTaskWorkers([]byte("TaskWorkers:\n  cam_1:\n    className: C\n"))
	if err != nil || len(tasks) != 1 || tasks[0].id != "cam_1" {
		t.Fatalf("a good id: %v %v", tasks, err)
	}
}
