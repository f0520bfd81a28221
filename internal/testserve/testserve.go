// Package testserve runs a real hellomdm server for tests outside package server:
// server.Open with its TLS listener on a loopback port, serving until the test ends.
package testserve

import (
	"context"
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/server"
)

// Start opens a server with opts and serves it until t ends, then shuts it down and reports
// any shutdown or serve error. Empty DataDir, Addr and Hostname default to a temporary
// directory, 127.0.0.1:0 and localhost; extra is as for server.Open (server.Services for
// the whole product, nil for the bare engine and admin API).
func Start(t testing.TB, opts server.Options, extra func(*server.App) ([]server.Mount, server.PolicyHook, error)) *server.App {
	t.Helper()
	if opts.DataDir == "" {
		opts.DataDir = t.TempDir()
	}
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if opts.Hostname == "" {
		opts.Hostname = "localhost"
	}
	app, err := server.Open(context.Background(), opts, extra)
	if err != nil {
		t.Fatalf("starting server: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- app.Serve() }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := app.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return app
}
