package console

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hellomdm/hellomdm/server/adminapi"
	"github.com/hellomdm/hellomdm/store"
)

// Cookie names. The __Host- prefix makes the browser refuse them unless Secure, Path=/ and
// without Domain, so no other host or path can plant them.
const (
	sessionCookie = "__Host-hellomdm-console"
	loginCookie   = "__Host-hellomdm-login"
	flashCookie   = "__Host-hellomdm-flash"
)

// touchEvery is how often, at most, a session's last use is written (the idle timeout's
// granularity).
const touchEvery = time.Minute

// session is a live console session with the principal it acts as.
type session struct {
	store.ConsoleSession
	principal adminapi.Principal
}

func newSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}

func sessionID(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

func setCookie(w http.ResponseWriter, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: maxAge, HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode})
}

// startSession stores a new session for what signed in and sets its cookie.
func (c *Console) startSession(w http.ResponseWriter, r *http.Request, cs store.ConsoleSession) error {
	now := c.cfg.Now().UTC()
	secret := newSecret()
	cs.ID, cs.CSRF = sessionID(secret), newSecret()
	cs.CreatedAt, cs.LastSeenAt = now, now
	cs.IdleExpiresAt, cs.ExpiresAt = now.Add(c.cfg.IdleTimeout), now.Add(c.cfg.AbsoluteTimeout)
	if err := c.cfg.Store.CreateConsoleSession(r.Context(), cs); err != nil {
		return err
	}
	setCookie(w, sessionCookie, secret, 0)
	return nil
}

// errNoSession means the request carries no live session: sign in (again).
var errNoSession = errors.New("not signed in")

// loadSession finds the request's live session and who it acts as now (the user's role or
// the token as stored at this moment), and records its use.
func (c *Console) loadSession(r *http.Request) (*session, error) {
	ck, err := r.Cookie(sessionCookie)
	if err != nil || ck.Value == "" {
		return nil, errNoSession
	}
	now := c.cfg.Now().UTC()
	cs, err := c.cfg.Store.ConsoleSession(r.Context(), sessionID(ck.Value), now)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errNoSession
	}
	if err != nil {
		return nil, err
	}
	p, err := c.principalOf(r.Context(), cs, now)
	if errors.Is(err, errNoSession) {
		_ = c.cfg.Store.DeleteConsoleSession(r.Context(), cs.ID)
		return nil, errNoSession
	}
	if err != nil {
		return nil, err
	}
	p.Addr = c.cfg.SourceAddr(r)
	if now.Sub(cs.LastSeenAt) >= touchEvery {
		idle := now.Add(c.cfg.IdleTimeout)
		if err := c.cfg.Store.TouchConsoleSession(r.Context(), cs.ID, now, idle); errors.Is(err, store.ErrNotFound) {
			return nil, errNoSession
		} else if err != nil {
			return nil, err
		}
		cs.LastSeenAt, cs.IdleExpiresAt = now, idle
	}
	return &session{ConsoleSession: cs, principal: p}, nil
}

// principalOf reads the session's user or token again: errNoSession when it may no longer
// sign in (role revoked, user disabled or deleted, token revoked or expired).
func (c *Console) principalOf(ctx context.Context, cs store.ConsoleSession, now time.Time) (adminapi.Principal, error) {
	switch cs.Kind {
	case store.ConsoleUser:
		u, err := c.cfg.Store.User(ctx, cs.TenantID, cs.UserID)
		if errors.Is(err, store.ErrNotFound) {
			return adminapi.Principal{}, errNoSession
		}
		if err != nil {
			return adminapi.Principal{}, err
		}
		if u.Disabled || u.AdminRole == "" {
			return adminapi.Principal{}, errNoSession
		}
		return userPrincipal(u), nil
	case store.ConsoleToken:
		t, err := c.cfg.Store.TokenByHash(ctx, cs.TokenHash)
		if errors.Is(err, store.ErrNotFound) {
			return adminapi.Principal{}, errNoSession
		}
		if err != nil {
			return adminapi.Principal{}, err
		}
		if !t.ExpiresAt.IsZero() && !now.Before(t.ExpiresAt) {
			return adminapi.Principal{}, errNoSession
		}
		return adminapi.Principal{TokenID: t.ID, Name: t.Name, Role: t.Role, TenantID: t.TenantID, ScopeTags: t.ScopeTags}, nil
	}
	return adminapi.Principal{}, fmt.Errorf("console session of unknown kind %q", cs.Kind)
}

// userPrincipal is how an identity provider user with an admin role acts in the API: by
// UPN, inside its tenant, with its role and admin scope tags.
func userPrincipal(u store.User) adminapi.Principal {
	return adminapi.Principal{Name: u.UPN, Role: u.AdminRole, TenantID: u.TenantID, ScopeTags: u.AdminScopeTags}
}

// checkCSRF reports whether the request's csrf form field is the session's token.
func checkCSRF(r *http.Request, want string) bool {
	got := r.PostFormValue("csrf")
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// loginCSRF returns the sign-in form's CSRF token: an HMAC of the pre-session cookie's
// random value (set here when missing), so a page elsewhere cannot post a sign-in
// (login CSRF) without reading the cookie.
func (c *Console) loginCSRF(w http.ResponseWriter, r *http.Request) string {
	v := ""
	if ck, err := r.Cookie(loginCookie); err == nil && len(ck.Value) >= 40 {
		v = ck.Value
	} else {
		v = newSecret()
		setCookie(w, loginCookie, v, 3600)
	}
	return c.loginMAC(v)
}

func (c *Console) loginMAC(v string) string {
	m := hmac.New(sha256.New, c.cfg.Key)
	m.Write([]byte("console-login\n" + v))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (c *Console) checkLoginCSRF(r *http.Request) bool {
	ck, err := r.Cookie(loginCookie)
	if err != nil || ck.Value == "" {
		return false
	}
	got := r.PostFormValue("csrf")
	return got != "" && hmac.Equal([]byte(got), []byte(c.loginMAC(ck.Value)))
}

// setFlash shows msg on the next page this browser opens.
func setFlash(w http.ResponseWriter, msg string) {
	setCookie(w, flashCookie, url.QueryEscape(msg), 60)
}

// takeFlash returns the pending notice and clears it.
func takeFlash(w http.ResponseWriter, r *http.Request) string {
	ck, err := r.Cookie(flashCookie)
	if err != nil || ck.Value == "" {
		return ""
	}
	setCookie(w, flashCookie, "", -1)
	msg, err := url.QueryUnescape(ck.Value)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(msg)
}

// safeNext returns next when it is a console address of this server, else the console's home.
func safeNext(next string) string {
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || !strings.HasPrefix(u.Path, Prefix) ||
		strings.Contains(u.Path, "//") || strings.Contains(u.Path, `\`) || strings.HasPrefix(next, "//") {
		return Prefix
	}
	return u.RequestURI()
}
