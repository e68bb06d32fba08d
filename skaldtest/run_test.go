package skaldtest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skalds-go/skalds/runtime/codec"
	"github.com/skalds-go/skalds/runtime/skald"
	"github.com/skalds-go/skalds/runtime/task"
	"github.com/skalds-go/skalds/skaldtest"
)

// params stands for a generated model: Owner is immutable, Source needs a
// restart, Rate is hot and must be positive.
type params struct {
	Owner  string `json:"owner"`
	Source string `json:"source"`
	Rate   int    `json:"rate"`
}

// behaviour says what the hooks of a test worker do.
type behaviour struct {
	mainErr    error // Main returns it at once instead of waiting for ctx
	finish     bool  // Main returns nil at once
	panicMain  bool
	panicOnUpd bool
	refuse     bool  // Update refuses every change
	updErr     error // Update returns it
}

// class is a hand-written class with a strict decoder in the manner of a
// generated one.
func class(b behaviour) *skald.Class[params] {
	decode := func(data []byte) (params, error) {
		var m params
		dec := json.NewDecoder(strings.NewReader(string(data)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&m); err != nil {
			return m, codec.Errors{&codec.FieldError{Path: "$", Msg: err.Error()}}
		}
		if m.Rate < 1 {
			return m, codec.Errors{&codec.FieldError{Path: "$.rate", Msg: "must be at least 1"}}
		}
		return m, nil
	}
	return &skald.Class[params]{
		Name:     "TestWorker",
		Decode:   decode,
		Encode:   func(m params) []byte { out, _ := json.Marshal(m); return out },
		Validate: func(params) error { return nil },
		Changes: func(old, next params) skald.Change {
			var ch skald.Change
			if old.Owner != next.Owner {
				ch.Immutable = append(ch.Immutable, "$.owner")
			}
			ch.Restart = old.Source != next.Source
			return ch
		},
		New: func() skald.Hooks[params] {
			var mu sync.Mutex
			var cur params
			return skald.Hooks[params]{
				Init: func(m params) error { cur = m; return nil },
				Before: func(ctx context.Context) error {
					skald.Logger(ctx).Info("starting", "source", cur.Source)
					return nil
				},
				Main: func(ctx context.Context) error {
					switch {
					case b.panicMain:
						panic("boom")
					case b.mainErr != nil:
						return b.mainErr
					case b.finish:
						return nil
					}
					<-ctx.Done()
					return nil
				},
				After:   func(context.Context) error { return nil },
				Release: func(ctx context.Context) error { skald.Logger(ctx).Info("released"); return nil },
				Update: func(ctx context.Context, m params) error {
					if b.panicOnUpd {
						panic("update boom")
					}
					if b.refuse {
						return errors.New("not now")
					}
					if b.updErr != nil {
						return b.updErr
					}
					mu.Lock()
					cur = m
					mu.Unlock()
					skald.Logger(ctx).Info("updated", "rate", m.Rate)
					return nil
				},
			}
		},
	}
}

var start = params{Owner: "ann", Source: "rtsp://a", Rate: 10}

func TestRunUpdateAndCancel(t *testing.T) {
	tk := skaldtest.Run(t, class(behaviour{}), start)
	rec := tk.Await(skaldtest.Msg("starting", "source", "rtsp://a", "taskId", skaldtest.TaskID))
	if rec.Attrs["className"] != "TestWorker" {
		t.Errorf("record attributes %v lack the class name", rec.Attrs)
	}
	next := start
	next.Rate = 60
	if err := tk.Update(next); err != nil {
		t.Fatalf("hot update: %v", err)
	}
	tk.Await(skaldtest.Msg("updated", "rate", 60))

	out := tk.Cancel()
	if out.Status != task.Cancelled || out.Err != nil {
		t.Fatalf("outcome %v, want Cancelled", out)
	}
	// After is skipped on cancel, even though Main returned nil; Release
	// runs.
	want := []string{"init", "before", "main", "update", "release"}
	if got := tk.Hooks(); !slices.Equal(got, want) {
		t.Errorf("hooks %v, want %v", got, want)
	}
	tk.Await(skaldtest.Msg("released"))
	if err := tk.Update(next); err == nil {
		t.Error("an update after the end was accepted")
	}
}

func TestRunRejections(t *testing.T) {
	tk := skaldtest.Run(t, class(behaviour{}), start)
	tk.Await(skaldtest.Msg("starting"))

	for _, tc := range []struct {
		name, doc, path string
	}{
		{"validation", `{"owner":"ann","source":"rtsp://a","rate":0}`, "$.rate"},
		{"unknown key", `{"owner":"ann","source":"rtsp://a","rate":5,"x":1}`, "$"},
		{"immutable", `{"owner":"bob","source":"rtsp://a","rate":5}`, "$.owner"},
	} {
		err := tk.UpdateJSON([]byte(tc.doc))
		var errs codec.Errors
		if !errors.As(err, &errs) || errs[0].Path != tc.path {
			t.Errorf("%s: got %v, want codec.Errors at %s", tc.name, err, tc.path)
		}
	}
	if n := tk.Logs.Count(skaldtest.Msg("updated")); n != 0 {
		t.Errorf("the update hook ran %d times for rejected updates", n)
	}
	// Still running, on its attachments: a good update goes through.
	if err := tk.UpdateJSON([]byte(`{"owner":"ann","source":"rtsp://a","rate":7}`)); err != nil {
		t.Fatal(err)
	}
	if out := tk.Cancel(); out.Status != task.Cancelled {
		t.Fatalf("outcome %v", out)
	}
}

func TestRunRefusingHandler(t *testing.T) {
	tk := skaldtest.Run(t, class(behaviour{refuse: true}), start)
	next := start
	next.Rate = 3
	err := tk.Update(next)
	var he *skald.HookError
	if !errors.As(err, &he) || he.Hook != "update" || !strings.Contains(err.Error(), "not now") {
		t.Fatalf("got %v, want the update hook's error", err)
	}
	tk.Cancel()
}

func TestRunRestart(t *testing.T) {
	tk := skaldtest.Run(t, class(behaviour{}), start)
	next := start
	next.Source = "rtsp://b"
	if err := tk.Update(next); err != nil {
		t.Fatalf("restart update: %v", err)
	}
	tk.Await(skaldtest.Msg("starting", "source", "rtsp://b"))
	// Back to a: compared with b, the attachments the new instance runs.
	if err := tk.Update(start); err != nil {
		t.Fatal(err)
	}
	tk.Await(skaldtest.Msg("starting", "source", "rtsp://a"))
	tk.Cancel()
	want := []string{"init", "before", "main", "release", "init", "before", "main", "release", "init", "before", "main", "release"}
	if got := tk.Hooks(); !slices.Equal(got, want) {
		t.Errorf("hooks %v, want %v", got, want)
	}
}

func TestRunOutcomes(t *testing.T) {
	tests := []struct {
		name   string
		b      behaviour
		status task.Status
		hook   string
		text   string
		hooks  []string
	}{
		{"finished", behaviour{finish: true}, task.Finished, "", "", []string{"init", "before", "main", "after", "release"}},
		{"failed", behaviour{mainErr: errors.New("camera gone")}, task.Failed, "main", "camera gone", []string{"init", "before", "main", "release"}},
		{"panicked", behaviour{panicMain: true}, task.Failed, "main", "panic: boom", []string{"init", "before", "main", "release"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tk := skaldtest.Run(t, class(tt.b), start)
			out := tk.Wait()
			if out.Status != tt.status {
				t.Fatalf("outcome %v, want %s", out, tt.status)
			}
			var he *skald.HookError
			if tt.hook != "" && (!errors.As(out.Err, &he) || he.Hook != tt.hook || !strings.Contains(out.Err.Error(), tt.text)) {
				t.Errorf("error %v, want the %s hook's %q", out.Err, tt.hook, tt.text)
			}
			if got := tk.Hooks(); !slices.Equal(got, tt.hooks) {
				t.Errorf("hooks %v, want %v", got, tt.hooks)
			}
		})
	}
}

func TestRunUpdatePanicFails(t *testing.T) {
	tk := skaldtest.Run(t, class(behaviour{panicOnUpd: true}), start)
	next := start
	next.Rate = 2
	if err := tk.Update(next); err == nil || !strings.Contains(err.Error(), "update boom") {
		t.Fatalf("got %v, want the panic", err)
	}
	out := tk.Wait()
	if out.Status != task.Failed || !strings.Contains(out.Err.Error(), "update boom") {
		t.Fatalf("outcome %v, want Failed with the panic", out)
	}
}

func TestRunFailureKinds(t *testing.T) {
	gone := errors.New("camera gone")
	tests := []struct {
		name  string
		b     behaviour
		kind  task.FailureKind
		after time.Duration
	}{
		{"error", behaviour{mainErr: gone}, task.FailedError, 0},
		{"panic", behaviour{panicMain: true}, task.FailedPanic, 0},
		{"terminal", behaviour{mainErr: skald.Terminal(gone)}, task.FailedTerminal, 0},
		{"terminal wrapped by the worker", behaviour{mainErr: fmt.Errorf("opening: %w", skald.Terminal(gone))}, task.FailedTerminal, 0},
		{"retry later", behaviour{mainErr: skald.RetryLater(time.Minute, gone)}, task.FailedRetryLater, time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := skaldtest.Run(t, class(tt.b), start).Wait()
			if out.Status != task.Failed || out.Kind != tt.kind || out.RetryAfter != tt.after {
				t.Fatalf("outcome %v (kind %q, after %v), want Failed, %q, %v", out, out.Kind, out.RetryAfter, tt.kind, tt.after)
			}
			if !errors.Is(out.Err, gone) && tt.kind != task.FailedPanic {
				t.Errorf("error %v does not wrap the worker's", out.Err)
			}
		})
	}
	out := skaldtest.RunJSON(t, class(behaviour{}), []byte(`{"rate":-1}`)).Wait()
	if out.Kind != task.FailedStart {
		t.Errorf("bad attachments: kind %q, want %q", out.Kind, task.FailedStart)
	}
}

func TestRunUpdateTerminalFails(t *testing.T) {
	for _, c := range []struct {
		err  error
		want task.FailureKind
	}{
		{skald.Terminal(errors.New("owner revoked")), task.FailedTerminal},
		{skald.RetryLater(time.Second, errors.New("owner revoked")), task.FailedRetryLater},
	} {
		tk := skaldtest.Run(t, class(behaviour{updErr: c.err}), start)
		next := start
		next.Rate = 2
		if err := tk.Update(next); err == nil || !strings.Contains(err.Error(), "owner revoked") {
			t.Fatalf("update: %v, want the hook's error", err)
		}
		if out := tk.Wait(); out.Status != task.Failed || out.Kind != c.want {
			t.Fatalf("outcome %v (kind %q), want Failed, %q: an update hook's %T ends the task", out, out.Kind, c.want, c.err)
		}
	}
	// A plain error from the update hook only refuses the update.
	tk := skaldtest.Run(t, class(behaviour{updErr: errors.New("not this one")}), start)
	next := start
	next.Rate = 2
	if err := tk.Update(next); err == nil {
		t.Fatal("update applied, want it refused")
	}
	tk.Cancel()
	if out := tk.Wait(); out.Status != task.Cancelled {
		t.Fatalf("outcome %v, want Cancelled: a refused update keeps the worker running", out)
	}
}

func TestRunJSONBadStart(t *testing.T) {
	tk := skaldtest.RunJSON(t, class(behaviour{}), []byte(`{"owner":"ann","source":"a","rate":-1}`))
	out := tk.Wait()
	var errs codec.Errors
	if out.Status != task.Failed || !errors.As(out.Err, &errs) || errs[0].Path != "$.rate" {
		t.Fatalf("outcome %v, want Failed at $.rate", out)
	}
	if got := tk.Hooks(); !slices.Equal(got, []string{"init"}) {
		t.Errorf("hooks %v, want init only", got)
	}
}
