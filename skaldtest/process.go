package skaldtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// ProcessOptions configures StartProcess.
type ProcessOptions struct {
	// Name names the process in errors; "" means the command's base name.
	Name string
	// Dir is the working directory; "" means the current one.
	Dir string
	// Env is added to this process's environment.
	Env []string
	// Group runs the process in a process group of its own (Unix), so
	// that Kill and Stop also end the processes it forks, such as a
	// Python Skald's workers.
	Group bool
	// DieWithParent makes the kernel kill the process when this one dies,
	// of a test timeout's panic or a kill (Linux only), so that none
	// outlives a test binary.
	DieWithParent bool
	// Limit, when positive, kills the process (its group) after that long.
	Limit time.Duration
	// KeepLines bounds the lines of output kept for Await, Lines and Tail
	// (the oldest go first); 0 keeps all. Line numbers stay absolute.
	KeepLines int
	// Output, when set, also receives every line as it is read, for a log
	// file.
	Output io.Writer
	// OnLine, when set, is called with every line as it is read, in order,
	// and before Done closes. It must not call the Process's methods.
	OnLine func(Line)
}

// Line is one line of a process's output (stdout and stderr together).
type Line struct {
	N     int       // its number, from 0
	At    time.Time // when it was read
	Text  string    // without the line end
	Match []string  // for Await: the submatches of its pattern
}

// Process is a child process started by a test or a test tool: its output
// is kept line by line and can be awaited by pattern; it can be stopped
// with a grace period or killed (kill -9).
type Process struct {
	name  string
	cmd   *exec.Cmd
	opts  ProcessOptions
	group bool
	done  chan struct{}
	err   error // set before done closes
	limit *time.Timer

	mu      sync.Mutex
	partial []byte
	lines   []Line // the kept lines; lines[0] is line number base
	base    int
	changed chan struct{}
}

// StartProcess starts name with args.
func StartProcess(opts ProcessOptions, name string, args ...string) (*Process, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = opts.Dir
	cmd.Env = append(os.Environ(), opts.Env...)
	cmd.SysProcAttr = sysProcAttr(opts.Group, opts.DieWithParent)
	p := &Process{name: opts.Name, cmd: cmd, opts: opts, group: opts.Group && cmd.SysProcAttr != nil,
		done: make(chan struct{}), changed: make(chan struct{})}
	if p.name == "" {
		p.name = filepath.Base(name)
	}
	w := processWriter{p}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", p.name, err)
	}
	if opts.Limit > 0 {
		p.limit = time.AfterFunc(opts.Limit, p.signalKill)
	}
	go func() {
		err := cmd.Wait()
		if p.limit != nil {
			p.limit.Stop()
		}
		p.mu.Lock()
		if len(p.partial) > 0 {
			p.addLocked(string(p.partial))
			p.partial = nil
		}
		p.err = err
		close(p.changed)
		p.mu.Unlock()
		close(p.done)
	}()
	return p, nil
}

// StartTestProcess is StartProcess for a test: it fails t if the process
// cannot start, kills it (its group) when t ends, and then shows its last
// 300 lines if t failed.
func StartTestProcess(t testing.TB, opts ProcessOptions, name string, args ...string) *Process {
	t.Helper()
	p, err := StartProcess(opts, name, args...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.Kill()
		if t.Failed() {
			t.Logf("output of %s (last %d lines):\n%s", p.name, shownLines, p.Tail(shownLines))
		}
	})
	return p
}

// shownLines is how much of a process's output a failed test shows.
const shownLines = 300

type processWriter struct{ p *Process }

// Write splits the output into lines; exec calls it from one goroutine
// for stdout and stderr together.
func (w processWriter) Write(b []byte) (int, error) {
	p := w.p
	p.mu.Lock()
	defer p.mu.Unlock()
	p.partial = append(p.partial, b...)
	for {
		i := bytes.IndexByte(p.partial, '\n')
		if i < 0 {
			break
		}
		p.addLocked(string(bytes.TrimRight(p.partial[:i], "\r")))
		p.partial = p.partial[i+1:]
	}
	return len(b), nil
}

func (p *Process) addLocked(text string) {
	l := Line{N: p.base + len(p.lines), At: time.Now(), Text: text}
	p.lines = append(p.lines, l)
	if k := p.opts.KeepLines; k > 0 && len(p.lines) > 2*k {
		// Dropped in halves, so that appends stay amortised O(1).
		drop := len(p.lines) - k
		p.lines = append(p.lines[:0:0], p.lines[drop:]...)
		p.base += drop
	}
	if p.opts.Output != nil {
		_, _ = io.WriteString(p.opts.Output, text+"\n")
	}
	if p.opts.OnLine != nil {
		p.opts.OnLine(l)
	}
	close(p.changed)
	p.changed = make(chan struct{})
}

// Name is the process's name in errors.
func (p *Process) Name() string { return p.name }

// Pid is the process id (and, with Group, its group's id).
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Mark is the number of the next line, for Await and Count to look from.
func (p *Process) Mark() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.base + len(p.lines)
}

// Lines returns the kept lines from number from on.
func (p *Process) Lines(from int) []Line {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.fromLocked(from)
}

func (p *Process) fromLocked(from int) []Line {
	i := min(max(from-p.base, 0), len(p.lines))
	return append([]Line(nil), p.lines[i:]...)
}

// Tail returns the last n kept lines, and a line not yet ended.
func (p *Process) Tail(n int) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var b strings.Builder
	for _, l := range p.lines[max(0, len(p.lines)-n):] {
		b.WriteString(l.Text)
		b.WriteByte('\n')
	}
	b.Write(p.partial)
	return strings.TrimSuffix(b.String(), "\n")
}

// Await waits for a line from number mark on that matches re and returns
// it with its submatches. It fails when the process exits first, or when
// ctx ends, with the output's last lines.
func (p *Process) Await(ctx context.Context, mark int, re *regexp.Regexp) (Line, error) {
	for {
		p.mu.Lock()
		ls, changed := p.fromLocked(mark), p.changed
		p.mu.Unlock()
		for _, l := range ls {
			if m := re.FindStringSubmatch(l.Text); m != nil {
				l.Match = m
				return l, nil
			}
		}
		if len(ls) > 0 {
			mark = ls[len(ls)-1].N + 1
		}
		select {
		case <-changed:
		case <-p.done:
			if p.Mark() > mark {
				continue
			}
			return Line{}, fmt.Errorf("%s exited (%v) before logging a line matching %q; its output ends:\n%s", p.name, p.err, re, p.Tail(30))
		case <-ctx.Done():
			return Line{}, fmt.Errorf("%s logged no line matching %q (%w); its output ends:\n%s", p.name, re, context.Cause(ctx), p.Tail(10))
		}
	}
}

// Count returns how many kept lines from number mark on match re.
func (p *Process) Count(mark int, re *regexp.Regexp) int {
	n := 0
	for _, l := range p.Lines(mark) {
		if re.MatchString(l.Text) {
			n++
		}
	}
	return n
}

// Done is closed once the process has exited and its output is read to
// the end, which is when every process it forked and that kept its output
// has exited too.
func (p *Process) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has exited.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Err is how the process ended (nil for exit status 0), once Done is
// closed.
func (p *Process) Err() error {
	<-p.done
	return p.err
}

// Wait waits up to limit for the process to exit, and returns how it
// ended; at the limit it kills it and says so.
func (p *Process) Wait(limit time.Duration) error {
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case <-p.done:
		if p.err != nil {
			return fmt.Errorf("%s: %w; its output ends:\n%s", p.name, p.err, p.Tail(30))
		}
		return nil
	case <-t.C:
		p.Kill()
		return fmt.Errorf("%s did not finish within %s; its output ends:\n%s", p.name, limit, p.Tail(30))
	}
}

// Stop asks the process to end (SIGTERM; on Windows it is killed) and
// waits up to grace; then, or once it has exited, it kills what is left
// of its group. The error says when grace was not enough.
func (p *Process) Stop(grace time.Duration) error {
	if err := terminate(p.cmd.Process); err != nil && !errors.Is(err, os.ErrProcessDone) {
		p.Kill()
		return fmt.Errorf("stopping %s: %w", p.name, err)
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.done:
		p.killGroup()
		return nil
	case <-t.C:
		p.Kill()
		return fmt.Errorf("%s did not exit within %s of SIGTERM", p.name, grace)
	}
}

// Kill kills the process, and its group with Group (kill -9: no handler
// runs), and waits until it has exited. It is safe to call more than
// once, also after the process has exited.
func (p *Process) Kill() {
	p.signalKill()
	<-p.done
	// A forked process of the group may outlive the leader's exit.
	p.killGroup()
}

func (p *Process) signalKill() {
	if p.Exited() {
		return
	}
	if p.group {
		killGroup(p.Pid())
		return
	}
	_ = p.cmd.Process.Kill()
}

func (p *Process) killGroup() {
	if p.group {
		killGroup(p.Pid())
	}
}
