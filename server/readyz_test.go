package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/internal/testpg"
	"github.com/hellomdm/hellomdm/store"
)

// probeStore is a store whose reads can be made to hang until their context ends.
type probeStore struct {
	store.Store
	hang atomic.Bool
}

func (p *probeStore) GetConfig(ctx context.Context, key string) ([]byte, error) {
	if p.hang.Load() {
		<-ctx.Done()
		return nil, fmt.Errorf("getting config %s: %w", key, ctx.Err())
	}
	return p.Store.GetConfig(ctx, key)
}

// probe GETs path and returns the status and the JSON body.
func (ts *testServer) probe(path string) (int, readyBody) {
	ts.t.Helper()
	resp, err := ts.admin.Get(ts.base + path)
	if err != nil {
		ts.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	var b readyBody
	if err := json.NewDecoder(resp.Body).Decode(&b); err != nil {
		ts.t.Fatalf("GET %s: decoding: %v", path, err)
	}
	if resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") == "" {
		ts.t.Errorf("GET %s: 503 without Retry-After", path)
	}
	return resp.StatusCode, b
}

// startProbed starts a server on the test's backend (bbolt, or PostgreSQL through a relay
// the test can stop) behind a probeStore.
func startProbed(t *testing.T) (*testServer, *probeStore, *testpg.Proxy) {
	t.Helper()
	dir := t.TempDir()
	ts := &testServer{t: t, dir: dir}
	ps := &probeStore{}
	var proxy *testpg.Proxy
	open := openBolt
	if testpg.Postgres(t) {
		pg := testpg.NewStore(t)
		proxy, pg.DSN = testpg.NewProxy(t, pg.DSN)
		ts.pg, open = pg, pg.Open
	}
	ts.opts = Options{DataDir: dir, Addr: "127.0.0.1:0", Hostname: "localhost", AdminToken: testToken,
		OpenStore: func(ctx context.Context, dir string) (store.Store, error) {
			st, err := open(ctx, dir)
			ps.Store = st
			return ps, err
		}}
	ts.start()
	t.Cleanup(ts.stop)
	return ts, ps, proxy
}

// /readyz answers 200 while the store answers a read and 503 with the reason (JSON) while it
// does not, and comes back by itself; /healthz says ok throughout (liveness).
func TestReadyz(t *testing.T) {
	ts, ps, proxy := startProbed(t)
	if code, b := ts.probe("/readyz"); code != http.StatusOK || b.Status != "ready" || b.Store != ts.app.Store.Backend() {
		t.Fatalf("readyz of a serving server: %d %+v", code, b)
	}

	// A store read that hangs: not ready, within the probe's own timeout.
	ps.hang.Store(true)
	start := time.Now()
	code, b := ts.probe("/readyz")
	if code != http.StatusServiceUnavailable || b.Status != "notReady" || !strings.Contains(b.Reason, "did not answer") {
		t.Fatalf("readyz with a hanging store: %d %+v", code, b)
	}
	if d := time.Since(start); d > ReadyTimeout+2*time.Second {
		t.Fatalf("readyz took %v with a hanging store", d)
	}
	if code, _ := ts.probe("/healthz"); code != http.StatusOK {
		t.Fatalf("healthz with a hanging store: %d, want 200 (liveness)", code)
	}
	ps.hang.Store(false)
	if code, b := ts.probe("/readyz"); code != http.StatusOK {
		t.Fatalf("readyz after the store answers again: %d %+v", code, b)
	}

	if proxy != nil {
		// PostgreSQL: the database server goes away (connections cut, new ones refused).
		proxy.Stop()
		code, b := ts.probe("/readyz")
		if code != http.StatusServiceUnavailable || b.Reason != "the store is unavailable" {
			t.Fatalf("readyz with the database server gone: %d %+v", code, b)
		}
		if strings.Contains(b.Reason, "127.0.0.1") {
			t.Fatalf("readyz reason %q names the database host", b.Reason)
		}
		if code, _ := ts.probe("/healthz"); code != http.StatusOK {
			t.Fatalf("healthz with the database server gone: %d, want 200 (liveness)", code)
		}
		proxy.Start()
		deadline := time.Now().Add(10 * time.Second)
		for {
			code, b := ts.probe("/readyz")
			if code == http.StatusOK {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("readyz after the database server came back: %d %+v", code, b)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	// The store closed under the server (bbolt: the file closed; PostgreSQL: the pool closed).
	if err := ps.Store.Close(); err != nil {
		t.Fatal(err)
	}
	if code, b := ts.probe("/readyz"); code != http.StatusServiceUnavailable || b.Reason != "the store is unavailable" {
		t.Fatalf("readyz with the store closed: %d %+v", code, b)
	}
	if code, _ := ts.probe("/healthz"); code != http.StatusOK {
		t.Fatalf("healthz with the store closed: %d, want 200 (liveness)", code)
	}
}

// A server is not ready before Serve (the store is open and migrated, but nothing is served
// yet) nor once Shutdown has begun.
func TestReadyzLifecycle(t *testing.T) {
	open, _ := testBackend(t)
	app, err := Open(context.Background(), Options{DataDir: t.TempDir(), Addr: "127.0.0.1:0", Hostname: "localhost", AdminToken: testToken, OpenStore: open}, nil)
	if err != nil {
		t.Fatal(err)
	}
	get := func() (int, readyBody) {
		rec := httptest.NewRecorder()
		app.Server.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
		var b readyBody
		if err := json.Unmarshal(rec.Body.Bytes(), &b); err != nil {
			t.Fatal(err)
		}
		return rec.Code, b
	}
	if code, b := get(); code != http.StatusServiceUnavailable || b.Reason != "starting" {
		t.Fatalf("readyz before Serve: %d %+v", code, b)
	}
	done := make(chan error, 1)
	go func() { done <- app.Serve() }()
	deadline := time.Now().Add(5 * time.Second)
	for code, _ := get(); code != http.StatusOK; code, _ = get() {
		if time.Now().After(deadline) {
			t.Fatal("readyz never became ready after Serve")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := app.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if code, b := get(); code != http.StatusServiceUnavailable || b.Reason != "shutting down" {
		t.Fatalf("readyz after Shutdown: %d %+v", code, b)
	}
}

// Shutdown may come while Serve is still starting (a test's server stopped at once, a
// replica signalled as it starts): Serve then starts nothing Shutdown has already stopped,
// and returns nil; the server reads "shutting down" afterwards, never ready again. Run with
// -race: the push hub's start and close, and the retention loop's, raced here before.
func TestShutdownWhileServeStarts(t *testing.T) {
	open, _ := testBackend(t)
	for i := range 10 {
		app, err := Open(context.Background(), Options{DataDir: t.TempDir(), Addr: "127.0.0.1:0", MetricsAddr: "127.0.0.1:0",
			Hostname: "localhost", AdminToken: testToken, OpenStore: open}, nil)
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		start := make(chan struct{})
		go func() { <-start; done <- app.Serve() }()
		close(start)
		if i%2 == 1 {
			runtime.Gosched() // let Serve get further on some rounds
		}
		if err := app.Shutdown(context.Background()); err != nil {
			t.Fatalf("round %d: shutdown: %v", i, err)
		}
		if err := <-done; err != nil {
			t.Fatalf("round %d: serve: %v", i, err)
		}
		rec := httptest.NewRecorder()
		app.Server.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
		var b readyBody
		if err := json.Unmarshal(rec.Body.Bytes(), &b); err != nil || rec.Code != http.StatusServiceUnavailable || b.Reason != "shutting down" {
			t.Errorf("round %d: readyz after Shutdown: %d %+v %v", i, rec.Code, b, err)
		}
	}
}
