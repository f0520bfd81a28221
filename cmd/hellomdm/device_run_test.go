package main

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/internal/testbin"
	"github.com/hellomdm/hellomdm/server"
)

// `device run` logs each session on stderr, and each failure: a session against a server
// that has gone away is logged and retried, not silent.
func TestDeviceRunLogsSessionsAndFailures(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := testbin.Build(t)
	dir := t.TempDir()
	app, err := server.Open(context.Background(), server.Options{DataDir: dir, Addr: "127.0.0.1:0", Hostname: "localhost", AdminToken: identityCLIToken}, server.Services)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- app.Serve() }()
	stopServer := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = app.Shutdown(ctx)
		<-done
	}
	t.Cleanup(func() {
		if app != nil {
			stopServer()
		}
	})
	srvURL, caFile := "https://"+app.Addr().String(), filepath.Join(dir, server.CAFile)
	admin := []string{"admin", "--server", srvURL, "--token", identityCLIToken, "--ca-file", caFile}
	for _, args := range [][]string{
		{"tenant", "create", "--id", "6d2a3f0e-1c55-4b0b-9a3e-2f4f7c1d9e01", "--name", "Contoso", "--domain", "contoso.com"},
		{"user", "create", "--tenant", "contoso.com", "--upn", "alice@contoso.com", "--password", "Correct horse 1"},
	} {
		if code, _, errOut := cliRun(append(admin, args...)...); code != 0 {
			t.Fatalf("%v: %s", args, errOut)
		}
	}
	state := filepath.Join(t.TempDir(), "pc")
	if code, _, errOut := cliRun("device", "--state", state, "enroll", "--server", srvURL, "--email", "alice@contoso.com",
		"--password", "Correct horse 1", "--ca-file", caFile); code != 0 {
		t.Fatal(errOut)
	}

	runUntil := func(want string) string {
		t.Helper()
		var stderr testbin.Buffer
		cmd := exec.Command(bin, "device", "--state", state, "run")
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		deadline := time.After(60 * time.Second)
		for !strings.Contains(stderr.String(), want) {
			select {
			case err := <-exited:
				t.Fatalf("device run exited (%v) before logging %q:\n%s", err, want, stderr.String())
			case <-deadline:
				_ = cmd.Process.Kill()
				t.Fatalf("device run never logged %q:\n%s", want, stderr.String())
			case <-time.After(50 * time.Millisecond):
			}
		}
		_ = cmd.Process.Signal(syscall.SIGTERM)
		if err := <-exited; err != nil {
			t.Errorf("device run after SIGTERM: %v\n%s", err, stderr.String())
		}
		return stderr.String()
	}
	out := runUntil(`msg="session done"`)
	if !strings.Contains(out, "checking in on the DMClient poll schedule") || !strings.Contains(out, "component=device") {
		t.Errorf("run's start line is missing:\n%s", out)
	}
	stopServer()
	app = nil
	out = runUntil(`msg="session failed; retrying at the next poll"`)
	if !strings.Contains(out, "level=WARN") || !strings.Contains(out, "err=") {
		t.Errorf("the failure line lacks its level or error:\n%s", out)
	}
}
