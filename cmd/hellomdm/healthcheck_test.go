package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/hellomdm/hellomdm/internal/testserve"
	"github.com/hellomdm/hellomdm/server"
)

func TestHealthcheck(t *testing.T) {
	dir := t.TempDir()
	app := testserve.Start(t, server.Options{DataDir: dir}, nil)
	_, port, _ := strings.Cut(app.Addr().String(), ":")
	for _, tc := range []struct {
		args []string
		want int
	}{
		{[]string{"--addr", app.Addr().String(), "--data", dir}, exitOK},
		{[]string{"--addr", "0.0.0.0:" + port, "--data", dir}, exitOK}, // a wildcard listener is probed on loopback
		{[]string{"--addr", app.Addr().String(), "--data", dir, "--path", "/readyz"}, exitOK},
		{[]string{"--addr", app.Addr().String(), "--data", dir, "--path", "/nope"}, exitFailed},
		{[]string{"--addr", app.Addr().String(), "--data", filepath.Join(dir, "missing")}, exitFailed},
		{[]string{"--addr", "127.0.0.1:1", "--data", dir}, exitFailed},
		{[]string{"--bogus"}, exitUsage},
	} {
		if code, out, errOut := cliRun(append([]string{"healthcheck"}, tc.args...)...); code != tc.want {
			t.Errorf("healthcheck %v: exit %d, want %d (%s%s)", tc.args, code, tc.want, out, errOut)
		}
	}
}
