// Command skald operates a Skalds deployment.
//
//	skald controller [flags]       run the system controller
//	skald tasks list|get|create|update|cancel ...
//	skald nodes list [--status online|offline] [--type node|edge]
//	skald version
//	skald completion bash|zsh|fish|powershell
//
// The controller reads MONGO_HOST, REDIS_HOST, KAFKA_HOST and the other
// variables nodes read, plus its own (see "skald controller --help"). The
// other commands talk to a controller's REST API: --server or
// SKALD_SERVER (default http://localhost:8000), --token or
// SKALD_API_TOKEN. They print tables, or JSON or YAML with -o.
//
// Exit codes: 0 success (and --help), 1 the operation failed, 2 the
// command line is wrong.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"regexp"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/skalds-go/skalds/internal/version"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is main without the process: it returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRoot(stdout, stderr)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return 0
	}
	var ue *usageError
	if errors.As(err, &ue) || strings.HasPrefix(err.Error(), "unknown command") {
		fmt.Fprintf(stderr, "%s: %v\nRun '%s --help' for usage.\n", cmd.CommandPath(), err, cmd.CommandPath())
		return 2
	}
	fmt.Fprintf(stderr, "%s: %v\n", cmd.CommandPath(), err)
	return 1
}

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "skald",
		Short: "Operate a Skalds deployment",
		Long: `skald runs the system controller of a Skalds deployment and talks to its
REST API: it lists, creates, updates and cancels tasks, and lists nodes.`,
		Example: `  SKALD_API_TOKEN=change-me skald controller
  skald tasks list --status Running
  skald nodes list -o yaml`,
		Version:       version.String(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(flagError)
	root.AddCommand(newControllerCmd(), newTasksCmd(), newNodesCmd(), newVersionCmd())
	// cobra adds these two itself at Execute; made here, they get examples
	// like every other command.
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		switch c.Name() {
		case "help":
			c.Example = "  skald help tasks list"
		case "completion":
			c.Example = "  source <(skald completion bash)\n  skald completion zsh > \"${fpath[1]}/_skald\""
			for _, sh := range c.Commands() {
				sh.Example = "  skald completion " + sh.Name()
			}
		}
	}
	return root
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print the version of this binary",
		Example: "  skald version",
		Args:    noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			_, err := fmt.Fprintln(c.OutOrStdout(), "skald", version.String())
			return err
		},
	}
}

// usageError is a mistake on the command line: exit code 2, and a pointer
// to the command's help.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usagef(format string, a ...any) error { return &usageError{fmt.Errorf(format, a...)} }

// shorthandFlag matches pflag's complaint about a long flag written with
// one dash ("-server"), which the standard flag package accepted.
var shorthandFlag = regexp.MustCompile(`unknown shorthand flag: '.' in -([A-Za-z][\w-]+)`)

// flagError makes a flag parse error a usage error, and points at the
// long flag that a one-dash spelling meant.
func flagError(c *cobra.Command, err error) error {
	if m := shorthandFlag.FindStringSubmatch(err.Error()); m != nil && c.Flags().Lookup(m[1]) != nil {
		return usagef("unknown flag -%s; long flags take two dashes: --%s", m[1], m[1])
	}
	return &usageError{err}
}

// group returns a command that only holds subcommands: run bare or with an
// unknown subcommand, it is a usage error naming the subcommands.
func group(use, short, long, example string, subs ...*cobra.Command) *cobra.Command {
	g := &cobra.Command{Use: use, Short: short, Long: long, Example: example, SuggestionsMinimumDistance: 2}
	g.AddCommand(subs...)
	g.RunE = func(c *cobra.Command, args []string) error {
		names := make([]string, 0, len(subs))
		for _, s := range subs {
			names = append(names, s.Name())
		}
		if len(args) == 0 {
			return usagef("name a command: %s", strings.Join(names, ", "))
		}
		hint := ""
		if s := c.SuggestionsFor(args[0]); len(s) > 0 {
			hint = fmt.Sprintf("; did you mean %s?", strings.Join(s, " or "))
		}
		return usagef("unknown command %q%s (commands: %s)", args[0], hint, strings.Join(names, ", "))
	}
	return g
}

// noArgs and exactArgs are cobra's argument checks as usage errors.
func noArgs(c *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usagef("takes no arguments, got %q", args)
	}
	return nil
}

func exactArgs(names ...string) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if len(args) != len(names) {
			return usagef("takes %s, got %d argument(s)", strings.Join(names, " "), len(args))
		}
		return nil
	}
}
