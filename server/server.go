package server

import (
	"crypto/x509"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"time"

	"github.com/gorilla/mux"

	"github.com/hellomdm/hellomdm/enrollment"
	"github.com/hellomdm/hellomdm/internal/version"
	"github.com/hellomdm/hellomdm/server/adminapi"
	"github.com/hellomdm/hellomdm/server/console"
	"github.com/hellomdm/hellomdm/server/omadm"
	"github.com/hellomdm/hellomdm/server/push"
	"github.com/hellomdm/hellomdm/store"
)

// DeviceVerifier checks that a client certificate was issued by our CA to a device, and
// names the device (enrollment/ca.CA implements it).
type DeviceVerifier interface {
	VerifyDevice(cert *x509.Certificate, now time.Time) (deviceID string, err error)
}

// Config wires a Server.
type Config struct {
	Store store.Store
	// Devices verifies device client certificates.
	Devices DeviceVerifier
	// PublicURL is the base URL devices reach the server at; the management URL is built
	// from it.
	PublicURL *url.URL
	Engine    omadm.Config
	Policy    omadm.PolicyHook
	// TOTP enrolls authenticator apps for the admin API (the identity provider) and PinReset
	// is the PIN reset service's onboarding side; when nil their routes answer 503.
	TOTP     adminapi.TOTPEnroller
	PinReset adminapi.PinResetOnboarding
	// Mounts are extra handlers on path prefixes: enrollment at "/EnrollmentServer/", the
	// identity provider at "/idp/", the PIN reset service at "/pinreset/", the policy admin API.
	Mounts []Mount
	// ClientCertHeader, when set, names a header in which a TLS-terminating proxy passes the
	// client certificate (URL-escaped PEM, as nginx's $ssl_client_escaped_cert). It is
	// honoured only from TrustedProxies.
	ClientCertHeader string
	TrustedProxies   []netip.Prefix
	// Console serves the admin web console at /console/ when its SignIn is set.
	Console ConsoleConfig
	// Metrics collects the Prometheus metrics served at /metrics; nil makes new ones.
	Metrics *Metrics
	// Push is the hub of the built-in push channel and of wake-ups (App builds and runs
	// it); nil makes one that is not started (it delivers a device's own wake-ups only).
	Push   *push.Hub
	Logger *slog.Logger
	Now    func() time.Time
}

// ConsoleConfig wires the admin web console (server/console).
type ConsoleConfig struct {
	// SignIn signs identity provider users in (the identity provider); nil: no console.
	SignIn console.SignIn
	// Key (32 bytes) keys the sign-in form's CSRF token.
	Key []byte
	// IdleTimeout and AbsoluteTimeout end sessions (0: the console's defaults).
	IdleTimeout, AbsoluteTimeout time.Duration
}

// Mount is a handler served under a path prefix.
type Mount struct {
	Prefix  string
	Handler http.Handler
}

// Server is the hellomdm HTTPS application.
type Server struct {
	cfg     Config
	engine  *omadm.Engine
	log     *slog.Logger
	admin   *adminapi.API
	console *console.Console // nil: no console
	router  *mux.Router
	ready   readiness
	metrics *Metrics
	push    *push.Hub
}

// New builds the server.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil || cfg.Devices == nil || cfg.PublicURL == nil {
		return nil, errors.New("server: Store, Devices and PublicURL are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	ec := cfg.Engine
	if ec.ServerURL == "" {
		ec.ServerURL = cfg.PublicURL.JoinPath(ManagementPath).String()
	}
	if ec.Now == nil {
		ec.Now = cfg.Now
	}
	if ec.Logger == nil {
		ec.Logger = cfg.Logger
	}
	if ec.PinResetAvailability == nil {
		ec.PinResetAvailability = omadm.StorePinResetAvailability(cfg.Store)
	}
	pfns := newPushPFNCache(cfg.Store, cfg.Now)
	if ec.PushPFN == nil {
		ec.PushPFN = pfns.PFN
	}
	if ec.ProviderID == "" {
		ec.ProviderID = enrollment.DefaultProviderID
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(cfg.Store, cfg.Logger)
	}
	if ec.Sessions == nil {
		ec.Sessions = cfg.Metrics
	}
	if o, ok := cfg.Store.(store.Observable); ok {
		o.SetObserver(cfg.Metrics)
	}
	if cfg.Push == nil {
		cfg.Push = push.New(push.Options{Source: cfg.Store, Logger: cfg.Logger, Now: cfg.Now})
	}
	s := &Server{cfg: cfg, log: cfg.Logger, engine: omadm.NewEngine(ec, cfg.Store, cfg.Policy), metrics: cfg.Metrics, push: cfg.Push}
	admin, err := adminapi.New(adminapi.Config{Store: cfg.Store, MaxAttempts: s.engine.Config().MaxAttempts, SourceAddr: s.sourceAddr, WNSChanged: pfns.Forget,
		TOTP: cfg.TOTP, PinReset: cfg.PinReset, Metrics: cfg.Metrics.Handler(), Push: pushAdmin{cfg.Push}, Logger: cfg.Logger, Now: cfg.Now})
	if err != nil {
		return nil, err
	}
	s.admin = admin
	if cc := cfg.Console; cc.SignIn != nil {
		s.console, err = console.New(console.Config{Store: cfg.Store, API: admin.InProcess(), SignIn: cc.SignIn, Key: cc.Key,
			IdleTimeout: cc.IdleTimeout, AbsoluteTimeout: cc.AbsoluteTimeout, SourceAddr: s.sourceAddr, Logger: cfg.Logger, Now: cfg.Now})
		if err != nil {
			return nil, err
		}
	}
	s.router = s.routes()
	return s, nil
}

// ManagementPath is where devices send SyncML (the ADDR of the w7 APPLICATION CSP).
const ManagementPath = "/ManagementServer/MDM.svc"

// Router exposes the router so other packages' admin routes can be added to it.
func (s *Server) Router() *mux.Router { return s.router }

// Metrics returns the server's Prometheus metrics.
func (s *Server) Metrics() *Metrics { return s.metrics }

// Push returns the push hub.
func (s *Server) Push() *push.Hub { return s.push }

// Engine returns the session engine.
func (s *Server) Engine() *omadm.Engine { return s.engine }

func (s *Server) routes() *mux.Router {
	r := mux.NewRouter()
	r.HandleFunc("/healthz", s.healthz).Methods(http.MethodGet)
	r.HandleFunc("/readyz", s.readyz).Methods(http.MethodGet)
	r.HandleFunc(ManagementPath, s.mdm).Methods(http.MethodPost)
	r.HandleFunc(ManagementPath, methodNotAllowed)
	r.HandleFunc(PushPath, s.pushChannel).Methods(http.MethodGet)
	r.HandleFunc(PushPath, methodNotAllowed)
	s.admin.Routes(r)
	if s.console != nil {
		r.PathPrefix("/console").Handler(s.console)
	}
	for _, m := range s.cfg.Mounts {
		r.PathPrefix(m.Prefix).Handler(m.Handler)
	}
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		adminapi.WriteError(w, http.StatusNotFound, "notFound", "no such route: "+r.URL.Path)
	})
	return r
}

// ServeHTTP makes Server an http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.router.ServeHTTP(w, r) }

// healthz is the liveness probe: 200 while the process serves HTTP, whatever the store's
// state (see readyz for readiness).
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	v := version.Get()
	adminapi.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok", "store": s.cfg.Store.Backend(), "version": v.Version, "commit": v.Commit})
}

func methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	adminapi.WriteError(w, http.StatusMethodNotAllowed, "methodNotAllowed", r.Method+" is not allowed here")
}
