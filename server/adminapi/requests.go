package adminapi

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/gorilla/mux"

	"github.com/hellomdm/hellomdm/store"
)

// tenantOf loads the route's tenant, or answers 404 (adminAuth has already kept tenant-bound
// tokens out of other tenants).
func (s *API) tenantOf(w http.ResponseWriter, r *http.Request) (store.Tenant, bool) {
	t, err := s.cfg.Store.Tenant(r.Context(), mux.Vars(r)["tid"])
	return t, lookedUp(w, "tenant", err, true)
}

// requireAdmin refuses (403, recorded in the tenant's audit log) a principal whose role is
// not admin, or, when global is set, one restricted to a tenant.
func (s *API) requireAdmin(w http.ResponseWriter, r *http.Request, global bool, what string) (Principal, bool) {
	p, _ := PrincipalFrom(r.Context())
	switch {
	case p.Role != store.RoleAdmin:
		s.refuseAdmin(w, r, &p, http.StatusForbidden, "forbidden", "role "+p.Role+" cannot "+what)
		return p, false
	case global && p.TenantID != "":
		s.refuseAdmin(w, r, &p, http.StatusForbidden, "forbidden", "only an admin token without tenant restriction can "+what)
		return p, false
	}
	return p, true
}

// adminTenantBody starts an admin write to the route's tenant: the principal must be an
// admin (requireAdmin), the tenant must exist (tenantOf) and the body decode into v
// (decodeAdminBody). On failure it has answered and ok is false.
func (s *API) adminTenantBody(w http.ResponseWriter, r *http.Request, what string, v any) (p Principal, t store.Tenant, ok bool) {
	if p, ok = s.requireAdmin(w, r, false, what); !ok {
		return p, t, false
	}
	if t, ok = s.tenantOf(w, r); !ok {
		return p, t, false
	}
	return p, t, decodeAdminBody(w, r, v)
}

// decodeAdminBody reads one JSON object of at most maxAdminBody bytes into v, refusing
// unknown fields and trailing data. On failure it has answered 400 or 413 and returns false.
func decodeAdminBody(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxAdminBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if _, terr := dec.Token(); !errors.Is(terr, io.EOF) {
			err = errors.New("unexpected data after the JSON object")
			var mbe *http.MaxBytesError
			if errors.As(terr, &mbe) {
				err = terr
			}
		}
	}
	if err == nil {
		return true
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		writeError(w, http.StatusRequestEntityTooLarge, "tooLarge", "the request body is larger than 64 KiB")
		return false
	}
	writeError(w, http.StatusBadRequest, "badRequest", "invalid JSON: "+err.Error())
	return false
}

// requestPrincipal is the principal adminAuth attached to r.
func requestPrincipal(r *http.Request) Principal {
	p, _ := PrincipalFrom(r.Context())
	return p
}

// lookedUp answers the lookup of the object a route names: 404 "no such <what>" when the
// store has none or the principal may not see it (visible counts only when err is nil), 503
// for another failure. It reports whether the object may be used.
func lookedUp(w http.ResponseWriter, what string, err error, visible bool) bool {
	switch {
	case errors.Is(err, store.ErrNotFound) || err == nil && !visible:
		writeError(w, http.StatusNotFound, "notFound", "no such "+what)
		return false
	case err != nil:
		writeError(w, http.StatusServiceUnavailable, "unavailable", what+" lookup failed")
		return false
	}
	return true
}

// validationError is a 422 reason.
type validationError string

func (e validationError) Error() string { return string(e) }

// normalizeTenantID accepts a directory tenant GUID in its 36-character form and returns it
// lower-case (store.Tenant.ID).
func normalizeTenantID(id string) (string, error) {
	id = strings.TrimSpace(id)
	if len(id) != 36 {
		return "", validationError("id must be a tenant GUID like 6d2a3f0e-1c55-4b0b-9a3e-2f4f7c1d9e01")
	}
	u, err := uuid.Parse(id)
	if err != nil {
		return "", validationError("id must be a tenant GUID: " + err.Error())
	}
	return u.String(), nil
}

func checkDisplayName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 256 || !utf8.ValidString(name) || strings.ContainsFunc(name, isControl) {
		return "", validationError("displayName must be 1 to 256 printable characters")
	}
	return name, nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// normalizeDomains lower-cases verified domains and checks each is a DNS name with at least
// two labels; duplicates are refused.
func normalizeDomains(domains []string) ([]string, error) {
	if len(domains) == 0 || len(domains) > 50 {
		return nil, validationError("verifiedDomains needs 1 to 50 domains")
	}
	out := make([]string, 0, len(domains))
	for _, d := range domains {
		d = strings.ToLower(strings.TrimSpace(d))
		if !validDNSName(d) || !strings.Contains(d, ".") {
			return nil, validationError("verified domain " + quote(d) + " is not a DNS name like contoso.com")
		}
		if slices.Contains(out, d) {
			return nil, validationError("verified domain " + d + " is listed twice")
		}
		out = append(out, d)
	}
	return out, nil
}

// validDNSName reports whether s is a host name of LDH labels (RFC 1123 §2.1).
func validDNSName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// normalizeAuthPolicy returns OnPremise (the default) or Federated (MS-MDE2 3.1.4.1.3.2).
func normalizeAuthPolicy(p string) (string, error) {
	switch {
	case strings.TrimSpace(p) == "":
		return store.AuthOnPremise, nil
	case strings.EqualFold(p, store.AuthOnPremise):
		return store.AuthOnPremise, nil
	case strings.EqualFold(p, store.AuthFederated):
		return store.AuthFederated, nil
	}
	return "", validationError("authPolicy " + quote(p) + " is neither OnPremise nor Federated")
}

// normalizeHost checks an optional federation host name.
func normalizeHost(h string) (string, error) {
	h = strings.ToLower(strings.TrimSpace(h))
	if h != "" && !validDNSName(h) {
		return "", validationError("federationHost " + quote(h) + " is not a host name")
	}
	return h, nil
}

// normalizeScopeTags trims role scope tag IDs and refuses empty, overlong or repeated ones.
func normalizeScopeTags(tags []string) ([]string, error) {
	if len(tags) > 50 {
		return nil, validationError("at most 50 roleScopeTagIds")
	}
	var out []string
	for _, t := range tags {
		t = strings.TrimSpace(t)
		if t == "" || len(t) > 128 || strings.ContainsFunc(t, isControl) {
			return nil, validationError("roleScopeTagIds must be 1 to 128 printable characters each")
		}
		if slices.ContainsFunc(out, func(o string) bool { return strings.EqualFold(o, t) }) {
			return nil, validationError("role scope tag " + t + " is listed twice")
		}
		out = append(out, t)
	}
	return out, nil
}

func quote(s string) string {
	if len(s) > 80 {
		s = s[:80] + "..."
	}
	b, _ := json.Marshal(s)
	return string(b)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
