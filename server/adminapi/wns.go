package adminapi

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"time"

	"github.com/hellomdm/hellomdm/audit"
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
	"github.com/hellomdm/hellomdm/store"
)

// A tenant's WNS push settings (docs/protocol.md C.7): the package family name its devices
// are given at DMClient Push/PFN, and the package SID and client secret the server asks
// the WNS token endpoint with. The secret is write-only: it is sealed in the configuration
// area (store.ConfigWNSSecretKey) and no answer or audit event carries it; the view says
// only whether one is configured.

var (
	// pfnPattern: Name_PublisherId, the publisher ID being 13 lower-case base32 characters
	// (Windows package identity).
	pfnPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9.-]{1,49}_[a-z0-9]{13}$`)
	// packageSIDPattern: ms-app:// and an app container SID, S-1-15-2 and seven numbers.
	packageSIDPattern = regexp.MustCompile(`^ms-app://[sS]-1-15-2(-[0-9]{1,10}){7}$`)
	// secretPattern: printable ASCII, as the Partner Center issues them.
	secretPattern = regexp.MustCompile(`^[\x21-\x7e]{1,256}$`)
)

func deviceWNSView(d store.Device, now time.Time) *wire.DeviceWNS {
	w := d.WNS
	if w == nil {
		return nil
	}
	v := &wire.DeviceWNS{PFN: w.PFN, HasChannel: w.Usable(now), Status: w.Status, ReadAt: w.ReadAt, Refused: w.Refused,
		LastWakeAt: w.LastWakeAt, LastWakeResult: w.LastWakeResult, ChannelExpiresAt: w.ExpiresAt}
	if w.ChannelURI != "" {
		v.ChannelHost = hostOfURI(w.ChannelURI)
	}
	return v
}

func (s *API) wnsSecretConfigured(ctx context.Context, tenantID string) (bool, error) {
	_, err := s.cfg.Store.GetConfig(ctx, store.ConfigWNSSecretKey(tenantID))
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

func tenantWNSView(t store.Tenant, secret bool) wire.TenantWNS {
	v := wire.TenantWNS{ClientSecretConfigured: secret}
	if t.WNS != nil {
		v.PFN, v.PackageSID = t.WNS.PFN, t.WNS.PackageSID
	}
	return v
}

func (s *API) getTenantWNS(w http.ResponseWriter, r *http.Request) {
	t, ok := s.tenantOf(w, r)
	if !ok {
		return
	}
	secret, err := s.wnsSecretConfigured(r.Context(), t.ID)
	if err != nil {
		s.wnsFailed(w, t.ID, err)
		return
	}
	writeJSON(w, http.StatusOK, tenantWNSView(t, secret))
}

// validateWNSPatch checks the patch against what is stored and returns the settings after it.
func validateWNSPatch(p wire.TenantWNSPatch, before wire.TenantWNS) (wire.TenantWNS, error) {
	after := before
	if p.PFN != nil {
		if *p.PFN != "" && !pfnPattern.MatchString(*p.PFN) {
			return after, validationError("pfn " + quote(*p.PFN) + " is not a package family name (Name_PublisherId, e.g. Contoso.MDM_8wekyb3d8bbwe)")
		}
		after.PFN = *p.PFN
	}
	if p.PackageSID != nil {
		if *p.PackageSID != "" && !packageSIDPattern.MatchString(*p.PackageSID) {
			return after, validationError("packageSid " + quote(*p.PackageSID) + " is not ms-app://S-1-15-2-... (the package SID from the Partner Center)")
		}
		after.PackageSID = *p.PackageSID
	}
	if p.ClientSecret != nil {
		if *p.ClientSecret != "" && !secretPattern.MatchString(*p.ClientSecret) {
			return after, validationError("clientSecret must be 1 to 256 printable ASCII characters")
		}
		after.ClientSecretConfigured = *p.ClientSecret != ""
	}
	if after.PFN != "" && (after.PackageSID == "" || !after.ClientSecretConfigured) {
		return after, validationError("a pfn needs a packageSid and a clientSecret: without them no device could be woken through WNS")
	}
	return after, nil
}

// patchTenantWNS changes the tenant's WNS settings, the secret and the admin.write event
// (before and after without the secret; clientSecretChanged when it was given) in one
// transaction.
func (s *API) patchTenantWNS(w http.ResponseWriter, r *http.Request) {
	var req wire.TenantWNSPatch
	p, t, ok := s.adminTenantBody(w, r, "change WNS settings", &req)
	if !ok {
		return
	}
	secret, err := s.wnsSecretConfigured(r.Context(), t.ID)
	if err != nil {
		s.wnsFailed(w, t.ID, err)
		return
	}
	before := tenantWNSView(t, secret)
	after, err := validateWNSPatch(req, before)
	if err != nil {
		writeError(w, http.StatusUnprocessableEntity, "invalidWNS", err.Error())
		return
	}
	err = s.cfg.Store.Write(r.Context(), func(tx store.Writer) error {
		if _, err := tx.UpdateTenant(t.ID, func(st *store.Tenant) error {
			st.WNS = &store.TenantWNS{PFN: after.PFN, PackageSID: after.PackageSID}
			if after.PFN == "" && after.PackageSID == "" {
				st.WNS = nil
			}
			return nil
		}); err != nil {
			return err
		}
		if req.ClientSecret != nil {
			key := store.ConfigWNSSecretKey(t.ID)
			var err error
			if *req.ClientSecret == "" {
				err = tx.DeleteConfig(key)
			} else {
				err = tx.PutConfig(key, []byte(*req.ClientSecret))
			}
			if err != nil {
				return err
			}
		}
		ev := s.adminEvent(p, t.ID, "updateWNS", audit.Subject{Type: audit.SubjectTenant, ID: t.ID}, "", before, after)
		if req.ClientSecret != nil {
			ev.Details = mustJSON(map[string]any{"before": before, "after": after, "clientSecretChanged": true})
		}
		return tx.Audit(ev)
	})
	if err != nil {
		s.wnsFailed(w, t.ID, err)
		return
	}
	if s.cfg.WNSChanged != nil {
		s.cfg.WNSChanged(t.ID)
	}
	writeJSON(w, http.StatusOK, after)
}

// wnsFailed answers a store failure of the WNS routes (nothing was changed).
func (s *API) wnsFailed(w http.ResponseWriter, tenantID string, err error) {
	if isNotFound(err) {
		writeError(w, http.StatusNotFound, "notFound", "no such tenant")
		return
	}
	s.log.Error("WNS settings failed", "tenant", tenantID, "err", err)
	writeError(w, http.StatusServiceUnavailable, "unavailable", "the WNS settings could not be read or stored")
}

// hostOfURI is a URI's host ("" when it does not parse).
func hostOfURI(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Host
}
