package main

import (
	"context"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/internal/testbin"
)

// README.md shows examples/tour.sh verbatim, so the tour a reader pastes is the one CI runs.
func TestREADMEShowsTheTourScript(t *testing.T) {
	script, err := os.ReadFile("../../examples/tour.sh")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "```sh\n"+string(script)+"```\n") {
		t.Fatal("README.md does not show examples/tour.sh verbatim in a ```sh block: copy the script into the README's tour")
	}
}

// README.md's tables of admin and device commands have a row for every command.
func TestREADMEListsEveryAdminCommand(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for name := range adminCommands {
		if !strings.Contains(string(readme), "\n| `"+name+"` | ") {
			t.Errorf("README.md's admin command table has no row for %q", name)
		}
	}
	for name := range deviceCommands {
		if !strings.Contains(string(readme), "\n| `"+name+"` | ") {
			t.Errorf("README.md's device command table has no row for %q", name)
		}
	}
}

// The README tour end to end: examples/walkthrough.sh starts a real server on a free
// loopback port with a temporary data directory, runs examples/tour.sh against it with the
// built binary, and stops the server and deletes its directory on exit (the test kills the
// whole process group should it hang).
func TestTourScript(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs the tour")
	}
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	bin := testbin.Build(t)
	addr := testbin.FreeAddr(t)
	port := addr[strings.LastIndex(addr, ":")+1:]
	tmp := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bash, "examples/walkthrough.sh")
	cmd.Dir = "../.."
	// The tour's own settings only: none of the caller's HELLOMDM_* variables, and a config
	// directory without stored logins.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "HELLOMDM_") && !strings.HasPrefix(kv, "XDG_CONFIG_HOME=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "HELLOMDM_BIN="+bin, "HELLOMDM_PORT="+port, "TMPDIR="+tmp, "XDG_CONFIG_HOME="+t.TempDir())
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var out testbin.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
	if err := cmd.Wait(); err != nil {
		t.Fatalf("the tour failed: %v\n%s", err, out.String())
	}
	text := out.String()
	for _, want := range []string{
		"enrolled ", "(ALICE-PC) as alice@contoso.com in tenant 6d2a3f0e-1c55-4b0b-9a3e-2f4f7c1d9e01",
		"succeeded 1",
		"CanReset : DestructiveAndNonDestructive",
		"PinResetProtector : present",
		"== the tour completed",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the tour's output lacks %q", want)
		}
	}
	// Non-destructive reset: provision, status, reset-pin and the unlock with the new PIN
	// all show the same container key.
	keys := regexp.MustCompile(`NgcKeyId : (\{[0-9A-F-]+\})`).FindAllStringSubmatch(text, -1)
	if len(keys) != 4 {
		t.Fatalf("want 4 NgcKeyId lines (provision, status, reset-pin, unlock), got %d\n%s", len(keys), text)
	}
	for _, k := range keys[1:] {
		if k[1] != keys[0][1] {
			t.Errorf("NgcKeyId changed from %s to %s: the reset was not non-destructive", keys[0][1], k[1])
		}
	}
	if t.Failed() {
		t.Log(text)
	}
	// The walkthrough deleted its directory (and stopped the server in it).
	left, _ := os.ReadDir(tmp)
	if len(left) != 0 {
		t.Errorf("the walkthrough left %d entries in its temporary directory", len(left))
	}
}
