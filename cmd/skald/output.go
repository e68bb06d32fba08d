package main

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"
)

// The output formats of -o.
var outputs = []string{"table", "json", "yaml"}

// checkOutput refuses an -o the commands cannot print.
func checkOutput(o string) error {
	for _, ok := range outputs {
		if o == ok {
			return nil
		}
	}
	return usagef("-o %q is not an output format; use table, json or yaml", o)
}

// printAs prints an API answer as JSON or YAML, with the API's keys in
// its order.
func printAs(w io.Writer, format string, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if format == "yaml" {
		return printYAML(w, raw)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(json.RawMessage(raw))
}

// printYAML prints JSON as block-style YAML. JSON is YAML already, so it
// parses into a node tree that keeps the key order; only the flow style
// and the quotes of the JSON spelling are dropped. Strings that would read
// back as something else (numbers, booleans, null) stay quoted.
func printYAML(w io.Writer, raw json.RawMessage) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return fmt.Errorf("converting the answer to YAML: %w", err)
	}
	var plain func(n *yaml.Node)
	plain = func(n *yaml.Node) {
		n.Style = 0
		for _, c := range n.Content {
			plain(c)
		}
	}
	plain(&doc)
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return err
	}
	return enc.Close()
}

// when formats an epoch-ms time with its zone, in the local zone ("-"
// for none): a time without a zone is ambiguous across machines.
func when(ms int64) string {
	if ms == 0 {
		return "-"
	}
	return time.UnixMilli(ms).Format("2006-01-02 15:04:05 Z07:00")
}

func str(s *string) string {
	if s == nil {
		return "-"
	}
	return *s
}

// outputFlag adds -o to c, checked before the command runs.
func outputFlag(c *cobra.Command, o *string) {
	c.PersistentFlags().StringVarP(o, "output", "o", "table", "output format: table, json or yaml")
	_ = c.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(outputs, cobra.ShellCompDirectiveNoFileComp))
}
