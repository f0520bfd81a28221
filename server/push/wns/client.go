package wns

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// DefaultTokenURL is WNS's access token endpoint.
const DefaultTokenURL = "https://login.live.com/accesstoken.srf"

// MaxPayload is the largest notification body WNS accepts (413 above it).
const MaxPayload = 5000

// Payload is the body of every wake-up: Windows' DMClient starts a session on any raw
// notification for its PFN and reads nothing from the body (MS-MDM 3.1.4, Learn
// "Push notification support for device management"), but WNS wants a Content-Length.
var Payload = []byte("hellomdm:sync")

// Config tunes a Client. Zero values take the defaults.
type Config struct {
	// TokenURL is the OAuth 2.0 token endpoint. Default DefaultTokenURL.
	TokenURL string
	// Allowlist decides which channel URIs are called. Default: DefaultAllowedHost.
	Allowlist *Allowlist
	// Timeout bounds each HTTP exchange (token or notification). Default 10 s.
	Timeout time.Duration
	// RootCAs are the certificate authorities trusted for WNS (nil: the system's); tests
	// trust their loopback server's through it. The transport is always a clone of
	// http.DefaultTransport, without proxy, whose dialer refuses addresses the allowlist
	// does not allow (Allowlist.dialAllowed).
	RootCAs *x509.CertPool
	// Attempts is how many times a notification is sent when WNS answers 5xx or the
	// exchange fails. Default 4.
	Attempts int
	// BaseBackoff is the wait before the first retry; it doubles with each retry up to
	// MaxBackoff, and the wait slept is drawn between half of it and all of it (jitter).
	// Defaults 500 ms and 30 s.
	BaseBackoff, MaxBackoff time.Duration
	// ThrottleBackoff is the first back-off after a 406 when WNS names none; it doubles
	// with each consecutive 406 up to MaxThrottleBackoff. Defaults 1 min and 1 h.
	ThrottleBackoff, MaxThrottleBackoff time.Duration
	// Sleep waits d or until ctx ends (tests record the waits). Default: a timer.
	Sleep func(ctx context.Context, d time.Duration) error
	// Rand returns a number in [0, 1) for the jitter. Default math/rand/v2.
	Rand func() float64
	Now  func() time.Time
}

func (c Config) withDefaults() (Config, error) {
	if c.TokenURL == "" {
		c.TokenURL = DefaultTokenURL
	}
	if c.Allowlist == nil {
		a, err := ParseAllowlist(nil)
		if err != nil {
			return c, err
		}
		c.Allowlist = &a
	}
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
	if c.Attempts <= 0 {
		c.Attempts = 4
	}
	if c.BaseBackoff <= 0 {
		c.BaseBackoff = 500 * time.Millisecond
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = 30 * time.Second
	}
	if c.ThrottleBackoff <= 0 {
		c.ThrottleBackoff = time.Minute
	}
	if c.MaxThrottleBackoff <= 0 {
		c.MaxThrottleBackoff = time.Hour
	}
	if c.Sleep == nil {
		c.Sleep = sleep
	}
	if c.Rand == nil {
		c.Rand = rand.Float64
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// guardedTransport is http.DefaultTransport whose dialer connects only to addresses the
// allowlist permits (after DNS resolution), with no proxy: a channel URI is called
// directly or not at all.
func guardedTransport(a *Allowlist, roots *x509.CertPool) *http.Transport {
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second,
		Control: func(network, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("wns: dialing %s: %w", address, err)
			}
			if !a.dialAllowed(ap.Addr()) {
				return fmt.Errorf("wns: %s is not a public address and no allowlist entry names it", ap.Addr())
			}
			return nil
		}}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil
	t.DialContext = d.DialContext
	t.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	return t
}

// Credentials are a tenant's WNS application credentials.
type Credentials struct {
	PackageSID string // ms-app://S-1-15-2-...
	Secret     string
}

// Client sends wake-ups through WNS. It is safe for concurrent use.
type Client struct {
	cfg Config
	// http calls channel URIs (guarded dialer); tokenHTTP calls the configured token
	// endpoint, which the operator chose and devices cannot influence.
	http, tokenHTTP *http.Client

	mu        sync.Mutex
	tokens    map[tokenKey]*tokenEntry
	throttles map[string]throttle // by package SID
}

// throttle is the back-off after a 406.
type throttle struct {
	until time.Time
	n     int // consecutive 406s
}

// New builds a client.
func New(cfg Config) (*Client, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	noRedirect := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	hc := &http.Client{Transport: guardedTransport(cfg.Allowlist, cfg.RootCAs), Timeout: cfg.Timeout, CheckRedirect: noRedirect}
	tt := http.DefaultTransport.(*http.Transport).Clone()
	tt.TLSClientConfig = &tls.Config{RootCAs: cfg.RootCAs, MinVersion: tls.VersionTLS12}
	tc := &http.Client{Transport: tt, Timeout: cfg.Timeout, CheckRedirect: noRedirect}
	return &Client{cfg: cfg, http: hc, tokenHTTP: tc, tokens: map[tokenKey]*tokenEntry{}, throttles: map[string]throttle{}}, nil
}

// Allowlist is the client's channel allowlist.
func (c *Client) Allowlist() Allowlist { return *c.cfg.Allowlist }

// Send wakes the device behind channelURI: it validates the URI, gets a token and posts
// the raw notification, answering as the package documentation lists. nil means WNS
// accepted the notification (200), which does not mean the device got it.
func (c *Client) Send(ctx context.Context, cred Credentials, channelURI string) error {
	u, err := c.cfg.Allowlist.ValidateChannelURI(channelURI)
	if err != nil {
		return err
	}
	if cred.PackageSID == "" || cred.Secret == "" {
		return ErrNoCredentials
	}
	if err := c.throttled(cred.PackageSID); err != nil {
		return err
	}
	refreshed := false
	for attempt := 0; ; attempt++ {
		tok, err := c.token(ctx, cred)
		if err != nil {
			var se *ServerError
			if !errors.As(err, &se) || attempt+1 >= c.cfg.Attempts {
				return err
			}
			if err := c.cfg.Sleep(ctx, c.backoff(attempt, response{})); err != nil {
				return fmt.Errorf("wns: waiting to retry: %w (last: %w)", err, se)
			}
			continue
		}
		res, err := c.post(ctx, u.String(), tok.value)
		if err == nil && (res.status == http.StatusUnauthorized || res.status == http.StatusForbidden) && !refreshed {
			c.dropToken(cred, tok)
			refreshed = true
			attempt--
			continue
		}
		retry, outcome := c.classify(cred, res, err)
		if !retry || attempt+1 >= c.cfg.Attempts {
			return outcome
		}
		if err := c.cfg.Sleep(ctx, c.backoff(attempt, res)); err != nil {
			return fmt.Errorf("wns: waiting to retry: %w (last: %w)", err, outcome)
		}
	}
}

// response is what Send needs of a WNS answer.
type response struct {
	status        int
	wnsStatus     string // X-WNS-Status
	errorDesc     string // X-WNS-Error-Description
	msgID         string // X-WNS-Msg-ID
	continueAfter time.Duration
	retryAfter    time.Duration
}

// post sends the notification once.
func (c *Client) post(ctx context.Context, uri, token string) (response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, uri, bytes.NewReader(Payload))
	if err != nil {
		return response{}, fmt.Errorf("wns: building the notification: %w", err)
	}
	req.ContentLength = int64(len(Payload))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("X-WNS-Type", "wns/raw")
	req.Header.Set("X-WNS-Cache-Policy", "cache")
	resp, err := c.http.Do(req)
	if err != nil {
		return response{}, fmt.Errorf("wns: sending the notification: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return response{status: resp.StatusCode, wnsStatus: resp.Header.Get("X-WNS-Status"),
		errorDesc: resp.Header.Get("X-WNS-Error-Description"), msgID: resp.Header.Get("X-WNS-Msg-ID"),
		continueAfter: seconds(resp.Header.Get("X-WNS-CONTINUE-AFTER")), retryAfter: seconds(resp.Header.Get("Retry-After"))}, nil
}

// seconds reads a header of whole seconds; 0 when absent or malformed.
func seconds(v string) time.Duration {
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 || n > 86400 {
		return 0
	}
	return time.Duration(n) * time.Second
}

// classify turns one exchange into Send's answer, and whether it is worth sending again.
func (c *Client) classify(cred Credentials, res response, err error) (retry bool, outcome error) {
	if err != nil {
		return true, &ServerError{Err: err}
	}
	detail := func(e error) error {
		if res.errorDesc == "" && res.msgID == "" {
			return e
		}
		return fmt.Errorf("%w (X-WNS-Error-Description %q, X-WNS-Msg-ID %q)", e, res.errorDesc, res.msgID)
	}
	switch s := res.status; {
	case s == http.StatusOK:
		c.clearThrottle(cred.PackageSID)
		return false, nil
	case s == http.StatusBadRequest:
		return false, detail(ErrBadRequest)
	case s == http.StatusUnauthorized || s == http.StatusForbidden:
		return false, detail(fmt.Errorf("%w: HTTP %d after a fresh token", ErrUnauthorized, s))
	case s == http.StatusNotFound || s == http.StatusGone:
		return false, detail(fmt.Errorf("%w: HTTP %d", ErrChannelGone, s))
	case s == http.StatusNotAcceptable:
		return false, c.throttle(cred.PackageSID, res)
	case s == http.StatusRequestEntityTooLarge:
		return false, detail(ErrTooLarge)
	case s >= 500:
		return true, detail(&ServerError{Status: s})
	}
	return false, detail(&UnexpectedError{Status: res.status})
}

// backoff is the wait before retry number attempt+1: BaseBackoff doubled per attempt,
// capped, with jitter drawing it from [d/2, d); a Retry-After from WNS raises it (capped
// too).
func (c *Client) backoff(attempt int, res response) time.Duration {
	d := c.cfg.BaseBackoff << min(attempt, 30)
	if d <= 0 || d > c.cfg.MaxBackoff {
		d = c.cfg.MaxBackoff
	}
	d = d/2 + time.Duration(c.cfg.Rand()*float64(d/2))
	if res.retryAfter > d {
		d = min(res.retryAfter, c.cfg.MaxBackoff)
	}
	return d
}

// throttle records a 406 and returns its error.
func (c *Client) throttle(sid string, res response) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.throttles[sid]
	d := c.cfg.ThrottleBackoff << min(t.n, 30)
	if d <= 0 || d > c.cfg.MaxThrottleBackoff {
		d = c.cfg.MaxThrottleBackoff
	}
	d = max(d, res.continueAfter)
	t.n++
	t.until = c.cfg.Now().Add(d)
	c.throttles[sid] = t
	return &ThrottledError{RetryAfter: d, Status: res.wnsStatus}
}

// throttled returns the ThrottledError while a 406's back-off runs.
func (c *Client) throttled(sid string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.throttles[sid]
	if !ok {
		return nil
	}
	if left := t.until.Sub(c.cfg.Now()); left > 0 {
		return &ThrottledError{RetryAfter: left, Cached: true}
	}
	return nil
}

func (c *Client) clearThrottle(sid string) {
	c.mu.Lock()
	delete(c.throttles, sid)
	c.mu.Unlock()
}

// Errors Send returns; test them with errors.Is and errors.As.
var (
	// ErrNoCredentials: the tenant has no package SID or secret configured.
	ErrNoCredentials = errors.New("wns: no package SID and secret configured")
	// ErrBadRequest: WNS answered 400 (a header is wrong).
	ErrBadRequest = errors.New("wns: 400 bad request")
	// ErrUnauthorized: WNS refused the token twice (401 or 403), or the token endpoint
	// refused the credentials.
	ErrUnauthorized = errors.New("wns: not authorized")
	// ErrChannelGone: WNS answered 404 or 410; the channel must not be used again.
	ErrChannelGone = errors.New("wns: channel gone")
	// ErrTooLarge: WNS answered 413.
	ErrTooLarge = errors.New("wns: 413 notification too large")
)

// ThrottledError is a 406, or a send refused without asking WNS while its back-off runs.
type ThrottledError struct {
	RetryAfter time.Duration
	Status     string // X-WNS-Status (channelthrottled), when WNS gave one
	Cached     bool   // not sent: an earlier 406's back-off runs
}

func (e *ThrottledError) Error() string {
	if e.Cached {
		return fmt.Sprintf("wns: throttled (406 earlier); not sent, retry in %s", e.RetryAfter)
	}
	return fmt.Sprintf("wns: 406 throttled; retry in %s", e.RetryAfter)
}

// ServerError is a 5xx, or an exchange that failed, after every attempt.
type ServerError struct {
	Status int   // 0 when no answer arrived
	Err    error // the transport error, when no answer arrived
}

func (e *ServerError) Error() string {
	if e.Status == 0 {
		return fmt.Sprintf("wns: no answer: %v", e.Err)
	}
	return fmt.Sprintf("wns: HTTP %d", e.Status)
}

func (e *ServerError) Unwrap() error { return e.Err }

// UnexpectedError is an answer WNS does not document (a redirect among them: none is
// followed).
type UnexpectedError struct{ Status int }

func (e *UnexpectedError) Error() string {
	return fmt.Sprintf("wns: unexpected HTTP %d", e.Status)
}
