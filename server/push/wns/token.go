package wns

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// tokenKey identifies cached tokens: the package SID and a hash of the secret, so a
// changed secret never uses a token of the old one.
type tokenKey struct {
	sid    string
	secret [sha256.Size]byte
}

// tokenEntry is one cached token; mu serialises fetching it, so concurrent sends of one
// tenant make one token request.
type tokenEntry struct {
	mu    chan struct{} // a one-slot semaphore that honours ctx
	value string
	until time.Time
}

// tokenMargin is how long before its expiry a token is no longer used.
const tokenMargin = time.Minute

// defaultTokenLifetime applies when the endpoint gives no expires_in.
const defaultTokenLifetime = time.Hour

func keyOf(cred Credentials) tokenKey {
	return tokenKey{sid: cred.PackageSID, secret: sha256.Sum256([]byte(cred.Secret))}
}

// token returns a valid cached token or fetches one.
func (c *Client) token(ctx context.Context, cred Credentials) (tokenEntry, error) {
	k := keyOf(cred)
	c.mu.Lock()
	e, ok := c.tokens[k]
	if !ok {
		e = &tokenEntry{mu: make(chan struct{}, 1)}
		c.tokens[k] = e
	}
	c.mu.Unlock()
	select {
	case e.mu <- struct{}{}:
	case <-ctx.Done():
		return tokenEntry{}, fmt.Errorf("wns: waiting for the access token: %w", ctx.Err())
	}
	defer func() { <-e.mu }()
	if e.value != "" && c.cfg.Now().Before(e.until) {
		return tokenEntry{value: e.value, until: e.until}, nil
	}
	value, lifetime, err := c.fetchToken(ctx, cred)
	if err != nil {
		return tokenEntry{}, err
	}
	e.value, e.until = value, c.cfg.Now().Add(max(lifetime-tokenMargin, 0))
	return tokenEntry{value: e.value, until: e.until}, nil
}

// dropToken forgets the cached token when it is still the one tok holds (a 401 or 403
// answered a send that used it).
func (c *Client) dropToken(cred Credentials, tok tokenEntry) {
	c.mu.Lock()
	e := c.tokens[keyOf(cred)]
	c.mu.Unlock()
	if e == nil {
		return
	}
	e.mu <- struct{}{}
	if e.value == tok.value {
		e.value, e.until = "", time.Time{}
	}
	<-e.mu
}

// fetchToken asks the token endpoint (OAuth 2.0 client credentials).
func (c *Client) fetchToken(ctx context.Context, cred Credentials) (string, time.Duration, error) {
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {cred.PackageSID},
		"client_secret": {cred.Secret}, "scope": {"notify.windows.com"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", 0, fmt.Errorf("wns: building the token request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.tokenHTTP.Do(req)
	if err != nil {
		return "", 0, &ServerError{Err: fmt.Errorf("requesting an access token: %w", err)}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return "", 0, &ServerError{Err: fmt.Errorf("reading the access token: %w", err)}
	}
	var tr struct {
		AccessToken string          `json:"access_token"`
		TokenType   string          `json:"token_type"`
		ExpiresIn   json.RawMessage `json:"expires_in"`
		Error       string          `json:"error"`
		Description string          `json:"error_description"`
	}
	switch {
	case resp.StatusCode >= 500:
		return "", 0, &ServerError{Status: resp.StatusCode, Err: fmt.Errorf("the token endpoint answered HTTP %d", resp.StatusCode)}
	case resp.StatusCode != http.StatusOK:
		_ = json.Unmarshal(body, &tr)
		return "", 0, fmt.Errorf("%w: the token endpoint answered HTTP %d %s %s", ErrUnauthorized, resp.StatusCode, tr.Error, tr.Description)
	}
	if err := json.Unmarshal(body, &tr); err != nil || tr.AccessToken == "" {
		return "", 0, &ServerError{Err: fmt.Errorf("the token endpoint's answer holds no access_token")}
	}
	if tr.TokenType != "" && !strings.EqualFold(tr.TokenType, "bearer") {
		return "", 0, &ServerError{Err: fmt.Errorf("the token endpoint gave a %q token, not bearer", tr.TokenType)}
	}
	return tr.AccessToken, expiresIn(tr.ExpiresIn), nil
}

// expiresIn reads expires_in, a number of seconds (some endpoints send it as a string);
// defaultTokenLifetime when absent or unusable.
func expiresIn(raw json.RawMessage) time.Duration {
	var n json.Number
	if err := json.Unmarshal(raw, &n); err != nil {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return defaultTokenLifetime
		}
		n = json.Number(s)
	}
	secs, err := n.Int64()
	if err != nil || secs <= 0 || secs > 30*86400 {
		return defaultTokenLifetime
	}
	return time.Duration(secs) * time.Second
}
