package adminapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/hellomdm/hellomdm/audit"
	"github.com/hellomdm/hellomdm/internal/eventid"
	"github.com/hellomdm/hellomdm/store"
)

// Principal is the admin a request acts for, from its bearer token.
type Principal struct {
	TokenID   string
	Name      string
	Role      string
	TenantID  string // "" = every tenant
	ScopeTags []string
	Addr      string
}

type principalKey struct{}

// PrincipalFrom returns the authenticated admin of a request handled behind adminAuth.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// HashToken is how admin token secrets are stored: SHA-256, hex. Tokens are random 256-bit
// secrets, so a slow hash adds nothing.
func HashToken(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// CanWrite reports whether the role may change objects.
func (p Principal) CanWrite() bool { return p.Role == store.RoleAdmin || p.Role == store.RoleOperator }

// SeesTenant reports whether the token may see the tenant at all.
func (p Principal) SeesTenant(tenantID string) bool {
	return p.TenantID == "" || strings.EqualFold(p.TenantID, tenantID)
}

// SeesTags reports whether an object carrying tags is visible: a token without scope tags
// sees everything in its tenants; otherwise the object must carry one of its tags (objects
// without tags carry Intune's implicit Default tag). Tags are identified as Intune identifies
// role scope tags: by ID, "0" being Default; "Default" is accepted as its name.
func (p Principal) SeesTags(tags []string) bool {
	if len(p.ScopeTags) == 0 {
		return true
	}
	if len(tags) == 0 {
		tags = []string{DefaultScopeTag}
	}
	for _, t := range tags {
		if slices.ContainsFunc(p.ScopeTags, func(s string) bool { return strings.EqualFold(canonicalTag(s), canonicalTag(t)) }) {
			return true
		}
	}
	return false
}

// DefaultScopeTag is Intune's Default role scope tag ID.
const DefaultScopeTag = "0"

func canonicalTag(t string) string {
	if strings.EqualFold(t, "Default") {
		return DefaultScopeTag
	}
	return t
}

// adminAuth authenticates /api/v1 requests by bearer token and, on routes with {tid}, keeps
// each token inside its tenant (another tenant's objects answer 404, as if absent).
func (s *API) adminAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Get("Authorization")
		secret, ok := strings.CutPrefix(h, "Bearer ")
		if !ok || strings.TrimSpace(secret) == "" {
			s.refuseAdmin(w, r, nil, http.StatusUnauthorized, "unauthorized", "a bearer token is required")
			return
		}
		tok, err := s.cfg.Store.TokenByHash(r.Context(), HashToken(strings.TrimSpace(secret)))
		if errors.Is(err, store.ErrNotFound) {
			s.refuseAdmin(w, r, nil, http.StatusUnauthorized, "unauthorized", "unknown or revoked token")
			return
		}
		if err != nil {
			writeError(w, http.StatusServiceUnavailable, "unavailable", "token lookup failed")
			return
		}
		if !tok.ExpiresAt.IsZero() && !s.cfg.Now().Before(tok.ExpiresAt) {
			s.refuseAdmin(w, r, nil, http.StatusUnauthorized, "unauthorized", "the token expired at "+tok.ExpiresAt.UTC().Format(time.RFC3339))
			return
		}
		p := Principal{TokenID: tok.ID, Name: tok.Name, Role: tok.Role, TenantID: tok.TenantID, ScopeTags: tok.ScopeTags, Addr: s.cfg.SourceAddr(r)}
		s.authorize(w, r, p, next)
	})
}

// authorize keeps p inside its tenant and its role, then serves next with p in the context.
func (s *API) authorize(w http.ResponseWriter, r *http.Request, p Principal, next http.Handler) {
	if tid := mux.Vars(r)["tid"]; tid != "" && !p.SeesTenant(tid) {
		s.refuseAdmin(w, r, &p, http.StatusNotFound, "notFound", "no such tenant")
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead && !p.CanWrite() && !readerMayPost(r) {
		s.refuseAdmin(w, r, &p, http.StatusForbidden, "forbidden", "role "+p.Role+" cannot change objects")
		return
	}
	next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
}

type actingKey struct{}

// ActingAs returns ctx carrying p for InProcess: the requests the returned context goes with
// act for p, as if p had presented a bearer token.
func ActingAs(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, actingKey{}, p)
}

// principalAuth is adminAuth for InProcess: the principal comes from the request's context
// (ActingAs), put there by code of this process (the web console) that authenticated the
// person; tenant, role and scope tags are checked exactly as for a token.
func (s *API) principalAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := r.Context().Value(actingKey{}).(Principal)
		if !ok || p.Role == "" {
			s.refuseAdmin(w, r, nil, http.StatusUnauthorized, "unauthorized", "no signed-in admin")
			return
		}
		s.authorize(w, r, p, next)
	})
}

// readerMayPost lists the POST routes that only read (none yet).
func readerMayPost(r *http.Request) bool { return false }

// refuseAdmin answers an authentication or authorization refusal and records it in the
// tenant's audit log when the route names a tenant.
func (s *API) refuseAdmin(w http.ResponseWriter, r *http.Request, p *Principal, status int, code, msg string) {
	s.log.Warn("admin request refused", "status", status, "reason", msg, "path", r.URL.Path, "addr", s.cfg.SourceAddr(r))
	if tid := mux.Vars(r)["tid"]; tid != "" {
		if _, err := s.cfg.Store.Tenant(r.Context(), tid); err == nil {
			actor := audit.Actor{Type: audit.ActorAdmin, SourceAddr: s.cfg.SourceAddr(r)}
			if p != nil {
				actor.ID, actor.TokenID, actor.Role = p.Name, p.TokenID, p.Role
			}
			details, _ := json.Marshal(map[string]any{"status": status, "reason": msg, "method": r.Method, "path": r.URL.Path})
			ev := &audit.Event{ID: eventid.New(), Time: s.cfg.Now().UTC(), TenantID: tid, Kind: audit.KindAuthRefused, Actor: actor,
				Subject: audit.Subject{Type: audit.SubjectTenant, ID: tid}, Action: r.Method, Details: details}
			if err := s.cfg.Store.AppendAudit(r.Context(), ev); err != nil {
				s.log.Error("recording refusal", "err", err)
			}
		}
	}
	writeError(w, status, code, msg)
}
