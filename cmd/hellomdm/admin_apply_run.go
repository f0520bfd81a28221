package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/hellomdm/hellomdm/internal/apply"
)

func runApply(c *adminClient, args []string) error {
	fs := commandFlags("apply")
	file := fs.String("f", "", "a policy document file, or a directory of *.yaml, *.yml, *.json")
	tid := fs.String("tenant", "", "tenant ID or domain (default: the only tenant the token sees)")
	dry := fs.Bool("dry-run", false, "print the plan and change nothing")
	prune := fs.Bool("prune", false, "delete groups and profiles that are not in the documents")
	if err := parseCommand(fs, args, "f"); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{"unexpected argument " + fs.Arg(0)}
	}
	want, err := apply.Load(*file)
	if err != nil {
		return err
	}
	tenant, err := c.defaultTenant(*tid)
	if err != nil {
		return err
	}
	have, err := apply.Read(c.ctx, c.api, tenant)
	if err := c.read(err); err != nil {
		return err
	}
	plan, err := apply.Plan(want, have, *prune)
	if err != nil {
		return err
	}
	if !*dry {
		c.names = nil // the tenant changes under the names looked up
		if err := apply.Execute(c.ctx, c.api, tenant, plan, c.warn); err != nil {
			return err
		}
	}
	return c.printPlan(plan, *dry)
}

// defaultTenant returns the given tenant, or the only one the token sees.
func (c *adminClient) defaultTenant(tid string) (string, error) {
	if tid != "" {
		return c.resolve("tenant", "", tid)
	}
	ts, err := c.api.Tenants(c.ctx)
	if err := c.read(err); err != nil {
		return "", err
	}
	if len(ts) != 1 {
		return "", usageError{fmt.Sprintf("the token sees %d tenants: give --tenant", len(ts))}
	}
	return ts[0].ID, nil
}

// printPlan shows the plan as a table (ACTION KIND NAME DETAILS) or JSON.
func (c *adminClient) printPlan(plan []apply.Change, dry bool) error {
	if c.output == "json" {
		return c.printJSON(struct {
			DryRun bool           `json:"dryRun"`
			Value  []apply.Change `json:"value"`
		}{dry, plan})
	}
	tw := tabwriter.NewWriter(c.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ACTION\tKIND\tNAME\tDETAILS")
	counts := map[string]int{}
	for _, ch := range plan {
		counts[ch.Action]++
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", ch.Action, ch.Kind, ch.Name, strings.Join(ch.Details, "; "))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	summary := fmt.Sprintf("%d to create, %d to update, %d to delete, %d unchanged, %d unmanaged",
		counts[apply.Create], counts[apply.Update], counts[apply.Delete], counts[apply.Unchanged], counts[apply.Unmanaged])
	if dry {
		_, err := fmt.Fprintf(c.stdout, "dry run: %s; nothing was changed\n", summary)
		return err
	}
	_, err := fmt.Fprintf(c.stdout, "applied: %s\n", summary)
	return err
}
