package adminapi

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/hellomdm/hellomdm/audit"
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
	"github.com/hellomdm/hellomdm/store"
)

// The identity admin API: tenants, users, devices, tokens and PIN reset onboarding. Who may
// do what (adminAuth already refuses every non-GET to a reader with 403, and answers 404 when
// a tenant-bound token names another tenant; scope tags then filter users and devices):
//
//	route                                              reader  operator  admin  global admin
//	GET  /tenants, /tenants/{tid}                       yes     yes       yes    yes
//	GET  users, devices, servicePrincipals              yes     yes       yes    yes
//	POST /tenants, POST /tokens                         -       -         -      yes
//	PATCH /tenants/{tid}                                -       -         yes    yes
//	DELETE /tenants/{tid}                               -       -         -      yes
//	POST users, authenticationMethods/totp              -       -         yes    yes
//	PATCH, DELETE users/{uid}                           -       -         yes    yes
//	POST pinReset/consent                               -       -         yes    yes
//	POST devices/{did}/retire                           -       -         yes    yes
//	GET  /tokens                                        -       -         own tenant's  all
//
// "global admin" is role admin with no tenant restriction (TenantID ""). An operator queues
// commands and assigns profiles; it does not manage identities, credentials or device
// lifecycle. Lists are filtered to what the token sees; objects it cannot see answer 404.

// maxAdminBody bounds the JSON body of the identity routes.
const maxAdminBody = 64 << 10

func (s *API) identityRoutes(api *mux.Router) {
	api.HandleFunc("/tenants", s.createTenant).Methods(http.MethodPost)
	api.HandleFunc("/tenants", s.listTenants).Methods(http.MethodGet)
	api.HandleFunc("/tenants/{tid}", s.getTenant).Methods(http.MethodGet)
	api.HandleFunc("/tenants/{tid}", s.patchTenant).Methods(http.MethodPatch)
	api.HandleFunc("/tenants/{tid}", s.deleteTenant).Methods(http.MethodDelete)
	api.HandleFunc("/tenants/{tid}/overview", s.overview).Methods(http.MethodGet)
	api.HandleFunc("/tenants/{tid}/users", s.createUser).Methods(http.MethodPost)
	api.HandleFunc("/tenants/{tid}/users", s.listUsers).Methods(http.MethodGet)
	api.HandleFunc("/tenants/{tid}/users/{uid}", s.getUser).Methods(http.MethodGet)
	api.HandleFunc("/tenants/{tid}/users/{uid}", s.patchUser).Methods(http.MethodPatch)
	api.HandleFunc("/tenants/{tid}/users/{uid}", s.deleteUser).Methods(http.MethodDelete)
	api.HandleFunc("/tenants/{tid}/users/{uid}/authenticationMethods/totp", s.enrollUserTOTP).Methods(http.MethodPost)
	api.HandleFunc("/tenants/{tid}/users/{uid}/adminRole", s.putAdminRole).Methods(http.MethodPut)
	api.HandleFunc("/tenants/{tid}/users/{uid}/adminRole", s.deleteAdminRole).Methods(http.MethodDelete)
	api.HandleFunc("/tenants/{tid}/devices", s.listDevices).Methods(http.MethodGet)
	api.HandleFunc("/tenants/{tid}/devices/{did}", s.getDevice).Methods(http.MethodGet)
	api.HandleFunc("/tenants/{tid}/devices/{did}/retire", s.retireDevice).Methods(http.MethodPost)
	api.HandleFunc("/tenants/{tid}/devices/{did}/resendFailed", s.resendDeviceFailed).Methods(http.MethodPost)
	api.HandleFunc("/tokens", s.createToken).Methods(http.MethodPost)
	api.HandleFunc("/tokens", s.listTokens).Methods(http.MethodGet)
	api.HandleFunc("/tokens/{id}", s.deleteToken).Methods(http.MethodDelete)
	api.HandleFunc("/backup", s.backup).Methods(http.MethodGet)
	api.HandleFunc("/tenants/{tid}/pinReset/consent", s.pinResetConsent).Methods(http.MethodPost)
	api.HandleFunc("/tenants/{tid}/servicePrincipals", s.servicePrincipals).Methods(http.MethodGet)
	api.HandleFunc("/tenants/{tid}/wns", s.getTenantWNS).Methods(http.MethodGet)
	api.HandleFunc("/tenants/{tid}/wns", s.patchTenantWNS).Methods(http.MethodPatch)
}

func tenantView(t store.Tenant) wire.Tenant {
	return wire.Tenant{ID: t.ID, DisplayName: t.DisplayName, VerifiedDomains: nonNil(t.VerifiedDomains), AuthPolicy: t.AuthPolicy,
		FederationHost: t.FederationHost, GovCloud: t.GovCloud, RoleScopeTagIDs: nonNil(t.ScopeTags), CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt,
		EnrollmentReturnURIs: nonNil(t.EnrollmentReturnURIs)}
}

// toTenant validates a create request and returns the tenant to store.
func toTenant(req wire.TenantRequest, now time.Time) (store.Tenant, error) {
	id, err := normalizeTenantID(req.ID)
	if err != nil {
		return store.Tenant{}, err
	}
	t := store.Tenant{ID: id, GovCloud: req.GovCloud, CreatedAt: now, UpdatedAt: now}
	if t.DisplayName, err = checkDisplayName(req.DisplayName); err != nil {
		return store.Tenant{}, err
	}
	if t.VerifiedDomains, err = normalizeDomains(req.VerifiedDomains); err != nil {
		return store.Tenant{}, err
	}
	if t.AuthPolicy, err = normalizeAuthPolicy(req.AuthPolicy); err != nil {
		return store.Tenant{}, err
	}
	if t.FederationHost, err = normalizeHost(req.FederationHost); err != nil {
		return store.Tenant{}, err
	}
	if t.ScopeTags, err = normalizeScopeTags(req.RoleScopeTagIDs); err != nil {
		return store.Tenant{}, err
	}
	if t.EnrollmentReturnURIs, err = normalizeReturnURIs(req.EnrollmentReturnURIs); err != nil {
		return store.Tenant{}, err
	}
	return t, nil
}

// applyTenantPatch validates a patch and applies it to t.
func applyTenantPatch(p wire.TenantPatch, t *store.Tenant) error {
	var err error
	if p.DisplayName != nil {
		if t.DisplayName, err = checkDisplayName(*p.DisplayName); err != nil {
			return err
		}
	}
	if p.VerifiedDomains != nil {
		if t.VerifiedDomains, err = normalizeDomains(*p.VerifiedDomains); err != nil {
			return err
		}
	}
	if p.AuthPolicy != nil {
		if t.AuthPolicy, err = normalizeAuthPolicy(*p.AuthPolicy); err != nil {
			return err
		}
	}
	if p.FederationHost != nil {
		if t.FederationHost, err = normalizeHost(*p.FederationHost); err != nil {
			return err
		}
	}
	if p.GovCloud != nil {
		t.GovCloud = *p.GovCloud
	}
	if p.EnrollmentReturnURIs != nil {
		if t.EnrollmentReturnURIs, err = normalizeReturnURIs(*p.EnrollmentReturnURIs); err != nil {
			return err
		}
	}
	return nil
}

// maxReturnURIs bounds a tenant's enrollment return addresses.
const maxReturnURIs = 16

// normalizeReturnURIs checks a tenant's enrollment return addresses: at most maxReturnURIs
// absolute https URLs with a host, no user info or fragment, at most 2048 bytes of visible
// ASCII each (what the sign-in page accepts as appru); duplicates are dropped. They match
// the appru exactly, so they are kept as given.
func normalizeReturnURIs(in []string) ([]string, error) {
	if len(in) > maxReturnURIs {
		return nil, validationError(fmt.Sprintf("enrollmentReturnUris: at most %d addresses", maxReturnURIs))
	}
	var out []string
	for _, raw := range in {
		bad := len(raw) == 0 || len(raw) > 2048
		for i := 0; i < len(raw) && !bad; i++ {
			bad = raw[i] < 0x21 || raw[i] > 0x7e
		}
		u, err := url.Parse(raw)
		if bad || err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.Fragment != "" || strings.Contains(raw, "#") {
			return nil, validationError("enrollmentReturnUris: " + quote(raw) + " is not an absolute https URL without user info or fragment")
		}
		if !slices.Contains(out, raw) {
			out = append(out, raw)
		}
	}
	return out, nil
}

func (s *API) createTenant(w http.ResponseWriter, r *http.Request) {
	p, ok := s.requireAdmin(w, r, true, "create tenants")
	if !ok {
		return
	}
	var req wire.TenantRequest
	if !decodeAdminBody(w, r, &req) {
		return
	}
	t, err := toTenant(req, s.cfg.Now().UTC())
	if err != nil {
		writeError(w, http.StatusUnprocessableEntity, "invalidTenant", err.Error())
		return
	}
	var view wire.Tenant
	err = s.cfg.Store.Write(r.Context(), func(tx store.Writer) error {
		stored, err := tx.CreateTenant(t)
		if err != nil {
			return err
		}
		view = tenantView(stored)
		return tx.Audit(s.adminEvent(p, stored.ID, "create", audit.Subject{Type: audit.SubjectTenant, ID: stored.ID}, "", nil, view))
	})
	if err != nil {
		s.tenantWriteFailed(w, r, t.ID, err)
		return
	}
	writeJSON(w, http.StatusCreated, view)
}

// tenantWriteFailed maps a failed tenant write: 409 for a taken ID or domain.
func (s *API) tenantWriteFailed(w http.ResponseWriter, r *http.Request, id string, err error) {
	switch {
	case errors.Is(err, store.ErrExists):
		msg := "one of the verified domains belongs to another tenant"
		if _, terr := s.cfg.Store.Tenant(r.Context(), id); terr == nil && r.Method == http.MethodPost {
			msg = "a tenant with id " + id + " already exists"
		}
		writeError(w, http.StatusConflict, "conflict", msg)
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, "notFound", "no such tenant")
	default:
		s.log.Error("tenant write failed", "tenant", id, "err", err)
		writeError(w, http.StatusServiceUnavailable, "unavailable", "the tenant could not be stored")
	}
}

func (s *API) listTenants(w http.ResponseWriter, r *http.Request) {
	p, _ := PrincipalFrom(r.Context())
	ts, err := s.cfg.Store.ListTenants(r.Context())
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "unavailable", "listing tenants failed")
		return
	}
	out := make([]wire.Tenant, 0, len(ts))
	for _, t := range ts {
		if p.SeesTenant(t.ID) {
			out = append(out, tenantView(t))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"value": out})
}

func (s *API) getTenant(w http.ResponseWriter, r *http.Request) {
	t, ok := s.tenantOf(w, r)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, tenantView(t))
}

func (s *API) patchTenant(w http.ResponseWriter, r *http.Request) {
	var patch wire.TenantPatch
	p, before, ok := s.adminTenantBody(w, r, "change tenants", &patch)
	if !ok {
		return
	}
	check := before
	if err := applyTenantPatch(patch, &check); err != nil {
		writeError(w, http.StatusUnprocessableEntity, "invalidTenant", err.Error())
		return
	}
	var (
		prior store.Tenant
		view  wire.Tenant
	)
	err := s.cfg.Store.Write(r.Context(), func(tx store.Writer) error {
		after, err := tx.UpdateTenant(before.ID, func(t *store.Tenant) error {
			prior = *t
			return applyTenantPatch(patch, t)
		})
		if err != nil {
			return err
		}
		view = tenantView(after)
		return tx.Audit(s.adminEvent(p, after.ID, "update", audit.Subject{Type: audit.SubjectTenant, ID: after.ID}, "", tenantView(prior), view))
	})
	if err != nil {
		s.tenantWriteFailed(w, r, before.ID, err)
		return
	}
	writeJSON(w, http.StatusOK, view)
}

// deleteTenant removes a tenant (DELETE /tenants/{tid}, global admin only, 204). The rule:
//
//   - While the tenant has enrolled (not retired) devices the answer is 409 with their count,
//     and nothing changes. With ?force=true every such device is retired first, each with
//     its own audit events, exactly as POST .../devices/{did}/retire does: its certificate
//     is revoked and its next check-in refused (SyncML 403).
//   - Then, in one transaction with the deletion's admin.write "delete" event, the store
//     removes the tenant with its domains (enrollment for them is refused as for any unknown
//     domain), users, groups, profiles, assignments, setting states, the admin tokens bound
//     to it and its signing keys (store.Tenants.DeleteTenant).
//   - The tenant's audit log is kept, and the deletion event is appended to it: the log
//     where the tenant's creation was recorded. Audit is evidence. The API serves a
//     tenant's log only while the tenant exists, so export it first (GET .../audit, 'admin
//     audit export') when it is needed outside the store; it stays in the store (and its
//     backups), and a tenant created again with the same ID continues that chain. The
//     retired device records are kept too.
func (s *API) deleteTenant(w http.ResponseWriter, r *http.Request) {
	p, ok := s.requireAdmin(w, r, true, "delete tenants")
	if !ok {
		return
	}
	t, ok := s.tenantOf(w, r)
	if !ok {
		return
	}
	force := false
	if v := r.URL.Query().Get("force"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			writeError(w, http.StatusBadRequest, "badRequest", "force must be true or false")
			return
		}
		force = b
	}
	devs, err := s.cfg.Store.ListDevices(r.Context(), t.ID)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "unavailable", "listing the tenant's devices failed")
		return
	}
	var enrolled []string
	for _, d := range devs {
		if d.State == store.DeviceEnrolled {
			enrolled = append(enrolled, d.ID)
		}
	}
	if len(enrolled) > 0 && !force {
		s.tenantDeleteConflict(w, len(enrolled))
		return
	}
	for _, id := range enrolled {
		if _, err := s.retire(r.Context(), p, id); err != nil && !errors.Is(err, errAlreadyRetired) && !errors.Is(err, store.ErrNotFound) {
			s.log.Error("retiring device of a deleted tenant failed", "device", id, "err", err)
			writeError(w, http.StatusServiceUnavailable, "unavailable", "retiring the tenant's devices failed; the tenant was not deleted")
			return
		}
	}
	err = s.cfg.Store.Write(r.Context(), func(tx store.Writer) error {
		removed, err := tx.DeleteTenant(t.ID)
		if err != nil {
			return err
		}
		return tx.Audit(s.adminEvent(p, removed.ID, "delete", audit.Subject{Type: audit.SubjectTenant, ID: removed.ID}, "",
			map[string]any{"displayName": removed.DisplayName, "verifiedDomains": removed.VerifiedDomains, "retiredDevices": len(enrolled)}, nil))
	})
	if err != nil {
		switch {
		case errors.Is(err, store.ErrNotFound):
			writeError(w, http.StatusNotFound, "notFound", "no such tenant")
		case errors.Is(err, store.ErrConflict):
			// A device enrolled while this request ran: count again for the answer.
			n := 0
			if devs, lerr := s.cfg.Store.ListDevices(r.Context(), t.ID); lerr == nil {
				for _, d := range devs {
					if d.State == store.DeviceEnrolled {
						n++
					}
				}
			}
			s.tenantDeleteConflict(w, n)
		default:
			s.log.Error("deleting tenant failed", "tenant", t.ID, "err", err)
			writeError(w, http.StatusServiceUnavailable, "unavailable", "the tenant could not be deleted")
		}
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *API) tenantDeleteConflict(w http.ResponseWriter, enrolled int) {
	c := wire.TenantDeletionConflict{EnrolledDevices: enrolled}
	c.Error.Code = "conflict"
	c.Error.Message = fmt.Sprintf("the tenant has %d enrolled devices: retire them, or delete with force=true to retire them all", enrolled)
	writeJSON(w, http.StatusConflict, c)
}
