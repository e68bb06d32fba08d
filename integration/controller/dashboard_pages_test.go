package controller

import (
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	ctl "github.com/skalds-go/skalds/controller"
	"github.com/skalds-go/skalds/runtime/liveness"
	"github.com/skalds-go/skalds/runtime/node"
	"github.com/skalds-go/skalds/runtime/task"
)

// TestDashboardShowsNodeAndClassPagesAndCharts opens the overview's
// charts, a node's page and a class's page. The pages are reached through
// the links the tables carry: the test checks each link's target and then
// follows it by setting the fragment, since the tables are redrawn as
// events come and a click may land on a row being replaced.
func TestDashboardShowsNodeAndClassPagesAndCharts(t *testing.T) {
	ctx, problems := browser(t)
	e := newEnv(t)
	rn := e.startNode("pages-node", node.Options{MaxTasks: 4, ClassLimits: map[string]int{"Camera": 3}}, cameraClass("Camera"))
	e.publishSchema(rn.n.ID(), "Camera", cameraSchema)
	c := e.startController(func(cfg *ctl.Config) { realNodes(cfg); cfg.Token = "pages-tok" })
	for _, id := range []string{"cam-a", "cam-b"} {
		if code := c.call(t, "POST", "/api/tasks", c.token, map[string]any{"id": id, "className": "Camera",
			"attachments": map[string]any{"rtspUrl": "rtsp://cam/" + id, "fixFrame": 5}}, nil); code != http.StatusCreated {
			t.Fatalf("create %s: %d", id, code)
		}
		e.waitTask(id, "Running", func(d *task.Task) bool { return d.LifecycleStatus == task.Running })
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(c.url+"/dashboard/#token="+c.token)); err != nil {
		t.Fatal(err)
	}
	open := func(what, hash string) {
		t.Helper()
		q, _ := json.Marshal(hash)
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.hash = `+string(q))); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}

	// The charts: the tasks by status draw the two running tasks as a
	// line, and the dispatch latency has a value.
	waitJS(t, ctx, "the running tasks charted",
		`(() => { const l = document.querySelector('#chart-tasks polyline[data-series="Running"]'); return !!l && l.getAttribute('points').split(' ').length > 1 && document.querySelector('#chart-tasks-legend [data-series="Running"]')?.textContent === 'Running 2'; })()`)
	waitJS(t, ctx, "the dispatch latency charted",
		`!!document.querySelector('#chart-dispatch [data-series="p50"]') && /^p50 \d/.test(document.querySelector('#chart-dispatch-legend [data-series="p50"]')?.textContent)`)

	// The node list, the task table and the task page link to the node
	// and the class.
	waitJS(t, ctx, "links to the node and the class",
		`document.querySelector('#nodes tr[data-node="pages-node"] a.node-link')?.getAttribute('href') === '#/nodes/pages-node' &&
		 document.querySelector('#nodes tr[data-node="pages-node"] a.class-link')?.getAttribute('href') === '#/classes/Camera' &&
		 document.querySelector('#tasks tr[data-task="cam-a"] .executor a.node-link')?.getAttribute('href') === '#/nodes/pages-node' &&
		 document.querySelector('#tasks tr[data-task="cam-a"] a.class-link')?.textContent === 'Camera'`)
	if path := os.Getenv("SKALD_DASHBOARD_SCREENSHOT"); path != "" {
		screenshot(t, ctx, strings.TrimSuffix(path, ".png")+"-charts.png")
	}

	// The node's page: status, mode, heartbeat age, capacity and use, the
	// class with its limit, the tasks with links to their pages.
	open("the node page", "#/nodes/pages-node")
	waitJS(t, ctx, "the node's facts",
		`document.getElementById('node-status')?.textContent === 'online' && document.getElementById('node-mode')?.textContent === 'node' &&
		 /^last beat \d+ s ago$/.test(document.getElementById('node-beat')?.textContent) && !document.querySelector('#node-beat .stale')`)
	waitJS(t, ctx, "the node's capacity and use",
		`document.getElementById('node-capacity')?.textContent.trim() === '2 of 4 tasks' && document.getElementById('node-meter')?.value === 2`)
	waitJS(t, ctx, "the node's class with its limit",
		`(() => { const r = document.querySelector('#node-classes tr[data-class="Camera"]'); return !!r && r.querySelector('a.class-link').getAttribute('href') === '#/classes/Camera' && r.cells[1].textContent === '2' && r.cells[2].textContent === '3'; })()`)
	waitJS(t, ctx, "the node's tasks, listed by it",
		`['cam-a', 'cam-b'].every((id) => { const r = document.querySelector('#node-tasks tr[data-task="' + id + '"]'); return !!r && r.querySelector('a.task-link').getAttribute('href') === '#/tasks/' + id && r.querySelector('.listed').textContent === 'yes' && r.innerText.includes('Running'); })`)
	// Live: a cancelled task leaves the node's page.
	if code := c.call(t, "DELETE", "/api/tasks/cam-b", c.token, nil, nil); code != http.StatusOK {
		t.Fatalf("cancel: %d", code)
	}
	waitJS(t, ctx, "the cancelled task gone from the node", `!document.querySelector('#node-tasks tr[data-task="cam-b"]') && document.getElementById('node-capacity')?.textContent.trim() === '1 of 4 tasks'`)
	if path := os.Getenv("SKALD_DASHBOARD_SCREENSHOT"); path != "" {
		screenshot(t, ctx, strings.TrimSuffix(path, ".png")+"-node.png")
	}

	// The class's page: counts by status, the node serving it, the schema's
	// fields, and its tasks.
	open("the class page", "#/classes/Camera")
	waitJS(t, ctx, "the class's counts", `document.querySelector('#cc-running .n')?.textContent === '1' && document.querySelector('#cc-cancelled .n')?.textContent === '1'`)
	waitJS(t, ctx, "the class's node",
		`(() => { const r = document.querySelector('#class-nodes tr[data-node="pages-node"]'); return !!r && r.querySelector('a.node-link') && r.innerText.includes('online') && r.cells[3].textContent === '1' && r.cells[4].textContent === '3'; })()`)
	waitJS(t, ctx, "the schema's fields",
		`!!document.querySelector('#class-schemas tr[data-field="fixFrame"]') && document.querySelector('#class-schemas tr[data-field="rtspUrl"]')?.innerText.includes('stream to read')`)
	waitJS(t, ctx, "the class's tasks", `['cam-a', 'cam-b'].every((id) => !!document.querySelector('#class-tasks tr[data-task="' + id + '"] a.task-link'))`)
	// A count filters the table by its status. The counts are redrawn as
	// events come: the click goes to the one on the page now.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => { document.getElementById('cc-cancelled').click(); return true; })()`)); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "the class's tasks filtered by a count",
		`!!document.querySelector('#class-tasks tr[data-task="cam-b"]') && !document.querySelector('#class-tasks tr[data-task="cam-a"]') && document.getElementById('class-status').value === 'Cancelled'`)
	// Another node of the class publishes an odd progress schema: a $ref
	// that loops, keywords of the wrong types, markup in a title. The page
	// shows its fields as text, and the second node beside the first.
	e.fakeNode("odd-node", "node", "Camera")
	if err := e.rdb.HSet(e.ctx, liveness.NodeProgressSchemasKey("odd-node"), "Camera",
		`{"type":"object","required":{"n":1},"allOf":5,"properties":{"n":{"$ref":"#/properties/n","title":"<b>frames</b>"},"m":{"type":{"x":1},"minimum":"low","enum":{}},"k":7}}`).Err(); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "the odd progress schema's fields, as text",
		`(() => { const n = document.querySelector('#class-progress-schema tr[data-field="n"]'); return !!n && n.cells[4].textContent === '<b>frames</b>' && !n.querySelector('b') && !!document.querySelector('#class-progress-schema tr[data-field="k"]') && !!document.querySelector('#class-nodes tr[data-node="odd-node"]'); })()`)
	if path := os.Getenv("SKALD_DASHBOARD_SCREENSHOT"); path != "" {
		screenshot(t, ctx, strings.TrimSuffix(path, ".png")+"-class.png")
	}
	if p := problems(); len(p) > 0 {
		t.Errorf("the page reported errors:\n%s", strings.Join(p, "\n"))
	}
}
