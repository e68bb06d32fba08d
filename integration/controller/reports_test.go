package controller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	ctl "github.com/skalds-go/skalds/controller"
	"github.com/skalds-go/skalds/controller/api/client"
	"github.com/skalds-go/skalds/controller/api/wire"
	"github.com/skalds-go/skalds/runtime/liveness"
	"github.com/skalds-go/skalds/runtime/node"
	"github.com/skalds-go/skalds/runtime/skald"
	"github.com/skalds-go/skalds/runtime/task"
)

// counterProgressSchema describes the progress of the counter class with
// titles, a description, a nested object, an array of objects through a
// $ref, a nullable field and a Go duration, as a published schema may.
const counterProgressSchema = `{"$schema":"https://json-schema.org/draft/2020-12/schema","title":"Counted","type":"object",` +
	`"properties":{"frames":{"type":"integer","title":"Frames processed","description":"frames read from the stream so far"},` +
	`"Frames":{"$ref":"#/properties/frames","description":"another accepted name of frames","x-skald-alias-of":"frames"},` +
	`"rate":{"type":"number","title":"Frames per second"},` +
	`"stage":{"type":"object","title":"Current stage","properties":{"name":{"type":"string","title":"Stage name"},` +
	`"elapsed":{"type":["string","integer"],"format":"x-skald-duration","title":"Time in stage"}}},` +
	`"cameras":{"type":"array","title":"Cameras","items":{"$ref":"#/$defs/Camera"}},` +
	`"note":{"anyOf":[{"type":"string"},{"type":"null"}],"title":"Operator note"}},` +
	`"additionalProperties":false,` +
	`"$defs":{"Camera":{"type":"object","properties":{"id":{"type":"string","title":"Camera id"},"healthy":{"type":"boolean","title":"Healthy"}}}}}`

// counterResultSchema describes the result of the counter class.
const counterResultSchema = `{"title":"Summary","type":"object","properties":{"frames":{"type":"integer","title":"Frames in total"},` +
	`"verdict":{"type":"string","title":"Verdict"}}}`

// hostileProgressSchema is a published schema that is wrong in every way
// a reader must survive: a $ref that is no string, one that loops, one to
// what every object inherits, true as a schema, keywords of the wrong
// types, markup in a title, and a recursive definition.
const hostileProgressSchema = `{"type":"object","properties":{"a":{"$ref":5},"b":{"$ref":"#/properties/b"},` +
	`"c":{"$ref":"#/__proto__"},"d":true,"e":{"type":7,"title":{"x":1},"description":["<b>x</b>"]},` +
	`"f":{"anyOf":"nope","items":[1]},"g":{"type":"array","items":{"$ref":"#/$defs/N"}},` +
	`"h":{"type":"integer","title":"<img src=x onerror=pwned=3>"},"constructor":{"title":"Constructor field"}},` +
	`"$defs":{"N":{"type":"object","title":"Level","properties":{"n":{"$ref":"#/$defs/N"}}}}}`

// hostileClass reports, through feed, progress that the test sends, and
// publishes hostileProgressSchema as the schema of its progress.
func hostileClass(feed *counterFeed) *skald.Class[params] {
	c := counterClass("Hostile", feed)
	c.ProgressSchema = []byte(hostileProgressSchema)
	return c
}

// counterFeed drives the counter class's workers from the test: each
// value on progress is reported as the task's progress, and a value on
// finish is set as its result before main returns.
type counterFeed struct {
	progress chan string
	finish   chan string
}

func newCounterFeed() *counterFeed {
	return &counterFeed{progress: make(chan string), finish: make(chan string)}
}

// counterClass is a worker class with a progress and a result type whose
// reports the test sends through feed.
func counterClass(name string, feed *counterFeed) *skald.Class[params] {
	c := newClass(name)
	c.ProgressSchema = []byte(counterProgressSchema)
	c.ResultSchema = []byte(counterResultSchema)
	c.New = func() skald.Hooks[params] {
		return skald.Hooks[params]{
			Init: func(params) error { return nil },
			Main: func(ctx context.Context) error {
				for {
					select {
					case <-ctx.Done():
						return nil
					case p := <-feed.progress:
						skald.ReportProgress(ctx, []byte(p))
					case r := <-feed.finish:
						skald.SetResult(ctx, []byte(r))
						return nil
					}
				}
			},
		}
	}
	return c
}

// send hands v to the worker, or fails the test when no worker takes it.
func (f *counterFeed) send(t *testing.T, ch chan string, v string) {
	t.Helper()
	select {
	case ch <- v:
	case <-time.After(deadline):
		t.Fatalf("no worker took %s", v)
	}
}

// TestClassesServeProgressAndResultSchemas: the class API answers the
// schemas of the progress and the result that online nodes publish, for a
// class that declares them, and none for one that does not; the Go client
// reads them; nodes that disagree, or publish what is not JSON, are
// reported without breaking the answer.
func TestClassesServeProgressAndResultSchemas(t *testing.T) {
	e := newEnv(t)
	rn := e.startNode("schemas-node", node.Options{}, counterClass("Counter", newCounterFeed()), newClass("Plain"))
	// A Python Skald publishes no schema at all.
	e.fakeNode("py-node", "node", "Plain")
	c := e.startController(func(cfg *ctl.Config) { realNodes(cfg); cfg.Token = "cls-tok" })
	api, err := client.New(c.url, c.token)
	if err != nil {
		t.Fatal(err)
	}

	var list wire.ClassList
	e.await("both classes listed", func() bool {
		list = wire.ClassList{}
		return c.call(t, "GET", "/api/classes", c.token, nil, &list) == http.StatusOK && list.Total == 2
	})
	byName := map[string]wire.Class{}
	for _, cl := range list.Items {
		byName[cl.ClassName] = cl
	}
	counter, plain := byName["Counter"], byName["Plain"]
	if string(counter.ProgressSchema) != counterProgressSchema || string(counter.ResultSchema) != counterResultSchema || len(counter.Problems) != 0 {
		t.Errorf("Counter: progress schema %s, result schema %s, problems %q; want the published ones", counter.ProgressSchema, counter.ResultSchema, counter.Problems)
	}
	if plain.ProgressSchema != nil || plain.ResultSchema != nil || len(plain.Problems) != 0 || strings.Join(plain.Nodes, ",") != "py-node,"+rn.n.ID() {
		t.Errorf("Plain, which declares neither: %+v", plain)
	}
	// Absent, not null: a reader tells "none" by the missing key.
	var raw struct{ Items []map[string]json.RawMessage }
	c.call(t, "GET", "/api/classes", c.token, nil, &raw)
	for _, it := range raw.Items {
		if string(it["className"]) == `"Plain"` {
			if _, has := it["progressSchema"]; has {
				t.Errorf("Plain has a progressSchema key: %v", it)
			}
		}
	}

	got, err := api.GetClass(e.ctx, "Counter")
	if err != nil || string(got.ProgressSchema) != counterProgressSchema || string(got.ResultSchema) != counterResultSchema || got.Nodes[0] != rn.n.ID() {
		t.Fatalf("GetClass(Counter): %+v, %v", got, err)
	}
	listed, err := api.ListClasses(e.ctx)
	if err != nil || listed.Total != 2 || listed.Items[0].ClassName != "Counter" || string(listed.Items[0].ProgressSchema) != counterProgressSchema {
		t.Fatalf("ListClasses: %+v, %v", listed, err)
	}
	var ae *client.Error
	if _, err := api.GetClass(e.ctx, "Nobody"); !errors.As(err, &ae) || ae.Code != http.StatusNotFound || !strings.Contains(ae.Body.Error, "Nobody") {
		t.Errorf("GetClass of a class no node serves: %v, want a 404 that names it", err)
	}

	// A second node, mid-upgrade, publishes another progress schema, and
	// a third something that is not JSON: the answer still decodes, gives
	// the schema most nodes publish, and says what is wrong.
	other := e.fakeNode("other-node", "node", "Counter")
	e.fakeNode("broken-node", "node", "Counter")
	if err := e.rdb.HSet(e.ctx, liveness.NodeProgressSchemasKey("other-node"), "Counter", `{"title":"Counted v2","type":"object"}`).Err(); err != nil {
		t.Fatal(err)
	}
	if err := e.rdb.HSet(e.ctx, liveness.NodeResultSchemasKey("broken-node"), "Counter", `{"title":`).Err(); err != nil {
		t.Fatal(err)
	}
	e.await("the disagreement reported", func() bool {
		got, err = api.GetClass(e.ctx, "Counter")
		return err == nil && len(got.Problems) == 2
	})
	problems := strings.Join(got.Problems, "\n")
	if !strings.Contains(problems, "2 different progress schemas") || !strings.Contains(problems, "result schema that broken-node publishes is not JSON") {
		t.Errorf("problems: %s", problems)
	}
	if string(got.ResultSchema) != counterResultSchema || len(got.ProgressSchema) == 0 {
		t.Errorf("with a broken and a differing schema published: progress %s, result %s", got.ProgressSchema, got.ResultSchema)
	}
	// An offline node's schemas no longer count.
	other.stopBeating()
	e.await("the offline node's progress schema dropped", func() bool {
		got, err = api.GetClass(e.ctx, "Counter")
		return err == nil && len(got.Problems) == 1 && string(got.ProgressSchema) == counterProgressSchema
	})
}

// openRunningTask creates a task of class, waits until it runs, and opens
// its page, which has no progress yet.
func openRunningTask(t *testing.T, ctx context.Context, e *env, c *controller, id, class string) {
	t.Helper()
	if code := c.call(t, "POST", "/api/tasks", c.token, map[string]any{"id": id, "className": class}, nil); code != http.StatusCreated {
		t.Fatalf("create %s: %d", id, code)
	}
	e.waitTask(id, "Running", func(d *task.Task) bool { return d.LifecycleStatus == task.Running })
	if err := chromedp.Do(ctx, chromedp.Navigate(c.url+"/dashboard/#/tasks/"+id)); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "the page of "+id+", no progress yet", `document.getElementById('progress-note')?.textContent === 'No progress reported yet.'`)
}

// checkProgressPage opens the page of a counter task (class Counter, on a
// node with a short progress interval) and checks that its progress is
// rendered from the class's schema, live as reports arrive, that hostile
// values stay text, and that the result shows once the task ends.
func checkProgressPage(t *testing.T, ctx context.Context, e *env, c *controller, feed *counterFeed) {
	t.Helper()
	openRunningTask(t, ctx, e, c, "count-task", "Counter")

	feed.send(t, feed.progress, `{"frames":1,"rate":2.5,"stage":{"name":"warm-up","elapsed":1500000000},`+
		`"cameras":[{"id":"cam-1","healthy":true},{"id":"cam-2","healthy":false}],"note":null}`)
	// pick finds the dt or dd of a field by its path, compared as a
	// string: a hostile key cannot break out of a selector.
	pick := func(tag, path string) string {
		p, _ := json.Marshal(path)
		return fmt.Sprintf(`[...document.querySelectorAll('#progress %s')].find((e) => e.dataset.field === %s)`, tag, p)
	}
	field := func(path string) string { return pick("dd", path) }
	label := func(path string) string { return pick("dt", path) }
	waitJS(t, ctx, "the first report by its field titles",
		label("$.frames")+`?.textContent === 'Frames processed' && `+field("$.frames")+`.textContent === '1' && `+
			label("$.frames")+`.title.includes('frames read from the stream so far')`)
	waitJS(t, ctx, "numbers, nested objects, arrays and a duration formatted",
		field("$.rate")+`.textContent === (2.5).toLocaleString() && `+
			label("$.stage.name")+`.textContent === 'Stage name' && `+field("$.stage.name")+`.textContent === 'warm-up' && `+
			field("$.stage.elapsed")+`.textContent === (1.5).toLocaleString() + ' s' && `+
			label("$.cameras[1].healthy")+`.textContent === 'Healthy' && `+field("$.cameras[1].healthy")+`.textContent === 'no' && `+
			field("$.cameras[0].id")+`.textContent === 'cam-1' && `+field("$.note")+`.textContent === '—'`)

	// A newer report replaces it on the page, through the event stream.
	// Hostile values and keys stay text, and a field the schema does not
	// describe is shown as it is, by its name.
	feed.send(t, feed.progress, `{"frames":1234567,"rate":30,"stage":{"name":"<img src=x onerror=\"pwned=1\">","elapsed":"2m"},`+
		`"cameras":[],"note":"<b>look</b>","<img src=x onerror=pwned=2>":{"raw":true},"__proto__":7}`)
	waitJS(t, ctx, "the newer report, live", field("$.frames")+`?.textContent === (1234567).toLocaleString()`)
	waitJS(t, ctx, "when it was reported", `/^\(\d+s ago\)$/.test(document.getElementById('progress-age')?.textContent) && !document.getElementById('report-problems').textContent`)
	waitJS(t, ctx, "hostile values as text, unknown fields raw",
		field("$.stage.name")+`.textContent === '<img src=x onerror="pwned=1">' && `+field("$.note")+`.textContent === '<b>look</b>' && `+
			`!document.querySelector('#progress img, #progress b, #progress script') && window.pwned === undefined && `+
			label(`$["<img src=x onerror=pwned=2>"]`)+`?.classList.contains('unknown') && `+
			label(`$["<img src=x onerror=pwned=2>"]`)+`.textContent === '<img src=x onerror=pwned=2>' && `+
			field(`$["<img src=x onerror=pwned=2>"]`)+`.textContent === '{"raw":true}' && `+
			field("$.__proto__")+`.textContent === '7' && `+field("$.cameras")+`.textContent === 'none'`)
	waitJS(t, ctx, "no result while running", `document.getElementById('result-note')?.textContent === 'The result is stored when the task ends.'`)

	if path := os.Getenv("SKALD_DASHBOARD_SCREENSHOT"); path != "" {
		screenshot(t, ctx, strings.TrimSuffix(path, ".png")+"-progress.png")
	}

	// The worker sets its result and ends: the page shows it by its titles.
	feed.send(t, feed.finish, `{"frames":1234567,"verdict":"all frames read"}`)
	waitJS(t, ctx, "the result by its titles",
		`document.getElementById('status')?.textContent === 'Finished' && `+
			`document.querySelector('#result dt[data-field="$.verdict"]')?.textContent === 'Verdict' && `+
			`document.querySelector('#result dd[data-field="$.verdict"]').textContent === 'all frames read' && `+
			`document.querySelector('#result dt[data-field="$.frames"]').textContent === 'Frames in total'`)

	// A class whose published schema is hostile: the page still shows
	// every field, as text, throws nothing (the browser helper fails the
	// test on any exception), and stops nesting at its depth bound.
	openRunningTask(t, ctx, e, c, "hostile-task", "Hostile")
	deep := `1`
	for range 12 {
		deep = `{"n":` + deep + `}`
	}
	feed.send(t, feed.progress, `{"a":1,"b":"x","c":{"y":2},"d":[1,2],"e":"<i>t</i>","f":[{"z":1}],"g":[`+deep+`],"h":5,"constructor":3,"toString":4}`)
	waitJS(t, ctx, "every field of a hostile schema, as text",
		label("$.a")+`?.textContent === 'a' && `+field("$.a")+`.textContent === '1' && `+
			field("$.b")+`.textContent === 'x' && `+field("$.e")+`.textContent.includes('<i>t</i>') && `+
			label("$.h")+`.textContent === '<img src=x onerror=pwned=3>' && `+field("$.h")+`.textContent === '5' && `+
			label("$.constructor")+`.textContent === 'Constructor field' && `+field("$.constructor")+`.textContent === '3' && `+
			label("$.toString")+`.classList.contains('unknown') && `+field("$.toString")+`.textContent === '4' && `+
			label("$.g[0].n.n.n.n.n.n.n")+`?.textContent === 'Level' && !`+label("$.g[0].n.n.n.n.n.n.n.n.n.n")+` && `+
			`!document.querySelector('#progress img, #progress b, #progress i') && window.pwned === undefined`)
	feed.send(t, feed.finish, `{}`)
	e.waitTask("hostile-task", "Finished", func(d *task.Task) bool { return d.LifecycleStatus == task.Finished })

	// A node mid-upgrade publishes another progress schema for Counter:
	// the task's page says so above the progress it renders.
	e.fakeNode("upgraded-node", "node", "Counter")
	if err := e.rdb.HSet(e.ctx, liveness.NodeProgressSchemasKey("upgraded-node"), "Counter", `{"title":"Counted v2","type":"object"}`).Err(); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(c.url+"/dashboard/#/tasks/count-task")); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "the disagreement on the page",
		`document.getElementById('report-problems')?.textContent.includes('2 different progress schemas') && `+
			pick("dd", "$.frames")+`?.textContent === (1234567).toLocaleString()`)
}
