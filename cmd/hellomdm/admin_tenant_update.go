package main

import (
	"flag"

	"github.com/hellomdm/hellomdm/server/adminapi/wire"
)

// tenant update: PATCH /tenants/{tid} with the flags given (absent flags leave their field
// as it is).

func runTenantUpdate(c *adminClient, args []string) error {
	fs := commandFlags("tenant update")
	tid := fs.String("tenant", "", "tenant ID or domain")
	name := fs.String("name", "", "display name")
	var domains repeatedString
	fs.Var(&domains, "domain", "verified domain (repeatable; replaces the list)")
	policy := fs.String("auth-policy", "", "MS-MDE2 auth policy: OnPremise or Federated")
	fedHost := fs.String("federation-host", "", `third-party sign-in host of a federated tenant ("" removes it)`)
	gov := fs.Bool("gov-cloud", false, "government cloud tenant (no PIN reset service)")
	var returns repeatedString
	fs.Var(&returns, "return-uri", returnURIHelp+`; replaces the list, "" removes them all`)
	if err := parseCommand(fs, args, "tenant"); err != nil {
		return err
	}
	uris, err := returnURIs(returns)
	if err != nil {
		return err
	}
	var patch wire.TenantPatch
	given := false
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "name":
			patch.DisplayName = name
		case "domain":
			list := []string(domains)
			patch.VerifiedDomains = &list
		case "auth-policy":
			patch.AuthPolicy = policy
		case "federation-host":
			patch.FederationHost = fedHost
		case "gov-cloud":
			patch.GovCloud = gov
		case "return-uri":
			patch.EnrollmentReturnURIs = &uris
		default:
			return
		}
		given = true
	})
	if !given {
		return usageError{"give at least one of --name, --domain, --auth-policy, --federation-host, --gov-cloud, --return-uri"}
	}
	tenant, err := c.resolve("tenant", "", *tid)
	if err != nil {
		return err
	}
	out, err := c.api.UpdateTenant(c.ctx, tenant, patch)
	if err := c.wrote(err); err != nil {
		return err
	}
	return c.print(out, tenantDetailColumns()...)
}
