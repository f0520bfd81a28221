package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/hellomdm/hellomdm/server/adminapi/wire"
)

// wns show | wns set: a tenant's WNS push settings (GET and PATCH /tenants/{tid}/wns). The
// client secret is read from a file or stdin, never from the command line (where every
// user of the machine could read it in the process list), and never printed.

var wnsColumns = []string{"pfn", "packageSid", "clientSecretConfigured"}

func runWNSShow(c *adminClient, args []string) error {
	fs := commandFlags("wns show")
	tid := fs.String("tenant", "", "tenant ID or domain")
	if err := parseCommand(fs, args, "tenant"); err != nil {
		return err
	}
	tenant, err := c.resolve("tenant", "", *tid)
	if err != nil {
		return err
	}
	out, err := c.api.TenantWNS(c.ctx, tenant)
	if err != nil {
		return err
	}
	return c.print(out, wnsColumns...)
}

func runWNSSet(c *adminClient, args []string) error {
	fs := commandFlags("wns set")
	tid := fs.String("tenant", "", "tenant ID or domain")
	pfn := fs.String("pfn", "", `package family name devices are given (DMClient Push/PFN); "" removes it from every device`)
	sid := fs.String("package-sid", "", `package SID (ms-app://S-1-15-2-...) the wake-ups authenticate with; "" clears it`)
	secretFile := fs.String("client-secret-file", "", `file holding the client secret ("-": stdin; an empty file clears it)`)
	if err := parseCommand(fs, args, "tenant"); err != nil {
		return err
	}
	var patch wire.TenantWNSPatch
	given := false
	var err error
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "pfn":
			patch.PFN = pfn
		case "package-sid":
			patch.PackageSID = sid
		case "client-secret-file":
			var s string
			s, err = readSecretFile(*secretFile, os.Stdin)
			patch.ClientSecret = &s
		default:
			return
		}
		given = true
	})
	if err != nil {
		return err
	}
	if !given {
		return usageError{"give at least one of --pfn, --package-sid, --client-secret-file"}
	}
	tenant, err := c.resolve("tenant", "", *tid)
	if err != nil {
		return err
	}
	out, err := c.api.UpdateTenantWNS(c.ctx, tenant, patch)
	if err := c.wrote(err); err != nil {
		return err
	}
	return c.print(out, wnsColumns...)
}

// readSecretFile reads a secret from path ("-": stdin), without its trailing line break.
func readSecretFile(path string, stdin io.Reader) (string, error) {
	var b []byte
	var err error
	switch path {
	case "":
		return "", usageError{"--client-secret-file needs a file name, or - for stdin"}
	case "-":
		b, err = io.ReadAll(io.LimitReader(stdin, 4096))
	default:
		b, err = os.ReadFile(path)
	}
	if err != nil {
		return "", fmt.Errorf("reading the client secret: %w", err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}
