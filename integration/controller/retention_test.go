package controller

import (
	"errors"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"testing"
	"time"

	ctl "github.com/skalds-go/skalds/controller"
	"github.com/skalds-go/skalds/runtime/task"
	"github.com/skalds-go/skalds/skaldtest"
)

// TestRetentionDeletesOnlyTasksThatEndedLongAgo fills the collection with
// tasks in every state, some written long ago, and runs a controller whose
// retention keeps an hour, in batches of two: every task that ended more
// than an hour ago goes, in several batches; recent ones, and old ones
// that have not ended (Created, Running), stay; /metrics reports the
// collection's size and the deletions.
func TestRetentionDeletesOnlyTasksThatEndedLongAgo(t *testing.T) {
	e := newEnv(t)
	old := time.Now().Add(-2 * time.Hour).UnixMilli()
	put := func(name string, status task.Status, at int64) string {
		id := name + "-" + e.uid
		d := task.New(id, "Kept", "integration", []byte(`{}`))
		d.LifecycleStatus, d.UpdateDateTime = status, at
		if err := e.store.Create(e.ctx, d); err != nil {
			t.Fatal(err)
		}
		return id
	}
	var gone, kept []string
	for i, s := range []task.Status{task.Finished, task.Failed, task.Cancelled, task.Finished, task.Cancelled} {
		gone = append(gone, put("old-ended-"+strconv.Itoa(i), s, old))
	}
	kept = append(kept,
		put("new-finished", task.Finished, time.Now().UnixMilli()),
		put("old-created", task.Created, old),
		put("old-running", task.Running, old),
	)

	logs := skaldtest.NewLogs(e.log.Handler())
	e.log = slog.New(logs)
	c := e.startController(func(c *ctl.Config) {
		c.Retention, c.RetentionInterval, c.RetentionBatch = time.Hour, 100*time.Millisecond, 2
	})
	for _, id := range gone {
		e.await(id+" deleted", func() bool {
			_, err := e.store.Get(e.ctx, id)
			return errors.Is(err, task.ErrNotFound)
		})
	}
	sweep, err := logs.Await(e.ctx, skaldtest.Msg("retention: deleted ended tasks"))
	if err != nil {
		t.Fatal(err)
	}
	if sweep.Attrs["deleted"] != int64(5) || sweep.Attrs["batches"] != int64(3) {
		t.Errorf("one sweep should delete the 5 in 3 batches of at most 2: %v", sweep.Attrs)
	}
	for _, id := range kept {
		if _, err := e.store.Get(e.ctx, id); err != nil {
			t.Errorf("%s was not to be deleted: %v", id, err)
		}
	}

	code, _, body := c.raw(t, "GET", "/metrics", c.token, "")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d", code)
	}
	for metric, want := range map[string]string{
		`skalds_tasks_collection_documents`:    "3",
		`skalds_retention_deleted_tasks_total`: "5",
	} {
		m := regexp.MustCompile(`(?m)^` + metric + ` (\S+)$`).FindSubmatch(body)
		if m == nil || string(m[1]) != want {
			t.Errorf("%s = %q, want %s", metric, m, want)
		}
	}
	if m := regexp.MustCompile(`(?m)^skalds_tasks_collection_bytes (\S+)$`).FindSubmatch(body); m == nil || string(m[1]) == "0" {
		t.Errorf("skalds_tasks_collection_bytes missing or zero: %q", m)
	}
}
