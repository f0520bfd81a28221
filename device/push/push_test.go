package push

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestChannelURL(t *testing.T) {
	for _, tc := range []struct{ mgmt, tenant, want string }{
		{"https://mdm.contoso.com/ManagementServer/MDM.svc", "", "https://mdm.contoso.com/ManagementServer/Push"},
		{"https://127.0.0.1:8443/ManagementServer/MDM.svc?mode=x", "t1", "https://127.0.0.1:8443/ManagementServer/Push?tenant=t1"},
		{"https://lb.example/prefix/ManagementServer/MDM.svc", "", "https://lb.example/prefix/ManagementServer/Push"},
	} {
		got, err := ChannelURL(tc.mgmt, tc.tenant)
		if err != nil || got != tc.want {
			t.Errorf("ChannelURL(%q) = %q, %v; want %q", tc.mgmt, got, err, tc.want)
		}
	}
	for _, bad := range []string{"http://mdm/ManagementServer/MDM.svc", "", "::"} {
		if _, err := ChannelURL(bad, ""); err == nil {
			t.Errorf("ChannelURL(%q) accepted", bad)
		}
	}
}

// A server that ends the stream after each wake-up: the client reports every wake-up and
// reconnects each time.
func TestRunReconnectsAndReportsWakes(t *testing.T) {
	var conns atomic.Int32
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := conns.Add(1)
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "event: hello\ndata: {\"heartbeat\":25}\n\n: comment\n\n")
		fmt.Fprintf(w, "event: wake\ndata: {\"reason\":\"policy-%d\"}\n\n", n)
	}))
	defer srv.Close()
	var mu sync.Mutex
	var wakes []string
	got3 := make(chan struct{})
	c := &Client{URL: srv.URL, Credentials: creds(srv), MinBackoff: 10 * time.Millisecond, MaxBackoff: 20 * time.Millisecond,
		OnWake: func(r string) {
			mu.Lock()
			defer mu.Unlock()
			wakes = append(wakes, r)
			if len(wakes) == 3 {
				close(got3)
			}
		}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- c.Run(ctx) }()
	select {
	case <-got3:
	case <-time.After(10 * time.Second):
		t.Fatal("three wake-ups did not arrive")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(wakes[:3], ",") != "policy-1,policy-2,policy-3" {
		t.Fatalf("wakes %v", wakes)
	}
}

// A refusal is reported as a RefusedError with the server's message.
func TestRefused(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, `{"error":{"code":"refused","message":"device is retired"}}`)
	}))
	defer srv.Close()
	c := &Client{URL: srv.URL, Credentials: creds(srv), OnWake: func(string) {}}
	_, err := c.once(context.Background())
	var re *RefusedError
	if !errors.As(err, &re) || re.Status != http.StatusForbidden || re.Message != "device is retired" {
		t.Fatalf("err %v", err)
	}
}

func TestReadRefusesLongLines(t *testing.T) {
	c := &Client{OnWake: func(string) {}}
	err := c.read(strings.NewReader("data: "+strings.Repeat("x", 5000)+"\n"), func(time.Duration) {})
	if err == nil || !strings.Contains(err.Error(), "longer than") {
		t.Fatalf("err %v", err)
	}
}

func creds(srv *httptest.Server) func() (tls.Certificate, *x509.CertPool, error) {
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	return func() (tls.Certificate, *x509.CertPool, error) { return tls.Certificate{}, pool, nil }
}

// FuzzRead: whatever the server sends, reading ends with an error (the stream ended) and
// never panics; every wake-up reported came from a wake event.
func FuzzRead(f *testing.F) {
	f.Add("event: hello\ndata: {\"heartbeat\":25}\n\nevent: wake\ndata: {\"reason\":\"sync\"}\n\n")
	f.Add("event: wake\ndata: not json\n\n")
	f.Add("data: {}\r\n\r\n")
	f.Fuzz(func(t *testing.T, s string) {
		n := 0
		c := &Client{OnWake: func(string) { n++ }}
		if err := c.read(strings.NewReader(s), func(time.Duration) {}); err == nil {
			t.Fatal("read ended without an error")
		}
		if n > strings.Count(s, "wake") {
			t.Fatalf("%d wake-ups from %d wake events", n, strings.Count(s, "wake"))
		}
	})
}
