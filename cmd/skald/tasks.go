package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	taskdoc "github.com/skalds-go/skalds/runtime/task"
)

// apiClient talks to a controller's REST API.
type apiClient struct {
	server, token string
	http          *http.Client
}

// commonFlags adds -server, -token and -o to fl.
func commonFlags(fl *flag.FlagSet) (c *apiClient, output *string) {
	c = &apiClient{http: &http.Client{Timeout: 90 * time.Second}}
	fl.StringVar(&c.server, "server", envOr("SKALD_SERVER", "http://localhost:8000"), "controller URL (SKALD_SERVER)")
	fl.StringVar(&c.token, "token", os.Getenv("SKALD_API_TOKEN"), "bearer token (SKALD_API_TOKEN)")
	output = fl.String("o", "table", "output: table or json")
	return c, output
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// apiError is an error answer of the API.
type apiError struct {
	Code   int
	Body   map[string]any
	Method string
	Path   string
}

func (e *apiError) Error() string {
	msg, _ := e.Body["error"].(string)
	if msg == "" {
		msg, _ = e.Body["message"].(string)
	}
	if fields, ok := e.Body["fields"].([]any); ok {
		for _, f := range fields {
			if m, ok := f.(map[string]any); ok {
				msg += fmt.Sprintf("; %v: %v", m["path"], m["message"])
			}
		}
	}
	return fmt.Sprintf("%s %s: %d %s", e.Method, e.Path, e.Code, msg)
}

// do sends a request and decodes the JSON answer into out. Answers of
// 400 and above become an *apiError.
func (c *apiClient) do(ctx context.Context, method, path string, body any, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.server, "/")+path, rd)
	if err != nil {
		return 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	res, err := c.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		return res.StatusCode, err
	}
	if res.StatusCode >= 400 {
		e := &apiError{Code: res.StatusCode, Method: method, Path: path, Body: map[string]any{}}
		_ = json.Unmarshal(data, &e.Body)
		return res.StatusCode, e
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return res.StatusCode, fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
		}
	}
	return res.StatusCode, nil
}

// positional holds the arguments that are not flags, of the last parse.
var positional []string

// parse parses flags placed before, between or after the positional
// arguments ("tasks get ID -o json" as well as "tasks get -o json ID"),
// which the flag package alone does not allow.
func parse(fl *flag.FlagSet, args []string) error {
	positional = nil
	for {
		if err := fl.Parse(args); err != nil {
			return err
		}
		rest := fl.Args()
		if len(rest) == 0 {
			return nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

type task struct {
	ID                        string          `json:"id"`
	ClassName                 string          `json:"className"`
	LifecycleStatus           string          `json:"lifecycleStatus"`
	Executor                  *string         `json:"executor"`
	Priority                  int             `json:"priority"`
	UpdateDateTime            int64           `json:"updateDateTime"`
	Attachments               json.RawMessage `json:"attachments"`
	AttachmentsVersion        int64           `json:"attachmentsVersion"`
	AppliedAttachmentsVersion int64           `json:"appliedAttachmentsVersion"`
	AssignmentEpoch           int64           `json:"assignmentEpoch"`
	Attempts                  int             `json:"attempts"`
	Error                     *string         `json:"error"`
}

func str(s *string) string {
	if s == nil {
		return "-"
	}
	return *s
}

func ms(t int64) string {
	if t == 0 {
		return "-"
	}
	return time.UnixMilli(t).Format(time.DateTime)
}

func printTasks(w io.Writer, ts []task) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tCLASS\tSTATUS\tEXECUTOR\tPRIORITY\tEPOCH\tATTEMPTS\tVERSION\tUPDATED")
	for _, t := range ts {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d/%d\t%s\n", t.ID, t.ClassName, t.LifecycleStatus, str(t.Executor),
			t.Priority, t.AssignmentEpoch, t.Attempts, t.AppliedAttachmentsVersion, t.AttachmentsVersion, ms(t.UpdateDateTime))
	}
	tw.Flush()
}

func runTasks(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: skald tasks list|get|create|update|cancel ...")
		return 2
	}
	sub, args := args[0], args[1:]
	fl := flag.NewFlagSet("skald tasks "+sub, flag.ContinueOnError)
	fl.SetOutput(stderr)
	c, output := commonFlags(fl)
	var err error
	switch sub {
	case "list":
		status := fl.String("status", "", "filter: lifecycleStatus contains")
		class := fl.String("class", "", "filter: className contains")
		id := fl.String("id", "", "filter: id contains")
		executor := fl.String("executor", "", "filter: executor is")
		page := fl.Int("page", 1, "page")
		size := fl.Int("size", 20, "page size (1..100)")
		if parse(fl, args) != nil {
			return 2
		}
		q := url.Values{}
		for k, v := range map[string]string{"lifecycleStatus": *status, "className": *class, "id": *id, "executor": *executor} {
			if v != "" {
				q.Set(k, v)
			}
		}
		q.Set("page", strconv.Itoa(*page))
		q.Set("pageSize", strconv.Itoa(*size))
		var res struct {
			Items []task `json:"items"`
			Total int    `json:"total"`
			Page  int    `json:"page"`
		}
		var raw json.RawMessage
		if _, err = c.do(ctx, "GET", "/api/tasks?"+q.Encode(), nil, &raw); err == nil {
			if *output == "json" {
				err = printJSON(stdout, raw)
			} else if err = json.Unmarshal(raw, &res); err == nil {
				printTasks(stdout, res.Items)
				fmt.Fprintf(stdout, "page %d, %d of %d tasks\n", res.Page, len(res.Items), res.Total)
			}
		}
	case "get":
		if parse(fl, args) != nil || len(positional) != 1 {
			fmt.Fprintln(stderr, "usage: skald tasks get ID")
			return 2
		}
		var raw json.RawMessage
		if _, err = c.do(ctx, "GET", "/api/tasks/"+url.PathEscape(positional[0]), nil, &raw); err == nil {
			if *output == "json" {
				err = printJSON(stdout, raw)
			} else {
				var t task
				if err = json.Unmarshal(raw, &t); err == nil {
					printTasks(stdout, []task{t})
					fmt.Fprintf(stdout, "\nattachments: %s\n", t.Attachments)
					if t.Error != nil {
						fmt.Fprintf(stdout, "error: %s\n", *t.Error)
					}
				}
			}
		}
	case "create":
		class := fl.String("class", "", "className (required)")
		id := fl.String("id", "", "task id (default: generated)")
		prio := fl.Int("priority", 0, "priority 0..10")
		att := fl.String("attachments", "", "attachments, a JSON object")
		executor := fl.String("executor", "", "assign to this node at once instead of letting the dispatcher choose")
		if parse(fl, args) != nil {
			return 2
		}
		body := map[string]any{"className": *class, "priority": *prio}
		if *id != "" {
			if err := taskdoc.ValidateID(*id); err != nil {
				fmt.Fprintf(stderr, "skald tasks create: -id: %v\n", err)
				return 2
			}
			body["id"] = *id
		}
		if *executor != "" {
			body["executor"] = *executor
		}
		if *att != "" {
			body["attachments"] = json.RawMessage(*att)
			if !json.Valid([]byte(*att)) {
				fmt.Fprintln(stderr, "skald tasks create: -attachments is not valid JSON")
				return 2
			}
		}
		var t task
		var raw json.RawMessage
		if _, err = c.do(ctx, "POST", "/api/tasks", body, &raw); err == nil {
			if *output == "json" {
				err = printJSON(stdout, raw)
			} else if err = json.Unmarshal(raw, &t); err == nil {
				printTasks(stdout, []task{t})
			}
		}
	case "update":
		att := fl.String("attachments", "", "the new attachments, a JSON object (required)")
		wait := fl.Duration("wait", 0, "wait this long for the worker to apply or reject them")
		if parse(fl, args) != nil || len(positional) != 1 || *att == "" || !json.Valid([]byte(*att)) {
			fmt.Fprintln(stderr, "usage: skald tasks update ID -attachments JSON [-wait 5s]")
			return 2
		}
		path := "/api/tasks/" + url.PathEscape(positional[0]) + "/attachments"
		if *wait > 0 {
			path += "?wait=" + wait.String()
		}
		var res struct {
			Success bool           `json:"success"`
			Message string         `json:"message"`
			Data    map[string]any `json:"data"`
		}
		stop := func() {}
		if *wait > 0 {
			stop = showProgress(stderr, fmt.Sprintf("waiting up to %s for the worker to apply the attachments", *wait))
		}
		_, err = c.do(ctx, "PUT", path, map[string]any{"attachments": json.RawMessage(*att)}, &res)
		stop()
		var ae *apiError
		if errors.As(err, &ae) && ae.Code == http.StatusUnprocessableEntity && ae.Body["data"] != nil {
			// The worker rejected the update: the answer carries the
			// rejection, which is the useful part to show.
			b, _ := json.Marshal(ae.Body)
			_ = json.Unmarshal(b, &res)
			err = errors.New("the worker rejected the attachments")
		}
		if res.Message != "" {
			if *output == "json" {
				_ = printJSON(stdout, res)
			} else {
				fmt.Fprintf(stdout, "%s (state %v, version %v)\n", res.Message, res.Data["state"], res.Data["attachmentsVersion"])
				if rj, ok := res.Data["rejection"].(map[string]any); ok {
					if fields, ok := rj["fields"].([]any); ok {
						for _, f := range fields {
							if m, ok := f.(map[string]any); ok {
								fmt.Fprintf(stdout, "  %v: %v\n", m["path"], m["message"])
							}
						}
					}
				}
			}
		}
	case "cancel":
		if parse(fl, args) != nil || len(positional) != 1 {
			fmt.Fprintln(stderr, "usage: skald tasks cancel ID")
			return 2
		}
		var res struct {
			Message string `json:"message"`
		}
		if _, err = c.do(ctx, "DELETE", "/api/tasks/"+url.PathEscape(positional[0]), nil, &res); err == nil {
			if *output == "json" {
				err = printJSON(stdout, res)
			} else {
				fmt.Fprintln(stdout, res.Message)
			}
		}
	default:
		fmt.Fprintf(stderr, "skald tasks: unknown command %q; use list, get, create, update or cancel\n", sub)
		return 2
	}
	return report(stderr, err)
}

func report(stderr io.Writer, err error) int {
	if err == nil {
		return 0
	}
	fmt.Fprintf(stderr, "skald: %v\n", err)
	var ae *apiError
	if errors.As(err, &ae) && ae.Code == http.StatusUnauthorized {
		fmt.Fprintln(stderr, "skald: set -token or SKALD_API_TOKEN")
	}
	return 1
}

func runNodes(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "list" {
		fmt.Fprintln(stderr, "usage: skald nodes list [-status online|offline] [-type node|edge]")
		return 2
	}
	fl := flag.NewFlagSet("skald nodes list", flag.ContinueOnError)
	fl.SetOutput(stderr)
	c, output := commonFlags(fl)
	status := fl.String("status", "", "online or offline")
	typ := fl.String("type", "", "node or edge")
	if fl.Parse(args[1:]) != nil {
		return 2
	}
	q := url.Values{}
	if *status != "" {
		q.Set("status", *status)
	}
	if *typ != "" {
		q.Set("type", *typ)
	}
	var raw json.RawMessage
	_, err := c.do(ctx, "GET", "/api/skalds?"+q.Encode(), nil, &raw)
	if err == nil {
		if *output == "json" {
			err = printJSON(stdout, raw)
		} else {
			var res struct {
				Items []struct {
					ID             string   `json:"id"`
					Type           string   `json:"type"`
					Status         string   `json:"status"`
					LastHeartbeat  int64    `json:"lastHeartbeat"`
					SupportedTasks []string `json:"supportedTasks"`
					TaskCount      int      `json:"taskCount"`
				} `json:"items"`
			}
			if err = json.Unmarshal(raw, &res); err == nil {
				tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tTYPE\tSTATUS\tTASKS\tLAST ACTIVITY\tCLASSES")
				for _, n := range res.Items {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", n.ID, n.Type, n.Status, n.TaskCount, ms(n.LastHeartbeat), strings.Join(n.SupportedTasks, ","))
				}
				tw.Flush()
			}
		}
	}
	return report(stderr, err)
}
