// Package client is a small Go client of the controller's REST API,
// reading and writing the shapes of package wire. The skald command uses
// it; so can any Go program that manages tasks through a controller
// instead of MongoDB and Kafka directly.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/skalds-go/skalds/controller/api/wire"
)

// Client talks to one controller.
type Client struct {
	server string
	token  string
	http   *http.Client
}

// New returns a client of the controller at server (such as
// http://localhost:8000) that sends token, when not empty, as a bearer
// token.
func New(server, token string) (*Client, error) {
	u, err := url.Parse(server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%q is not a controller URL; give one like http://localhost:8000", server)
	}
	return &Client{server: strings.TrimRight(server, "/"), token: token, http: &http.Client{Timeout: 90 * time.Second}}, nil
}

// Error is an error answer of the API.
type Error struct {
	Method string
	Path   string // without the query
	Code   int
	Body   wire.Error
	// Raw is the body as it came, for answers that carry more than the
	// error (a rejected update carries the rejection).
	Raw json.RawMessage
}

func (e *Error) Error() string {
	msg := e.Body.Error
	if msg == "" {
		var s wire.Success[json.RawMessage]
		if json.Unmarshal(e.Raw, &s) == nil && s.Message != "" {
			msg = s.Message
		} else {
			msg = http.StatusText(e.Code)
		}
	}
	for _, f := range e.Body.Fields {
		msg += fmt.Sprintf("; %s: %s", f.Path, f.Message)
	}
	s := fmt.Sprintf("%s %s: %d %s", e.Method, e.Path, e.Code, msg)
	switch {
	case e.Code == http.StatusUnauthorized || e.Code == http.StatusForbidden:
		s += "\nset the controller's token (--token or SKALD_API_TOKEN)"
	case e.Code >= 500 && e.Body.Incident != "":
		s += "\nthe controller's log has the detail under incident=" + e.Body.Incident
	case e.Code >= 500:
		s += "\nthe controller failed; its log has the detail"
	}
	return s
}

// Do sends a request with body (JSON-encoded, when not nil) and decodes
// the answer into out (when not nil). An answer of 400 or above is an
// *Error.
func (c *Client) Do(ctx context.Context, method, path string, query url.Values, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	target := c.server + path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	res, err := c.http.Do(req)
	if err != nil {
		var op *net.OpError
		if errors.As(err, &op) {
			return fmt.Errorf("%s %s: %v\nis the controller running at %s? (--server or SKALD_SERVER)", method, path, op.Err, c.server)
		}
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		return fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
	}
	if res.StatusCode >= 400 {
		e := &Error{Method: method, Path: path, Code: res.StatusCode, Raw: data}
		_ = json.Unmarshal(data, &e.Body)
		return e
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
		}
	}
	return nil
}

// TaskPath is the API path of one task, its id escaped, followed by more.
func TaskPath(id string, more ...string) string {
	p := "/api/tasks/" + url.PathEscape(id)
	for _, m := range more {
		p += "/" + m
	}
	return p
}

// TaskFilter selects tasks for ListTasks; empty fields select everything.
type TaskFilter struct {
	Status    string // lifecycleStatus contains
	ClassName string // className contains
	ID        string // id contains
	Executor  string // executor is
	Class     string // className is (exactly)
	Page      int    // from 1; 0 is 1
	PageSize  int    // 1 to 100; 0 is 20
}

// ListTasks returns one page of tasks, newest first.
func (c *Client) ListTasks(ctx context.Context, f TaskFilter) (*wire.TaskList, error) {
	q := url.Values{}
	for k, v := range map[string]string{"lifecycleStatus": f.Status, "className": f.ClassName, "id": f.ID, "executor": f.Executor, "class": f.Class} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if f.Page > 0 {
		q.Set("page", strconv.Itoa(f.Page))
	}
	if f.PageSize > 0 {
		q.Set("pageSize", strconv.Itoa(f.PageSize))
	}
	var out wire.TaskList
	return &out, c.Do(ctx, http.MethodGet, "/api/tasks", q, nil, &out)
}

// GetTask returns one task.
func (c *Client) GetTask(ctx context.Context, id string) (*wire.Task, error) {
	var out wire.Task
	return &out, c.Do(ctx, http.MethodGet, TaskPath(id), nil, nil, &out)
}

// CreateTask creates a task and returns it as stored (assigned, when
// req.Executor named a node).
func (c *Client) CreateTask(ctx context.Context, req wire.CreateTask) (*wire.Task, error) {
	var out wire.Task
	return &out, c.Do(ctx, http.MethodPost, "/api/tasks", nil, req, &out)
}

// ErrRejected is returned, with the answer, by UpdateAttachments when the
// worker refused the attachments: it keeps its previous ones, and the
// answer's Rejection says which fields and why.
var ErrRejected = errors.New("the worker rejected the attachments and keeps its previous ones")

// UpdateAttachments replaces a task's attachments. With wait > 0 the
// controller waits up to that long for the worker to apply or reject them
// (State says which, or pending when the wait ended first).
func (c *Client) UpdateAttachments(ctx context.Context, id string, attachments json.RawMessage, wait time.Duration) (*wire.Success[wire.AttachmentsUpdate], error) {
	var q url.Values
	if wait > 0 {
		q = url.Values{"wait": {wait.String()}}
	}
	var out wire.Success[wire.AttachmentsUpdate]
	err := c.Do(ctx, http.MethodPut, TaskPath(id, "attachments"), q, wire.UpdateAttachments{Attachments: attachments}, &out)
	var ae *Error
	if errors.As(err, &ae) && ae.Code == http.StatusUnprocessableEntity && json.Unmarshal(ae.Raw, &out) == nil && out.Data.State == wire.StateRejected {
		return &out, fmt.Errorf("%w: %s", ErrRejected, out.Message)
	}
	return &out, err
}

// CancelTask cancels a task: its worker stops and its release hook runs.
func (c *Client) CancelTask(ctx context.Context, id string) (*wire.Success[wire.TaskStatus], error) {
	var out wire.Success[wire.TaskStatus]
	return &out, c.Do(ctx, http.MethodDelete, TaskPath(id), nil, nil, &out)
}

// ListSkalds lists the nodes in the registry; status (online, offline)
// and typ (node, edge) filter when not empty.
func (c *Client) ListSkalds(ctx context.Context, status, typ string) (*wire.SkaldList, error) {
	q := url.Values{}
	if status != "" {
		q.Set("status", status)
	}
	if typ != "" {
		q.Set("type", typ)
	}
	var out wire.SkaldList
	return &out, c.Do(ctx, http.MethodGet, "/api/skalds", q, nil, &out)
}

// ListClasses lists the classes that online nodes serve, each with the
// nodes serving it and the schemas of its progress and result (absent for
// a class that declares none).
func (c *Client) ListClasses(ctx context.Context) (*wire.ClassList, error) {
	var out wire.ClassList
	return &out, c.Do(ctx, http.MethodGet, "/api/classes", nil, nil, &out)
}

// GetClass returns one class as ListClasses lists it, with every node
// that registered it, its attachments schemas and its task counts by
// status; an *Error with Code 404 means that no node registered the class
// and no task names it.
func (c *Client) GetClass(ctx context.Context, name string) (*wire.ClassDetail, error) {
	var out wire.ClassDetail
	return &out, c.Do(ctx, http.MethodGet, "/api/classes/"+url.PathEscape(name), nil, nil, &out)
}

// Charts returns the controller's samples over time taken after since
// (all of them when since is zero), oldest first.
func (c *Client) Charts(ctx context.Context, since time.Time) (*wire.Charts, error) {
	q := url.Values{}
	if !since.IsZero() {
		q.Set("since", strconv.FormatInt(since.UnixMilli(), 10))
	}
	var out wire.Charts
	return &out, c.Do(ctx, http.MethodGet, "/api/system/charts", q, nil, &out)
}

// TaskHistory returns the recorded transitions of a task, oldest first.
func (c *Client) TaskHistory(ctx context.Context, id string) (*wire.TaskHistory, error) {
	var out wire.TaskHistory
	return &out, c.Do(ctx, http.MethodGet, TaskPath(id, "history"), nil, nil, &out)
}

// TaskLogs returns the last limit records of a task's log (at most 1000;
// 0 means 100), oldest first. Pass the answer's Next to FollowLogs to read
// what comes after.
func (c *Client) TaskLogs(ctx context.Context, id string, limit int) (*wire.TaskLogs, error) {
	q := url.Values{}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var out wire.TaskLogs
	return &out, c.Do(ctx, http.MethodGet, TaskPath(id, "logs"), q, nil, &out)
}

// followWait is how long one request of FollowLogs waits for a record.
const followWait = 20 * time.Second

// FollowLogs calls fn with every record of a task's log that follows the
// record after (a Next from TaskLogs; "0-0" for the whole log), as they
// are written, until ctx ends (then it returns nil), fn returns an error,
// or a request fails. Each request waits on the controller until a record
// comes, so that a quiet task costs one request per 20 s.
func (c *Client) FollowLogs(ctx context.Context, id, after string, fn func(wire.LogRecord) error) error {
	for {
		q := url.Values{"after": {after}, "wait": {followWait.String()}, "limit": {"1000"}}
		var out wire.TaskLogs
		err := c.Do(ctx, http.MethodGet, TaskPath(id, "logs"), q, nil, &out)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return err
		}
		for _, r := range out.Records {
			if err := fn(r); err != nil {
				return err
			}
		}
		after = out.Next
	}
}
