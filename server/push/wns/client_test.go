package wns_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/server/push/wns"
	"github.com/hellomdm/hellomdm/server/push/wns/wnstest"
)

const (
	sid    = "ms-app://s-1-15-2-1234-5678"
	secret = "Vex8L9WOFZuj95euaLrvSH7XyoDhLJc7"
)

// harness is a client against a test WNS with an injected clock and sleeper.
type harness struct {
	srv    *wnstest.Server
	client *wns.Client
	cred   wns.Credentials

	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

func newHarness(t *testing.T, tweak ...func(*wns.Config)) *harness {
	t.Helper()
	h := &harness{srv: wnstest.New(sid, secret), cred: wns.Credentials{PackageSID: sid, Secret: secret},
		now: time.Date(2026, 12, 6, 18, 0, 0, 0, time.UTC)}
	t.Cleanup(h.srv.Close)
	allow, err := wns.ParseAllowlist([]string{h.srv.Host()})
	if err != nil {
		t.Fatal(err)
	}
	cfg := wns.Config{TokenURL: h.srv.TokenURL(), Allowlist: &allow, RootCAs: h.srv.RootCAs(),
		Now:  h.clock,
		Rand: func() float64 { return 0.5 },
		Sleep: func(ctx context.Context, d time.Duration) error {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.sleeps = append(h.sleeps, d)
			h.now = h.now.Add(d)
			return ctx.Err()
		}}
	for _, f := range tweak {
		f(&cfg)
	}
	h.client, err = wns.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func (h *harness) clock() time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.now
}

func (h *harness) advance(d time.Duration) {
	h.mu.Lock()
	h.now = h.now.Add(d)
	h.mu.Unlock()
}

func (h *harness) slept() []time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]time.Duration(nil), h.sleeps...)
}

func TestSendDeliversRawNotificationWithDocumentedHeaders(t *testing.T) {
	h := newHarness(t)
	uri := h.srv.OpenChannel("dev1")
	for range 2 {
		if err := h.client.Send(t.Context(), h.cred, uri); err != nil {
			t.Fatalf("Send: %v", err)
		}
	}
	n := <-h.srv.Notified
	for k, want := range map[string]string{"X-WNS-Type": "wns/raw", "Content-Type": "application/octet-stream",
		"Authorization": "Bearer tok-1", "X-WNS-Cache-Policy": "cache"} {
		if got := n.Header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if n.Channel != "dev1" || string(n.Body) != string(wns.Payload) {
		t.Errorf("notification %q body %q", n.Channel, n.Body)
	}
	if got := h.srv.TokenRequests(); got != 1 {
		t.Errorf("token requests = %d, want 1 (the token is cached)", got)
	}
	if len(h.slept()) != 0 {
		t.Errorf("slept %v on success", h.slept())
	}
}

// Every documented WNS answer to a notification, and what Send makes of it.
func TestSendAnswers(t *testing.T) {
	var throttled *wns.ThrottledError
	var server *wns.ServerError
	for _, tc := range []struct {
		name     string
		script   []int
		expire   bool
		want     func(error) bool
		requests int
	}{
		{"200", nil, false, func(err error) bool { return err == nil }, 1},
		{"400", []int{400}, false, func(err error) bool { return errors.Is(err, wns.ErrBadRequest) }, 1},
		{"404", []int{404}, false, func(err error) bool { return errors.Is(err, wns.ErrChannelGone) }, 1},
		{"410 expired channel", nil, true, func(err error) bool { return errors.Is(err, wns.ErrChannelGone) }, 1},
		{"406", []int{406}, false, func(err error) bool { return errors.As(err, &throttled) && !throttled.Cached }, 1},
		{"413", []int{413}, false, func(err error) bool { return errors.Is(err, wns.ErrTooLarge) }, 1},
		{"500 then 200", []int{500}, false, func(err error) bool { return err == nil }, 2},
		{"503 twice then 200", []int{503, 503}, false, func(err error) bool { return err == nil }, 3},
		{"500 every time", []int{500, 500, 500, 500}, false, func(err error) bool { return errors.As(err, &server) && server.Status == 500 }, 4},
		{"405 undocumented for POST", []int{405}, false, func(err error) bool {
			var u *wns.UnexpectedError
			return errors.As(err, &u) && u.Status == 405
		}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			uri := h.srv.OpenChannel("dev1")
			if tc.expire {
				h.srv.ExpireChannel("dev1")
			}
			h.srv.Script(tc.script...)
			err := h.client.Send(t.Context(), h.cred, uri)
			if !tc.want(err) {
				t.Fatalf("Send = %v (%T)", err, err)
			}
			if got := h.srv.Requests(); got != tc.requests {
				t.Errorf("requests = %d, want %d", got, tc.requests)
			}
			if got := len(h.slept()); got != tc.requests-1 {
				t.Errorf("slept %d times (%v), want %d", got, h.slept(), tc.requests-1)
			}
		})
	}
}

// 401 and 403: the token is dropped, a new one fetched, and the notification sent once more.
func TestSendRefreshesTokenOnce(t *testing.T) {
	for _, status := range []int{401, 403} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			h := newHarness(t)
			uri := h.srv.OpenChannel("dev1")
			if err := h.client.Send(t.Context(), h.cred, uri); err != nil {
				t.Fatal(err)
			}
			h.srv.Script(status)
			if err := h.client.Send(t.Context(), h.cred, uri); err != nil {
				t.Fatalf("after one %d: %v", status, err)
			}
			if got := h.srv.TokenRequests(); got != 2 {
				t.Errorf("token requests = %d, want 2", got)
			}
			h.srv.Script(status, status)
			err := h.client.Send(t.Context(), h.cred, uri)
			if !errors.Is(err, wns.ErrUnauthorized) {
				t.Fatalf("after two %ds: %v, want ErrUnauthorized", status, err)
			}
			if got := h.srv.TokenRequests(); got != 3 {
				t.Errorf("token requests = %d, want 3 (one refresh per send)", got)
			}
			if got := h.srv.Requests(); got != 5 {
				t.Errorf("requests = %d, want 5 (1 + 2 + 2)", got)
			}
		})
	}
}

func TestSendRevokedTokenIsReplaced(t *testing.T) {
	h := newHarness(t)
	uri := h.srv.OpenChannel("dev1")
	if err := h.client.Send(t.Context(), h.cred, uri); err != nil {
		t.Fatal(err)
	}
	h.srv.RevokeTokens()
	if err := h.client.Send(t.Context(), h.cred, uri); err != nil {
		t.Fatalf("after revocation: %v", err)
	}
	if n := (<-h.srv.Notified); n.Header.Get("Authorization") != "Bearer tok-1" {
		t.Errorf("first notification used %q", n.Header.Get("Authorization"))
	}
	if n := (<-h.srv.Notified); n.Header.Get("Authorization") != "Bearer tok-2" {
		t.Errorf("second notification used %q", n.Header.Get("Authorization"))
	}
}

func TestTokenCachedUntilNearExpiry(t *testing.T) {
	h := newHarness(t)
	h.srv.SetExpiresIn(300)
	uri := h.srv.OpenChannel("dev1")
	send := func() {
		t.Helper()
		if err := h.client.Send(t.Context(), h.cred, uri); err != nil {
			t.Fatal(err)
		}
	}
	send()
	h.advance(3 * time.Minute) // 2 min left: still used
	send()
	if got := h.srv.TokenRequests(); got != 1 {
		t.Fatalf("token requests = %d, want 1", got)
	}
	h.advance(61 * time.Second) // under a minute left: replaced
	send()
	if got := h.srv.TokenRequests(); got != 2 {
		t.Fatalf("token requests = %d, want 2", got)
	}
	// Another secret never uses the first secret's token.
	other := wns.Credentials{PackageSID: sid, Secret: "wrong"}
	if err := h.client.Send(t.Context(), other, uri); !errors.Is(err, wns.ErrUnauthorized) {
		t.Fatalf("wrong secret: %v, want ErrUnauthorized from the token endpoint", err)
	}
	if got := h.srv.Requests(); got != 3 {
		t.Errorf("requests = %d, want 3: a refused token sends nothing", got)
	}
}

func TestSendWithoutCredentials(t *testing.T) {
	h := newHarness(t)
	if err := h.client.Send(t.Context(), wns.Credentials{}, h.srv.OpenChannel("d")); !errors.Is(err, wns.ErrNoCredentials) {
		t.Fatalf("Send = %v", err)
	}
	if h.srv.Requests()+h.srv.TokenRequests() != 0 {
		t.Error("something was sent")
	}
}

// Backoff: doubling from BaseBackoff, jitter drawing from [d/2, d), capped at MaxBackoff,
// raised by Retry-After.
func TestRetryBackoff(t *testing.T) {
	h := newHarness(t, func(c *wns.Config) {
		c.Attempts = 6
		c.BaseBackoff = time.Second
		c.MaxBackoff = 5 * time.Second
	})
	uri := h.srv.OpenChannel("dev1")
	h.srv.Script(500, 502, 503, 504, 500, 500)
	var se *wns.ServerError
	if err := h.client.Send(t.Context(), h.cred, uri); !errors.As(err, &se) {
		t.Fatalf("Send = %v", err)
	}
	// Rand is 0.5: each wait is 3/4 of its step: 1s, 2s, 4s, then the 5s cap.
	want := []time.Duration{750 * time.Millisecond, 1500 * time.Millisecond, 3 * time.Second, 3750 * time.Millisecond, 3750 * time.Millisecond}
	if got := h.slept(); !equalDurations(got, want) {
		t.Errorf("waits %v, want %v", got, want)
	}

	h2 := newHarness(t, func(c *wns.Config) { c.BaseBackoff = time.Second; c.MaxBackoff = 30 * time.Second })
	h2.srv.ScriptHeader(503, http.Header{"Retry-After": {"7"}})
	h2.srv.Script(503)
	if err := h2.client.Send(t.Context(), h2.cred, h2.srv.OpenChannel("d")); err != nil {
		t.Fatal(err)
	}
	if got := h2.slept(); !equalDurations(got, []time.Duration{7 * time.Second}) {
		t.Errorf("waits %v, want Retry-After's 7s", got)
	}
}

func TestRetryStopsWhenContextEnds(t *testing.T) {
	h := newHarness(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	h.srv.Script(503)
	err := h.client.Send(ctx, h.cred, h.srv.OpenChannel("d"))
	if err == nil || !errors.Is(err, context.Canceled) {
		t.Fatalf("Send = %v, want the context's end", err)
	}
}

// 406: the sender backs off; sends with those credentials fail fast until the back-off
// (the larger of X-WNS-CONTINUE-AFTER and the doubling back-off) has passed.
func TestThrottleBacksOff(t *testing.T) {
	h := newHarness(t, func(c *wns.Config) { c.ThrottleBackoff = time.Minute; c.MaxThrottleBackoff = 10 * time.Minute })
	uri := h.srv.OpenChannel("dev1")
	h.srv.Script(406)
	var th *wns.ThrottledError
	if err := h.client.Send(t.Context(), h.cred, uri); !errors.As(err, &th) || th.RetryAfter != time.Minute {
		t.Fatalf("Send = %v, want throttled for 1m", err)
	}
	if err := h.client.Send(t.Context(), h.cred, uri); !errors.As(err, &th) || !th.Cached {
		t.Fatalf("during back-off: %v, want a cached ThrottledError", err)
	}
	if got := h.srv.Requests(); got != 1 {
		t.Fatalf("requests = %d: the back-off sent something", got)
	}
	h.advance(time.Minute)
	h.srv.ScriptHeader(406, http.Header{"X-Wns-Continue-After": {"300"}, "X-Wns-Status": {"channelthrottled"}})
	h.srv.Script(406)
	if err := h.client.Send(t.Context(), h.cred, uri); !errors.As(err, &th) || th.RetryAfter != 5*time.Minute || th.Status != "channelthrottled" {
		t.Fatalf("second 406 = %+v, want 5m from X-WNS-CONTINUE-AFTER", th)
	}
	h.advance(5 * time.Minute)
	if err := h.client.Send(t.Context(), h.cred, uri); err != nil {
		t.Fatalf("after the back-off: %v", err)
	}
	h.srv.ScriptHeader(406, nil)
	h.srv.Script(406) // the count restarted after the 200
	if err := h.client.Send(t.Context(), h.cred, uri); !errors.As(err, &th) || th.RetryAfter != time.Minute {
		t.Fatalf("406 after a 200 = %v, want 1m again", err)
	}
}

// A channel that redirects is not followed: the redirect target is never called.
func TestRedirectNotFollowed(t *testing.T) {
	h := newHarness(t)
	target := h.srv.OpenChannel("elsewhere")
	redirector := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target, http.StatusTemporaryRedirect)
	}))
	redirector.TLS = h.srv.TLS.TLS.Clone()
	redirector.StartTLS()
	defer redirector.Close()
	allow, err := wns.ParseAllowlist([]string{h.srv.Host(), strings.TrimPrefix(redirector.URL, "https://")})
	if err != nil {
		t.Fatal(err)
	}
	c, err := wns.New(wns.Config{TokenURL: h.srv.TokenURL(), Allowlist: &allow, RootCAs: h.srv.RootCAs(),
		Sleep: func(context.Context, time.Duration) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	var u *wns.UnexpectedError
	if err := c.Send(t.Context(), h.cred, redirector.URL+"/channel/x"); !errors.As(err, &u) || u.Status != 307 {
		t.Fatalf("Send = %v, want an unexpected 307", err)
	}
	if got := h.srv.Requests(); got != 0 {
		t.Errorf("the redirect target got %d requests", got)
	}
}

// A host name on the allowlist that resolves to loopback is not dialled: only an entry
// naming the address itself lets the client reach a non-public address.
func TestDialRefusesNonPublicAddressOfAName(t *testing.T) {
	h := newHarness(t)
	port := h.srv.Host()[strings.LastIndex(h.srv.Host(), ":"):]
	allow, err := wns.ParseAllowlist([]string{"localhost" + port})
	if err != nil {
		t.Fatal(err)
	}
	c, err := wns.New(wns.Config{TokenURL: h.srv.TokenURL(), Allowlist: &allow, RootCAs: h.srv.RootCAs(),
		Sleep: func(context.Context, time.Duration) error { return nil }, Attempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	err = c.Send(t.Context(), h.cred, "https://localhost"+port+"/channel/x")
	if err == nil || !strings.Contains(err.Error(), "not a public address") {
		t.Fatalf("Send = %v, want the dialer's refusal", err)
	}
	if h.srv.Requests() != 0 || h.srv.TokenRequests() != 1 {
		t.Errorf("%d notifications reached loopback (token requests %d, want 1: the token endpoint is the operator's)", h.srv.Requests(), h.srv.TokenRequests())
	}
}

func equalDurations(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
