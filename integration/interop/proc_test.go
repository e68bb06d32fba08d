package interop

import (
	"bytes"
	"context"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/skalds-go/skalds/skaldtest"
)

// proc is a process a test started: a Python Skald, a script, a Go node
// binary. It runs in a process group of its own, so that killing it also
// kills the worker processes a Python Skald forks; the test's clean-up kills
// whatever is left. Its output (stdout and stderr) is kept, awaited line by
// line, and shown when the test fails.
type proc struct {
	*skaldtest.Process
	t testing.TB
}

// procLimit bounds every process a test starts: nothing here runs longer.
const procLimit = 4 * time.Minute

// start runs name with args in dir, with env added to the environment.
func start(t testing.TB, dir string, env []string, name string, args ...string) *proc {
	t.Helper()
	p := skaldtest.StartTestProcess(t, skaldtest.ProcessOptions{Name: procName(name, args), Dir: dir, Env: env,
		Group: true, Limit: procLimit}, name, args...)
	return &proc{Process: p, t: t}
}

func procName(name string, args []string) string {
	for _, a := range args {
		if strings.HasSuffix(a, ".py") {
			return a
		}
	}
	return name
}

// wait waits for the process to exit and fails the test unless it exited
// with status 0 within limit.
func (p *proc) wait(limit time.Duration) {
	p.t.Helper()
	if err := p.Wait(limit); err != nil {
		p.t.Fatal(err)
	}
}

// await waits for a line matching re from line mark on and returns it,
// with its submatches. It fails the test when the process exits first or
// awaitLimit passes.
func (p *proc) await(ctx context.Context, mark int, re *regexp.Regexp) []string {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(ctx, awaitLimit)
	defer cancel()
	l, err := p.Await(ctx, mark, re)
	if err != nil {
		p.t.Fatal(err)
	}
	return l.Match
}

// alive returns the processes of the group that are still running (not
// zombies waiting for a parent to reap them), from /proc.
func (p *proc) alive() []int {
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, ent := range ents {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + ent.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp ...: comm may hold spaces, so split
		// after its closing parenthesis.
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(stat[i+1:]))
		if len(f) >= 3 && f[0] != "Z" && f[2] == strconv.Itoa(p.Pid()) {
			pids = append(pids, pid)
		}
	}
	return pids
}
