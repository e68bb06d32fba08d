package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	taskdoc "github.com/skalds-go/skalds/runtime/task"
)

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

func printTasks(w io.Writer, ts []task) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tCLASS\tSTATUS\tEXECUTOR\tPRIORITY\tEPOCH\tATTEMPTS\tVERSION\tUPDATED")
	for _, t := range ts {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d/%d\t%s\n", t.ID, t.ClassName, t.LifecycleStatus, str(t.Executor),
			t.Priority, t.AssignmentEpoch, t.Attempts, t.AppliedAttachmentsVersion, t.AttachmentsVersion, when(t.UpdateDateTime))
	}
	return tw.Flush()
}

// taskPath is the API path of one task, its id escaped.
func taskPath(id string, more ...string) string {
	p := "/api/tasks/" + url.PathEscape(id)
	for _, m := range more {
		p += "/" + m
	}
	return p
}

// jsonObject checks that the value of flag name is a JSON object.
func jsonObject(name, v string) (json.RawMessage, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal([]byte(v), &obj); err != nil || obj == nil {
		return nil, usagef("--%s must be a JSON object, like '{\"fixFrame\": 10}'", name)
	}
	return json.RawMessage(v), nil
}

func newTasksCmd() *cobra.Command {
	var api *apiClient
	var output *string
	// table prints a task answer with print.
	table := func(raw json.RawMessage, print func(task) error) error {
		var t task
		if err := json.Unmarshal(raw, &t); err != nil {
			return err
		}
		return print(t)
	}

	// fetch sends a request; for -o json and yaml it also prints the
	// answer as it came, and reports that it did.
	fetch := func(c *cobra.Command, method, path string, q url.Values, body any) (raw json.RawMessage, printed bool, err error) {
		if err := api.do(c.Context(), method, path, q, body, &raw); err != nil {
			return nil, false, err
		}
		if *output != "table" {
			return raw, true, printRaw(c.OutOrStdout(), *output, raw)
		}
		return raw, false, nil
	}

	var f struct {
		status, class, id, executor string
		page, size                  int
	}
	list := &cobra.Command{
		Use:     "list",
		Short:   "List tasks, newest first, a page at a time",
		Example: "  skald tasks list --status Running --class MySimpleWorker\n  skald tasks list --executor skald_123 -o json",
		Args:    noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if f.page < 1 || f.size < 1 || f.size > 100 {
				return usagef("--page must be 1 or more and --size from 1 to 100")
			}
			q := url.Values{}
			for k, v := range map[string]string{"lifecycleStatus": f.status, "className": f.class, "id": f.id, "executor": f.executor} {
				if v != "" {
					q.Set(k, v)
				}
			}
			q.Set("page", strconv.Itoa(f.page))
			q.Set("pageSize", strconv.Itoa(f.size))
			raw, printed, err := fetch(c, "GET", "/api/tasks", q, nil)
			if printed || err != nil {
				return err
			}
			var res struct {
				Items []task `json:"items"`
				Total int    `json:"total"`
				Page  int    `json:"page"`
			}
			if err := json.Unmarshal(raw, &res); err != nil {
				return err
			}
			if err := printTasks(c.OutOrStdout(), res.Items); err != nil {
				return err
			}
			_, err = fmt.Fprintf(c.OutOrStdout(), "page %d, %d of %d tasks\n", res.Page, len(res.Items), res.Total)
			return err
		},
	}
	lf := list.Flags()
	lf.StringVar(&f.status, "status", "", "only tasks whose lifecycleStatus contains this")
	lf.StringVar(&f.class, "class", "", "only tasks whose className contains this")
	lf.StringVar(&f.id, "id", "", "only tasks whose id contains this")
	lf.StringVar(&f.executor, "executor", "", "only the tasks of this node")
	lf.IntVar(&f.page, "page", 1, "page number, from 1")
	lf.IntVar(&f.size, "size", 20, "tasks per page, 1 to 100")
	completeWords(list, "status", "Created", "Assigning", "Running", "Paused", "Finished", "Failed", "Cancelled")

	get := &cobra.Command{
		Use:     "get ID",
		Short:   "Show one task with its attachments",
		Example: "  skald tasks get task_123\n  skald tasks get task_123 -o yaml",
		Args:    exactArgs("ID"),
		RunE: func(c *cobra.Command, args []string) error {
			raw, printed, err := fetch(c, "GET", taskPath(args[0]), nil, nil)
			if printed || err != nil {
				return err
			}
			w := c.OutOrStdout()
			return table(raw, func(t task) error {
				if err := printTasks(w, []task{t}); err != nil {
					return err
				}
				fmt.Fprintf(w, "\nattachments: %s\n", t.Attachments)
				if t.Error != nil {
					fmt.Fprintf(w, "error: %s\n", *t.Error)
				}
				return nil
			})
		},
	}

	var cf struct {
		class, id, attachments, executor string
		priority                         int
	}
	create := &cobra.Command{
		Use:   "create --class CLASS",
		Short: "Create a task; the dispatcher assigns it, or --executor does at once",
		Example: `  skald tasks create --class MySimpleWorker --id task_123 \
      --attachments '{"rtspUrl": "rtsp://example.com/stream", "fixFrame": 10}'`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if cf.class == "" {
				return usagef("--class is required: the worker class that runs the task")
			}
			body := map[string]any{"className": cf.class, "priority": cf.priority}
			if cf.id != "" {
				if err := taskdoc.ValidateID(cf.id); err != nil {
					return usagef("--id: %v", err)
				}
				body["id"] = cf.id
			}
			if cf.executor != "" {
				body["executor"] = cf.executor
			}
			if cf.attachments != "" {
				att, err := jsonObject("attachments", cf.attachments)
				if err != nil {
					return err
				}
				body["attachments"] = att
			}
			raw, printed, err := fetch(c, "POST", "/api/tasks", nil, body)
			if printed || err != nil {
				return err
			}
			return table(raw, func(t task) error { return printTasks(c.OutOrStdout(), []task{t}) })
		},
	}
	crf := create.Flags()
	crf.StringVar(&cf.class, "class", "", "className, the worker class that runs the task (required)")
	crf.StringVar(&cf.id, "id", "", "task id (default: generated)")
	crf.IntVar(&cf.priority, "priority", 0, "priority 0..10, higher first")
	crf.StringVar(&cf.attachments, "attachments", "", "attachments, a JSON object")
	crf.StringVar(&cf.executor, "executor", "", "assign to this node at once instead of letting the dispatcher choose")

	var uf struct {
		attachments string
		wait        time.Duration
	}
	update := &cobra.Command{
		Use:     "update ID --attachments JSON",
		Short:   "Replace a task's attachments; with --wait, until its worker applied or rejected them",
		Example: `  skald tasks update task_123 --attachments '{"rtspUrl": "rtsp://example.com/new_stream", "fixFrame": 60}' --wait 5s`,
		Args:    exactArgs("ID"),
		RunE: func(c *cobra.Command, args []string) error {
			if uf.attachments == "" {
				return usagef("--attachments is required: the new attachments, a JSON object")
			}
			att, err := jsonObject("attachments", uf.attachments)
			if err != nil {
				return err
			}
			if uf.wait < 0 {
				return usagef("--wait must not be negative")
			}
			var q url.Values
			if uf.wait > 0 {
				q = url.Values{"wait": {uf.wait.String()}}
			}
			var res struct {
				Success bool           `json:"success"`
				Message string         `json:"message"`
				Data    map[string]any `json:"data"`
			}
			stop := func() {}
			if uf.wait > 0 {
				stop = showProgress(c.ErrOrStderr(), fmt.Sprintf("waiting up to %s for the worker to apply the attachments", uf.wait))
			}
			var raw json.RawMessage
			err = api.do(c.Context(), "PUT", taskPath(args[0], "attachments"), q, map[string]any{"attachments": att}, &raw)
			stop()
			var ae *apiError
			if errors.As(err, &ae) && ae.Code == http.StatusUnprocessableEntity && ae.Body["data"] != nil {
				// The worker rejected the update: the answer carries the
				// rejection, which is the useful part to show.
				raw, _ = json.Marshal(ae.Body)
				err = errors.New("the worker rejected the attachments and keeps its previous ones; fix the fields above and update again")
			}
			if raw == nil {
				return err
			}
			w := c.OutOrStdout()
			if *output != "table" {
				return errors.Join(printRaw(w, *output, raw), err)
			}
			if jerr := json.Unmarshal(raw, &res); jerr != nil {
				return errors.Join(jerr, err)
			}
			fmt.Fprintf(w, "%s (state %v, version %v)\n", res.Message, res.Data["state"], res.Data["attachmentsVersion"])
			if rj, ok := res.Data["rejection"].(map[string]any); ok {
				if fields, ok := rj["fields"].([]any); ok {
					for _, f := range fields {
						if m, ok := f.(map[string]any); ok {
							fmt.Fprintf(w, "  %v: %v\n", m["path"], m["message"])
						}
					}
				}
			}
			return err
		},
	}
	update.Flags().StringVar(&uf.attachments, "attachments", "", "the new attachments, a JSON object (required)")
	update.Flags().DurationVar(&uf.wait, "wait", 0, "wait this long for the worker to apply or reject them")

	cancel := &cobra.Command{
		Use:     "cancel ID",
		Short:   "Cancel a task: its worker stops and its release hook runs",
		Example: "  skald tasks cancel task_123",
		Args:    exactArgs("ID"),
		RunE: func(c *cobra.Command, args []string) error {
			raw, printed, err := fetch(c, "DELETE", taskPath(args[0]), nil, nil)
			if printed || err != nil {
				return err
			}
			var res struct {
				Message string `json:"message"`
			}
			if err := json.Unmarshal(raw, &res); err != nil {
				return err
			}
			_, err = fmt.Fprintln(c.OutOrStdout(), res.Message)
			return err
		},
	}

	g := group("tasks", "List, show, create, update and cancel tasks through the controller's API",
		`tasks talks to a controller's REST API (--server or SKALD_SERVER, --token or
SKALD_API_TOKEN) and prints tables, or the API's answers as JSON or YAML (-o).`,
		"  skald tasks list\n  skald tasks get task_123 -o json",
		list, get, create, update, cancel)
	api, output = apiFlags(g)
	return g
}
