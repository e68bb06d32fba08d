package main

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/skalds-go/skalds/controller/api/client"
)

// apiFlags adds --server, --token and -o to c and its subcommands, and
// returns the client they configure, made before a subcommand runs. The
// environment is read then, not shown as a default in the help, so that a
// token never appears there.
func apiFlags(c *cobra.Command) (**client.Client, *string) {
	var server, token string
	api := new(*client.Client)
	output := new(string)
	pf := c.PersistentFlags()
	pf.StringVar(&server, "server", "", "controller URL (default SKALD_SERVER, else http://localhost:8000)")
	pf.StringVar(&token, "token", "", "bearer token (default SKALD_API_TOKEN)")
	outputFlag(c, output)
	c.PersistentPreRunE = func(*cobra.Command, []string) error {
		if server == "" {
			server = os.Getenv("SKALD_SERVER")
		}
		if server == "" {
			server = "http://localhost:8000"
		}
		if token == "" {
			token = os.Getenv("SKALD_API_TOKEN")
		}
		cl, err := client.New(server, token)
		if err != nil {
			return usagef("--server: %v", err)
		}
		*api = cl
		return checkOutput(*output)
	}
	return api, output
}
