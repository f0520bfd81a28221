package device

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// User agents and headers Windows sends (captures; docs/protocol.md A.1 and B.1).
const (
	userAgentEnroll = "ENROLLClient"
	userAgentOMADM  = "MSFT OMA DM Client/1.2.0.1"
	acceptOMADM     = "application/vnd.syncml.dm+xml, application/vnd.syncml.dm+wbxml, application/octet-stream"
	maxHTTPBody     = 4 << 20
)

// httpClient returns a client trusting roots and, when cert is set, presenting it.
// Redirects are not followed except by the web sign-in, which sets its own policy.
func (a *Agent) httpClient(roots *x509.CertPool, cert *tls.Certificate) *http.Client {
	cfg := &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	return &http.Client{
		Timeout:   a.opts.HTTPTimeout,
		Transport: &http.Transport{TLSClientConfig: cfg, Proxy: http.ProxyFromEnvironment, MaxIdleConnsPerHost: 2},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// response is a read HTTP response.
type response struct {
	Status int
	Header http.Header
	Body   []byte
	TLS    *tls.ConnectionState
}

// do sends req and reads at most maxHTTPBody bytes of the answer.
func do(ctx context.Context, c *http.Client, req *http.Request) (*response, error) {
	resp, err := c.Do(req.WithContext(ctx))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxHTTPBody+1))
	if err != nil {
		return nil, fmt.Errorf("reading response: %w", err)
	}
	if len(body) > maxHTTPBody {
		return nil, fmt.Errorf("response larger than %d bytes", maxHTTPBody)
	}
	return &response{Status: resp.StatusCode, Header: resp.Header, Body: body, TLS: resp.TLS}, nil
}

// correlationVector is the MS-CV header value: a random base and an extension that grows by
// one with each request (Microsoft Correlation Vector v1: 16 base64 characters, '.', int).
type correlationVector struct {
	mu   sync.Mutex
	base string
	n    int
}

func newCorrelationVector(rnd io.Reader) (*correlationVector, error) {
	var b [12]byte
	if _, err := io.ReadFull(rnd, b[:]); err != nil {
		return nil, fmt.Errorf("making correlation vector: %w", err)
	}
	return &correlationVector{base: base64.StdEncoding.EncodeToString(b[:])}, nil
}

// next returns the value for the next request: base.1, base.2, …
func (cv *correlationVector) next() string {
	cv.mu.Lock()
	defer cv.mu.Unlock()
	cv.n++
	return cv.base + "." + strconv.Itoa(cv.n)
}

// hostOf returns the host name of an https URL (for TLS verification).
func hostOf(rawURL string) string {
	rest, _ := strings.CutPrefix(rawURL, "https://")
	host, _, _ := strings.Cut(rest, "/")
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.HasSuffix(host, "]") {
		host = host[:i]
	}
	return strings.Trim(host, "[]")
}
