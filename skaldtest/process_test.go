//go:build linux

package skaldtest

import (
	"context"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func sh(t *testing.T, opts ProcessOptions, script string) *Process {
	t.Helper()
	return StartTestProcess(t, opts, "/bin/sh", "-c", script)
}

func await(t *testing.T, p *Process, mark int, re string) Line {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	l, err := p.Await(ctx, mark, regexp.MustCompile(re))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestProcessOutput(t *testing.T) {
	t.Parallel()
	var out strings.Builder
	var mu sync.Mutex
	var seen []string
	p := sh(t, ProcessOptions{Output: &out, OnLine: func(l Line) {
		mu.Lock()
		seen = append(seen, l.Text)
		mu.Unlock()
	}}, `echo "port 41"; echo oops >&2; echo "port 42"; printf tail`)
	l := await(t, p, 0, `^port (\d+)$`)
	if l.N != 0 || l.Match[1] != "41" {
		t.Fatalf("first match %+v, want line 0 with port 41", l)
	}
	if l := await(t, p, l.N+1, `^port (\d+)$`); l.Match[1] != "42" {
		t.Fatalf("from line 1: %+v, want port 42", l)
	}
	if err := p.Wait(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	if n := p.Count(0, regexp.MustCompile(`^port`)); n != 2 {
		t.Fatalf("Count = %d, want 2", n)
	}
	// stderr is kept with stdout; an unended last line is kept at the exit.
	want := "port 41\noops\nport 42\ntail"
	if got := p.Tail(10); got != want {
		t.Fatalf("Tail = %q, want %q", got, want)
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(seen, "\n") != want || out.String() != want+"\n" {
		t.Fatalf("OnLine saw %q, Output got %q; want %q", seen, out.String(), want)
	}
	if _, err := p.Await(context.Background(), p.Mark(), regexp.MustCompile(`never`)); err == nil || !strings.Contains(err.Error(), "exited") {
		t.Fatalf("Await after the exit: %v, want an error saying it exited", err)
	}
}

func TestProcessKeepLines(t *testing.T) {
	t.Parallel()
	p := sh(t, ProcessOptions{KeepLines: 10}, `i=0; while [ $i -lt 100 ]; do echo line $i; i=$((i+1)); done`)
	if err := p.Wait(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	ls := p.Lines(0)
	if p.Mark() != 100 || len(ls) < 10 || len(ls) > 20 || ls[len(ls)-1].N != 99 || ls[len(ls)-1].Text != "line 99" {
		t.Fatalf("Mark %d, %d lines kept ending %+v; want 100, 10 to 20, line 99", p.Mark(), len(ls), ls[len(ls)-1])
	}
	if l := await(t, p, 0, `^line 9\d$`); l.N != 90 {
		t.Fatalf("first kept match is line %d, want 90", l.N)
	}
}

func TestProcessStop(t *testing.T) {
	t.Parallel()
	p := sh(t, ProcessOptions{}, `trap 'echo bye; exit 0' TERM; echo ready; while :; do sleep 0.05; done`)
	await(t, p, 0, `^ready$`)
	if err := p.Stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	if p.Err() != nil || p.Count(0, regexp.MustCompile(`^bye$`)) != 1 {
		t.Fatalf("after Stop: err %v, output %q; want a clean exit through the handler", p.Err(), p.Tail(5))
	}

	deaf := sh(t, ProcessOptions{}, `trap '' TERM; echo ready; while :; do sleep 0.05; done`)
	await(t, deaf, 0, `^ready$`)
	if err := deaf.Stop(200 * time.Millisecond); err == nil || !strings.Contains(err.Error(), "did not exit") {
		t.Fatalf("Stop of a process that ignores SIGTERM: %v, want an error", err)
	}
	if !deaf.Exited() {
		t.Fatal("still running after Stop's grace")
	}
}

// TestProcessKillEndsTheGroup kills a shell with a forked child: with
// Group the child dies too, as a Python Skald's workers must.
func TestProcessKillEndsTheGroup(t *testing.T) {
	t.Parallel()
	p := sh(t, ProcessOptions{Group: true}, `sleep 60 & echo child $!; wait`)
	child, err := strconv.Atoi(await(t, p, 0, `^child (\d+)$`).Match[1])
	if err != nil {
		t.Fatal(err)
	}
	p.Kill()
	if p.Err() == nil {
		t.Fatal("a killed process reports a clean exit")
	}
	deadline := time.Now().Add(10 * time.Second)
	for running(child) {
		if time.Now().After(deadline) {
			t.Fatalf("the forked child %d outlived Kill of its group", child)
		}
		time.Sleep(10 * time.Millisecond) // polls the kernel's state, with a deadline
	}
}

// running reports whether pid is a live process, not gone or a zombie.
func running(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(stat)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(f) > 0 && f[0] != "Z"
}

func TestProcessLimit(t *testing.T) {
	t.Parallel()
	p := sh(t, ProcessOptions{Limit: 200 * time.Millisecond}, `echo ready; while :; do sleep 0.05; done`)
	select {
	case <-p.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("still running 10 s after its 200 ms limit")
	}
	if p.Err() == nil {
		t.Fatal("a process killed at its limit reports a clean exit")
	}
}
