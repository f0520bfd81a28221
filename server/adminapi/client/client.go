// Package adminclient is a typed client of hellomdm's admin REST API (/api/v1): one method
// per route, the request and answer shapes the server's handlers take and produce, the
// server's JSON error as an *Error, a bearer token, a CA file for the server's own CA,
// Idempotency-Key on every POST (sent again, with the same key, when the connection fails
// before an answer arrives; Config.NoIdempotencyKeys turns this off) and a timeout.
//
// It depends on no package of the server: the request and answer types are those of package
// wire (server/adminapi/wire), the one definition the server's handlers use too.
package adminclient

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/hellomdm/hellomdm/server/adminapi/wire"
)

// APIPath is the prefix of every admin API route.
const APIPath = "/api/v1"

// Config says how to reach a server.
type Config struct {
	// Server is the server's base URL, e.g. https://127.0.0.1:8443 (APIPath is added).
	Server string
	// Token is the admin bearer token; "" sends none.
	Token string
	// RootCAs are the CAs trusted for the server's certificate; nil trusts the system's.
	// LoadCAFile reads the server's DATA/ca.pem into a pool.
	RootCAs *x509.CertPool
	// Timeout bounds each request, answer body included (default 5 minutes).
	Timeout time.Duration
	// PostAttempts is how many times a POST is sent when its connection fails before an
	// answer arrives, with the same Idempotency-Key (default 3; 1 never retries).
	PostAttempts int
	// RetryPause is the wait between those attempts (default 1 second).
	RetryPause time.Duration
	// HTTPClient, when set, is used as it is (RootCAs and Timeout are then ignored).
	HTTPClient *http.Client
	// NoIdempotencyKeys sends every POST once and without an Idempotency-Key, so that the
	// server keeps no idempotency record of it (PostAttempts is then ignored: a POST whose
	// connection fails is not sent again). Only the load tool (internal/loadgen) sets it:
	// the cost and the records of the keys would otherwise be part of what it measures.
	NoIdempotencyKeys bool
}

// Client talks to one server's admin API. Its methods are safe for concurrent use.
type Client struct {
	base     string // server URL + APIPath
	token    string
	http     *http.Client
	attempts int
	pause    time.Duration
	noKeys   bool
}

// New returns a client for cfg.
func New(cfg Config) *Client {
	hc := cfg.HTTPClient
	if hc == nil {
		timeout := cfg.Timeout
		if timeout <= 0 {
			timeout = 5 * time.Minute
		}
		tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: cfg.RootCAs}
		hc = &http.Client{Timeout: timeout, Transport: &http.Transport{TLSClientConfig: tlsCfg}}
	}
	attempts := cfg.PostAttempts
	if attempts <= 0 {
		attempts = 3
	}
	pause := cfg.RetryPause
	if pause <= 0 {
		pause = time.Second
	}
	return &Client{base: strings.TrimRight(cfg.Server, "/") + APIPath, token: cfg.Token, http: hc, attempts: attempts, pause: pause,
		noKeys: cfg.NoIdempotencyKeys}
}

// ErrNoCertificate is LoadCAFile's error for a file that holds no PEM certificate.
var ErrNoCertificate = errors.New("no PEM certificate")

// LoadCAFile reads a PEM file of CA certificates (the server's DATA/ca.pem) into a pool. A
// file that cannot be read returns the os error; one without a certificate ErrNoCertificate.
func LoadCAFile(path string) (*x509.CertPool, error) {
	pemBytes, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemBytes) {
		return nil, fmt.Errorf("%s: %w", path, ErrNoCertificate)
	}
	return pool, nil
}

// Error is the server's refusal: its HTTP status and the JSON error it sent
// ({"error":{"code":...,"message":...}}). An answer without that shape has Code "httpError"
// and its body, trimmed, as Message.
type Error struct {
	Status  int
	Code    string
	Message string
	// Target is the part of the request at fault (an invalid profile's setting: its
	// settingDefinitionId, displayName or OMA-URI); "" when the answer names none.
	Target string
	// Suggestion is the server's "did you mean" for Target (a catalog LocURI), if any.
	Suggestion string
	// Body is the answer as received (at most 1 MiB): some refusals carry more, e.g. the
	// enrolled device count of a tenant deletion refused with 409.
	Body []byte
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s (HTTP %d)", e.Code, e.Message, e.Status) }

// IsStatus reports whether err is an *Error with the given HTTP status.
func IsStatus(err error, status int) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == status
}

// request is one call: method, path under APIPath (escaped), a JSON body or raw bytes.
type request struct {
	method      string
	path        string
	query       url.Values
	json        any    // marshalled as the body when non-nil
	raw         []byte // sent as it is when json is nil
	contentType string // of raw
	noRetry     bool   // a POST sent once, without Idempotency-Key
}

// send performs r and returns the answer of a 2xx status (the caller closes its body); any
// other status is an *Error.
func (c *Client) send(ctx context.Context, r request) (*http.Response, error) {
	body, ctype := r.raw, r.contentType
	if r.json != nil {
		b, err := json.Marshal(r.json)
		if err != nil {
			return nil, err
		}
		body, ctype = b, "application/json"
	}
	target := c.base + r.path
	if len(r.query) > 0 {
		target += "?" + r.query.Encode()
	}
	key, attempts := "", 1
	if r.method == http.MethodPost && !r.noRetry && !c.noKeys {
		key, attempts = uuid.NewString(), c.attempts
	}
	var (
		resp *http.Response
		err  error
	)
	for i := 0; i < attempts; i++ {
		if i > 0 {
			select {
			case <-time.After(c.pause):
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		if resp, err = c.once(ctx, r.method, target, body, ctype, key); err == nil {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 300 {
		defer resp.Body.Close()
		return nil, decodeError(resp)
	}
	return resp, nil
}

func (c *Client) once(ctx context.Context, method, target string, body []byte, ctype, key string) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return nil, err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	return c.http.Do(req)
}

func decodeError(resp *http.Response) error {
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var e wire.ErrorBody
	if json.Unmarshal(raw, &e) != nil || e.Error.Code == "" {
		e.Error.Code, e.Error.Message = "httpError", strings.TrimSpace(string(raw))
	}
	return &Error{Status: resp.StatusCode, Code: e.Error.Code, Message: e.Error.Message,
		Target: e.Error.Target, Suggestion: e.Error.Suggestion, Body: raw}
}

// do performs r and decodes a JSON answer into out (when non-nil and the answer has a body).
func (c *Client) do(ctx context.Context, r request, out any) error {
	resp, err := c.send(ctx, r)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil || resp.StatusCode == http.StatusNoContent {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("decoding the server's answer: %w", err)
	}
	return nil
}

// get is do for a GET of path.
func (c *Client) get(ctx context.Context, path string, query url.Values, out any) error {
	return c.do(ctx, request{method: http.MethodGet, path: path, query: query}, out)
}

// list GETs a {"value": [...]} answer and returns the list.
func list[T any](ctx context.Context, c *Client, path string, query url.Values) ([]T, error) {
	var out struct {
		Value []T `json:"value"`
	}
	if err := c.get(ctx, path, query, &out); err != nil {
		return nil, err
	}
	return out.Value, nil
}

// Download is a streamed answer (an export, a backup): the caller reads and closes Body.
type Download struct {
	Body io.ReadCloser
	// Length is the announced length in bytes, -1 when unknown.
	Length int64
	// ContentType is the answer's media type.
	ContentType string
}

func (c *Client) download(ctx context.Context, path string, query url.Values) (*Download, error) {
	resp, err := c.send(ctx, request{method: http.MethodGet, path: path, query: query})
	if err != nil {
		return nil, err
	}
	return &Download{Body: resp.Body, Length: resp.ContentLength, ContentType: resp.Header.Get("Content-Type")}, nil
}

// tenantPath is /tenants/{tid}/segments..., each segment escaped.
func tenantPath(tid string, segments ...string) string {
	p := "/tenants/" + url.PathEscape(tid)
	for _, s := range segments {
		p += "/" + url.PathEscape(s)
	}
	return p
}
