package main

import "flag"

// tenant update: PATCH /tenants/{tid} with the flags given (absent flags leave their field
// as it is).
func init() {
	adminCommands["tenant update"] = adminCommand{
		usage: "tenant update --tenant TID [--name NAME] [--domain D]... [--auth-policy OnPremise|Federated] [--federation-host H | --federation-host \"\"] [--gov-cloud=true|false] [--return-uri URL... | --return-uri \"\"]   (only the flags given change; --domain and --return-uri replace their lists)",
		run: func(c *adminClient, args []string) error {
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
			patch := map[string]any{}
			fs.Visit(func(f *flag.Flag) {
				switch f.Name {
				case "name":
					patch["displayName"] = *name
				case "domain":
					patch["verifiedDomains"] = []string(domains)
				case "auth-policy":
					patch["authPolicy"] = *policy
				case "federation-host":
					patch["federationHost"] = *fedHost
				case "gov-cloud":
					patch["govCloud"] = *gov
				case "return-uri":
					patch["enrollmentReturnUris"] = uris
				}
			})
			if len(patch) == 0 {
				return usageError{"give at least one of --name, --domain, --auth-policy, --federation-host, --gov-cloud, --return-uri"}
			}
			var out map[string]any
			if err := c.do("PATCH", tenantPath(*tid), patch, &out); err != nil {
				return err
			}
			if ws, ok := out["warnings"].([]any); ok {
				var list []string
				for _, w := range ws {
					if s, ok := w.(string); ok {
						list = append(list, s)
					}
				}
				c.warn("tenant "+*tid, list)
			}
			return c.print(out, tenantDetailColumns()...)
		},
	}
}
