package console_test

import (
	"context"
	"strings"
	"testing"

	"github.com/hellomdm/hellomdm/internal/consoletest"
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
)

const pinResetPath = "/console/t/" + consoletest.TenantID + "/pinreset"

// consentText is the consent cell of an application's row.
func consentText(b *consoletest.Browser, app string) string {
	return b.Text(`#apps tr[data-app="` + app + `"] .consent`)
}

// An admin grants consent to both PIN reset applications and revokes one: the page and the
// API agree at every step; in a government cloud tenant a grant shows the API's warning.
func TestBrowserPinResetConsent(t *testing.T) {
	e := consoletest.Start(t)
	ctx := context.Background()
	ada := e.User("ada@contoso.com", "admin")
	b := consoletest.NewBrowser(t, e)
	b.SignIn(ada)
	b.Go(pinResetPath)
	b.CheckLabels()
	b.CheckKeyboard()
	for _, name := range []string{"Microsoft Pin Reset Service Production", "Microsoft Pin Reset Client Production"} {
		if !strings.Contains(b.Text("#apps"), name) {
			t.Fatalf("the page does not list %s: %q", name, b.Text("#apps"))
		}
	}
	if got := consentText(b, "service"); got != "Not granted" {
		t.Fatalf("service consent %q", got)
	}
	b.Submit("#consent-service", "service-consented")
	b.Submit("#consent-client", "client-consented")
	if got := b.Text(".flash"); !strings.Contains(got, "Consent granted to Microsoft Pin Reset Client Production") {
		t.Errorf("notice %q", got)
	}
	for _, app := range []string{"service", "client"} {
		if got := consentText(b, app); !strings.HasPrefix(got, "Granted on ") {
			t.Errorf("%s consent %q", app, got)
		}
	}
	if got := b.Text("#pinreset-state"); !strings.HasPrefix(got, "Both applications have consent: non-destructive PIN reset is available") {
		t.Errorf("state %q", got)
	}
	b.CheckLabels()
	b.CheckKeyboard()
	sps, err := e.Admin.ServicePrincipals(ctx, consoletest.TenantID)
	if err != nil || len(sps.Value) != 2 || !sps.Value[0].Consented || !sps.Value[1].Consented {
		t.Fatalf("the API says %+v (%v)", sps, err)
	}
	b.Submit("#revoke-client", "client-revoked")
	if got := consentText(b, "client"); got != "Not granted" {
		t.Errorf("client consent after revoke %q", got)
	}
	if sps, _ := e.Admin.ServicePrincipals(ctx, consoletest.TenantID); sps.Value[1].Consented || !sps.Value[0].Consented {
		t.Fatalf("after revoke the API says %+v", sps.Value)
	}
	if b.Count("#warnings") != 0 || b.Count("#govcloud") != 0 {
		t.Error("a commercial tenant shows the government cloud warning")
	}

	// A government cloud tenant: the page says so, and a grant shows the API's warning.
	gov := true
	if _, err := e.Admin.UpdateTenant(ctx, consoletest.TenantID, wire.TenantPatch{GovCloud: &gov}); err != nil {
		t.Fatal(err)
	}
	b.Go(pinResetPath)
	if !strings.Contains(b.Text("#govcloud"), "government cloud") {
		t.Errorf("government cloud note %q", b.Text("#govcloud"))
	}
	b.Submit("#consent-client", "govcloud-consented")
	if got := b.Text("#warnings"); !strings.Contains(got, "not available in Azure Government") {
		t.Errorf("the API's warning is not shown: %q", got)
	}
	if got := b.Text("#pinreset-state"); !strings.Contains(got, "cannot work in a government cloud tenant") {
		t.Errorf("state %q", got)
	}
}

// An operator manages groups but not identities or consent, as in the API: the groups page
// has its create form and the group page its member search, while the users, a user's and
// the PIN reset pages show no write control.
func TestBrowserAdminPagesOperator(t *testing.T) {
	e := consoletest.Start(t)
	ctx := context.Background()
	otto := e.User("otto@contoso.com", "operator")
	g, err := e.Admin.CreateGroup(ctx, consoletest.TenantID, wire.GroupRequest{DisplayName: "WHfB pilot"})
	if err != nil {
		t.Fatal(err)
	}
	b := consoletest.NewBrowser(t, e)
	b.SignIn(otto)
	for _, c := range []struct {
		path, control string
		want          int
	}{
		{groupsPath, "#create-group", 1},
		{groupsPath + "/" + g.ID, "#find", 1},
		{usersPath, "#create-user", 0},
		{usersPath + "/" + otto.ID, "#enroll-totp", 0},
		{pinResetPath, "#apps form", 0},
	} {
		b.Go(c.path)
		if n := b.Count(c.control); n != c.want {
			t.Errorf("%s: %d of %s, want %d", c.path, n, c.control, c.want)
		}
	}
}
