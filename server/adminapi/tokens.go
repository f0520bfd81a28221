package adminapi

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/mux"

	"github.com/hellomdm/hellomdm/audit"
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
	"github.com/hellomdm/hellomdm/store"
)

func tokenView(t store.AdminToken) wire.Token {
	return wire.Token{ID: t.ID, Name: t.Name, Role: t.Role, TenantID: t.TenantID, RoleScopeTagIDs: nonNil(t.ScopeTags), CreatedAt: t.CreatedAt, ExpiresAt: t.ExpiresAt}
}

// toToken validates a create request; the caller adds the hash.
func toToken(req wire.TokenRequest, now time.Time) (store.AdminToken, error) {
	name := strings.TrimSpace(req.Name)
	if name == "" || len(name) > 128 || strings.ContainsFunc(name, isControl) {
		return store.AdminToken{}, validationError("name must be 1 to 128 printable characters")
	}
	role := strings.ToLower(strings.TrimSpace(req.Role))
	if role != store.RoleAdmin && role != store.RoleOperator && role != store.RoleReader {
		return store.AdminToken{}, validationError("role " + quote(req.Role) + " is not admin, operator or reader")
	}
	t := store.AdminToken{ID: uuid.NewString(), Name: name, Role: role, CreatedAt: now}
	if !req.ExpiresAt.IsZero() {
		if !req.ExpiresAt.After(now) {
			return store.AdminToken{}, validationError("expiresAt " + req.ExpiresAt.UTC().Format(time.RFC3339) + " is not in the future")
		}
		t.ExpiresAt = req.ExpiresAt.UTC()
	}
	if strings.TrimSpace(req.TenantID) != "" {
		id, err := normalizeTenantID(req.TenantID)
		if err != nil {
			return store.AdminToken{}, validationError("tenantId must be a tenant GUID or empty")
		}
		t.TenantID = id
	}
	tags, err := normalizeScopeTags(req.RoleScopeTagIDs)
	if err != nil {
		return store.AdminToken{}, err
	}
	t.ScopeTags = tags
	return t, nil
}

func (s *API) createToken(w http.ResponseWriter, r *http.Request) {
	p, ok := s.requireAdmin(w, r, true, "create tokens")
	if !ok {
		return
	}
	var req wire.TokenRequest
	if !decodeAdminBody(w, r, &req) {
		return
	}
	tok, err := toToken(req, s.cfg.Now().UTC())
	if err != nil {
		writeError(w, http.StatusUnprocessableEntity, "invalidToken", err.Error())
		return
	}
	// A token limited by scope tags hands out no more than its own tags.
	if len(p.ScopeTags) > 0 {
		if len(tok.ScopeTags) == 0 {
			tok.ScopeTags = slices.Clone(p.ScopeTags)
		}
		for _, tag := range tok.ScopeTags {
			if !slices.ContainsFunc(p.ScopeTags, func(own string) bool { return strings.EqualFold(own, tag) }) {
				s.refuseAdmin(w, r, &p, http.StatusForbidden, "forbidden", "the token cannot grant role scope tag "+tag)
				return
			}
		}
	}
	// Audit: a tenant token goes into its tenant's log; a token for every tenant into each.
	var logs []string
	if tok.TenantID != "" {
		if _, err := s.cfg.Store.Tenant(r.Context(), tok.TenantID); errors.Is(err, store.ErrNotFound) {
			writeError(w, http.StatusUnprocessableEntity, "invalidToken", "tenant "+tok.TenantID+" does not exist")
			return
		} else if err != nil {
			writeError(w, http.StatusServiceUnavailable, "unavailable", "tenant lookup failed")
			return
		}
		logs = []string{tok.TenantID}
	} else {
		tenants, err := s.cfg.Store.ListTenants(r.Context())
		if err != nil {
			writeError(w, http.StatusServiceUnavailable, "unavailable", "listing tenants failed")
			return
		}
		for _, t := range tenants {
			logs = append(logs, t.ID)
		}
	}
	secret, err := NewTokenSecret()
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal", "generating the token failed")
		return
	}
	tok.Hash = HashToken(secret)
	var view wire.Token
	err = s.cfg.Store.Write(r.Context(), func(tx store.Writer) error {
		stored, err := tx.CreateToken(tok)
		if err != nil {
			return err
		}
		view = tokenView(stored)
		events := make([]*audit.Event, 0, len(logs))
		for _, tid := range logs {
			events = append(events, s.adminEvent(p, tid, "create", audit.Subject{Type: audit.SubjectToken, ID: stored.ID}, "", nil, view))
		}
		return tx.Audit(events...)
	})
	if err != nil {
		if errors.Is(err, store.ErrExists) {
			writeError(w, http.StatusConflict, "conflict", "the token could not be created; try again")
			return
		}
		s.log.Error("creating token failed", "err", err)
		writeError(w, http.StatusServiceUnavailable, "unavailable", "the token could not be stored")
		return
	}
	// The secret is shown once: never cached, nor kept with an Idempotency-Key.
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, wire.CreatedToken{Token: view, Secret: secret})
}

// listTokens shows an admin the tokens it may know of: a global admin all of them, a
// tenant admin those of its tenant.
func (s *API) listTokens(w http.ResponseWriter, r *http.Request) {
	p, ok := s.requireAdmin(w, r, false, "list tokens")
	if !ok {
		return
	}
	toks, err := s.cfg.Store.ListTokens(r.Context())
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "unavailable", "listing tokens failed")
		return
	}
	out := make([]wire.Token, 0, len(toks))
	for _, t := range toks {
		if p.TenantID == "" || t.TenantID != "" && p.SeesTenant(t.TenantID) {
			out = append(out, tokenView(t))
		}
	}
	slices.SortFunc(out, func(a, b wire.Token) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	writeJSON(w, http.StatusOK, map[string]any{"value": out})
}

// tokenAuditLogs returns the tenants whose audit logs record a change to tok: its tenant, or
// every tenant for a token scoped to none.
func (s *API) tokenAuditLogs(r *http.Request, tok store.AdminToken) ([]string, error) {
	if tok.TenantID != "" {
		return []string{tok.TenantID}, nil
	}
	tenants, err := s.cfg.Store.ListTenants(r.Context())
	if err != nil {
		return nil, err
	}
	logs := make([]string, 0, len(tenants))
	for _, t := range tenants {
		logs = append(logs, t.ID)
	}
	return logs, nil
}

// deleteToken revokes a token: it stops authenticating at once (every request looks the
// token up). A global admin revokes any token, a tenant admin those of its tenant; others
// answer 404 as if absent. The revocation is audited where the token's creation was. Revoking
// the last global admin token is allowed: the next start of the server then creates and
// prints a new bootstrap token (or registers HELLOMDM_ADMIN_TOKEN).
func (s *API) deleteToken(w http.ResponseWriter, r *http.Request) {
	p, ok := s.requireAdmin(w, r, false, "revoke tokens")
	if !ok {
		return
	}
	id := mux.Vars(r)["id"]
	toks, err := s.cfg.Store.ListTokens(r.Context())
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "unavailable", "listing tokens failed")
		return
	}
	i := slices.IndexFunc(toks, func(t store.AdminToken) bool { return strings.EqualFold(t.ID, id) })
	if i < 0 || !(p.TenantID == "" || toks[i].TenantID != "" && p.SeesTenant(toks[i].TenantID)) {
		writeError(w, http.StatusNotFound, "notFound", "no such token")
		return
	}
	logs, err := s.tokenAuditLogs(r, toks[i])
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "unavailable", "listing tenants failed")
		return
	}
	err = s.cfg.Store.Write(r.Context(), func(tx store.Writer) error {
		removed, err := tx.DeleteToken(toks[i].ID)
		if err != nil {
			return err
		}
		events := make([]*audit.Event, 0, len(logs))
		for _, tid := range logs {
			events = append(events, s.adminEvent(p, tid, "delete", audit.Subject{Type: audit.SubjectToken, ID: removed.ID}, "", tokenView(removed), nil))
		}
		return tx.Audit(events...)
	})
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			writeError(w, http.StatusNotFound, "notFound", "no such token")
			return
		}
		s.log.Error("revoking token failed", "err", err)
		writeError(w, http.StatusServiceUnavailable, "unavailable", "the token could not be revoked")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// NewTokenSecret returns a new random admin token secret.
func NewTokenSecret() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generating token: %w", err)
	}
	return "hmdm_" + base64.RawURLEncoding.EncodeToString(b[:]), nil
}
