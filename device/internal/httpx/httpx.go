// Package httpx is the device agent's HTTP client: TLS trusting given roots and optionally
// presenting a client certificate, no redirects followed, answers read up to MaxBody bytes.
package httpx

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// User agents and headers Windows sends (captures; docs/protocol.md A.1 and B.1).
const (
	UserAgentEnroll = "ENROLLClient"
	UserAgentOMADM  = "MSFT OMA DM Client/1.2.0.1"
	AcceptOMADM     = "application/vnd.syncml.dm+xml, application/vnd.syncml.dm+wbxml, application/octet-stream"
	MaxBody         = 4 << 20
)

// Client returns a client trusting roots and, when cert is set, presenting it, with the
// given timeout per request. Redirects are not followed: the callers that follow one (the
// web sign-in) read the Location themselves.
func Client(roots *x509.CertPool, cert *tls.Certificate, timeout time.Duration) *http.Client {
	cfg := &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	return &http.Client{
		Timeout:   timeout,
		Transport: &http.Transport{TLSClientConfig: cfg, Proxy: http.ProxyFromEnvironment, MaxIdleConnsPerHost: 2},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// Response is a read HTTP response.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
	TLS    *tls.ConnectionState
}

// Do sends req and reads at most MaxBody bytes of the answer.
func Do(ctx context.Context, c *http.Client, req *http.Request) (*Response, error) {
	resp, err := c.Do(req.WithContext(ctx))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxBody+1))
	if err != nil {
		return nil, fmt.Errorf("reading response: %w", err)
	}
	if len(body) > MaxBody {
		return nil, fmt.Errorf("response larger than %d bytes", MaxBody)
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: body, TLS: resp.TLS}, nil
}

// HostOf returns the host name of an https URL (for TLS verification).
func HostOf(rawURL string) string {
	rest, _ := strings.CutPrefix(rawURL, "https://")
	host, _, _ := strings.Cut(rest, "/")
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.HasSuffix(host, "]") {
		host = host[:i]
	}
	return strings.Trim(host, "[]")
}
