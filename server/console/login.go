package console

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/hellomdm/hellomdm/pinreset/idp"
	"github.com/hellomdm/hellomdm/server/adminapi"
	"github.com/hellomdm/hellomdm/store"
)

// loginData is the sign-in form.
type loginData struct {
	UPN   string
	Next  string
	Error string
}

func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	c.showLogin(w, r, http.StatusOK, loginData{Next: safeNext(r.URL.Query().Get("next"))})
}

func (c *Console) showLogin(w http.ResponseWriter, r *http.Request, status int, d loginData) {
	w.Header().Set("Cache-Control", "no-store")
	v := View{Data: d, CSRF: c.loginCSRF(w, r), Flash: takeFlash(w, r)}
	if err := c.render(w, r, status, "login.html", v); err != nil {
		c.log.Error("rendering the sign-in page", "err", err)
	}
}

// login signs a user (UPN, password, one-time code) or an admin token in.
func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	d := loginData{UPN: strings.TrimSpace(r.PostFormValue("upn")), Next: safeNext(r.PostFormValue("next"))}
	if !c.checkLoginCSRF(r) {
		d.Error = "The sign-in form expired or was not sent from this console. Try again."
		c.showLogin(w, r, http.StatusForbidden, d)
		return
	}
	token := strings.TrimSpace(r.PostFormValue("token"))
	var (
		cs     store.ConsoleSession
		status int
	)
	switch {
	case token != "" && d.UPN != "":
		status, d.Error = http.StatusUnprocessableEntity, "Sign in either as a user or with an API token, not both."
	case token != "":
		cs, status, d.Error = c.tokenSignIn(r, token)
	case d.UPN == "" || r.PostFormValue("password") == "":
		status, d.Error = http.StatusUnprocessableEntity, "Enter your user name, password and one-time code, or an API token."
	default:
		cs, status, d.Error = c.userSignIn(r, d.UPN, r.PostFormValue("password"), strings.TrimSpace(r.PostFormValue("otp")))
	}
	if d.Error != "" {
		c.showLogin(w, r, status, d)
		return
	}
	if err := c.startSession(w, r, cs); err != nil {
		c.log.Error("starting a console session", "err", err)
		d.Error = "The server could not start your session (the store is unavailable). Try again shortly."
		c.showLogin(w, r, http.StatusServiceUnavailable, d)
		return
	}
	setCookie(w, loginCookie, "", -1)
	c.log.Info("console sign-in", "kind", cs.Kind, "tenant", cs.TenantID, "who", cs.UPN, "addr", c.cfg.SourceAddr(r))
	http.Redirect(w, r, d.Next, http.StatusSeeOther)
}

// tokenSignIn accepts an admin API token that exists and has not expired.
func (c *Console) tokenSignIn(r *http.Request, token string) (store.ConsoleSession, int, string) {
	hash := adminapi.HashToken(token)
	t, err := c.cfg.Store.TokenByHash(r.Context(), hash)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return store.ConsoleSession{}, http.StatusUnauthorized, "That API token is unknown or revoked."
	case err != nil:
		c.log.Error("console token sign-in", "err", err)
		return store.ConsoleSession{}, http.StatusServiceUnavailable, "The server cannot check tokens right now. Try again shortly."
	case !t.ExpiresAt.IsZero() && !c.cfg.Now().Before(t.ExpiresAt):
		return store.ConsoleSession{}, http.StatusUnauthorized, "That API token expired at " + t.ExpiresAt.UTC().Format(time.RFC3339) + "."
	}
	return store.ConsoleSession{Kind: store.ConsoleToken, TenantID: t.TenantID, UPN: t.Name, TokenHash: hash}, 0, ""
}

// userSignIn signs a user in through the identity provider (its per-user limit of failed
// sign-ins applies) and accepts one with a one-time code and an admin role.
func (c *Console) userSignIn(r *http.Request, upn, password, otp string) (store.ConsoleSession, int, string) {
	_, claims, err := c.cfg.SignIn.SignIn(r.Context(), upn, password, otp, idp.AudienceConsole)
	if err != nil {
		status, msg := signInError(err)
		if status >= 500 {
			c.log.Error("console sign-in", "err", err)
		}
		return store.ConsoleSession{}, status, msg
	}
	if !claims.HasMFA() {
		return store.ConsoleSession{}, http.StatusForbidden, "The console needs a one-time code: enroll an authenticator app for " + upn + " first (hellomdm admin user totp)."
	}
	u, err := c.cfg.Store.User(r.Context(), claims.TenantID, claims.Subject)
	if err != nil {
		c.log.Error("console sign-in: reading the user", "err", err)
		return store.ConsoleSession{}, http.StatusServiceUnavailable, "The server cannot read your account right now. Try again shortly."
	}
	if u.AdminRole == "" {
		return store.ConsoleSession{}, http.StatusForbidden, upn + " holds no admin role. An admin can grant one (admin, operator or reader)."
	}
	return store.ConsoleSession{Kind: store.ConsoleUser, TenantID: u.TenantID, UserID: u.ID, UPN: u.UPN}, 0, ""
}

// signInError is what the sign-in page says about an identity provider refusal.
func signInError(err error) (int, string) {
	var rl *idp.RateLimitError
	switch {
	case errors.As(err, &rl):
		return http.StatusTooManyRequests, fmt.Sprintf("Too many failed sign-ins for this user. Try again in %s.", rl.RetryAfter.Round(time.Second))
	case errors.Is(err, idp.ErrInvalidCredentials):
		return http.StatusUnauthorized, "The user name or password is incorrect."
	case errors.Is(err, idp.ErrTOTPRequired):
		return http.StatusUnauthorized, "Enter the one-time code from your authenticator app."
	case errors.Is(err, idp.ErrTOTPInvalid):
		return http.StatusUnauthorized, "The one-time code is incorrect."
	case errors.Is(err, idp.ErrTOTPReplayed):
		return http.StatusUnauthorized, "That one-time code was used already. Wait for the next one."
	case errors.Is(err, idp.ErrFederated):
		return http.StatusForbidden, "Users of a federated tenant sign in at their own identity provider; use an API token here."
	}
	return http.StatusServiceUnavailable, "The server cannot sign you in right now. Try again shortly."
}
