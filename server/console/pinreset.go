package console

import (
	"net/http"

	"github.com/hellomdm/hellomdm/server/adminapi/wire"
)

// PIN reset onboarding (Entra ID's Enterprise applications, as the Windows Hello for
// Business PIN reset onboarding asks): the two applications of the Microsoft PIN reset
// service with the tenant's admin consent, and buttons to grant or revoke it. Consent is an
// admin task in the API, so only an admin sees the buttons. A grant the API answers with
// warnings (a government cloud tenant, where the service does not run) shows them on the
// page that answers the POST, in a warning box, instead of a notice that would read as
// success only; a grant without warnings and a revocation go back to the page with a notice.

func init() {
	Register(&Section{Title: "PIN reset", Path: "/pinreset", Order: 60},
		Route{Method: http.MethodGet, Path: "/pinreset", Handle: pinResetPage},
		Route{Method: http.MethodPost, Path: "/pinreset/consent", Handle: pinResetConsent},
	)
}

// pinResetData is the onboarding page.
type pinResetData struct {
	Tenant wire.Tenant
	Apps   []wire.ServicePrincipal
	// Ready is true when both applications have consent: devices can then reset their PIN
	// without losing their container (unless the tenant is a government cloud tenant).
	Ready bool
	// Notice and Warnings are the answer of a consent change shown on this page.
	Notice   string
	Warnings []string
}

func pinResetPage(c *Ctx) error { return c.pinResetView(pinResetData{}) }

func (c *Ctx) pinResetView(d pinResetData) error {
	ctx := c.R.Context()
	t, err := c.API.Tenant(ctx, c.Tenant)
	if err != nil {
		return err
	}
	sps, err := c.API.ServicePrincipals(ctx, c.Tenant)
	if err != nil {
		return err
	}
	d.Tenant, d.Apps, d.Ready = t, sps.Value, len(sps.Value) > 0
	for _, a := range sps.Value {
		d.Ready = d.Ready && a.Consented
	}
	return c.Render("pinreset.html", d)
}

func pinResetConsent(c *Ctx) error {
	app := c.R.PostFormValue("app")
	granted := c.R.PostFormValue("granted") == "true"
	if app != "service" && app != "client" {
		return &StatusError{Status: http.StatusBadRequest, Message: "app must be service or client"}
	}
	out, err := c.API.PinResetConsent(c.R.Context(), c.Tenant, wire.ConsentRequest{App: app, Granted: &granted})
	if err != nil {
		return err
	}
	name := app
	for _, a := range out.Value {
		if a.App == app {
			name = a.DisplayName
		}
	}
	notice := "Consent revoked for " + name + "."
	if granted {
		notice = "Consent granted to " + name + "."
	}
	if len(out.Warnings) > 0 {
		return c.pinResetView(pinResetData{Notice: notice, Warnings: out.Warnings})
	}
	return c.Redirect(c.Path("/pinreset"), notice)
}
