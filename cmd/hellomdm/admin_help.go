package main

import "strings"

// adminExamples are the examples `hellomdm admin <command> -h` prints; a command without
// one shows its usage line filled in with the tour's names.
var adminExamples = map[string]string{
	"login":               "hellomdm admin --server https://localhost:8443 --ca-file hellomdm-data/ca.pem --token \"$HELLOMDM_ADMIN_TOKEN\" login",
	"logout":              "hellomdm admin --context staging logout",
	"context list":        "hellomdm admin context list",
	"context use":         "hellomdm admin context use staging",
	"tenant create":       "hellomdm admin tenant create --id 6d2a3f0e-1c55-4b0b-9a3e-2f4f7c1d9e01 --name Contoso --domain contoso.com",
	"tenant list":         "hellomdm admin tenant list",
	"tenant update":       "hellomdm admin tenant update --tenant contoso.com --return-uri https://portal.contoso.com/enroll/done",
	"user create":         "hellomdm admin user create --tenant contoso.com --upn alice@contoso.com --password 'Correct horse 1'",
	"user list":           "hellomdm admin user list --tenant contoso.com",
	"user totp":           "otp_uri=$(hellomdm admin -q user totp --tenant contoso.com --user alice@contoso.com)",
	"device list":         "hellomdm admin device list --tenant contoso.com --can-reset DestructiveOnly",
	"device retire":       "hellomdm admin device retire --tenant contoso.com --device ALICE-PC",
	"device settings":     "hellomdm admin device settings --tenant contoso.com --device ALICE-PC",
	"token create":        "hellomdm admin token create --name helpdesk --role operator --tenant contoso.com --expires 720h",
	"profile show":        "hellomdm admin profile show --tenant contoso.com --profile 'WHfB - Enable PIN recovery'",
	"profile export":      "hellomdm admin profile export --tenant contoso.com --profile 'WHfB - Enable PIN recovery' --out whfb.json",
	"user disable":        "hellomdm admin user disable --tenant contoso.com --user alice@contoso.com",
	"user enable":         "hellomdm admin user enable --tenant contoso.com --user alice@contoso.com",
	"user delete":         "hellomdm admin user delete --tenant contoso.com --user alice@contoso.com",
	"tenant delete":       "hellomdm admin tenant delete --tenant contoso.com --confirm contoso.com --force",
	"backup":              "hellomdm admin backup --out hellomdm-$(date +%F).db",
	"token revoke":        "hellomdm admin token revoke --id 0b6f4c1e-2d3a-4c5b-8e9f-1a2b3c4d5e6f",
	"token list":          "hellomdm admin token list",
	"pinreset consent":    "hellomdm admin pinreset consent --tenant contoso.com --app service",
	"pinreset status":     "hellomdm admin pinreset status --tenant contoso.com",
	"group create":        "hellomdm admin group create --tenant contoso.com --name 'WHfB pilot'",
	"group list":          "hellomdm admin group list --tenant contoso.com",
	"group members":       "hellomdm admin group members --tenant contoso.com --group 'WHfB pilot'",
	"group add-member":    "hellomdm admin group add-member --tenant contoso.com --group 'WHfB pilot' --id alice@contoso.com",
	"group remove-member": "hellomdm admin group remove-member --tenant contoso.com --group 'WHfB pilot' --id alice@contoso.com",
	"group delete":        "hellomdm admin group delete --tenant contoso.com --group 'WHfB pilot'",
	"profile import":      "hellomdm admin profile import --tenant contoso.com examples/policy/whfb-pin-recovery.settings-catalog.json",
	"profile list":        "hellomdm admin profile list --tenant contoso.com",
	"profile assign":      "hellomdm admin profile assign --tenant contoso.com --profile 'WHfB - Enable PIN recovery' --group 'WHfB pilot'",
	"profile status":      "hellomdm admin profile status --tenant contoso.com --profile 'WHfB - Enable PIN recovery'",
	"profile delete":      "hellomdm admin profile delete --tenant contoso.com --profile 'WHfB - Enable PIN recovery'",
	"command queue":       "hellomdm admin command queue --tenant contoso.com --device ALICE-PC --verb Get --uri ./DevDetail/SwV",
	"command list":        "hellomdm admin command list --tenant contoso.com --device ALICE-PC",
	"audit export":        "hellomdm admin audit export --tenant contoso.com --out audit.csv --from 2026-01-01T00:00:00Z",
	"audit verify":        "hellomdm admin audit verify --tenant contoso.com",
	"apply":               "hellomdm admin apply -f examples/policy --tenant contoso.com --dry-run",
}

// adminExample is the command's example, or its usage line with the tour's names.
func adminExample(name string, cmd adminCommand) string {
	if ex, ok := adminExamples[name]; ok {
		return ex
	}
	u, _, _ := strings.Cut(cmd.usage, "   (")
	r := strings.NewReplacer("TID", "contoso.com", "GUID", "6d2a3f0e-1c55-4b0b-9a3e-2f4f7c1d9e01", "UPN", "alice@contoso.com",
		"DID", "ALICE-PC", "GID", "'WHfB pilot'", "PID", "'WHfB - Enable PIN recovery'")
	return "hellomdm admin " + r.Replace(u)
}
