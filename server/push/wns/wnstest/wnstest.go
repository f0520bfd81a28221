// Package wnstest is a WNS-compatible server on loopback for tests: the token endpoint
// (OAuth 2.0 client credentials, as login.live.com/accesstoken.srf answers it) and the
// channel endpoint (raw notifications, answered as WNS documents it), over TLS. Tests
// point wns.Config at it (TokenURL, an allowlist naming its address, RootCAs) and never
// reach the internet.
package wnstest

import (
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
)

// Notification is one raw notification the server accepted.
type Notification struct {
	Channel string // the channel's ID (the last path segment)
	Body    []byte
	Header  http.Header
}

// Server is the test WNS. Its zero value is not usable: call New.
type Server struct {
	TLS *httptest.Server
	// PackageSID and Secret are the credentials the token endpoint accepts.
	PackageSID, Secret string
	// Notified receives every accepted notification (buffered; tests that do not read it
	// lose nothing but the channel's capacity: sends never block).
	Notified chan Notification

	mu         sync.Mutex
	tokens     map[string]bool // valid access tokens
	tokenCount int
	expiresIn  int
	channels   map[string]bool // channel ID → open (false: expired, 410)
	script     []int           // statuses to answer the next notifications with, in order
	headers    map[int]http.Header
	requests   int // notification requests seen
}

// New starts a server accepting sid and secret.
func New(sid, secret string) *Server {
	s := &Server{PackageSID: sid, Secret: secret, Notified: make(chan Notification, 1024),
		tokens: map[string]bool{}, channels: map[string]bool{}, expiresIn: 86400, headers: map[int]http.Header{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /accesstoken.srf", s.token)
	mux.HandleFunc("/channel/{id}", s.notify)
	s.TLS = httptest.NewTLSServer(mux)
	return s
}

// Close stops the server.
func (s *Server) Close() { s.TLS.Close() }

// TokenURL is the token endpoint's URL.
func (s *Server) TokenURL() string { return s.TLS.URL + "/accesstoken.srf" }

// Host is the host:port to put on the channel allowlist.
func (s *Server) Host() string { return strings.TrimPrefix(s.TLS.URL, "https://") }

// RootCAs trusts the server's certificate.
func (s *Server) RootCAs() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(s.TLS.Certificate())
	return p
}

// OpenChannel registers a channel and returns its URI.
func (s *Server) OpenChannel(id string) string {
	s.mu.Lock()
	s.channels[id] = true
	s.mu.Unlock()
	return s.ChannelURI(id)
}

// ChannelURI is the URI of channel id (open or not).
func (s *Server) ChannelURI(id string) string { return s.TLS.URL + "/channel/" + id }

// ExpireChannel makes a channel answer 410.
func (s *Server) ExpireChannel(id string) {
	s.mu.Lock()
	s.channels[id] = false
	s.mu.Unlock()
}

// Script makes the next notification requests answer these statuses, in order, before
// the server answers by its own rules again.
func (s *Server) Script(statuses ...int) {
	s.mu.Lock()
	s.script = append(s.script, statuses...)
	s.mu.Unlock()
}

// ScriptHeader adds headers to scripted answers of that status.
func (s *Server) ScriptHeader(status int, h http.Header) {
	s.mu.Lock()
	s.headers[status] = h
	s.mu.Unlock()
}

// SetExpiresIn sets the expires_in of the tokens issued from now on.
func (s *Server) SetExpiresIn(secs int) {
	s.mu.Lock()
	s.expiresIn = secs
	s.mu.Unlock()
}

// RevokeTokens makes every token issued so far answer 401.
func (s *Server) RevokeTokens() {
	s.mu.Lock()
	clear(s.tokens)
	s.mu.Unlock()
}

// TokenRequests counts the access tokens issued.
func (s *Server) TokenRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokenCount
}

// Requests counts the notification requests received (answered or not).
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request"})
		return
	}
	f := r.PostForm
	switch {
	case f.Get("grant_type") != "client_credentials" || f.Get("scope") != "notify.windows.com":
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request"})
		return
	case f.Get("client_id") != s.PackageSID || f.Get("client_secret") != s.Secret:
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_client", "error_description": "Invalid client id"})
		return
	}
	s.mu.Lock()
	s.tokenCount++
	tok := fmt.Sprintf("tok-%d", s.tokenCount)
	s.tokens[tok] = true
	exp := s.expiresIn
	s.mu.Unlock()
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{"access_token": tok, "token_type": "bearer", "expires_in": exp})
}

func (s *Server) notify(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	id := r.PathValue("id")
	s.mu.Lock()
	s.requests++
	scripted := 0
	if len(s.script) > 0 {
		scripted, s.script = s.script[0], s.script[1:]
	}
	h := s.headers[scripted]
	open, known := s.channels[id]
	authorized := s.tokens[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
	s.mu.Unlock()
	status := scripted
	if status == 0 {
		status = s.judge(r, body, known, open, authorized)
	}
	for k, vs := range h {
		w.Header()[k] = vs
	}
	if status == http.StatusOK {
		w.Header().Set("X-WNS-Status", "received")
		w.Header().Set("X-WNS-Msg-ID", strconv.Itoa(len(body)))
		select {
		case s.Notified <- Notification{Channel: id, Body: body, Header: r.Header.Clone()}:
		default:
		}
	}
	w.WriteHeader(status)
}

// judge answers a notification as WNS documents it.
func (s *Server) judge(r *http.Request, body []byte, known, open, authorized bool) int {
	switch {
	case r.Method != http.MethodPost:
		return http.StatusMethodNotAllowed
	case !authorized:
		return http.StatusUnauthorized
	case r.Header.Get("X-WNS-Type") != "wns/raw" || r.Header.Get("Content-Type") != "application/octet-stream" || r.ContentLength < 0:
		return http.StatusBadRequest
	case len(body) > 5000:
		return http.StatusRequestEntityTooLarge
	case !known:
		return http.StatusNotFound
	case !open:
		return http.StatusGone
	}
	return http.StatusOK
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
