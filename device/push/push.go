// Package push is the agent's side of hellomdm's built-in push channel (the server's
// server/push, docs/push.md): it holds one long-lived HTTPS GET of the channel, presenting
// the device's MDM client certificate, reads its server-sent events and reports each wake-up.
// It reconnects after any failure with a jittered exponential back-off, and treats three
// missed heartbeats as a dead connection. It never starts a session itself: the caller (the
// Agent's Run) decides what a wake-up does.
package push

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hellomdm/hellomdm/device/internal/httpx"
)

// Defaults of Client.
const (
	DefaultMinBackoff = time.Second
	DefaultMaxBackoff = 5 * time.Minute
	// helloTimeout bounds the wait for the answer and its hello event.
	helloTimeout = 30 * time.Second
	// maxLine bounds one line of the stream.
	maxLine = 4096
)

// ChannelURL is the channel's address next to the management endpoint (ADDR): the server
// serves it at /ManagementServer/Push beside /ManagementServer/MDM.svc. tenantID, when
// known, is sent so that a server that holds the device in another tenant refuses at once.
func ChannelURL(managementURL, tenantID string) (string, error) {
	u, err := url.Parse(managementURL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return "", fmt.Errorf("push channel: management URL %q is not an https URL", managementURL)
	}
	ch := u.ResolveReference(&url.URL{Path: "Push"})
	ch.RawQuery = ""
	if tenantID != "" {
		ch.RawQuery = url.Values{"tenant": {tenantID}}.Encode()
	}
	return ch.String(), nil
}

// Client holds the channel. URL, Credentials and OnWake are required.
type Client struct {
	URL string
	// Credentials returns the current client certificate and the server's roots; it is
	// called at every connection, so a renewed certificate is used from the next one.
	Credentials func() (tls.Certificate, *x509.CertPool, error)
	// OnWake is called with the reason of each wake-up; it must not block.
	OnWake func(reason string)
	// OnConnected, when set, is told when the channel is up (true) and when it went down.
	OnConnected func(up bool)
	MinBackoff  time.Duration
	MaxBackoff  time.Duration
	Log         *slog.Logger
}

// RefusedError is the server's refusal of the channel (401, 403): the device is not (or no
// longer) the enrolled one. Run keeps trying at the longest back-off meanwhile, since a
// renewal or the next session settles it.
type RefusedError struct {
	Status  int
	Message string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("push channel refused: HTTP %d: %s", e.Status, e.Message)
}

// Run holds the channel until ctx is done, reconnecting after each failure; it returns nil.
func (c *Client) Run(ctx context.Context) error {
	minB, maxB := c.MinBackoff, c.MaxBackoff
	if minB <= 0 {
		minB = DefaultMinBackoff
	}
	if maxB < minB {
		maxB = max(DefaultMaxBackoff, minB)
	}
	log := c.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	backoff := minB
	for {
		up, err := c.once(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if up > time.Minute {
			backoff = minB // it held for a while: this is a new failure, not the same one
		}
		var refused *RefusedError
		if errors.As(err, &refused) {
			backoff = maxB
		}
		// Equal jitter: half the back-off fixed, half random, so devices that lost the same
		// server at the same moment do not all come back in the same instant.
		wait := backoff/2 + rand.N(backoff/2+1)
		log.Warn("push channel lost; reconnecting", "err", err, "in", wait.Round(time.Millisecond))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		backoff = min(2*backoff, maxB)
	}
}

// once holds one connection and returns how long it was up and why it ended.
func (c *Client) once(ctx context.Context) (time.Duration, error) {
	cert, roots, err := c.Credentials()
	if err != nil {
		return 0, err
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		Proxy: http.ProxyFromEnvironment, ResponseHeaderTimeout: helloTimeout, TLSHandshakeTimeout: helloTimeout}
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.URL, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("User-Agent", httpx.UserAgentOMADM)
	resp, err := (&http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, statusError(resp)
	}
	// The watchdog ends a connection that stays silent for three heartbeats.
	watchdog := time.AfterFunc(helloTimeout, cancel)
	defer watchdog.Stop()
	start := time.Now()
	if c.OnConnected != nil {
		c.OnConnected(true)
		defer c.OnConnected(false)
	}
	err = c.read(resp.Body, func(d time.Duration) { watchdog.Reset(d) })
	if ctx.Err() != nil && err != nil && !errors.Is(err, context.Canceled) {
		err = fmt.Errorf("no heartbeat in time: %w", err)
	}
	return time.Since(start), err
}

// read reads events until the stream ends; alive is told how long to wait for the next.
func (c *Client) read(body io.Reader, alive func(time.Duration)) error {
	br := bufio.NewReaderSize(body, maxLine)
	silence := helloTimeout
	var event string
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			return errors.New("push channel: a line longer than 4096 bytes")
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return errors.New("push channel: the server ended the stream")
			}
			return err
		}
		alive(silence)
		s := strings.TrimRight(string(line), "\r\n")
		switch {
		case strings.HasPrefix(s, "event:"):
			event = strings.TrimSpace(strings.TrimPrefix(s, "event:"))
		case strings.HasPrefix(s, "data:"):
			data := strings.TrimSpace(strings.TrimPrefix(s, "data:"))
			if d := c.handle(event, data); d > 0 {
				silence = d
			}
		case s == "":
			event = ""
		}
	}
}

// handle acts on one event; it returns the silence to allow from now on (0: unchanged).
func (c *Client) handle(event, data string) time.Duration {
	switch event {
	case "hello":
		var h struct {
			Heartbeat int `json:"heartbeat"`
		}
		if json.Unmarshal([]byte(data), &h) == nil && h.Heartbeat > 0 && h.Heartbeat <= 3600 {
			return 3 * time.Duration(h.Heartbeat) * time.Second
		}
	case "wake":
		var w struct {
			Reason string `json:"reason"`
		}
		_ = json.Unmarshal([]byte(data), &w)
		c.OnWake(w.Reason)
	}
	return 0
}

// statusError reads the server's JSON error of a refused channel.
func statusError(resp *http.Response) error {
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	var e struct {
		Error struct{ Message string } `json:"error"`
	}
	msg := strings.TrimSpace(string(raw))
	if json.Unmarshal(raw, &e) == nil && e.Error.Message != "" {
		msg = e.Error.Message
	}
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		return &RefusedError{Status: resp.StatusCode, Message: msg}
	}
	return fmt.Errorf("push channel: HTTP %d: %s", resp.StatusCode, msg)
}
