package main

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
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// apiClient talks to a controller's REST API.
type apiClient struct {
	server, token string
	http          *http.Client
}

// apiFlags adds --server, --token and -o to c and its subcommands. The
// environment is read when a command runs, not shown as a default in the
// help, so that a token never appears there.
func apiFlags(c *cobra.Command) (*apiClient, *string) {
	api := &apiClient{http: &http.Client{Timeout: 90 * time.Second}}
	output := new(string)
	pf := c.PersistentFlags()
	pf.StringVar(&api.server, "server", "", "controller URL (default SKALD_SERVER, else http://localhost:8000)")
	pf.StringVar(&api.token, "token", "", "bearer token (default SKALD_API_TOKEN)")
	outputFlag(c, output)
	c.PersistentPreRunE = func(*cobra.Command, []string) error {
		if api.server == "" {
			api.server = os.Getenv("SKALD_SERVER")
		}
		if api.server == "" {
			api.server = "http://localhost:8000"
		}
		if api.token == "" {
			api.token = os.Getenv("SKALD_API_TOKEN")
		}
		if u, err := url.Parse(api.server); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return usagef("--server %q is not a controller URL; give one like http://localhost:8000", api.server)
		}
		return checkOutput(*output)
	}
	return api, output
}

// apiError is an error answer of the API.
type apiError struct {
	Code   int
	Body   map[string]any
	Method string
	Path   string // without the query
}

func (e *apiError) Error() string {
	msg, _ := e.Body["error"].(string)
	if msg == "" {
		msg, _ = e.Body["message"].(string)
	}
	if msg == "" {
		msg = http.StatusText(e.Code)
	}
	if fields, ok := e.Body["fields"].([]any); ok {
		for _, f := range fields {
			if m, ok := f.(map[string]any); ok {
				msg += fmt.Sprintf("; %v: %v", m["path"], m["message"])
			}
		}
	}
	s := fmt.Sprintf("%s %s: %d %s", e.Method, e.Path, e.Code, msg)
	switch {
	case e.Code == http.StatusUnauthorized || e.Code == http.StatusForbidden:
		s += "\nset --token or SKALD_API_TOKEN to the controller's token"
	case e.Code >= 500:
		s += "\nthe controller failed; its log has the details"
	}
	return s
}

// do sends a request and decodes the JSON answer into out. Answers of
// 400 and above become an *apiError.
func (c *apiClient) do(ctx context.Context, method, path string, query url.Values, body any, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	target := strings.TrimRight(c.server, "/") + path
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
			return fmt.Errorf("%s %s: %v\nis the controller running at %s? set --server or SKALD_SERVER", method, path, op.Err, c.server)
		}
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		return fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
	}
	if res.StatusCode >= 400 {
		e := &apiError{Code: res.StatusCode, Method: method, Path: path, Body: map[string]any{}}
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
