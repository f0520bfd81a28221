package main

import (
	"fmt"
	"slices"
	"strings"
)

// tenant delete: DELETE /tenants/{tid} (global admin). --confirm must repeat the tenant's ID
// or one of its verified domains, so that a name resolved to the wrong tenant, or a command
// pasted from history, deletes nothing. --force retires the tenant's enrolled devices first
// (without it the server refuses while any is enrolled, naming how many).

func runTenantDelete(c *adminClient, args []string) error {
	fs := commandFlags("tenant delete")
	tid := fs.String("tenant", "", "tenant ID or domain")
	confirm := fs.String("confirm", "", "the tenant's ID or one of its domains again, to confirm")
	force := fs.Bool("force", false, "retire the tenant's enrolled devices first (their check-ins are refused from then on)")
	if err := parseCommand(fs, args, "tenant", "confirm"); err != nil {
		return err
	}
	tenant, err := c.resolve("tenant", "", *tid)
	if err != nil {
		return err
	}
	t, err := c.api.Tenant(c.ctx, tenant)
	if err := c.read(err); err != nil {
		return err
	}
	want := strings.TrimSpace(*confirm)
	if !strings.EqualFold(want, t.ID) && !slices.ContainsFunc(t.VerifiedDomains, func(d string) bool { return strings.EqualFold(d, want) }) {
		return fmt.Errorf("refusing to delete tenant %s: --confirm %q is neither its ID nor one of its domains (%s)", t.ID, want, strings.Join(t.VerifiedDomains, ", "))
	}
	if err := c.wrote(c.api.DeleteTenant(c.ctx, t.ID, *force)); err != nil {
		return err
	}
	return c.done("deleted tenant "+t.ID+" (its audit log is kept)", t.ID)
}
