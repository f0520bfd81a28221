package adminapi

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/hellomdm/hellomdm/audit"
	"github.com/hellomdm/hellomdm/pinreset"
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
	"github.com/hellomdm/hellomdm/store"
)

// PinResetOnboarding is the PIN reset service's onboarding side: admin consent to its two
// enterprise applications (pinreset.Service implements it).
type PinResetOnboarding interface {
	Consent(ctx context.Context, to pinreset.ConsentStore, tenantID string, app pinreset.App, granted bool) error
	ServicePrincipals(ctx context.Context, tenantID string) ([]pinreset.ServicePrincipal, error)
}

// subjectServicePrincipal is the audit subject type of an enterprise application's consent.
const subjectServicePrincipal = "servicePrincipal"

// consentApp maps the request's app name to the pinreset application.
func consentApp(name string) (pinreset.App, error) {
	switch n := strings.TrimSpace(name); {
	case strings.EqualFold(n, "service"), strings.EqualFold(n, pinreset.ServiceAppID):
		return pinreset.AppService, nil
	case strings.EqualFold(n, "client"), strings.EqualFold(n, pinreset.ClientAppID):
		return pinreset.AppClient, nil
	}
	return "", validationError("app " + quote(name) + " is neither service nor client")
}

func servicePrincipalViews(sps []pinreset.ServicePrincipal) []wire.ServicePrincipal {
	out := make([]wire.ServicePrincipal, 0, len(sps))
	for _, sp := range sps {
		v := wire.ServicePrincipal{App: "client", AppID: sp.AppID, DisplayName: sp.DisplayName, Consented: sp.Consented}
		if sp.App == pinreset.AppService {
			v.App = "service"
		}
		if sp.Consented && !sp.ConsentedAt.IsZero() {
			at := sp.ConsentedAt.UTC()
			v.ConsentedAt = &at
		}
		out = append(out, v)
	}
	return out
}

// pinResetConsent records admin consent to (or its withdrawal from) one of the two
// enterprise applications, the onboarding step of Windows Hello for Business PIN reset
// (Learn: "PIN reset", Onboarding).
func (s *API) pinResetConsent(w http.ResponseWriter, r *http.Request) {
	var req wire.ConsentRequest
	p, t, ok := s.adminTenantBody(w, r, "consent to enterprise applications", &req)
	if !ok {
		return
	}
	app, err := consentApp(req.App)
	if err == nil && req.Granted == nil {
		err = validationError("granted (true or false) is required")
	}
	if err != nil {
		writeError(w, http.StatusUnprocessableEntity, "invalidConsent", err.Error())
		return
	}
	if s.cfg.PinReset == nil {
		writeError(w, http.StatusServiceUnavailable, "unavailable", "the PIN reset service is not running on this server")
		return
	}
	before, err := s.cfg.PinReset.ServicePrincipals(r.Context(), t.ID)
	if err != nil {
		s.pinResetFailed(w, t.ID, err)
		return
	}
	action := "grantConsent"
	if !*req.Granted {
		action = "revokeConsent"
	}
	// The PIN reset service stores the consent through consentWrite, which appends the event
	// in the same transaction.
	var after []wire.ServicePrincipal
	to := consentWrite{st: s.cfg.Store, event: func(stored store.Tenant) *audit.Event {
		after = consentViews(stored)
		return s.adminEvent(p, t.ID, action, audit.Subject{Type: subjectServicePrincipal, ID: app.AppID()}, "",
			servicePrincipalViews(before), after)
	}}
	if err := s.cfg.PinReset.Consent(r.Context(), to, t.ID, app, *req.Granted); err != nil {
		s.pinResetFailed(w, t.ID, err)
		return
	}
	resp := map[string]any{"value": after}
	if t.GovCloud && *req.Granted {
		resp["warnings"] = []string{govCloudWarning}
	}
	writeJSON(w, http.StatusOK, resp)
}

// govCloudWarning is the warning of the writes that enable non-destructive PIN reset in a
// government cloud tenant, where it cannot work (Learn "PIN reset": the Microsoft PIN reset
// service is not available in Azure Government). The write is kept: destructive reset and
// the rest of the policy still apply, and devices report CanReset DestructiveOnly with the
// reason (row government-cloud).
const govCloudWarning = "the PIN reset service is not available in Azure Government: this tenant is a government cloud tenant, so non-destructive PIN reset cannot work on its devices (CanReset stays DestructiveOnly); users reset their PIN destructively. Above the lock screen, Entra joined devices also need login.microsoftonline.us in ConfigureWebSignInAllowedUrls"

// consentViews shows the two applications with t's consent state as written, as
// pinreset.Service.ServicePrincipals reads it back (AppService first).
func consentViews(t store.Tenant) []wire.ServicePrincipal {
	sp := func(app pinreset.App, at *time.Time) pinreset.ServicePrincipal {
		v := pinreset.ServicePrincipal{App: app, AppID: app.AppID(), DisplayName: app.DisplayName()}
		if at != nil {
			v.Consented, v.ConsentedAt = true, *at
		}
		return v
	}
	return servicePrincipalViews([]pinreset.ServicePrincipal{
		sp(pinreset.AppService, t.PinResetServiceConsentAt),
		sp(pinreset.AppClient, t.PinResetClientConsentAt),
	})
}

func (s *API) servicePrincipals(w http.ResponseWriter, r *http.Request) {
	t, ok := s.tenantOf(w, r)
	if !ok {
		return
	}
	if s.cfg.PinReset == nil {
		writeError(w, http.StatusServiceUnavailable, "unavailable", "the PIN reset service is not running on this server")
		return
	}
	sps, err := s.cfg.PinReset.ServicePrincipals(r.Context(), t.ID)
	if err != nil {
		s.pinResetFailed(w, t.ID, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"value": servicePrincipalViews(sps)})
}

func (s *API) pinResetFailed(w http.ResponseWriter, tenantID string, err error) {
	if errors.Is(err, pinreset.ErrUnknownTenant) {
		writeError(w, http.StatusNotFound, "notFound", "no such tenant")
		return
	}
	s.log.Error("PIN reset onboarding failed", "tenant", tenantID, "err", err)
	writeError(w, http.StatusServiceUnavailable, "unavailable", "the PIN reset service could not answer")
}

// consentWrite stores one consent change for the PIN reset service (pinreset.ConsentStore)
// in a Write that appends the admin's audit event, built by event from the tenant as stored,
// in the same transaction.
type consentWrite struct {
	st    store.Store
	event func(stored store.Tenant) *audit.Event
}

func (c consentWrite) SetConsent(ctx context.Context, tenantID string, app pinreset.App, granted bool, at time.Time) error {
	var v *time.Time
	if granted {
		at := at.UTC()
		v = &at
	}
	err := c.st.Write(ctx, func(tx store.Writer) error {
		stored, err := tx.UpdateTenant(tenantID, func(t *store.Tenant) error {
			switch app {
			case pinreset.AppService:
				t.PinResetServiceConsentAt = v
			case pinreset.AppClient:
				t.PinResetClientConsentAt = v
			default:
				return pinreset.ErrUnknownApp
			}
			return nil
		})
		if err != nil {
			return err
		}
		return tx.Audit(c.event(stored))
	})
	if isNotFound(err) {
		return pinreset.ErrUnknownTenant
	}
	return unavailableAs(pinreset.ErrTemporarilyUnavailable, err)
}
