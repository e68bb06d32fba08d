package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/skalds-go/skalds/controller/api/client"
)

func newNodesCmd() *cobra.Command {
	var api **client.Client
	var output *string
	var status, typ string
	list := &cobra.Command{
		Use:     "list",
		Short:   "List the nodes in the registry with their status, tasks and classes",
		Example: "  skald nodes list --status online\n  skald nodes list --type edge -o yaml",
		Args:    noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			res, err := (*api).ListSkalds(c.Context(), status, typ)
			if err != nil {
				return err
			}
			if *output != "table" {
				return printAs(c.OutOrStdout(), *output, res)
			}
			tw := tabwriter.NewWriter(c.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tTYPE\tSTATUS\tTASKS\tLAST ACTIVITY\tCLASSES")
			for _, n := range res.Items {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", n.ID, n.Type, n.Status, n.TaskCount, when(n.LastHeartbeat), strings.Join(n.SupportedTasks, ","))
			}
			return tw.Flush()
		},
	}
	list.Flags().StringVar(&status, "status", "", "online or offline")
	list.Flags().StringVar(&typ, "type", "", "node or edge")
	completeWords(list, "status", "online", "offline")
	completeWords(list, "type", "node", "edge")
	g := group("nodes", "List the nodes (Skalds) that the controller sees",
		`nodes talks to a controller's REST API (--server or SKALD_SERVER, --token or
SKALD_API_TOKEN) and prints a table, or the API's answer as JSON or YAML (-o).`,
		"  skald nodes list",
		list)
	g.Aliases = []string{"skalds"}
	api, output = apiFlags(g)
	return g
}
