package adminapi

import (
	"context"
	"crypto/rand"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/gorilla/mux"

	"github.com/hellomdm/hellomdm/audit"
	"github.com/hellomdm/hellomdm/pinreset/idp"
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
	"github.com/hellomdm/hellomdm/store"
)

// TOTPEnroller creates a user's TOTP authenticator secret and stores it through to
// (idp.Service implements it).
type TOTPEnroller interface {
	EnrollTOTP(ctx context.Context, to idp.TOTPStore, tenantID, userID, account string) (secretBase32, uri string, err error)
}

// Password length bounds for users created through the API. Eight characters is the minimum
// of NIST SP 800-63B §3.1.1.2 for user-chosen passwords; the upper bound keeps hashing cheap
// to reason about.
const (
	minPasswordLen = 8
	maxPasswordLen = 256
)

func userView(u store.User) wire.User {
	return wire.User{ID: u.ID, UserPrincipalName: u.UPN, DisplayName: u.DisplayName, TOTPEnrolled: len(u.TOTPSecret) > 0,
		AccountEnabled: !u.Disabled, RoleScopeTagIDs: nonNil(u.ScopeTags), AdminRole: u.AdminRole,
		AdminRoleScopeTagIDs: nonNil(u.AdminScopeTags), CreatedAt: u.CreatedAt}
}

// toUser validates a create request against the tenant and returns the user to store
// (without its password hash) and the password.
func toUser(req wire.UserRequest, t store.Tenant, now time.Time) (store.User, string, error) {
	upn := strings.ToLower(strings.TrimSpace(req.UserPrincipalName))
	local, domain, ok := strings.Cut(upn, "@")
	if !ok || local == "" || len(upn) > 256 || strings.Contains(domain, "@") || strings.ContainsFunc(upn, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return store.User{}, "", validationError("userPrincipalName must look like alice@contoso.com")
	}
	if !slices.Contains(t.VerifiedDomains, domain) {
		return store.User{}, "", validationError("the domain of " + upn + " is not one of the tenant's verified domains " + strings.Join(t.VerifiedDomains, ", "))
	}
	u := store.User{TenantID: t.ID, ID: uuid.NewString(), UPN: upn, CreatedAt: now}
	if req.DisplayName != "" {
		name, err := checkDisplayName(req.DisplayName)
		if err != nil {
			return store.User{}, "", err
		}
		u.DisplayName = name
	}
	pw := req.PasswordProfile.Password
	switch n := utf8.RuneCountInString(pw); {
	case n < minPasswordLen:
		return store.User{}, "", validationError("the password is too weak: it needs at least 8 characters")
	case len(pw) > maxPasswordLen || !utf8.ValidString(pw):
		return store.User{}, "", validationError("the password must be valid UTF-8 of at most 256 bytes")
	}
	tags, err := normalizeScopeTags(req.RoleScopeTagIDs)
	if err != nil {
		return store.User{}, "", err
	}
	u.ScopeTags = tags
	return u, pw, nil
}

func (s *API) createUser(w http.ResponseWriter, r *http.Request) {
	var req wire.UserRequest
	p, t, ok := s.adminTenantBody(w, r, "manage users", &req)
	if !ok {
		return
	}
	u, pw, err := toUser(req, t, s.cfg.Now().UTC())
	if err != nil {
		writeError(w, http.StatusUnprocessableEntity, "invalidUser", err.Error())
		return
	}
	// A scoped admin creates objects it can see: its own tags by default, never others only.
	if len(u.ScopeTags) == 0 {
		u.ScopeTags = slices.Clone(p.ScopeTags)
	} else if !p.SeesTags(u.ScopeTags) {
		s.refuseAdmin(w, r, &p, http.StatusForbidden, "forbidden", "the token cannot create users outside its role scope tags")
		return
	}
	if _, err := s.cfg.Store.UserByUPN(r.Context(), t.ID, u.UPN); err == nil {
		writeError(w, http.StatusConflict, "conflict", "a user "+u.UPN+" already exists in this tenant")
		return
	}
	if u.PasswordHash, err = idp.HashPassword(pw, rand.Reader); err != nil {
		s.log.Error("hashing password failed", "err", err)
		writeError(w, http.StatusInternalServerError, "internal", "the password could not be hashed")
		return
	}
	var view wire.User
	err = s.cfg.Store.Write(r.Context(), func(tx store.Writer) error {
		stored, err := tx.CreateUser(u)
		if err != nil {
			return err
		}
		view = userView(stored)
		return tx.Audit(s.adminEvent(p, t.ID, "create", audit.Subject{Type: audit.SubjectUser, ID: stored.ID}, "", nil, view))
	})
	if err != nil {
		if errors.Is(err, store.ErrExists) {
			writeError(w, http.StatusConflict, "conflict", "a user "+u.UPN+" already exists in this tenant")
			return
		}
		s.log.Error("creating user failed", "tenant", t.ID, "err", err)
		writeError(w, http.StatusServiceUnavailable, "unavailable", "the user could not be stored")
		return
	}
	writeJSON(w, http.StatusCreated, view)
}

func (s *API) getUser(w http.ResponseWriter, r *http.Request) {
	u, ok := s.userInTenant(w, r)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, userView(u))
}

// userInTenant loads a user the principal may see, or answers 404.
func (s *API) userInTenant(w http.ResponseWriter, r *http.Request) (store.User, bool) {
	vars := mux.Vars(r)
	u, err := s.cfg.Store.User(r.Context(), vars["tid"], vars["uid"])
	p, _ := PrincipalFrom(r.Context())
	return u, lookedUp(w, "user", err, strings.EqualFold(u.TenantID, vars["tid"]) && p.SeesTags(u.ScopeTags))
}

func (s *API) enrollUserTOTP(w http.ResponseWriter, r *http.Request) {
	p, ok := s.requireAdmin(w, r, false, "manage users")
	if !ok {
		return
	}
	u, ok := s.userInTenant(w, r)
	if !ok {
		return
	}
	if s.cfg.TOTP == nil {
		writeError(w, http.StatusServiceUnavailable, "unavailable", "the identity provider is not running on this server")
		return
	}
	// The secret is shown once, here; the audit event records only that it changed. The
	// identity provider stores the secret through totpWrite, which appends the event in the
	// same transaction.
	to := totpWrite{st: s.cfg.Store, event: func() *audit.Event {
		return s.adminEvent(p, u.TenantID, "enrollTotp", audit.Subject{Type: audit.SubjectUser, ID: u.ID}, "",
			map[string]any{"totpEnrolled": len(u.TOTPSecret) > 0}, map[string]any{"totpEnrolled": true, "replaced": len(u.TOTPSecret) > 0})
	}}
	secret, uri, err := s.cfg.TOTP.EnrollTOTP(r.Context(), to, u.TenantID, u.ID, u.UPN) // labelled with the UPN the app shows
	if errors.Is(err, idp.ErrNotFound) {
		writeError(w, http.StatusNotFound, "notFound", "no such user")
		return
	}
	if err != nil {
		s.log.Error("enrolling TOTP failed", "tenant", u.TenantID, "user", u.ID, "err", err)
		writeError(w, http.StatusServiceUnavailable, "unavailable", "the authenticator could not be enrolled")
		return
	}
	// The secret is shown once: never cached, nor kept with an Idempotency-Key.
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, wire.TOTP{Secret: secret, URI: uri})
}

// patchUser disables or enables a user (accountEnabled, as in Microsoft Graph). A disabled
// user cannot sign in to the identity provider, enroll a device or reset a PIN: both treat
// the user as unknown. Devices already enrolled keep checking in (retire them to stop that),
// and tokens the identity provider already issued stay valid until they expire (minutes).
func (s *API) patchUser(w http.ResponseWriter, r *http.Request) {
	p, ok := s.requireAdmin(w, r, false, "manage users")
	if !ok {
		return
	}
	u, ok := s.userInTenant(w, r)
	if !ok {
		return
	}
	var req wire.UserPatch
	if !decodeAdminBody(w, r, &req) {
		return
	}
	if req.AccountEnabled == nil {
		writeError(w, http.StatusUnprocessableEntity, "invalidUser", "give accountEnabled (true or false)")
		return
	}
	var view wire.User
	err := s.cfg.Store.Write(r.Context(), func(tx store.Writer) error {
		stored, err := tx.UpdateUser(u.TenantID, u.ID, func(x *store.User) error {
			x.Disabled = !*req.AccountEnabled
			return nil
		})
		if err != nil {
			return err
		}
		view = userView(stored)
		return tx.Audit(s.adminEvent(p, u.TenantID, "update", audit.Subject{Type: audit.SubjectUser, ID: u.ID}, "",
			map[string]any{"accountEnabled": !u.Disabled}, map[string]any{"accountEnabled": !stored.Disabled}))
	})
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, "notFound", "no such user")
		return
	}
	if err != nil {
		s.log.Error("updating user failed", "err", err)
		writeError(w, http.StatusServiceUnavailable, "unavailable", "the user could not be updated")
		return
	}
	writeJSON(w, http.StatusOK, view)
}

// deleteUser removes a user for good (DELETE /tenants/{tid}/users/{uid}, 204). The store
// removes, in the transaction that appends the audit event: the user record with its
// password hash and TOTP enrolment, its memberships of every group (the tenant's policy is
// re-resolved as after any membership change), and the shared failed sign-in counter of its
// UPN. From then on the identity provider and enrollment know no such user: no sign-in, no
// enrollment, no PIN reset. Devices the user enrolled are kept and keep checking in: retire
// them separately (POST .../devices/{did}/retire). Identity-provider tokens already issued
// live out their few minutes, as after a disable.
func (s *API) deleteUser(w http.ResponseWriter, r *http.Request) {
	p, ok := s.requireAdmin(w, r, false, "manage users")
	if !ok {
		return
	}
	u, ok := s.userInTenant(w, r)
	if !ok {
		return
	}
	err := s.cfg.Store.Write(r.Context(), func(tx store.Writer) error {
		removed, err := tx.DeleteUser(u.TenantID, u.ID)
		if err != nil {
			return err
		}
		return tx.Audit(s.adminEvent(p, u.TenantID, "delete", audit.Subject{Type: audit.SubjectUser, ID: removed.ID}, "",
			userView(removed), nil))
	})
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			writeError(w, http.StatusNotFound, "notFound", "no such user")
			return
		}
		s.log.Error("deleting user failed", "err", err)
		writeError(w, http.StatusServiceUnavailable, "unavailable", "the user could not be deleted")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// totpWrite stores a user's new TOTP secret for the identity provider (idp.TOTPStore) in a
// Write that appends the admin's audit event, built by event, in the same transaction.
type totpWrite struct {
	st    store.Store
	event func() *audit.Event
}

func (t totpWrite) SetTOTP(ctx context.Context, tenantID, userID string, secret []byte) error {
	err := t.st.Write(ctx, func(tx store.Writer) error {
		_, err := tx.UpdateUser(tenantID, userID, func(x *store.User) error {
			x.TOTPSecret, x.TOTPLastStep = secret, 0
			return nil
		})
		if err != nil {
			return err
		}
		return tx.Audit(t.event())
	})
	if isNotFound(err) {
		return idp.ErrNotFound
	}
	return unavailableAs(idp.ErrUnavailable, err)
}
