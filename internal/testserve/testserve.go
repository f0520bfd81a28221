// Package testserve runs a real hellomdm server for tests outside package server:
// server.Open with its TLS listener on a loopback port, serving until the test ends.
package testserve

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/server"
	"github.com/hellomdm/hellomdm/server/omadm"
)

// Start opens a server with opts and serves it until t ends, then shuts it down and reports
// any shutdown or serve error. Empty DataDir, Addr and Hostname default to a temporary
// directory, 127.0.0.1:0 and localhost; extra is as for server.Open (server.Services for
// the whole product, nil for the bare engine and admin API). Without opts.Logger, the test
// fails when a log line repeats an attribute (DupCheck).
func Start(t testing.TB, opts server.Options, extra func(*server.App) ([]server.Mount, omadm.PolicyHook, error)) *server.App {
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
	if opts.Logger == nil {
		// Every line the server logs is checked for repeated attributes; the check runs after
		// the shutdown below (cleanups run last-registered first).
		dc := NewDupCheck()
		opts.Logger = slog.New(dc)
		t.Cleanup(func() { dc.Check(t) })
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
