package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"gopkg.in/yaml.v3"

	"github.com/skalds-go/skalds/runtime/task"
)

// edgeTask is one entry of the TaskWorkers of a YAML file:
//
//	TaskWorkers:
//	  camera-1:                 # the task id
//	    className: MyWorker     # a registered worker class
//	    isPersistent: true      # optional
//	    attachments: {...}      # the class's attachments
type edgeTask struct {
	id           string
	className    string
	isPersistent bool
	attachments  []byte // JSON, checked by the class's decoder
	line         int
}

// loadYAML reads YAML_FILE and checks every entry against its class
// before anything is written anywhere: a typo in the file stops the
// Skald at start, naming the file, line, task and field, instead of
// leaving a half-applied configuration.
func (n *Node) loadYAML() ([]edgeTask, error) {
	path := n.cfg.YAMLFile
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading YAML_FILE: %w", err)
	}
	tasks, err := parseTaskWorkers(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var errs []error
	for _, t := range tasks {
		cls, ok := n.classes[t.className]
		if !ok {
			errs = append(errs, fmt.Errorf("%s:%d: task %s: className %q is not registered on this Skald (registered: %v)",
				path, t.line, t.id, t.className, n.classNames()))
			continue
		}
		if err := cls.Check(t.attachments); err != nil {
			errs = append(errs, fmt.Errorf("%s:%d: task %s: attachments do not fit %s: %w", path, t.line, t.id, t.className, err))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return tasks, nil
}

// parseTaskWorkers reads the TaskWorkers mapping in file order; single
// process mode runs the first entry.
func parseTaskWorkers(data []byte) ([]edgeTask, error) {
	var doc struct {
		TaskWorkers yaml.Node `yaml:"TaskWorkers"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	m := &doc.TaskWorkers
	if m.Kind == 0 {
		return nil, errors.New("no TaskWorkers mapping; declare the workers as TaskWorkers: {<task id>: {className: ..., attachments: {...}}}")
	}
	if m.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("line %d: TaskWorkers must be a mapping of task id to worker", m.Line)
	}
	if len(m.Content) == 0 {
		return nil, errors.New("TaskWorkers is empty; declare at least one worker")
	}
	var out []edgeTask
	for i := 0; i+1 < len(m.Content); i += 2 {
		key, val := m.Content[i], m.Content[i+1]
		var entry struct {
			ClassName    string    `yaml:"className"`
			IsPersistent bool      `yaml:"isPersistent"`
			Attachments  yaml.Node `yaml:"attachments"`
		}
		if err := val.Decode(&entry); err != nil {
			return nil, fmt.Errorf("line %d: task %s: %w", key.Line, key.Value, err)
		}
		if err := task.ValidateID(key.Value); err != nil {
			return nil, fmt.Errorf("line %d: %w", key.Line, err)
		}
		if entry.ClassName == "" {
			return nil, fmt.Errorf("line %d: task %s has no className", key.Line, key.Value)
		}
		attachments := []byte("{}")
		if entry.Attachments.Kind != 0 {
			var v any
			if err := entry.Attachments.Decode(&v); err != nil {
				return nil, fmt.Errorf("line %d: task %s: attachments: %w", entry.Attachments.Line, key.Value, err)
			}
			b, err := json.Marshal(v)
			if err != nil {
				return nil, fmt.Errorf("line %d: task %s: attachments cannot be JSON: %w", entry.Attachments.Line, key.Value, err)
			}
			attachments = b
		}
		out = append(out, edgeTask{id: key.Value, className: entry.ClassName, isPersistent: entry.IsPersistent, attachments: attachments, line: key.Line})
	}
	return out, nil
}

// claimEdge makes this node the executor of the YAML tasks, as Active
// tasks. A task new to MongoDB is inserted with the YAML attachments; an
// existing one keeps its MongoDB attachments (which may have been updated
// since), unless it is Cancelled or Finished, which are final. The file is
// never rewritten.
func (n *Node) claimEdge(ctx context.Context, tasks []edgeTask) error {
	for _, e := range tasks {
		t := task.New(e.id, e.className, "YAML", e.attachments)
		t.Name = &e.id
		t.IsPersistent = e.isPersistent
		t.Mode = task.Active
		t.DeadlineDateTime = 0
		got, err := n.claimActive(ctx, t)
		if err != nil {
			if errors.Is(err, task.ErrClassMismatch) {
				return fmt.Errorf("%s:%d: %w; rename the task in the file or delete the stored one", n.cfg.YAMLFile, e.line, err)
			}
			return err
		}
		log := n.log.With("taskId", e.id, "className", e.className, "epoch", got.AssignmentEpoch)
		if got.LifecycleStatus == task.Cancelled || got.LifecycleStatus == task.Finished {
			log.Info("edge task is "+string(got.LifecycleStatus)+" in MongoDB; not starting it", "status", got.LifecycleStatus)
			continue
		}
		log.Info("edge task claimed", "attachmentsVersion", got.AttachmentsVersion)
	}
	return nil
}

// claimActive claims the edge task t, retrying with Options.StartRetry
// while MongoDB does not answer: a node that reached MongoDB at start must
// not exit because a claim was cut on its way (a broken link, a server
// restart), which would only turn it into a restart loop. A retry is
// safe: a claim that landed without its reply is claimed again, one epoch
// further, before any worker of the task runs. Any other error (a class
// mismatch, attachments MongoDB cannot store, a missing permission) comes
// back on every attempt, and the node exits with it.
func (n *Node) claimActive(ctx context.Context, t *task.Task) (*task.Task, error) {
	for attempt := 1; ; attempt++ {
		got, err := n.store.ClaimActive(ctx, t, n.cfg.SkaldID)
		if err == nil || !task.Unreachable(err) || ctx.Err() != nil {
			return got, err
		}
		n.log.Warn("claiming the edge task failed; retrying until MongoDB takes the write", "taskId", t.ID, "attempt", attempt, "err", err)
		if err := n.opts.StartRetry.Sleep(ctx, attempt); err != nil {
			return nil, err
		}
	}
}
