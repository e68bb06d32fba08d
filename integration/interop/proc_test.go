package interop

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// proc is a process a test started: a Python Skald, a script, a Go node
// binary. It runs in a process group of its own, so that killing it also
// kills the worker processes a Python Skald forks; the test's clean-up kills
// whatever is left. Its output (stdout and stderr) is kept, awaited line by
// line, and shown when the test fails.
type proc struct {
	t    testing.TB
	name string
	cmd  *exec.Cmd
	out  *lines
	done chan struct{}
	err  error // set before done is closed
}

// lines collects a process's output and wakes those waiting for a line.
type lines struct {
	mu      sync.Mutex
	partial []byte
	all     []string
	changed chan struct{}
}

func newLines() *lines { return &lines{changed: make(chan struct{})} }

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		l.all = append(l.all, string(bytes.TrimRight(l.partial[:i], "\r")))
		l.partial = l.partial[i+1:]
	}
	close(l.changed)
	l.changed = make(chan struct{})
	return len(p), nil
}

// from returns the lines from index i on, and a channel closed when more
// arrive.
func (l *lines) from(i int) ([]string, <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.all[min(i, len(l.all)):]...), l.changed
}

func (l *lines) mark() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.all)
}

// shownLines is how much of a process's output a failed test shows.
const shownLines = 300

// tail returns the last n lines.
func (l *lines) tail(n int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	all := append(l.all[max(0, len(l.all)-n):len(l.all):len(l.all)], string(l.partial))
	return strings.Join(all, "\n")
}

// procLimit bounds every process a test starts: nothing here runs longer.
const procLimit = 4 * time.Minute

// start runs name with args in dir, with env added to the environment.
func start(t testing.TB, dir string, env []string, name string, args ...string) *proc {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), procLimit)
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// The context's end kills the whole group, not only the leader.
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	p := &proc{t: t, name: procName(name, args), cmd: cmd, out: newLines(), done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("starting %s: %v", p.name, err)
	}
	go func() {
		p.err = cmd.Wait()
		cancel()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("output of %s (last %d lines):\n%s", p.name, shownLines, p.out.tail(shownLines))
		}
	})
	return p
}

func procName(name string, args []string) string {
	for _, a := range args {
		if strings.HasSuffix(a, ".py") {
			return a
		}
	}
	return name
}

// kill sends SIGKILL to the process group (kill -9: no handler runs) and
// waits for the leader to be reaped.
func (p *proc) kill() {
	select {
	case <-p.done:
	default:
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
	// Workers a Python Skald forked are in the group too; they are gone
	// once the group is empty.
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
}

// stop sends SIGTERM to the leader and waits up to grace for it to exit.
func (p *proc) stop(grace time.Duration) error {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return p.err
	case <-time.After(grace):
		p.kill()
		return fmt.Errorf("%s did not exit within %s of SIGTERM", p.name, grace)
	}
}

// wait waits for the process to exit and fails the test unless it exited
// with status 0 within limit.
func (p *proc) wait(limit time.Duration) {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(limit):
		p.kill()
		p.t.Fatalf("%s did not finish within %s", p.name, limit)
	}
	if p.err != nil {
		p.t.Fatalf("%s: %v", p.name, p.err)
	}
}

// await waits for a line matching re from line mark on and returns it,
// with its submatches. It fails the test when the process exits first or
// the deadline passes.
func (p *proc) await(ctx context.Context, mark int, re *regexp.Regexp) []string {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(ctx, awaitLimit)
	defer cancel()
	for {
		ls, more := p.out.from(mark)
		for _, l := range ls {
			if m := re.FindStringSubmatch(l); m != nil {
				return m
			}
		}
		mark += len(ls)
		select {
		case <-more:
		case <-p.done:
			if ls, _ := p.out.from(mark); len(ls) > 0 {
				continue
			}
			p.t.Fatalf("%s exited (%v) before logging a line matching %q", p.name, p.err, re)
		case <-ctx.Done():
			p.t.Fatalf("%s: no line matching %q within %s", p.name, re, awaitLimit)
		}
	}
}

// count returns how many lines from mark on match re.
func (p *proc) count(mark int, re *regexp.Regexp) int {
	ls, _ := p.out.from(mark)
	n := 0
	for _, l := range ls {
		if re.MatchString(l) {
			n++
		}
	}
	return n
}

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
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
		if len(f) >= 3 && f[0] != "Z" && f[2] == strconv.Itoa(p.cmd.Process.Pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}
