package adminapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
	"log/slog"
	"net/http"
	"time"

	"github.com/gorilla/mux"

	"github.com/hellomdm/hellomdm/store"
)

// Config wires the admin API.
type Config struct {
	Store store.Store
	// MaxAttempts is how many error Statuses a queued command may collect (the session
	// engine's omadm.Config.MaxAttempts).
	MaxAttempts int
	// SourceAddr names the client of a request (the proxy-aware address the server logs).
	SourceAddr func(r *http.Request) string
	// TOTP enrolls authenticator apps (the identity provider) and PinReset is the PIN reset
	// service's onboarding side; when nil their routes answer 503.
	TOTP     TOTPEnroller
	PinReset PinResetOnboarding
	// Metrics serves the Prometheus metrics at /metrics to unscoped admin tokens.
	Metrics http.Handler
	// WNSChanged is told a tenant's WNS settings changed (nil: nobody), so the session
	// engine's cache of the tenant's PFN forgets it.
	WNSChanged func(tenantID string)
	// Push wakes devices (Sync now, a queued command) and reports their push channel; nil:
	// syncDevice answers 503 and views carry no push status.
	Push   Pusher
	Logger *slog.Logger
	Now    func() time.Time
}

// API is the admin REST API under /api/v1, with its OpenAPI document and the /metrics route.
type API struct {
	cfg Config
	log *slog.Logger
}

// New builds the admin API.
func New(cfg Config) (*API, error) {
	if cfg.Store == nil || cfg.Metrics == nil {
		return nil, errors.New("adminapi: Store and Metrics are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.SourceAddr == nil {
		cfg.SourceAddr = func(r *http.Request) string { return r.RemoteAddr }
	}
	return &API{cfg: cfg, log: cfg.Logger}, nil
}

// MetricsPath is where the server serves its Prometheus metrics.
const MetricsPath = "/metrics"

// Routes adds the API's routes to r: the OpenAPI document, /metrics and everything under
// /api/v1, behind the admin token check and the Idempotency-Key middleware.
func (s *API) Routes(r *mux.Router) {
	r.HandleFunc(OpenAPIPath, s.openAPIHandler()).Methods(http.MethodGet)
	r.Handle(MetricsPath, s.adminAuth(http.HandlerFunc(s.metricsHandler))).Methods(http.MethodGet)
	api := r.PathPrefix("/api/v1").Subrouter()
	api.Use(s.adminAuth)
	api.Use(s.idempotency)
	s.apiRoutes(api)
}

// InProcess serves the routes under /api/v1 to callers inside this process (the web
// console's typed client, through a transport that calls it directly): each request acts
// for the Principal its context carries (ActingAs), with the same handlers, role, tenant
// and scope tag checks, Idempotency-Key handling and audit events as a bearer token's.
// It is never mounted on a listener.
func (s *API) InProcess() http.Handler {
	r := mux.NewRouter()
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "notFound", "no such route: "+r.URL.Path)
	})
	api := r.PathPrefix("/api/v1").Subrouter()
	api.Use(s.principalAuth)
	api.Use(s.idempotency)
	s.apiRoutes(api)
	return r
}

// apiRoutes adds the routes under /api/v1 to api.
func (s *API) apiRoutes(api *mux.Router) {
	api.HandleFunc("/tenants/{tid}/devices/{did}/commands", s.enqueueCommand).Methods(http.MethodPost)
	api.HandleFunc("/tenants/{tid}/devices/{did}/commands", s.listCommands).Methods(http.MethodGet)
	api.HandleFunc("/tenants/{tid}/devices/{did}/commands/{id}", s.getCommand).Methods(http.MethodGet)
	api.HandleFunc("/tenants/{tid}/devices/{did}/commands/{id}/resend", s.resendCommand).Methods(http.MethodPost)
	s.identityRoutes(api)
	s.auditRoutes(api)
	s.policyRoutes(api)
	s.pushRoutes(api)
}

func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }

// unavailableAs marks a store outage (store.ErrUnavailable) with target, the sentinel the
// service called (idp, pinreset) answers with "try again later".
func unavailableAs(target, err error) error {
	if err != nil && errors.Is(err, store.ErrUnavailable) && !errors.Is(err, target) {
		return fmt.Errorf("%w: %w", target, err)
	}
	return err
}

// metricsHandler serves /metrics on the HTTPS listener to an admin token of any role
// (reader suffices) that is scoped to no tenant and no scope tags: the figures cover every
// tenant.
func (s *API) metricsHandler(w http.ResponseWriter, r *http.Request) {
	p, _ := PrincipalFrom(r.Context())
	if p.TenantID != "" || len(p.ScopeTags) > 0 {
		s.refuseAdmin(w, r, &p, http.StatusForbidden, "forbidden", "metrics cover every tenant: use a token scoped to no tenant and no scope tags (role reader suffices)")
		return
	}
	s.cfg.Metrics.ServeHTTP(w, r)
}

// WriteError answers with the admin API's JSON error body; the server's own routes answer
// the same way.
func WriteError(w http.ResponseWriter, status int, code, message string) {
	WriteJSON(w, status, wire.ErrorBody{Error: wire.Error{Code: code, Message: message}})
}

// WriteJSON answers with v as JSON.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, `{"error":{"code":"internal","message":"encoding response"}}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", fmt.Sprint(len(b)+1))
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

func writeError(w http.ResponseWriter, status int, code, message string) {
	WriteError(w, status, code, message)
}

func writeJSON(w http.ResponseWriter, status int, v any) { WriteJSON(w, status, v) }
