package main

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// -q prints only IDs, one per line, for every admin command that has IDs to print (the
// objects it shows, creates or changes; user totp: the otpauth:// URI), and every other
// command refuses -q, saying why, before it does anything. Every admin command is covered:
// a command added later must be given a -q behaviour here.
func TestAdminQuietPrintsOnlyIDs(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	base := startCLIServer(t)
	server, caFile := base[2], base[6]
	covered := map[string]bool{}
	run := func(want int, args ...string) (string, string) {
		t.Helper()
		code, out, errOut := cliRun(append(append([]string{}, base...), args...)...)
		if code != want {
			t.Fatalf("admin %v: exit %d, want %d\n%s%s", args, code, want, out, errOut)
		}
		return out, errOut
	}
	// quiet runs the command with -q and checks that it printed exactly the lines want (in
	// any order) and nothing else.
	quiet := func(cmd string, want []string, args ...string) {
		t.Helper()
		covered[cmd] = true
		out, _ := run(0, append(append([]string{"-q"}, strings.Fields(cmd)...), args...)...)
		got := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		if out == "" {
			got = nil
		}
		if !strings.HasSuffix(out, "\n") && out != "" {
			t.Errorf("-q %s: output does not end in a newline: %q", cmd, out)
		}
		slices.Sort(got)
		want = slices.Clone(want)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("-q %s %v printed %q, want the lines %q", cmd, args, out, want)
		}
	}
	// one runs the command with -q and returns the one line it printed.
	one := func(cmd string, args ...string) string {
		t.Helper()
		covered[cmd] = true
		out, _ := run(0, append(append([]string{"-q"}, strings.Fields(cmd)...), args...)...)
		line := strings.TrimSuffix(out, "\n")
		if line == "" || strings.ContainsAny(line, "\n\t ") {
			t.Fatalf("-q %s %v printed %q, want one ID", cmd, args, out)
		}
		return line
	}
	refused := func(cmd string, args ...string) {
		t.Helper()
		covered[cmd] = true
		out, errOut := run(exitUsage, append(append([]string{"-q"}, strings.Fields(cmd)...), args...)...)
		if out != "" || !strings.Contains(errOut, "-q prints only IDs, and "+cmd+" has none to print: ") {
			t.Errorf("-q %s: stdout %q, stderr %q; want a refusal saying why", cmd, out, errOut)
		}
	}

	const tid = "6d2a3f0e-1c55-4b0b-9a3e-2f4f7c1d9e01"
	quiet("tenant create", []string{tid}, "--id", tid, "--name", "Contoso", "--domain", "contoso.com")
	quiet("tenant list", []string{tid})
	quiet("tenant update", []string{tid}, "--tenant", "contoso.com", "--name", "Contoso Ltd")
	uid := one("user create", "--tenant", "contoso.com", "--upn", "alice@contoso.com", "--password", "Correct horse 1")
	quiet("user list", []string{uid}, "--tenant", "contoso.com")
	if uri := one("user totp", "--tenant", "contoso.com", "--user", "alice@contoso.com"); !strings.HasPrefix(uri, "otpauth://totp/") {
		t.Errorf("-q user totp printed %q, want the otpauth:// URI", uri)
	}
	quiet("user disable", []string{uid}, "--tenant", "contoso.com", "--user", "alice@contoso.com")
	quiet("user enable", []string{uid}, "--tenant", "contoso.com", "--user", "alice@contoso.com")
	quiet("user role", []string{uid}, "--tenant", "contoso.com", "--user", "alice@contoso.com", "--role", "reader")
	quiet("user list", []string{uid}, "--tenant", "contoso.com", "--admin-roles")
	quiet("user revoke-role", []string{uid}, "--tenant", "contoso.com", "--user", "alice@contoso.com")

	// The PIN reset applications' IDs are their application IDs.
	var sps struct {
		Value []struct {
			AppID string `json:"appId"`
		} `json:"value"`
	}
	out, _ := run(0, "-o", "json", "pinreset", "status", "--tenant", "contoso.com")
	if err := json.Unmarshal([]byte(out), &sps); err != nil || len(sps.Value) != 2 {
		t.Fatalf("pinreset status -o json: %v\n%s", err, out)
	}
	apps := []string{sps.Value[0].AppID, sps.Value[1].AppID}
	quiet("pinreset status", apps, "--tenant", "contoso.com")
	// The consent's answer shows both applications, as status does.
	quiet("pinreset consent", apps, "--tenant", "contoso.com", "--app", "service")

	state := filepath.Join(t.TempDir(), "pc")
	if code, _, errOut := cliRun("device", "--state", state, "enroll", "--server", server, "--email", "alice@contoso.com",
		"--password", "Correct horse 1", "--ca-file", caFile, "--device-name", "ALICE-PC"); code != 0 {
		t.Fatal(errOut)
	}
	did := one("device list", "--tenant", "contoso.com")

	gid := one("group create", "--tenant", "contoso.com", "--name", "WHfB pilot")
	quiet("group list", []string{gid}, "--tenant", "contoso.com")
	quiet("group add-member", []string{uid}, "--tenant", "contoso.com", "--group", "WHfB pilot", "--id", "alice@contoso.com")
	quiet("group add-member", []string{did}, "--tenant", "contoso.com", "--group", "WHfB pilot", "--id", "alice-pc")
	quiet("group members", []string{uid, did}, "--tenant", "contoso.com", "--group", "WHfB pilot")
	quiet("group remove-member", []string{did}, "--tenant", "contoso.com", "--group", "WHfB pilot", "--id", "ALICE-PC")

	pid := one("profile import", "--tenant", "contoso.com", "../../examples/policy/whfb-pin-recovery.settings-catalog.json")
	quiet("profile list", []string{pid}, "--tenant", "contoso.com")
	quiet("profile show", []string{pid}, "--tenant", "contoso.com", "--profile", "WHfB - Enable PIN recovery")
	quiet("profile assign", []string{pid}, "--tenant", "contoso.com", "--profile", "WHfB - Enable PIN recovery", "--group", "WHfB pilot")
	if code, _, errOut := cliRun("device", "--state", state, "sync"); code != 0 {
		t.Fatal(errOut)
	}
	quiet("profile status", []string{did}, "--tenant", "contoso.com", "--profile", "WHfB - Enable PIN recovery")

	cid := one("command queue", "--tenant", "contoso.com", "--device", "ALICE-PC", "--verb", "Get", "--uri", "./DevDetail/SwV")
	out, _ = run(0, "-o", "json", "command", "list", "--tenant", "contoso.com", "--device", "ALICE-PC")
	var cmds struct {
		Value []struct {
			ID string `json:"id"`
		} `json:"value"`
	}
	if err := json.Unmarshal([]byte(out), &cmds); err != nil || len(cmds.Value) < 2 {
		t.Fatalf("command list -o json: %v\n%s", err, out)
	}
	var cids []string
	for _, c := range cmds.Value {
		cids = append(cids, c.ID)
	}
	if !slices.Contains(cids, cid) {
		t.Errorf("-q command queue printed %q, not in command list %v", cid, cids)
	}
	quiet("command list", cids, "--tenant", "contoso.com", "--device", "ALICE-PC")
	// command resend prints its answer, a command, as command queue does (through print).
	covered["command resend"] = true

	var tok struct {
		ID string `json:"id"`
	}
	out, _ = run(0, "-o", "json", "token", "create", "--name", "ci", "--role", "reader")
	if err := json.Unmarshal([]byte(out), &tok); err != nil || tok.ID == "" {
		t.Fatalf("token create -o json: %v\n%s", err, out)
	}
	var toks struct {
		Value []struct {
			ID string `json:"id"`
		} `json:"value"`
	}
	out, _ = run(0, "-o", "json", "token", "list")
	if err := json.Unmarshal([]byte(out), &toks); err != nil || len(toks.Value) != 2 {
		t.Fatalf("token list -o json: %v\n%s", err, out)
	}
	quiet("token list", []string{toks.Value[0].ID, toks.Value[1].ID})
	quiet("token revoke", []string{tok.ID}, "--id", tok.ID)

	// The commands with no IDs refuse -q before doing anything.
	refused("token create", "--name", "x", "--role", "reader")
	refused("device settings", "--tenant", "contoso.com", "--device", "ALICE-PC")
	refused("profile export", "--tenant", "contoso.com", "--profile", pid)
	refused("backup", "--out", filepath.Join(t.TempDir(), "b.db"))
	refused("audit export", "--tenant", "contoso.com", "--out", filepath.Join(t.TempDir(), "a.csv"))
	refused("audit verify", "--tenant", "contoso.com")
	refused("apply", "-f", "../../examples/policy", "--tenant", "contoso.com", "--dry-run")
	refused("gpo analyze", "--tenant", "contoso.com", filepath.Join("..", "..", "policy", "gpo", "testdata", "registry.pol"))
	refused("login")
	refused("logout")
	refused("context use", "default")
	refused("wns show", "--tenant", "contoso.com")
	refused("wns set", "--tenant", "contoso.com", "--pfn", "")
	if _, errOut := run(exitUsage, "-q", "gpo", "import", "--tenant", "contoso.com", "--name", "x", "--dry-run", filepath.Join("..", "..", "policy", "gpo", "testdata", "registry.pol")); !strings.Contains(errOut, "--dry-run creates none") {
		t.Errorf("-q gpo import --dry-run: %s", errOut)
	}
	// gpo import without --dry-run prints the new profile's ID: TestAdminGPO.
	covered["gpo import"] = true
	// A context's ID is its name.
	run(0, "login")
	quiet("context list", []string{"default"})

	// Sync now and the push view print the device's ID.
	quiet("device sync", []string{did}, "--tenant", "contoso.com", "--device", "ALICE-PC")
	quiet("device push", []string{did}, "--tenant", "contoso.com", "--device", "ALICE-PC")
	// The deletions print what they deleted.
	quiet("device retire", []string{did}, "--tenant", "contoso.com", "--device", "ALICE-PC")
	quiet("profile delete", []string{pid}, "--tenant", "contoso.com", "--profile", "WHfB - Enable PIN recovery")
	quiet("group delete", []string{gid}, "--tenant", "contoso.com", "--group", "WHfB pilot")
	quiet("user delete", []string{uid}, "--tenant", "contoso.com", "--user", "alice@contoso.com")
	quiet("tenant delete", []string{tid}, "--tenant", "contoso.com", "--confirm", "contoso.com")

	for name := range adminCommands {
		if !covered[name] {
			t.Errorf("admin %s: its -q output is not checked here", name)
		}
	}
}
