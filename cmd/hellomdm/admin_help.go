package main

import "strings"

// adminExample is the command's example, or its usage line with the tour's names.
func adminExample(name string, cmd adminCommand) string {
	if cmd.example != "" {
		return cmd.example
	}
	u, _, _ := strings.Cut(cmd.usage, "   (")
	r := strings.NewReplacer("TID", "contoso.com", "GUID", "6d2a3f0e-1c55-4b0b-9a3e-2f4f7c1d9e01", "UPN", "alice@contoso.com",
		"DID", "ALICE-PC", "GID", "'WHfB pilot'", "PID", "'WHfB - Enable PIN recovery'")
	return "hellomdm admin " + r.Replace(u)
}
