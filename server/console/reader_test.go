package console_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/hellomdm/hellomdm/internal/consoletest"
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
)

// consolePages are the pages every role may open (the sections built so far, a device).
func consolePages() []string {
	base := "/console/t/" + consoletest.TenantID
	return []string{base + "/", base + "/devices", base + "/devices/dev-001", base + "/roles", base + "/profiles"}
}

// A reader sees every page without one write control; a write it forges from the page, with
// its own valid CSRF token, is refused by the API (403) and changes nothing. Every page has
// labels and works by keyboard.
func TestBrowserReaderSeesNoWriteControls(t *testing.T) {
	e := consoletest.Start(t)
	seedFleet(e)
	reader := e.User("rita@contoso.com", "reader")
	b := consoletest.NewBrowser(t, e)
	b.SignIn(reader)
	for _, p := range consolePages() {
		b.Go(p)
		if loc := b.Location(); loc != p {
			t.Fatalf("reader opening %s landed on %s", p, loc)
		}
		// The sign-out form in the banner is the only form that posts.
		if n := b.Count(`main form[method="post"]`); n != 0 {
			t.Errorf("%s: a reader sees %d write controls", p, n)
		}
		b.CheckLabels()
		b.CheckKeyboard()
	}
	csrf := b.CSRF()
	base := "/console/t/" + consoletest.TenantID
	for _, forged := range []struct {
		path string
		form url.Values
	}{
		{base + "/devices/dev-002/retire", url.Values{}},
		{base + "/devices/dev-002/commands", url.Values{"verb": {"Exec"}, "locUri": {"./Vendor/MSFT/RemoteWipe/doWipe"}}},
		{base + "/devices/dev-001/resend-failed", url.Values{}},
		{base + "/roles", url.Values{"upn": {"rita@contoso.com"}, "role": {"admin"}}},
	} {
		forged.form.Set("csrf", csrf)
		if status := b.Post(forged.path, forged.form); status != http.StatusForbidden {
			t.Errorf("reader's forged POST %s: %d, want 403", forged.path, status)
		}
	}
	d, err := e.Admin.Device(context.Background(), consoletest.TenantID, "dev-002")
	if err != nil || d.EnrollmentState != "enrolled" {
		t.Fatalf("after the forged retire: %+v, %v", d, err)
	}
	cmds, err := e.Admin.Commands(context.Background(), consoletest.TenantID, "dev-002")
	if err != nil || len(cmds) != 0 {
		t.Fatalf("after the forged command: %d commands, %v", len(cmds), err)
	}
	u, err := e.Admin.User(context.Background(), consoletest.TenantID, reader.ID)
	if err != nil || u.AdminRole != "reader" {
		t.Fatalf("after the forged grant: %+v, %v", u, err)
	}
}

// An admin's POST without the CSRF token, or with another session's, is refused before it
// reaches the API; a signed-out browser reaches no page.
func TestBrowserCSRFAndSignedOut(t *testing.T) {
	e := consoletest.Start(t)
	seedFleet(e)
	admin := e.User("ada@contoso.com", "admin")
	b := consoletest.NewBrowser(t, e)
	b.SignIn(admin)
	base := "/console/t/" + consoletest.TenantID
	b.Go(base + "/devices/dev-002")
	for _, form := range []url.Values{{}, {"csrf": {"not-the-token"}}} {
		if status := b.Post(base+"/devices/dev-002/retire", form); status != http.StatusForbidden {
			t.Errorf("retire with csrf %q: %d, want 403", form.Get("csrf"), status)
		}
	}
	if d, err := e.Admin.Device(context.Background(), consoletest.TenantID, "dev-002"); err != nil || d.EnrollmentState != "enrolled" {
		t.Fatalf("a POST without its CSRF token changed the device: %+v, %v", d, err)
	}
	b.Submit(`.signout button`, "signed-out")
	if loc := b.Location(); loc != "/console/login" {
		t.Fatalf("after sign-out at %s", loc)
	}
	for _, p := range append(consolePages(), "/console/") {
		b.Go(p)
		if loc := b.Location(); !strings.HasPrefix(loc, "/console/login") {
			t.Errorf("signed out, %s answered at %s", p, loc)
		}
	}
	if status := b.Post(base+"/devices/dev-002/retire", url.Values{"csrf": {"x"}}); status != http.StatusSeeOther {
		t.Errorf("signed-out POST: %d, want 303 to the sign-in page", status)
	}
}

// An admin grants a user a role on the Admin roles page; the user signs in with it; the
// admin revokes it and the user's next request lands on the sign-in page.
func TestBrowserAdminRoles(t *testing.T) {
	e := consoletest.Start(t)
	admin := e.User("ada@contoso.com", "admin")
	olga := e.User("olga@contoso.com", "")
	b := consoletest.NewBrowser(t, e)
	b.SignIn(admin)
	b.Go("/console/t/" + consoletest.TenantID + "/roles")
	b.CheckLabels()
	b.CheckKeyboard()
	b.Type("#upn", olga.UPN)
	b.Eval(`(document.querySelector("#role").value = "operator", true)`)
	b.Submit("#upn", "role-granted")
	if got := b.Text("#roles"); !strings.Contains(got, "olga@contoso.com") || !strings.Contains(got, "operator") {
		t.Fatalf("roles after the grant: %q", got)
	}
	o := consoletest.NewBrowser(t, e)
	if got := o.SignIn(olga); got != "/console/t/"+consoletest.TenantID+"/" {
		t.Fatalf("olga signed in to %s", got)
	}
	b.Eval(`(window.confirm = () => true, true)`)
	b.Submit(`form[action$="/revoke"] button[aria-label*="olga"]`, "role-revoked")
	o.Go("/console/t/" + consoletest.TenantID + "/devices")
	if loc := o.Location(); !strings.HasPrefix(loc, "/console/login") {
		t.Errorf("after the revoke olga is at %s", loc)
	}

	// More holders than a page: the page shows 50 in UPN order and links the next; users
	// holding no role never show.
	ctx := t.Context()
	for i := range 55 {
		u, err := e.Admin.CreateUser(ctx, consoletest.TenantID, wire.UserRequest{UserPrincipalName: fmt.Sprintf("r%02d@contoso.com", i),
			PasswordProfile: wire.PasswordProfile{Password: consoletest.Password}})
		if err != nil {
			t.Fatal(err)
		}
		if i%11 == 0 {
			continue // 5 of them hold no role
		}
		if _, err := e.Admin.SetAdminRole(ctx, consoletest.TenantID, u.ID, wire.AdminRoleRequest{Role: "reader"}); err != nil {
			t.Fatal(err)
		}
	}
	b.Go("/console/t/" + consoletest.TenantID + "/roles")
	if n := b.Count("#roles tbody tr"); n != 50 || !strings.Contains(b.Text("#roles"), "ada@contoso.com") {
		t.Fatalf("the first page of holders has %d rows: %q", n, b.Text("#roles"))
	}
	b.Submit("#next-page", "roles-page-2")
	if got := b.Text("#roles"); b.Count("#roles tbody tr") != 1 || !strings.Contains(got, "r54@contoso.com") {
		t.Fatalf("the second page of holders: %q", got)
	}
}
