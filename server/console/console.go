package console

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/hellomdm/hellomdm/pinreset/idp"
	"github.com/hellomdm/hellomdm/store"
)

// Prefix is where the console is served.
const Prefix = "/console/"

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// SignIn signs identity provider users in (idp.Service implements it).
type SignIn interface {
	SignIn(ctx context.Context, upn, password, otp, audience string) (string, idp.Claims, error)
}

// Store is what the console reads itself: its sessions, and the user or token behind a
// session. Everything else goes through the admin API.
type Store interface {
	store.ConsoleSessions
	User(ctx context.Context, tenantID, id string) (store.User, error)
	TokenByHash(ctx context.Context, hash string) (store.AdminToken, error)
}

// Config wires the console.
type Config struct {
	Store Store
	// API serves the admin API in process (adminapi.API.InProcess).
	API http.Handler
	// SignIn checks identity provider users' passwords and one-time codes.
	SignIn SignIn
	// Key (at least 32 bytes) keys the sign-in form's CSRF token.
	Key []byte
	// IdleTimeout ends a session not used for that long; AbsoluteTimeout ends it that long
	// after sign-in, used or not (defaults DefaultIdleTimeout, DefaultAbsoluteTimeout).
	IdleTimeout, AbsoluteTimeout time.Duration
	// SourceAddr names the client of a request (the proxy-aware address the server logs).
	SourceAddr func(r *http.Request) string
	Logger     *slog.Logger
	Now        func() time.Time
}

// Session timeouts by default: a working day at most, half an hour of inactivity.
const (
	DefaultIdleTimeout     = 30 * time.Minute
	DefaultAbsoluteTimeout = 8 * time.Hour
)

// Console is the web console's handler.
type Console struct {
	cfg    Config
	api    http.Handler
	log    *slog.Logger
	pages  map[string]*template.Template
	router *mux.Router
}

// New builds the console and parses its templates.
func New(cfg Config) (*Console, error) {
	if cfg.Store == nil || cfg.API == nil || cfg.SignIn == nil || len(cfg.Key) < 32 {
		return nil, errors.New("console: Store, API, SignIn and a 32-byte Key are required")
	}
	if cfg.IdleTimeout < 0 || cfg.AbsoluteTimeout < 0 {
		return nil, errors.New("console: negative session timeout")
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.AbsoluteTimeout == 0 {
		cfg.AbsoluteTimeout = DefaultAbsoluteTimeout
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
	c := &Console{cfg: cfg, api: cfg.API, log: cfg.Logger.With("component", "console")}
	var err error
	if c.pages, err = parseTemplates(); err != nil {
		return nil, err
	}
	c.router = c.routes()
	return c, nil
}

// ServeHTTP serves everything under Prefix, with the security headers on every answer.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
		"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	c.router.ServeHTTP(w, r)
}

func (c *Console) routes() *mux.Router {
	r := mux.NewRouter()
	r.Handle("/console", http.RedirectHandler(Prefix, http.StatusMovedPermanently)).Methods(http.MethodGet, http.MethodHead)
	r.PathPrefix(Prefix+"static/").Handler(c.static()).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc(Prefix+"login", c.loginPage).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc(Prefix+"login", c.login).Methods(http.MethodPost)
	r.Handle(Prefix+"logout", c.page(http.MethodPost, c.logout)).Methods(http.MethodPost)
	r.Handle(Prefix, c.page(http.MethodGet, c.home)).Methods(http.MethodGet, http.MethodHead)
	for _, reg := range registry {
		for _, rt := range reg.routes {
			methods := []string{rt.Method}
			if rt.Method == http.MethodGet {
				methods = append(methods, http.MethodHead)
			}
			r.Handle(Prefix+"t/{tid}"+rt.Path, c.tenantPage(rt)).Methods(methods...)
		}
	}
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.fail(w, r, nil, &StatusError{Status: http.StatusNotFound, Message: "there is no page at " + r.URL.Path})
	})
	r.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.fail(w, r, nil, &StatusError{Status: http.StatusMethodNotAllowed, Message: r.Method + " is not allowed here"})
	})
	return r
}

// static serves the embedded CSS, JavaScript and images.
func (c *Console) static() http.Handler {
	sub, _ := fs.Sub(staticFS, "static")
	files := http.StripPrefix(Prefix+"static/", http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/") {
			c.fail(w, r, nil, &StatusError{Status: http.StatusNotFound, Message: "no such file"})
			return
		}
		w.Header().Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})
}

// page wraps a handler that needs a live session (and, for method POST, its CSRF token).
func (c *Console) page(method string, h func(c *Ctx) error) http.Handler {
	return c.tenantPage(Route{Method: method, Handle: h})
}

// tenantPage runs a route: a session is required (else the sign-in page, coming back here
// after), a state-changing request must carry the session's CSRF token, and the tenant of
// the address must be visible to the signed-in person.
func (c *Console) tenantPage(rt Route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		sess, err := c.loadSession(r)
		if errors.Is(err, errNoSession) {
			c.toLogin(w, r)
			return
		}
		if err != nil {
			c.log.Error("loading console session", "err", err)
			c.fail(w, r, nil, &StatusError{Status: http.StatusServiceUnavailable, Message: "the store is unavailable; try again shortly"})
			return
		}
		cx := &Ctx{W: w, R: r, Tenant: mux.Vars(r)["tid"], Principal: sess.principal, c: c, sess: sess}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			r.Body = http.MaxBytesReader(w, r.Body, maxForm)
			if !checkCSRF(r, sess.CSRF) {
				c.log.Warn("console request without its CSRF token refused", "path", r.URL.Path, "actor", sess.principal.Name, "addr", sess.principal.Addr)
				c.fail(w, r, cx, &StatusError{Status: http.StatusForbidden, Message: "the form was not sent from this console (missing or wrong CSRF token): reload the page and try again"})
				return
			}
		}
		if cx.Tenant != "" && !sess.principal.SeesTenant(cx.Tenant) {
			c.fail(w, r, cx, NotFound("tenant"))
			return
		}
		cx.API = c.clientFor(sess.principal)
		if err := rt.Handle(cx); err != nil {
			c.fail(w, r, cx, err)
		}
	})
}

// maxForm bounds a console POST (forms and uploads such as an Intune JSON export).
const maxForm = 8 << 20

// toLogin sends a request without a session to the sign-in page; a page comes back to itself
// after sign-in.
func (c *Console) toLogin(w http.ResponseWriter, r *http.Request) {
	target := Prefix + "login"
	if r.Method == http.MethodGet && r.URL.Path != Prefix {
		target += "?next=" + url.QueryEscape(r.URL.RequestURI())
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// fail shows the error page for err (cx nil: without the navigation).
func (c *Console) fail(w http.ResponseWriter, r *http.Request, cx *Ctx, err error) {
	status, msg, known := errorStatus(err)
	if !known {
		c.log.Error("console page failed", "path", r.URL.Path, "err", err)
	}
	data := errorData{Status: status, StatusText: http.StatusText(status), Message: msg}
	v := View{Data: data}
	if cx != nil {
		v = cx.view(data)
	}
	w.Header().Set("Cache-Control", "no-store")
	if rerr := c.render(w, r, status, "error.html", v); rerr != nil {
		c.log.Error("rendering the error page", "err", rerr)
	}
}

type errorData struct {
	Status     int
	StatusText string
	Message    string
}

// render executes the page template name around v.
func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, name string, v View) error {
	t, ok := c.pages[name]
	if !ok {
		return fmt.Errorf("console: no template %q", name)
	}
	var buf strings.Builder
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		return fmt.Errorf("console: rendering %s: %w", name, err)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write([]byte(buf.String()))
	}
	return nil
}

// parseTemplates parses every page template with the layout around it.
func parseTemplates() (map[string]*template.Template, error) {
	layout, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html")
	if err != nil {
		return nil, err
	}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, n := range names {
		base := path.Base(n)
		if base == "layout.html" {
			continue
		}
		t, err := template.Must(layout.Clone()).ParseFS(templateFS, n)
		if err != nil {
			return nil, err
		}
		pages[base] = t
	}
	return pages, nil
}

// funcs are the functions every template may call (RegisterFuncs adds a page's own).
var funcs = template.FuncMap{
	"when":       when,
	"pathEscape": url.PathEscape,
	"list":       func(v ...string) []string { return v },
}

// when shows a time in UTC, or "never".
func when(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// RegisterFuncs adds template functions; page files call it from init, before New.
func RegisterFuncs(m template.FuncMap) {
	for k, v := range m {
		funcs[k] = v
	}
}

// home opens the tenant of the signed-in person, or lets a person of every tenant pick one.
func (c *Console) home(cx *Ctx) error {
	if cx.Principal.TenantID != "" {
		http.Redirect(cx.W, cx.R, Prefix+"t/"+url.PathEscape(cx.Principal.TenantID)+"/", http.StatusSeeOther)
		return nil
	}
	ts, err := cx.API.Tenants(cx.R.Context())
	if err != nil {
		return err
	}
	if len(ts) == 1 {
		http.Redirect(cx.W, cx.R, Prefix+"t/"+url.PathEscape(ts[0].ID)+"/", http.StatusSeeOther)
		return nil
	}
	return cx.Render("tenants.html", ts)
}

// logout ends the session.
func (c *Console) logout(cx *Ctx) error {
	if err := c.cfg.Store.DeleteConsoleSession(cx.R.Context(), cx.sess.ID); err != nil {
		return err
	}
	setCookie(cx.W, sessionCookie, "", -1)
	setFlash(cx.W, "You have signed out.")
	http.Redirect(cx.W, cx.R, Prefix+"login", http.StatusSeeOther)
	return nil
}
