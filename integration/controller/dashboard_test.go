package controller

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	ctl "github.com/skalds-go/skalds/controller"
	"github.com/skalds-go/skalds/runtime/node"
	"github.com/skalds-go/skalds/runtime/task"
)

// chromiumPath is Debian's chromium; .ci/run installs it.
const chromiumPath = "/usr/bin/chromium"

// browser starts a headless Chromium for the test and returns a tab. JS
// exceptions and console errors on the page fail the test: the dashboard
// has no other test of its script.
func browser(t *testing.T) (context.Context, func() []string) {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skipf("dashboard browser test needs %s (apt-get install -y chromium): %v", chromiumPath, err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancelTab(); cancelAlloc() })
	var mu sync.Mutex
	var problems []string
	// Listen starts the browser and the tab.
	err := chromedp.Listen(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			msg := d.Text
			if d.Exception != nil {
				msg += " " + d.Exception.Description
			}
			problems = append(problems, fmt.Sprintf("exception at %s:%d: %s", d.URL, d.LineNumber+1, msg))
		case *runtime.EventConsoleAPICalled:
			if ev.Type == "error" {
				var args []string
				for _, a := range ev.Args {
					args = append(args, string(a.Value)+a.Description)
				}
				problems = append(problems, "console.error: "+strings.Join(args, " "))
			}
		}
	})
	if err != nil {
		t.Fatalf("starting %s: %v", chromiumPath, err)
	}
	return ctx, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), problems...)
	}
}

// waitJS polls a JavaScript condition on the page until it is true.
func waitJS(t *testing.T, ctx context.Context, what, expr string) {
	t.Helper()
	_, err := chromedp.Run(ctx, chromedp.Poll[bool](expr,
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(deadline)))
	if err != nil {
		body, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById('app')?.innerText || ''`))
		t.Fatalf("dashboard: waiting for %s (%s): %v\npage text:\n%s", what, expr, err, body)
	}
}

// click clicks what selector finds, once it is there, shown and enabled,
// looking it up and clicking it in one turn of the page's script. The
// dashboard redraws table rows and task facts on live updates; chromedp's
// Click finds a node first and clicks its coordinates later, and misses
// when the node was replaced in between.
func click(t *testing.T, ctx context.Context, what, selector string) {
	t.Helper()
	waitJS(t, ctx, what, fmt.Sprintf(`(() => {
		const el = document.querySelector(%q);
		if (!el || el.disabled || el.closest('[hidden]') || el.getClientRects().length === 0) return false;
		el.click();
		return true;
	})()`, selector))
}

// screenshot saves the page as a PNG, for looking at the dashboard after
// a change: SKALD_DASHBOARD_SCREENSHOT=/tmp/dash.png go test -run Dashboard.
func screenshot(t *testing.T, ctx context.Context, path string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestDashboardEditsAttachmentsOfARunningTask(t *testing.T) {
	ctx, problems := browser(t)
	e := newEnv(t)
	feed := newCounterFeed()
	rn := e.startNode("dash-node", node.Options{}, cameraClass("Camera"), newClass("Doomed"), counterClass("Counter", feed), hostileClass(feed))
	e.publishSchema(rn.n.ID(), "Camera", cameraSchema)
	c := e.startController(func(cfg *ctl.Config) { realNodes(cfg); cfg.Token = "dash-tok" })
	var created taskBody
	if code := c.call(t, "POST", "/api/tasks", c.token, map[string]any{"id": "cam-task", "className": "Camera",
		"attachments": map[string]any{"rtspUrl": "rtsp://cam/1", "fixFrame": 5}}, &created); code != http.StatusCreated {
		t.Fatalf("create: %d", code)
	}
	before := e.waitTask("cam-task", "Running", func(d *task.Task) bool { return d.LifecycleStatus == task.Running })
	// No online node serves class Nobody: the table flags its task.
	if code := c.call(t, "POST", "/api/tasks", c.token, map[string]any{"id": "orphan-task", "className": "Nobody"}, nil); code != http.StatusCreated {
		t.Fatalf("create: %d", code)
	}

	// Every URL the page requests, to check that the token is in none.
	var urlsMu sync.Mutex
	var urls []string
	if err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok {
			urlsMu.Lock()
			urls = append(urls, e.Request.URL)
			urlsMu.Unlock()
		}
	}); err != nil {
		t.Fatal(err)
	}
	// The page itself needs no token; its API calls use the one from the
	// fragment.
	if err := chromedp.Do(ctx, chromedp.Navigate(c.url+"/dashboard/#token="+c.token)); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "the running task in the table",
		`document.querySelector('#tasks tr[data-task="cam-task"] .status')?.textContent === 'Running'`)
	waitJS(t, ctx, "the node with its class and task",
		`(() => { const r = document.querySelector('#nodes tr[data-node="dash-node"]'); return !!r && r.innerText.includes('Camera') && r.innerText.includes('cam-task') && r.innerText.includes('online'); })()`)
	waitJS(t, ctx, "the overview counts", `document.querySelector('#c-running .n')?.textContent === '1'`)
	waitJS(t, ctx, "the token removed from the address bar", `!location.hash.includes('token')`)
	waitJS(t, ctx, "the event streams open", `document.getElementById('conn')?.textContent === 'live'`)
	urlsMu.Lock()
	streams := 0
	for _, u := range urls {
		if strings.Contains(u, c.token) {
			t.Errorf("the token is in a URL the page requested: %s", u)
		}
		if strings.Contains(u, "/api/events/tasks") {
			streams++
		}
	}
	urlsMu.Unlock()
	if streams == 0 {
		t.Errorf("no request of the task stream seen among %d", len(urls))
	}
	waitJS(t, ctx, "the unserved task flagged, the served one not",
		`document.querySelector('#tasks tr[data-task="orphan-task"] .unserved')?.textContent === 'no node serves Nobody' && !document.querySelector('#tasks tr[data-task="cam-task"] .unserved')`)
	// One search box across id, class, node and status: the node's name
	// finds its task and not the unassigned one.
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.ID("f-search"), "DASH-node")); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "the search by node", `!!document.querySelector('#tasks tr[data-task="cam-task"]') && !document.querySelector('#tasks tr[data-task="orphan-task"]')`)
	if path := os.Getenv("SKALD_DASHBOARD_SCREENSHOT"); path != "" {
		screenshot(t, ctx, strings.TrimSuffix(path, ".png")+"-overview.png")
	}

	// The task page, with a form generated from the class's schema.
	click(t, ctx, "the task's link in its row", `#tasks tr[data-task="cam-task"] a`)
	waitJS(t, ctx, "the form", `!!document.querySelector('#att-form input[data-path="$.fixFrame"]')`)
	// A running task offers no retry, and its heartbeat shows as the age
	// of the last beat.
	waitJS(t, ctx, "no retry on a running task", `document.getElementById('status')?.textContent === 'Running' && document.getElementById('retry').hidden && !document.getElementById('cancel').disabled`)
	waitJS(t, ctx, "the run time and the time since the last update",
		`/^running for \d+ s$/.test(document.getElementById('run-time')?.textContent) && /^\(\d+s ago\)$/.test(document.getElementById('since-update')?.textContent)`)
	waitJS(t, ctx, "the heartbeat as an age", `/^last beat \d+ s ago$/.test(document.getElementById('heartbeat')?.textContent) && !document.querySelector('#heartbeat .stale')`)
	waitJS(t, ctx, "the current attachments in the form",
		`document.querySelector('input[data-path="$.fixFrame"]').value === '5' && document.querySelector('input[data-path="$.rtspUrl"]').value === 'rtsp://cam/1'`)

	// An out-of-range value: the controller's 422 is shown at the field,
	// and nothing is written.
	if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.CSS(`input[data-path="$.fixFrame"]`), "5000")); err != nil {
		t.Fatal(err)
	}
	click(t, ctx, "the form's submit button", "#att-submit")
	waitJS(t, ctx, "the schema error at the fixFrame field",
		`(() => { const f = document.querySelector('.field.invalid[data-path="$.fixFrame"]'); return !!f && f.querySelector('.err').textContent.includes('1000'); })()`)
	if d, _ := e.store.Get(e.ctx, "cam-task"); d.AttachmentsVersion != before.AttachmentsVersion {
		t.Errorf("a refused update was written: version %d, was %d", d.AttachmentsVersion, before.AttachmentsVersion)
	}

	// A good value: the worker applies it and the page shows it live.
	if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.CSS(`input[data-path="$.fixFrame"]`), "42")); err != nil {
		t.Fatal(err)
	}
	click(t, ctx, "the form's submit button", "#att-submit")
	want := before.AttachmentsVersion + 1
	waitJS(t, ctx, "the applied version moving", fmt.Sprintf(`document.getElementById('applied-version')?.textContent === '%d'`, want))
	waitJS(t, ctx, "the confirmation", `document.getElementById('form-msg')?.textContent.includes('applied by the worker')`)
	waitJS(t, ctx, "the error cleared", `!document.querySelector('.field.invalid')`)
	// The task's log, kept by the node in Redis, shows the start and, live,
	// the update applied.
	waitJS(t, ctx, "the task's log with the start and the applied update",
		`(() => { const ls = [...document.querySelectorAll('#logs .logline .logmsg')].map((e) => e.textContent); return ls.includes('worker started') && ls.includes('attachments applied'); })()`)
	d := e.waitTask("cam-task", "the update applied", func(d *task.Task) bool { return d.AppliedAttachmentsVersion == want })
	if !strings.Contains(string(d.Attachments), `"fixFrame":42`) {
		t.Errorf("attachments %s, want fixFrame 42", d.Attachments)
	}
	if path := os.Getenv("SKALD_DASHBOARD_SCREENSHOT"); path != "" {
		screenshot(t, ctx, path)
	}

	// Cancel asks first; saying no changes nothing.
	click(t, ctx, "the cancel button", "#cancel")
	waitJS(t, ctx, "the cancel confirmation", `!document.getElementById('confirm').hidden && document.getElementById('confirm').textContent.includes('Cancel task cam-task?')`)
	click(t, ctx, "no in the confirmation", "#confirm-no")
	waitJS(t, ctx, "the confirmation dismissed", `document.getElementById('confirm').hidden`)
	if d, _ := e.store.Get(e.ctx, "cam-task"); d.LifecycleStatus != task.Running {
		t.Errorf("a declined cancel changed the task to %s", d.LifecycleStatus)
	}
	// Confirmed, the task is cancelled; the status follows through the
	// stream.
	click(t, ctx, "the cancel button", "#cancel")
	click(t, ctx, "yes in the confirmation", "#confirm-yes")
	waitJS(t, ctx, "the task cancelled, retry offered", `document.getElementById('status')?.textContent === 'Cancelled' && !document.getElementById('retry').hidden`)
	// Retry, confirmed, puts it back to Created; the dispatcher runs it
	// again, under a new epoch.
	click(t, ctx, "the retry button", "#retry")
	waitJS(t, ctx, "the retry confirmation", `document.getElementById('confirm').textContent.includes('Run task cam-task again?')`)
	click(t, ctx, "yes in the confirmation", "#confirm-yes")
	waitJS(t, ctx, "the task running again", `document.getElementById('status')?.textContent === 'Running' && Number(document.getElementById('epoch')?.textContent) > 1`)
	// Its timeline, updated live, tells the story so far.
	waitJS(t, ctx, "the timeline of the task",
		`(() => { const ev = [...document.querySelectorAll('#history li')].map((e) => e.dataset.event).join(' '); return ev.startsWith('created assigned started') && ev.includes('updateApplied cancelled') && ev.includes('handedBack assigned started'); })()`)

	// A task whose worker fails for good shows why on its page, and its
	// timeline ends with the failure and its kind.
	if err := e.store.Create(e.ctx, newDoc("doomed-task", "Doomed", `{"mode":"terminal"}`)); err != nil {
		t.Fatal(err)
	}
	e.waitTask("doomed-task", "Failed", func(d *task.Task) bool { return d.LifecycleStatus == task.Failed })
	if err := chromedp.Do(ctx, chromedp.Navigate(c.url+"/dashboard/#/tasks/doomed-task")); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "the failed task's timeline with its kind",
		`(() => { const ls = [...document.querySelectorAll('#history li')]; const last = ls[ls.length - 1]; return ls.length === 4 && last?.dataset.event === 'failed' && last.querySelector('.badge')?.textContent === 'terminal' && last.textContent.includes('no run can succeed'); })()`)
	waitJS(t, ctx, "the error kind among the facts", `document.getElementById('error-kind')?.textContent === 'terminal: never retried' && !document.getElementById('retry').hidden`)

	// A task's progress and result, rendered from its class's schemas.
	checkProgressPage(t, ctx, e, c, feed)

	// Another node publishes a different schema for the class: the node
	// list shows the conflict on both.
	e.fakeNode("rogue-node", "node", "Other")
	e.publishSchema("rogue-node", "Camera", `{"type":"object"}`)
	if err := chromedp.Do(ctx, chromedp.Navigate(c.url+"/dashboard/#/")); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "the schema conflict in the node list",
		`['dash-node', 'rogue-node'].every((id) => document.querySelector('#nodes tr[data-node="' + id + '"] .schema-conflict')?.textContent === 'schema conflict: Camera')`)
	if p := problems(); len(p) > 0 {
		t.Errorf("the page reported errors:\n%s", strings.Join(p, "\n"))
	}
}
