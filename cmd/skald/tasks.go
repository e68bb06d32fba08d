package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/skalds-go/skalds/controller/api/client"
	"github.com/skalds-go/skalds/controller/api/wire"
	taskdoc "github.com/skalds-go/skalds/runtime/task"
)

func printTasks(w io.Writer, ts []wire.Task) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tCLASS\tSTATUS\tEXECUTOR\tPRIORITY\tEPOCH\tATTEMPTS\tVERSION\tUPDATED")
	for _, t := range ts {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d/%d\t%s\n", t.ID, t.ClassName, t.LifecycleStatus, str(t.Executor),
			t.Priority, t.AssignmentEpoch, t.Attempts, t.AppliedAttachmentsVersion, t.AttachmentsVersion, when(t.UpdateDateTime))
	}
	return tw.Flush()
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
	var api **client.Client
	var output *string
	// show prints v as -o asks: JSON or YAML as the API answered, or with
	// table.
	show := func(c *cobra.Command, v any, table func(io.Writer) error) error {
		if *output != "table" {
			return printAs(c.OutOrStdout(), *output, v)
		}
		return table(c.OutOrStdout())
	}

	var f client.TaskFilter
	list := &cobra.Command{
		Use:     "list",
		Short:   "List tasks, newest first, a page at a time",
		Example: "  skald tasks list --status Running --class MySimpleWorker\n  skald tasks list --executor skald_123 -o json",
		Args:    noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if f.Page < 1 || f.PageSize < 1 || f.PageSize > 100 {
				return usagef("--page must be 1 or more and --size from 1 to 100")
			}
			res, err := (*api).ListTasks(c.Context(), f)
			if err != nil {
				return err
			}
			return show(c, res, func(w io.Writer) error {
				if err := printTasks(w, res.Items); err != nil {
					return err
				}
				_, err := fmt.Fprintf(w, "page %d, %d of %d tasks\n", res.Page, len(res.Items), res.Total)
				return err
			})
		},
	}
	lf := list.Flags()
	lf.StringVar(&f.Status, "status", "", "only tasks whose lifecycleStatus contains this")
	lf.StringVar(&f.ClassName, "class", "", "only tasks whose className contains this")
	lf.StringVar(&f.ID, "id", "", "only tasks whose id contains this")
	lf.StringVar(&f.Executor, "executor", "", "only the tasks of this node")
	lf.IntVar(&f.Page, "page", 1, "page number, from 1")
	lf.IntVar(&f.PageSize, "size", 20, "tasks per page, 1 to 100")
	completeWords(list, "status", "Created", "Assigning", "Running", "Paused", "Finished", "Failed", "Cancelled")

	get := &cobra.Command{
		Use:     "get ID",
		Short:   "Show one task with its attachments",
		Example: "  skald tasks get task_123\n  skald tasks get task_123 -o yaml",
		Args:    exactArgs("ID"),
		RunE: func(c *cobra.Command, args []string) error {
			t, err := (*api).GetTask(c.Context(), args[0])
			if err != nil {
				return err
			}
			return show(c, t, func(w io.Writer) error {
				if err := printTasks(w, []wire.Task{*t}); err != nil {
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

	var req wire.CreateTask
	var priority int
	var attachments string
	create := &cobra.Command{
		Use:   "create --class CLASS",
		Short: "Create a task; the dispatcher assigns it, or --executor does at once",
		Example: `  skald tasks create --class MySimpleWorker --id task_123 \
      --attachments '{"rtspUrl": "rtsp://example.com/stream", "fixFrame": 10}'`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if req.ClassName == "" {
				return usagef("--class is required: the worker class that runs the task")
			}
			if req.ID != "" {
				if err := taskdoc.ValidateID(req.ID); err != nil {
					return usagef("--id: %v", err)
				}
			}
			req.Priority = &priority
			if attachments != "" {
				att, err := jsonObject("attachments", attachments)
				if err != nil {
					return err
				}
				req.Attachments = att
			}
			t, err := (*api).CreateTask(c.Context(), req)
			if err != nil {
				return err
			}
			if t.Unserved {
				// Created all the same: a node of the class may be on its
				// way; but a typo in --class would otherwise wait silently.
				fmt.Fprintf(c.ErrOrStderr(), "warning: no online node serves class %q; the task waits until one registers it (check --class against skald nodes list)\n", t.ClassName)
			}
			return show(c, t, func(w io.Writer) error { return printTasks(w, []wire.Task{*t}) })
		},
	}
	crf := create.Flags()
	crf.StringVar(&req.ClassName, "class", "", "className, the worker class that runs the task (required)")
	crf.StringVar(&req.ID, "id", "", "task id (default: generated)")
	crf.IntVar(&priority, "priority", 0, "priority 0..10, higher first")
	crf.StringVar(&attachments, "attachments", "", "attachments, a JSON object")
	crf.StringVar(&req.Executor, "executor", "", "assign to this node at once instead of letting the dispatcher choose")

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
			stop := func() {}
			if uf.wait > 0 {
				stop = showProgress(c.ErrOrStderr(), fmt.Sprintf("waiting up to %s for the worker to apply the attachments", uf.wait))
			}
			res, err := (*api).UpdateAttachments(c.Context(), args[0], att, uf.wait)
			stop()
			if errors.Is(err, client.ErrRejected) {
				// The answer carries the rejection, the useful part to show.
				err = errors.New("the worker rejected the attachments and keeps its previous ones; fix the fields above and update again")
			} else if err != nil {
				return err
			}
			perr := show(c, res, func(w io.Writer) error {
				d := res.Data
				fmt.Fprintf(w, "%s (state %s, version %d)\n", res.Message, d.State, d.AttachmentsVersion)
				if d.Rejection != nil {
					for _, f := range d.Rejection.Fields {
						fmt.Fprintf(w, "  %s: %s\n", f.Path, f.Message)
					}
				}
				return nil
			})
			return errors.Join(perr, err)
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
			res, err := (*api).CancelTask(c.Context(), args[0])
			if err != nil {
				return err
			}
			return show(c, res, func(w io.Writer) error {
				_, err := fmt.Fprintln(w, res.Message)
				return err
			})
		},
	}

	var lgf struct {
		limit  int
		follow bool
	}
	logs := &cobra.Command{
		Use:   "logs ID",
		Short: "Show what a task's worker logged; with -f, follow new records until interrupted",
		Example: `  skald tasks logs task_123
  skald tasks logs task_123 -n 20 -f
  skald tasks logs task_123 -o json`,
		Args: exactArgs("ID"),
		RunE: func(c *cobra.Command, args []string) error {
			if lgf.limit < 1 || lgf.limit > 1000 {
				return usagef("-n must be from 1 to 1000")
			}
			res, err := (*api).TaskLogs(c.Context(), args[0], lgf.limit)
			if err != nil {
				return err
			}
			w := c.OutOrStdout()
			emit := func(r wire.LogRecord) error { return printLogRecord(w, r) }
			if *output != "table" {
				if !lgf.follow {
					return printAs(w, *output, res)
				}
				// Followed, one record per line (or YAML document), so that
				// a reader can process them as they come.
				emit = func(r wire.LogRecord) error {
					if *output == "yaml" {
						fmt.Fprintln(w, "---")
					}
					return printAs(w, *output, r)
				}
			}
			for _, r := range res.Records {
				if err := emit(r); err != nil {
					return err
				}
			}
			if !lgf.follow {
				return nil
			}
			return (*api).FollowLogs(c.Context(), args[0], res.Next, emit)
		},
	}
	logs.Flags().IntVarP(&lgf.limit, "lines", "n", 100, "how many of the last records to show, 1 to 1000")
	logs.Flags().BoolVarP(&lgf.follow, "follow", "f", false, "keep showing new records as the worker writes them")

	history := &cobra.Command{
		Use:   "history ID",
		Short: "Show what happened to a task: each transition, with its time, node, epoch and attachments version",
		Example: `  skald tasks history task_123
  skald tasks history task_123 -o json`,
		Args: exactArgs("ID"),
		RunE: func(c *cobra.Command, args []string) error {
			res, err := (*api).TaskHistory(c.Context(), args[0])
			if err != nil {
				return err
			}
			return show(c, res, func(w io.Writer) error {
				if res.Dropped > 0 {
					fmt.Fprintf(w, "(%d older entries not kept)\n", res.Dropped)
				}
				for _, e := range res.Entries {
					if _, err := fmt.Fprintln(w, e.String()); err != nil {
						return err
					}
				}
				return nil
			})
		},
	}

	g := group("tasks", "List, show, create, update and cancel tasks through the controller's API",
		`tasks talks to a controller's REST API (--server or SKALD_SERVER, --token or
SKALD_API_TOKEN) and prints tables, or the API's answers as JSON or YAML (-o).`,
		"  skald tasks list\n  skald tasks get task_123 -o json",
		list, get, create, update, cancel, logs, history)
	api, output = apiFlags(g)
	return g
}

// printLogRecord prints one record as a line: time, level, message and
// attributes, sorted, as key=value.
func printLogRecord(w io.Writer, r wire.LogRecord) error {
	keys := make([]string, 0, len(r.Attrs))
	for k := range r.Attrs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	line := fmt.Sprintf("%s %-5s %s", time.UnixMilli(r.Time).Format("2006-01-02T15:04:05.000Z07:00"), r.Level, r.Msg)
	for _, k := range keys {
		v, err := json.Marshal(r.Attrs[k])
		if err != nil {
			v = []byte(fmt.Sprint(r.Attrs[k]))
		}
		line += " " + k + "=" + string(v)
	}
	_, err := fmt.Fprintln(w, line)
	return err
}
