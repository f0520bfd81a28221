package idp

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"html/template"
	"io"
	"math"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hellomdm/hellomdm/internal/route"
)

// FederationHostHeader is the header through which the simulated device proves its web
// sign-in navigated to a federated tenant's identity provider (see doc.go).
const FederationHostHeader = "X-Hellomdm-Federation-Host"

const (
	maxFormBody  = 16 << 10
	maxJSONBody  = 8 << 10
	maxAppruLen  = 2048
	maxHintLen   = 256
	jsonMimeType = "application/json"
)

// Handler serves the identity provider's HTTP endpoints; the server mounts it at /idp/:
//
//	GET  /idp/enroll?appru=..&login_hint=..  sign-in form (MS-MDE2 AuthenticationServiceUrl)
//	POST /idp/enroll                         credentials → auto-POST of wresult to appru
//	POST /idp/token                          JSON sign-in for programmatic clients
//	GET  /idp/signin-info?upn=..             which host the device's web sign-in must open
func (s *Service) Handler() http.Handler {
	r := route.NewRouter()
	r.HandleFunc("/idp/enroll", s.enrollForm).Methods(route.GET...)
	r.HandleFunc("/idp/enroll", s.enrollSubmit).Methods(http.MethodPost)
	r.HandleFunc("/idp/token", s.tokenJSON).Methods(http.MethodPost)
	r.HandleFunc("/idp/signin-info", s.signInInfo).Methods(route.GET...)
	return r
}

// validateAppru accepts only the schemes MS-MDE2 web auth uses (ms-app for the Web
// Authentication Broker, http/https; docs/protocol.md A.5 step 3) so the postback can never
// become a javascript: or data: URL.
func validateAppru(raw string) error {
	if raw == "" || len(raw) > maxAppruLen {
		return errors.New("appru is missing or too long")
	}
	for i := 0; i < len(raw); i++ {
		if raw[i] < 0x21 || raw[i] == 0x7f {
			return errors.New("appru contains control characters or spaces")
		}
	}
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("appru is not a URL")
	}
	switch strings.ToLower(u.Scheme) {
	case "https", "http":
		if u.Host == "" {
			return errors.New("appru has no host")
		}
	case "ms-app":
		if u.Host == "" && u.Opaque == "" {
			return errors.New("appru names no app")
		}
	default:
		return errors.New("appru scheme must be ms-app, http or https")
	}
	return nil
}

// appruAllowed decides where the sign-in page may post an enrollment token (the wresult
// that enrolls a device as the user). MS-MDE2 3.1.4.1.3 (Federated) has Windows open
// AuthenticationServiceUrl with appru set to the Web Authentication Broker's ms-app://
// callback, which the broker intercepts instead of navigating; any other target would hand
// the token to whatever site is named. So an ms-app: appru is accepted, and anything else
// only when it is one of the ReturnURIs an admin configured for the tenant of upn (exact
// match). It returns the tenant, if any, for auditing.
func (s *Service) appruAllowed(ctx context.Context, appru, upn string) (tenantID string, ok bool, err error) {
	u, _ := url.Parse(appru) // validateAppru accepted it
	_, domain, valid := normalizeUPN(upn)
	var tenant Tenant
	if valid {
		tenant, err = s.users.TenantForDomain(ctx, domain)
		switch {
		case errors.Is(err, ErrNotFound):
			err = nil
		case err != nil:
			return "", false, err
		}
	}
	if u != nil && strings.EqualFold(u.Scheme, "ms-app") {
		return tenant.ID, true, nil
	}
	for _, allowed := range tenant.ReturnURIs {
		if allowed == appru {
			return tenant.ID, true, nil
		}
	}
	return tenant.ID, false, nil
}

// checkAppru answers for a refused appru (a page that says why, 400, and an audit event)
// and reports whether the request may go on.
func (s *Service) checkAppru(w http.ResponseWriter, r *http.Request, appru, upn string) bool {
	tid, ok, err := s.appruAllowed(r.Context(), appru, upn)
	if err != nil {
		s.log.ErrorContext(r.Context(), "looking up tenant for the return address", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return false
	}
	if ok {
		return true
	}
	s.log.WarnContext(r.Context(), "sign-in page refused for its return address", "appru", appru, "tenant", tid)
	if s.cfg.OnReturnRefused != nil {
		s.cfg.OnReturnRefused(r.Context(), tid, upn, appru)
	}
	s.writePage(w, http.StatusBadRequest, refusedTmpl, refusedPage{Appru: appru}, "")
	return false
}

func setPageHeaders(w http.ResponseWriter, scriptNonce string) {
	h := w.Header()
	csp := "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'"
	if scriptNonce != "" {
		csp += "; script-src 'nonce-" + scriptNonce + "'"
	}
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Type", "text/html; charset=utf-8")
}

func (s *Service) writePage(w http.ResponseWriter, status int, t *template.Template, data any, scriptNonce string) {
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		s.log.Error("rendering page", "template", t.Name(), "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	setPageHeaders(w, scriptNonce)
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func (s *Service) renderSignIn(w http.ResponseWriter, status int, appru, hint, msg string, askOTP bool) {
	nonce, err := newFormNonce(s.cfg.FormKey, s.cfg.Rand, s.cfg.Now().Add(s.cfg.FormTTL), appru)
	if err != nil {
		s.log.Error("rendering sign-in form", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	s.writePage(w, status, signInTmpl, signInPage{Appru: appru, LoginHint: hint, Nonce: nonce, Error: msg, AskOTP: askOTP}, "")
}

// enrollForm is the AuthenticationServiceUrl target (docs/protocol.md A.5 step 1).
func (s *Service) enrollForm(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	appru := q.Get("appru")
	if err := validateAppru(appru); err != nil {
		http.Error(w, "bad request: "+err.Error(), http.StatusBadRequest)
		return
	}
	hint := strings.TrimSpace(q.Get("login_hint"))
	if len(hint) > maxHintLen {
		hint = ""
	}
	if !s.checkAppru(w, r, appru, hint) {
		return
	}
	if _, domain, ok := normalizeUPN(hint); ok {
		tenant, err := s.users.TenantForDomain(r.Context(), domain)
		switch {
		case err == nil && tenant.Federated && tenant.FederationHost != "":
			// Federated tenants authenticate at their own IdP; hand it the original query.
			u := url.URL{Scheme: "https", Host: tenant.FederationHost, Path: s.cfg.FederationPath, RawQuery: q.Encode()}
			w.Header().Set("Cache-Control", "no-store")
			http.Redirect(w, r, u.String(), http.StatusFound)
			return
		case errors.Is(err, ErrUnavailable):
			s.log.WarnContext(r.Context(), "looking up tenant for sign-in form: store unavailable", "err", err)
			w.Header().Set("Retry-After", retryAfter(UnavailableRetryAfter))
			http.Error(w, "Sign-in is not available right now. Try again in a minute.", http.StatusServiceUnavailable)
			return
		case err != nil && !errors.Is(err, ErrNotFound):
			s.log.ErrorContext(r.Context(), "looking up tenant for sign-in form", "err", err)
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
	}
	s.renderSignIn(w, http.StatusOK, appru, hint, "", false)
}

// enrollSubmit checks credentials and answers the wresult postback (docs/protocol.md A.5 step 2).
func (s *Service) enrollSubmit(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBody)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad request: unreadable form", http.StatusBadRequest)
		return
	}
	f := r.PostForm
	appru, upn := f.Get("appru"), strings.TrimSpace(f.Get("upn"))
	if err := validateAppru(appru); err != nil {
		http.Error(w, "bad request: "+err.Error(), http.StatusBadRequest)
		return
	}
	if len(upn) > maxHintLen {
		upn = ""
	}
	// Checked again for the user name actually submitted: the form's hint can differ.
	if !s.checkAppru(w, r, appru, upn) {
		return
	}
	if err := checkFormNonce(s.cfg.FormKey, f.Get("nonce"), s.cfg.Now(), appru); err != nil {
		s.renderSignIn(w, http.StatusBadRequest, appru, upn, "This sign-in page expired. Please sign in again.", false)
		return
	}
	tok, _, err := s.SignIn(r.Context(), upn, f.Get("password"), f.Get("otp"), AudienceEnrollment)
	if err != nil {
		status, msg, askOTP := s.formError(r.Context(), w, err)
		s.renderSignIn(w, status, appru, upn, msg, askOTP)
		return
	}
	var sn [16]byte
	if _, err := io.ReadFull(s.cfg.Rand, sn[:]); err != nil {
		s.log.ErrorContext(r.Context(), "making script nonce", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	scriptNonce := hex.EncodeToString(sn[:])
	// appru passed validateAppru, so marking it as a URL only lets ms-app: through.
	s.writePage(w, http.StatusOK, postBackTmpl, postBackPage{Appru: template.URL(appru), Token: tok, ScriptNonce: scriptNonce}, scriptNonce)
}

// formError maps a sign-in error to a status and a message for the form.
func (s *Service) formError(ctx context.Context, w http.ResponseWriter, err error) (int, string, bool) {
	var rl *RateLimitError
	switch {
	case errors.As(err, &rl):
		w.Header().Set("Retry-After", retryAfter(rl.RetryAfter))
		return http.StatusTooManyRequests, "Too many failed attempts. Try again later.", false
	case errors.Is(err, ErrInvalidCredentials):
		return http.StatusUnauthorized, "The user name or password is incorrect.", false
	case errors.Is(err, ErrTOTPRequired):
		return http.StatusUnauthorized, "Enter the 6-digit code from your authenticator app.", true
	case errors.Is(err, ErrTOTPInvalid):
		return http.StatusUnauthorized, "The authenticator code is incorrect.", true
	case errors.Is(err, ErrTOTPReplayed):
		return http.StatusUnauthorized, "That code was already used. Wait for the next one.", true
	case errors.Is(err, ErrFederated):
		return http.StatusForbidden, "Your organisation signs in with its own identity provider.", false
	case errors.Is(err, ErrUnavailable):
		s.log.WarnContext(ctx, "sign-in failed: store unavailable", "err", err)
		w.Header().Set("Retry-After", retryAfter(UnavailableRetryAfter))
		return http.StatusServiceUnavailable, "Sign-in is not available right now. Try again in a minute.", false
	default:
		s.log.ErrorContext(ctx, "sign-in failed", "err", err)
		return http.StatusInternalServerError, "Sign-in is not available right now.", false
	}
}

func retryAfter(d time.Duration) string {
	return strconv.Itoa(int(math.Ceil(d.Seconds())))
}

type tokenRequest struct {
	UPN      string `json:"upn"`
	Password string `json:"password"`
	OTP      string `json:"otp"`
	Audience string `json:"audience"`
}

type tokenResponse struct {
	Token     string `json:"token"`
	TokenType string `json:"token_type"`
	ExpiresIn int64  `json:"expires_in"`
}

type apiError struct {
	Error apiErrorBody `json:"error"`
}

type apiErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	b = append(b, '\n')
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func writeJSONError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, apiError{Error: apiErrorBody{Code: code, Message: msg}})
}

// tokenJSON is the programmatic sign-in (see doc.go for the federated simulation contract).
func (s *Service) tokenJSON(w http.ResponseWriter, r *http.Request) {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != jsonMimeType {
		writeJSONError(w, http.StatusUnsupportedMediaType, "invalid_request", "Content-Type must be application/json")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxJSONBody)
	d := json.NewDecoder(r.Body)
	d.DisallowUnknownFields()
	var req tokenRequest
	if err := d.Decode(&req); err != nil {
		writeJSONError(w, http.StatusBadRequest, "invalid_request", "body must be one JSON object with upn, password, otp, audience")
		return
	}
	if _, err := d.Token(); err != io.EOF {
		writeJSONError(w, http.StatusBadRequest, "invalid_request", "trailing data after JSON object")
		return
	}
	if req.Audience == AudienceConsole { // the console signs in in-process; its token is never handed out
		writeJSONError(w, http.StatusBadRequest, "invalid_request", "audience must be "+AudienceEnrollment+" or "+AudiencePINReset)
		return
	}
	via := strings.TrimSpace(r.Header.Get(FederationHostHeader))
	tok, claims, err := s.SignInFederated(r.Context(), via, req.UPN, req.Password, req.OTP, req.Audience)
	if err != nil {
		status, code, msg := s.apiErrorFor(r.Context(), w, err)
		writeJSONError(w, status, code, msg)
		return
	}
	writeJSON(w, http.StatusOK, tokenResponse{
		Token:     tok,
		TokenType: "Bearer",
		ExpiresIn: int64(claims.ExpiresAt.Sub(s.cfg.Now()).Seconds()),
	})
}

func (s *Service) apiErrorFor(ctx context.Context, w http.ResponseWriter, err error) (int, string, string) {
	var rl *RateLimitError
	switch {
	case errors.As(err, &rl):
		w.Header().Set("Retry-After", retryAfter(rl.RetryAfter))
		return http.StatusTooManyRequests, "rate_limited", "too many failed sign-ins; retry later"
	case errors.Is(err, ErrUnknownAudience):
		return http.StatusBadRequest, "invalid_request", "audience must be " + AudienceEnrollment + " or " + AudiencePINReset
	case errors.Is(err, ErrInvalidCredentials):
		return http.StatusUnauthorized, "invalid_credentials", "user name or password is incorrect"
	case errors.Is(err, ErrTOTPRequired):
		return http.StatusUnauthorized, "otp_required", "a one-time code is required"
	case errors.Is(err, ErrTOTPInvalid):
		return http.StatusUnauthorized, "otp_invalid", "the one-time code is incorrect"
	case errors.Is(err, ErrTOTPReplayed):
		return http.StatusUnauthorized, "otp_replayed", "the one-time code was already used"
	case errors.Is(err, ErrFederated):
		return http.StatusUnauthorized, "federated", "the tenant is federated; sign in through its identity provider"
	case errors.Is(err, ErrUnavailable):
		s.log.WarnContext(ctx, "token sign-in failed: store unavailable", "err", err)
		w.Header().Set("Retry-After", retryAfter(UnavailableRetryAfter))
		return http.StatusServiceUnavailable, "unavailable", "sign-in is not available right now; try again later"
	default:
		s.log.ErrorContext(ctx, "token sign-in failed", "err", err)
		return http.StatusInternalServerError, "internal_error", "sign-in is not available right now"
	}
}

type signInInfo struct {
	TenantID   string `json:"tenantId"`
	Federated  bool   `json:"federated"`
	SignInHost string `json:"signInHost"`
	// GovCloud: the tenant is in Azure Government. Its users' web sign-in also opens the
	// government sign-in host (GovSignInHost), which Entra joined devices must allow in
	// ConfigureWebSignInAllowedUrls (Learn "PIN reset"), and the PIN reset service is not
	// offered there.
	GovCloud bool `json:"govCloud,omitempty"`
}

// signInInfo tells the device which host its web sign-in must open for a UPN (the host it
// must find in ConfigureWebSignInAllowedUrls, docs/protocol.md C.2 and D.4).
func (s *Service) signInInfo(w http.ResponseWriter, r *http.Request) {
	_, domain, ok := normalizeUPN(r.URL.Query().Get("upn"))
	if !ok {
		writeJSONError(w, http.StatusBadRequest, "invalid_request", "upn must be user@domain")
		return
	}
	tenant, err := s.users.TenantForDomain(r.Context(), domain)
	switch {
	case errors.Is(err, ErrNotFound):
		writeJSONError(w, http.StatusNotFound, "unknown_domain", "no tenant owns this domain")
		return
	case errors.Is(err, ErrUnavailable):
		s.log.WarnContext(r.Context(), "looking up tenant for sign-in info: store unavailable", "err", err)
		w.Header().Set("Retry-After", retryAfter(UnavailableRetryAfter))
		writeJSONError(w, http.StatusServiceUnavailable, "unavailable", "lookup failed; try again later")
		return
	case err != nil:
		s.log.ErrorContext(r.Context(), "looking up tenant for sign-in info", "err", err)
		writeJSONError(w, http.StatusInternalServerError, "internal_error", "lookup failed")
		return
	}
	host := s.cfg.ServerHost
	if host == "" {
		host = r.Host
	}
	if tenant.Federated {
		host = tenant.FederationHost
	}
	writeJSON(w, http.StatusOK, signInInfo{TenantID: tenant.ID, Federated: tenant.Federated, SignInHost: host, GovCloud: tenant.GovCloud})
}
