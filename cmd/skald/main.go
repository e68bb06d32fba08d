// Command skald operates a Skalds deployment.
//
//	skald controller [flags]             run the system controller
//	skald tasks list [-status S] [-class C] [-executor N] [-page P] [-size N]
//	skald tasks get ID
//	skald tasks create -class C [-id ID] [-priority P] [-attachments JSON] [-executor N]
//	skald tasks update ID -attachments JSON [-wait 5s]
//	skald tasks cancel ID
//	skald nodes list
//
// The controller reads MONGO_HOST, REDIS_HOST, KAFKA_HOST and the other
// variables nodes read, plus its own (see "skald controller -h"). The
// other commands talk to a controller's REST API: -server or
// SKALD_SERVER (default http://localhost:8000), -token or SKALD_API_TOKEN.
// They print tables, or JSON with -o json.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `usage:
  skald controller [flags]        run the system controller
  skald tasks list|get|create|update|cancel ...
  skald nodes list

Run "skald <command> -h" for the flags of a command.
`

// run is main without the process: it returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "controller":
		return runController(ctx, args[1:], stderr)
	case "tasks":
		return runTasks(ctx, args[1:], stdout, stderr)
	case "nodes", "skalds":
		return runNodes(ctx, args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "skald: unknown command %q\n\n%s", args[0], usage)
	return 2
}
