package server

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/hellomdm/hellomdm/enrollment/ca"
	"github.com/hellomdm/hellomdm/internal/version"
	"github.com/hellomdm/hellomdm/pinreset"
	"github.com/hellomdm/hellomdm/pinreset/idp"
	"github.com/hellomdm/hellomdm/server/adminapi"
	"github.com/hellomdm/hellomdm/server/omadm"
	"github.com/hellomdm/hellomdm/server/push"
	"github.com/hellomdm/hellomdm/server/push/wns"
	"github.com/hellomdm/hellomdm/store"
)

// Options configure a whole hellomdm server process (what `hellomdm serve` takes).
type Options struct {
	DataDir  string // holds the database (bbolt), the CA and the TLS certificate
	Addr     string // listen address, e.g. 127.0.0.1:8443 (":0" picks a port)
	Hostname string // host name devices use; in the TLS certificate and the URLs handed out
	// PublicURL overrides the URLs handed out when the server sits behind a proxy.
	PublicURL string
	// OpenStore opens the backend; nil means bbolt in DataDir.
	OpenStore func(ctx context.Context, dataDir string) (store.Store, error)
	// AdminToken, when set, is accepted as an admin bearer token (HELLOMDM_ADMIN_TOKEN).
	AdminToken       string
	ClientCertHeader string
	TrustedProxies   []netip.Prefix
	Engine           omadm.Config
	// WNS configures the WNS client that wakes real Windows devices (token endpoint,
	// channel allowlist; docs/protocol.md C.7).
	WNS wns.Config
	// Security are the sign-in and token limits (zero fields: the defaults).
	Security Security
	// AuditRetention is the age after which whole old audit segments are dropped (the drop
	// itself recorded); 0 keeps the log forever. AuditRetentionInterval is how often the
	// retention pass runs while serving (default DefaultAuditRetentionInterval).
	AuditRetention         time.Duration
	AuditRetentionInterval time.Duration
	// MetricsAddr, when set, is a loopback address serving /metrics over plain HTTP without
	// authentication (the HTTPS /metrics asks for an admin token).
	MetricsAddr string
	// PushHeartbeat is the period of the built-in push channel's heartbeat
	// (push.DefaultHeartbeat when 0); PushWakeRate bounds the wake-ups per second a policy
	// change sends from one replica (push.DefaultWakeRate when 0).
	PushHeartbeat time.Duration
	PushWakeRate  int
	// PushLease is how long the device views of every replica show this replica's push
	// channels after it last renewed its lease (push.DefaultLease when 0).
	PushLease time.Duration
	Logger    *slog.Logger
	// Out receives the one-time bootstrap token announcement (stdout for `serve`), kept out
	// of the log so the secret does not travel with log shipping. OutJSON writes it as one
	// JSON record shaped like the JSON log's (time, level, msg, token) instead of a text line.
	Out     io.Writer
	OutJSON bool
	Now     func() time.Time
}

// App is a running-ready server process: store, CA, TLS certificate and handler.
type App struct {
	Server    *Server
	Store     store.Store
	CA        *ca.CA
	TLSConfig *tls.Config
	PublicURL *url.URL
	// IDP and PinReset are the identity provider and the PIN reset service when Open's extra
	// function (Services) built them; the admin API reaches them through here.
	IDP      *idp.Service
	PinReset *pinreset.Service
	// Metrics are the Prometheus metrics (served at /metrics and on Options.MetricsAddr).
	Metrics *Metrics
	// WNS wakes devices through WNS (wns.go).
	WNS *WNSSender
	// Push is the push hub: the built-in channel's registry and the router of wake-ups.
	// Open sets its WNS sender (App.WNS, Push.SetWNS); Serve starts it.
	Push     *push.Hub
	log      *slog.Logger
	security Security
	listener net.Listener
	http     *http.Server
	// metricsLn serves /metrics on Options.MetricsAddr (nil: not configured).
	metricsLn *metricsListener
	// retention drops old audit segments while serving (nil: keep forever).
	retention *retentionLoop
	// consoleKey keys the web console's sign-in form (set by Services with the identity
	// provider; nil: no console).
	consoleKey []byte
	// life orders Serve's start of the background work against Shutdown (stopping is true
	// once Shutdown began): Serve starts it only before, so Shutdown stops all it started.
	life     sync.Mutex
	stopping bool
}

// File names inside the data directory.
const (
	CAFile        = "ca.pem"
	CAKeyFile     = "ca-key.pem"
	ServerFile    = "server.pem"
	ServerKeyFile = "server-key.pem"
)

// Open prepares everything: it creates the data directory, opens the store, loads or creates
// the CA (in the data directory on bbolt, in the store otherwise, so replicas share it) and
// the server certificate, makes sure an admin token exists, and binds the listener
// (so the real address is known before Serve).
func Open(ctx context.Context, o Options, extra func(*App) ([]Mount, omadm.PolicyHook, error)) (*App, error) {
	o = o.withDefaults()
	if err := os.MkdirAll(o.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("creating data directory: %w", err)
	}
	open := o.OpenStore
	if open == nil {
		open = openBolt
	}
	st, err := open(ctx, o.DataDir)
	if err != nil {
		return nil, fmt.Errorf("opening store: %w", err)
	}
	fail := func(err error) (*App, error) {
		st.Close()
		return nil, err
	}
	authority, err := loadCA(ctx, st, o.DataDir, o.Now(), o.Logger)
	if err != nil {
		return fail(err)
	}
	hosts := uniq([]string{o.Hostname, "localhost", "127.0.0.1"})
	cert, err := loadOrIssueServerCert(o.DataDir, authority, hosts, o.Now())
	if err != nil {
		return fail(err)
	}
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return fail(fmt.Errorf("listening on %s: %w", o.Addr, err))
	}
	pub, err := publicURL(o, ln.Addr())
	if err != nil {
		ln.Close()
		return fail(err)
	}
	app := &App{Store: st, CA: authority, PublicURL: pub, log: o.Logger, security: o.Security, listener: ln, Metrics: NewMetrics(st, o.Logger)}
	if app.metricsLn, err = newMetricsListener(o.MetricsAddr, app.Metrics); err != nil {
		ln.Close()
		return fail(err)
	}
	fail = func(err error) (*App, error) {
		ln.Close()
		app.metricsLn.close()
		st.Close()
		return nil, err
	}
	if err := ensureAdminToken(ctx, st, o); err != nil {
		return fail(err)
	}
	if err := app.openPush(&o); err != nil {
		return fail(err)
	}
	var mounts []Mount
	var hook omadm.PolicyHook
	if extra != nil {
		if mounts, hook, err = extra(app); err != nil {
			return fail(err)
		}
	}
	srv, err := New(Config{Store: st, Devices: authority, PublicURL: pub, Engine: o.Engine, Policy: hook, Mounts: mounts,
		TOTP: app.totpEnroller(), PinReset: app.pinResetOnboarding(), Metrics: app.Metrics, Console: app.consoleConfig(), Push: app.Push,
		ClientCertHeader: o.ClientCertHeader, TrustedProxies: o.TrustedProxies, Logger: o.Logger, Now: o.Now})
	if err != nil {
		return fail(err)
	}
	app.Server = srv
	// Not ready until Serve: the listener is bound, but requests wait in its backlog.
	srv.SetNotReady("starting")
	if app.retention, err = newRetentionLoop(st, o.AuditRetention, o.AuditRetentionInterval, o.Now, o.Logger); err != nil {
		return fail(err)
	}
	app.buildHTTPServer(cert, authority, o.Logger)
	return app, nil
}

// openPush builds the WNS sender and the push hub that wakes devices through it or the
// built-in channel; the session engine checks channel URIs devices report against the WNS
// allowlist unless o.Engine names its own check.
func (app *App) openPush(o *Options) error {
	wnsClient, err := wns.New(o.WNS)
	if err != nil {
		return err
	}
	app.WNS = NewWNSSender(app.Store, wnsClient, o.Now, o.Logger)
	if o.Engine.ChannelAllowed == nil {
		o.Engine.ChannelAllowed = app.WNS.ChannelAllowed
	}
	app.Push = newPushHub(app.Store, *o, app.Metrics)
	app.Push.SetWNS(app.WNS)
	return nil
}

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	return o
}

// buildHTTPServer makes the TLS configuration and the HTTP server that Serve runs on the
// listener.
func (a *App) buildHTTPServer(cert tls.Certificate, authority *ca.CA, log *slog.Logger) {
	a.TLSConfig = &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		// Enrollment endpoints get no client certificate; the management endpoint refuses
		// requests without one (docs/protocol.md B.1).
		ClientAuth: tls.VerifyClientCertIfGiven,
		ClientCAs:  authority.Pool(),
	}
	a.http = &http.Server{
		Handler:           a.Server,
		TLSConfig:         a.TLSConfig,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
}

// Addr is the address the server listens on.
func (a *App) Addr() net.Addr { return a.listener.Addr() }

// Serve serves HTTPS until Shutdown; it returns nil after a graceful shutdown, and at once
// when Shutdown came first.
func (a *App) Serve() error {
	a.startServing()
	// After Shutdown began this returns http.ErrServerClosed at once, closing the listener.
	err := a.http.ServeTLS(a.listener, "", "")
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// startServing starts the retention loop, the push hub and the metrics listener and marks
// the server ready, unless Shutdown has begun (then it only closes the metrics listener):
// a Shutdown running while Serve starts would otherwise stop the hub as it starts (a
// WaitGroup's Add racing its Wait), miss the retention loop, or see the server marked ready
// again after its "shutting down".
func (a *App) startServing() {
	a.life.Lock()
	defer a.life.Unlock()
	if a.stopping {
		a.metricsLn.close()
		return
	}
	v := version.Get()
	a.log.Info("serving", "addr", a.listener.Addr().String(), "url", a.PublicURL.String(), "store", a.Store.Backend(),
		"version", v.Version, "commit", v.Commit, "built", v.Date, "go", v.GoVersion)
	a.retention.start()
	a.Push.Start()
	a.Server.SetNotReady("")
	if a.metricsLn != nil {
		a.log.Info("serving metrics without authentication on loopback", "addr", a.metricsLn.addr().String(), "path", MetricsPath)
		go func() {
			if err := a.metricsLn.serve(); err != nil {
				a.log.Error("metrics listener stopped", "err", err)
			}
		}()
	}
}

// Shutdown lets in-flight requests finish, then closes the store cleanly.
func (a *App) Shutdown(ctx context.Context) error {
	a.life.Lock()
	a.stopping = true
	a.life.Unlock()
	// Requests still in flight on kept-alive connections see /readyz fail and are drained.
	a.Server.SetNotReady("shutting down")
	// Push channels never end by themselves: end them first, or Shutdown waits for them.
	a.Push.Close()
	err := a.http.Shutdown(ctx)
	if merr := a.metricsLn.shutdown(ctx); err == nil {
		err = merr
	}
	a.retention.stop()
	if cerr := a.Store.Close(); err == nil {
		err = cerr
	}
	return err
}

func publicURL(o Options, addr net.Addr) (*url.URL, error) {
	if o.PublicURL != "" {
		u, err := url.Parse(o.PublicURL)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			return nil, fmt.Errorf("--public-url %q must be an https URL", o.PublicURL)
		}
		u.Path = ""
		return u, nil
	}
	port := 443
	if ta, ok := addr.(*net.TCPAddr); ok {
		port = ta.Port
	}
	host := o.Hostname
	if port != 443 {
		host = net.JoinHostPort(host, strconv.Itoa(port))
	}
	return &url.URL{Scheme: "https", Host: host}, nil
}

func loadOrCreateCA(dir string, now time.Time) (*ca.CA, error) {
	certPath, keyPath := filepath.Join(dir, CAFile), filepath.Join(dir, CAKeyFile)
	certPEM, cerr := os.ReadFile(certPath)
	keyPEM, kerr := os.ReadFile(keyPath)
	if cerr == nil && kerr == nil {
		c, err := ca.Load(certPEM, keyPEM)
		if err != nil {
			return nil, fmt.Errorf("loading CA from %s: %w", dir, err)
		}
		return c, nil
	}
	if !errors.Is(cerr, os.ErrNotExist) || !errors.Is(kerr, os.ErrNotExist) {
		return nil, fmt.Errorf("CA files in %s are incomplete (%v, %v): restore both %s and %s", dir, cerr, kerr, CAFile, CAKeyFile)
	}
	c, err := ca.Generate(now, rand.Reader, "hellomdm device CA")
	if err != nil {
		return nil, fmt.Errorf("creating CA: %w", err)
	}
	key, err := c.KeyPEM()
	if err != nil {
		return nil, err
	}
	if err := writeFileAtomic(keyPath, key, 0o600); err != nil {
		return nil, err
	}
	if err := writeFileAtomic(certPath, c.CertPEM(), 0o644); err != nil {
		return nil, err
	}
	return c, nil
}

// loadOrIssueServerCert reuses the stored TLS certificate while it is ours, covers hosts and
// has at least 30 days left; otherwise it issues a new one.
func loadOrIssueServerCert(dir string, authority *ca.CA, hosts []string, now time.Time) (tls.Certificate, error) {
	certPath, keyPath := filepath.Join(dir, ServerFile), filepath.Join(dir, ServerKeyFile)
	if cert, err := tls.LoadX509KeyPair(certPath, keyPath); err == nil {
		if leaf, err := x509.ParseCertificate(cert.Certificate[0]); err == nil && serverCertUsable(leaf, authority, hosts, now) {
			cert.Leaf = leaf
			return cert, nil
		}
	}
	certPEM, keyPEM, err := authority.IssueServerPEM(hosts, now)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("issuing server certificate: %w", err)
	}
	if err := writeFileAtomic(keyPath, keyPEM, 0o600); err != nil {
		return tls.Certificate{}, err
	}
	if err := writeFileAtomic(certPath, certPEM, 0o644); err != nil {
		return tls.Certificate{}, err
	}
	return tls.X509KeyPair(certPEM, keyPEM)
}

func serverCertUsable(leaf *x509.Certificate, authority *ca.CA, hosts []string, now time.Time) bool {
	if now.Add(30 * 24 * time.Hour).After(leaf.NotAfter) {
		return false
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: authority.Pool(), CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		return false
	}
	for _, h := range hosts {
		if leaf.VerifyHostname(h) != nil {
			return false
		}
	}
	return true
}

// ensureAdminToken makes sure someone can administer the server: HELLOMDM_ADMIN_TOKEN is
// registered (hashed) when given; otherwise, on first start, a random token is created,
// stored hashed and printed once (by one replica when several start together).
func ensureAdminToken(ctx context.Context, st store.Store, o Options) error {
	if o.AdminToken != "" {
		h := adminapi.HashToken(o.AdminToken)
		if _, err := st.TokenByHash(ctx, h); err == nil {
			return nil
		} else if !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("looking up admin token: %w", err)
		}
		err := st.CreateToken(ctx, store.AdminToken{ID: uuid.NewString(), Hash: h, Name: "env:HELLOMDM_ADMIN_TOKEN", Role: store.RoleAdmin, CreatedAt: o.Now().UTC()})
		if errors.Is(err, store.ErrExists) {
			// Another replica sharing the store registered it at the same moment.
			if _, lerr := st.TokenByHash(ctx, h); lerr == nil {
				return nil
			}
		}
		return err
	}
	toks, err := st.ListTokens(ctx)
	if err != nil {
		return fmt.Errorf("listing admin tokens: %w", err)
	}
	now := o.Now()
	if slices.ContainsFunc(toks, func(t store.AdminToken) bool {
		return t.Role == store.RoleAdmin && t.TenantID == "" && (t.ExpiresAt.IsZero() || now.Before(t.ExpiresAt))
	}) {
		return nil
	}
	secret, err := adminapi.NewTokenSecret()
	if err != nil {
		return err
	}
	hash := adminapi.HashToken(secret)
	// Replicas starting together on one empty database claim the bootstrap through the
	// store, so that one token is made and printed, not one per replica.
	claimed, err := st.PutConfigIfAbsent(ctx, bootstrapTokenKey, []byte(hash))
	if err != nil {
		return fmt.Errorf("claiming the bootstrap token: %w", err)
	}
	if string(claimed) != hash {
		if bootstrapDone(ctx, st, string(claimed), bootstrapWait) {
			return nil // the replica that claimed it printed it
		}
		// Its token never appeared (that process stopped between claiming and storing it, or
		// the token is gone): take the claim over.
		if err := st.PutConfig(ctx, bootstrapTokenKey, []byte(hash)); err != nil {
			return fmt.Errorf("claiming the bootstrap token: %w", err)
		}
	}
	if err := st.CreateToken(ctx, store.AdminToken{ID: uuid.NewString(), Hash: hash, Name: "bootstrap", Role: store.RoleAdmin, CreatedAt: o.Now().UTC()}); err != nil {
		return fmt.Errorf("storing bootstrap token: %w", err)
	}
	announceBootstrapToken(o.Out, o.OutJSON, secret)
	return nil
}

// bootstrapTokenMsg introduces the bootstrap token, in text and JSON alike.
const bootstrapTokenMsg = "bootstrap admin token (shown once, stored hashed)"

func announceBootstrapToken(w io.Writer, asJSON bool, secret string) {
	if asJSON {
		slog.New(slog.NewJSONHandler(w, nil)).Warn(bootstrapTokenMsg, "token", secret, "env", "HELLOMDM_ADMIN_TOKEN")
		return
	}
	fmt.Fprintf(w, "%s: %s\n", bootstrapTokenMsg, secret)
}

// bootstrapTokenKey is the config key holding the hash of the bootstrap token being made.
const bootstrapTokenKey = "admin.bootstrapToken"

// bootstrapWait is how long a starting replica waits for the token another one claimed.
var bootstrapWait = 10 * time.Second

// bootstrapDone waits up to wait for the admin token with the given hash to be stored.
func bootstrapDone(ctx context.Context, st store.Store, hash string, wait time.Duration) bool {
	deadline := time.Now().Add(wait)
	for {
		if _, err := st.TokenByHash(ctx, hash); err == nil {
			return true
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

func uniq(in []string) []string {
	var out []string
	for _, s := range in {
		if s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// certPEM encodes a certificate as PEM.
func certPEM(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

// pinResetOnboarding returns the PIN reset service, or nil when none was built.
func (a *App) pinResetOnboarding() adminapi.PinResetOnboarding {
	if a.PinReset == nil {
		return nil
	}
	return a.PinReset
}

// totpEnroller returns the identity provider as a TOTPEnroller, or nil when none was built
// (a nil *idp.Service must not become a non-nil interface).
func (a *App) totpEnroller() adminapi.TOTPEnroller {
	if a.IDP == nil {
		return nil
	}
	return a.IDP
}

// consoleConfig serves the web console when Services built the identity provider it signs
// users in with.
func (a *App) consoleConfig() ConsoleConfig {
	if a.IDP == nil || a.consoleKey == nil {
		return ConsoleConfig{}
	}
	return ConsoleConfig{SignIn: a.IDP, Key: a.consoleKey, IdleTimeout: a.security.ConsoleIdleTimeout, AbsoluteTimeout: a.security.ConsoleSessionLifetime}
}
