package integration

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/skalds-go/skalds/runtime/node"
)

// TestPerTaskLogFiles runs a node that logs to files, one per task: the
// task's file holds what its worker logs, with its task id, and the node
// has a file of its own.
func TestPerTaskLogFiles(t *testing.T) {
	e := newEnv(t)
	p := &probe{}
	cls := newClass("LogFiles", p)
	dir := t.TempDir()
	cfg := e.cfg
	cfg.SkaldID = e.id("a")
	cfg.LogPath = dir
	cfg.LogSplitWithWorkerID = true
	// No Options.Logger: the node builds its own, which writes the files.
	n, err := node.New(cfg, node.Options{StopGrace: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	n.Register(cls)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	// Stop the node before the temporary directory is removed.
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("node stopped with %v", err)
		}
	})

	nodeFile := filepath.Join(dir, cfg.SkaldID+".log")
	contains := func(path string, subs ...string) bool {
		b, err := os.ReadFile(path)
		if err != nil {
			return false
		}
		for _, s := range subs {
			if !strings.Contains(string(b), s) {
				return false
			}
		}
		return true
	}
	eventually := func(what string, ok func() bool) {
		t.Helper()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		timeout := time.After(deadline)
		for !ok() {
			select {
			case err := <-done:
				t.Fatalf("node stopped: %v", err)
			case <-timeout:
				t.Fatalf("waiting until %s", what)
			case <-tick.C:
			}
		}
	}
	eventually("the node logs it is ready in its file", func() bool { return contains(nodeFile, "node ready") })

	id := e.id("logged")
	e.create(id, cls, params{Value: 7})
	epoch, err := e.client.Assign(e.ctx, id, cfg.SkaldID)
	if err != nil {
		t.Fatal(err)
	}
	taskFile := filepath.Join(dir, cfg.SkaldID+"_"+id+".log")
	eventually("the worker's log line is in the task's file", func() bool {
		return contains(taskFile, `msg="main running"`, "taskId="+id, "skaldId="+cfg.SkaldID, "value=7")
	})
	b, err := os.ReadFile(taskFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if !strings.Contains(line, "taskId="+id) {
			t.Errorf("a line of the task's file is not about the task: %s", line)
		}
	}
	tk, err := e.store.Get(e.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if tk.AssignmentEpoch != epoch {
		t.Errorf("epoch %d, want %d", tk.AssignmentEpoch, epoch)
	}
	if !contains(nodeFile, "node ready") {
		t.Error("the node's file lost its records")
	}
}
