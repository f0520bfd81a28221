package console_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/device"
	"github.com/hellomdm/hellomdm/device/enroll"
	"github.com/hellomdm/hellomdm/device/hello"
	"github.com/hellomdm/hellomdm/device/identity"
	"github.com/hellomdm/hellomdm/internal/consoletest"
	adminclient "github.com/hellomdm/hellomdm/server/adminapi/client"
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
)

const (
	profilesPath = "/console/t/" + consoletest.TenantID + "/profiles"
	// The seed's setting: PassportForWork EnablePinRecovery in the device scope.
	pinRecoveryID = "device_vendor_msft_passportforwork_{tenantid}_policies_enablepinrecovery"
	// The seed's wrong OMA-URI, as the PIN reset documentation page prints it: PassportForWork
	// under ./Device/Vendor/MSFT/Policy.
	wrongURI = "./Device/Vendor/MSFT/Policy/PassportForWork/<TenantId>/Policies/EnablePinRecovery"
	rightURI = "./Device/Vendor/MSFT/PassportForWork/{TenantId}/Policies/EnablePinRecovery"
)

// setSelect chooses an option of a select by value, as the keyboard does (the change only
// matters when the form is sent).
func setSelect(t *testing.T, b *consoletest.Browser, css, value string) {
	t.Helper()
	if !consoletest.Eval[bool](b, fmt.Sprintf(`(function(){const s=document.querySelector(%q); if(!s) return false;
		const o=Array.from(s.options).find(o=>o.value===%q); if(!o) return false; s.value=o.value; return true;})()`, css, value)) {
		t.Fatalf("%s has no option %q", css, value)
	}
}

// rowIndex is the index of the table row (tbody tr) whose data-setting is id, -1 if none.
func rowIndex(b *consoletest.Browser, table, id string) int {
	return consoletest.Eval[int](b, fmt.Sprintf(`Array.from(document.querySelectorAll(%q)).findIndex(tr => tr.dataset.setting === %q)`, table+" tbody tr", id))
}

// The seed's custom profile with its wrong OMA-URI: Create profile → Templates > Custom,
// one row with the URI the documentation page prints; Next is refused by the API's
// validation and the row shows the API's did-you-mean beside the field; taking it, the
// profile is created.
func TestBrowserCustomProfileDidYouMean(t *testing.T) {
	e := consoletest.Start(t)
	b := consoletest.NewBrowser(t, e)
	ada := e.User("ada@contoso.com", "admin")
	b.SignIn(ada)
	b.Go(profilesPath + "/new")
	b.CheckLabels()
	b.CheckKeyboard()
	setSelect(t, b, "#type", "custom")
	b.Submit("#create", "custom-basics")
	b.Type("#name", "WHfB PIN recovery (custom)")
	b.Submit("#name", "custom-settings")
	b.Type("#row-name-0", "EnablePinRecovery")
	b.Type("#row-uri-0", wrongURI)
	setSelect(t, b, "#row-type-0", "Boolean")
	b.Type("#row-value-0", "true")
	b.CheckLabels()
	b.CheckKeyboard()
	b.Submit("#next", "custom-refused") // Next validates the rows through the API (a dry run)
	if got := b.Text("#row-uri-0-error"); !strings.Contains(got, "does not exist") || !strings.Contains(got, "Did you mean "+rightURI+"?") {
		t.Fatalf("the row's error beside the OMA-URI: %q", got)
	}
	if got := b.Text("#wizard-error"); !strings.Contains(got, "not valid") {
		t.Errorf("the step's error: %q", got)
	}
	if ps, err := e.Admin.Profiles(context.Background(), consoletest.TenantID, adminclient.CustomOMAURI); err != nil || len(ps) != 0 {
		t.Fatalf("a refused profile was stored: %v, %v", ps, err)
	}
	b.CheckLabels()
	b.CheckKeyboard()
	b.Submit("#row-suggest-0", "custom-suggestion-taken")
	if got := consoletest.Eval[string](b, `document.querySelector("#row-uri-0").value`); got != rightURI {
		t.Fatalf("after taking the suggestion the OMA-URI is %q", got)
	}
	b.Submit("#next", "custom-scope-2")
	b.Submit("#next", "custom-assignments-2")
	b.Submit("#next", "custom-review-2")
	b.Submit("#create", "custom-created")
	if got := b.Text(".flash"); !strings.HasPrefix(got, "Profile created.") {
		t.Fatalf("flash %q", got)
	}
	if got := b.Text("#profile-rows tbody td code"); got != rightURI {
		t.Errorf("the profile's OMA-URI: %q", got)
	}
	b.CheckLabels()
	b.CheckKeyboard()
	// Edit opens the wizard on the stored row; the import page.
	b.Go(consoletest.Eval[string](b, `document.querySelector("#edit-profile").getAttribute("href")`))
	if got := b.Text("h1"); !strings.HasPrefix(got, "Edit profile") {
		t.Errorf("edit page heading %q", got)
	}
	b.Submit("#name", "edit-settings")
	if got := consoletest.Eval[string](b, `document.querySelector("#row-uri-0").value`); got != rightURI {
		t.Errorf("edit: the row's OMA-URI %q", got)
	}
	b.CheckLabels()
	b.CheckKeyboard()
	b.Go(profilesPath + "/import")
	b.CheckLabels()
	b.CheckKeyboard()
}

// The seed in the browser: a user with password and one-time code signs in, creates the
// seed's settings catalog profile through the settings picker (Windows Hello For Business >
// Enable Pin Recovery = true) and assigns it to a group holding alice; alice's simulated
// device enrolls, syncs and provisions Hello; the profile's status shows Enable Pin Recovery
// succeeded on the device, linking to its page, and the overview counts the device under
// DestructiveAndNonDestructive.
func TestBrowserSeedFlow(t *testing.T) {
	e := consoletest.Start(t)
	ctx := context.Background()
	granted := true
	for _, app := range []string{"service", "client"} {
		if _, err := e.Admin.PinResetConsent(ctx, consoletest.TenantID, wire.ConsentRequest{App: app, Granted: &granted}); err != nil {
			t.Fatalf("consent %s: %v", app, err)
		}
	}
	alice, err := e.Admin.CreateUser(ctx, consoletest.TenantID, wire.UserRequest{UserPrincipalName: "alice@contoso.com",
		DisplayName: "Alice", PasswordProfile: wire.PasswordProfile{Password: consoletest.Password}})
	if err != nil {
		t.Fatal(err)
	}
	g, err := e.Admin.CreateGroup(ctx, consoletest.TenantID, wire.GroupRequest{DisplayName: "WHfB pilot"})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Admin.AddMember(ctx, consoletest.TenantID, g.ID, alice.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Admin.CreateGroup(ctx, consoletest.TenantID, wire.GroupRequest{DisplayName: "Kiosks"}); err != nil {
		t.Fatal(err)
	}

	b := consoletest.NewBrowser(t, e)
	b.SignIn(e.User("ada@contoso.com", "admin"))
	pid := createSeedProfile(t, b, g.ID)
	// The API wrote the profile and its assignment as ada, in the audit log.
	page, err := e.Admin.AuditEvents(ctx, consoletest.TenantID, adminclient.AuditPageQuery{AuditQuery: adminclient.AuditQuery{Actor: "ada@contoso.com"}})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, ev := range page.Value {
		if ev.Subject.ID == pid {
			actions = append(actions, ev.Action)
		}
	}
	if !slices.Contains(actions, "create") || !slices.Contains(actions, "assign") {
		t.Errorf("ada's audit events of the profile: %v (page %+v)", actions, page)
	}

	// alice's device: enroll, sync (the policy arrives), Hello, sync (CanReset is reported).
	a := seedDevice(t, e, "alice@contoso.com")
	did := a.Identity().DeviceID

	b.Go(profilesPath + "/configurationPolicies/" + pid + "/status")
	b.CheckLabels()
	b.CheckKeyboard()
	row := fmt.Sprintf(`#status-rows tbody tr[data-device=%q]`, did)
	if got := b.Text(row + " td:nth-child(3)"); got != "Enable Pin Recovery" {
		t.Fatalf("status row setting %q", got)
	}
	if got := b.Text(row + " td:nth-child(5)"); got != "succeeded" {
		t.Fatalf("status row state %q", got)
	}
	if got := b.Text(`.chart tr[data-key="Succeeded"] td:nth-child(2)`); got != "1" {
		t.Errorf("chart: succeeded %q", got)
	}
	href := consoletest.Eval[string](b, `document.querySelector(`+"`"+row+" td a`"+`).getAttribute("href")`)
	if href != "/console/t/"+consoletest.TenantID+"/devices/"+did {
		t.Errorf("the row links to %q", href)
	}
	if rows := statusCSV(t, e, pid); len(rows) != 2 || rows[1][1] != "Enable Pin Recovery" || rows[1][4] != "succeeded" {
		t.Errorf("status.csv: %q", rows)
	}
	b.Go("/console/t/" + consoletest.TenantID + "/")
	if got := b.Text(`.chart tr[data-key="DestructiveAndNonDestructive"] td:nth-child(2)`); got != "1" {
		t.Errorf("overview: DestructiveAndNonDestructive %q devices", got)
	}
	checkDevicePage(t, b, did)
}

// createSeedProfile goes through the wizard by keyboard and returns the profile's ID.
func createSeedProfile(t *testing.T, b *consoletest.Browser, gid string) string {
	t.Helper()
	b.Go(profilesPath)
	b.CheckLabels()
	b.CheckKeyboard()
	b.Go(profilesPath + "/new")
	b.Submit("#create", "platform-and-type") // Windows 10 and later, Settings catalog
	b.Type("#name", "WHfB - Enable PIN recovery")
	b.Type("#description", "Windows Hello for Business: non-destructive PIN reset")
	b.CheckLabels()
	b.CheckKeyboard()
	b.Submit("#name", "basics")
	b.Submit("#add-settings", "picker")
	b.Type("#search", "Enable Pin Recovery")
	setSelect(t, b, "#category", "Windows Hello For Business")
	b.Submit("#search", "picker-results")
	b.CheckLabels()
	b.CheckKeyboard()
	i := rowIndex(b, "#picker-results", pinRecoveryID)
	if i < 0 {
		t.Fatalf("the picker did not find %s", pinRecoveryID)
	}
	if got := b.Text(fmt.Sprintf("#picker-results tbody tr:nth-child(%d) td:nth-child(2)", i+1)); got != "Enable Pin Recovery" {
		t.Errorf("the picker names the setting %q", got)
	}
	b.Submit(fmt.Sprintf("#add-%d", i), "setting-added")
	if rowIndex(b, "#chosen-settings", pinRecoveryID) != 0 {
		t.Fatal("the setting is not in the profile's settings")
	}
	setSelect(t, b, "#value-0", pinRecoveryID+"_true")
	b.CheckLabels()
	b.CheckKeyboard()
	b.Submit("#next", "settings")
	b.Submit("#next", "scope-tags")
	b.Type("#groupsearch", "pilot")
	b.Submit("#groupsearch", "group-search") // Enter in the search field searches
	if got := b.Text("#assign-groups tbody"); !strings.Contains(got, "WHfB pilot") || strings.Contains(got, "Kiosks") {
		t.Errorf("groups found by \"pilot\": %q", got)
	}
	consoletest.Eval[bool](b, fmt.Sprintf(`(function(){const c=document.querySelector('input[name="include"][value=%q]'); c.checked=true; return true;})()`, gid))
	b.CheckLabels()
	b.CheckKeyboard()
	b.Submit("#next", "assignments")
	if got := b.Text("#review-settings"); !strings.Contains(got, "Windows Hello For Business › Enable Pin Recovery: true") {
		t.Errorf("review: %q", got)
	}
	if got := b.Text("#review"); !strings.Contains(got, "WHfB pilot") {
		t.Errorf("review does not name the group: %q", got)
	}
	b.CheckLabels()
	b.CheckKeyboard()
	b.Submit("#create", "created")
	if got := b.Text(".flash"); !strings.HasPrefix(got, "Profile created.") {
		t.Fatalf("after Create: flash %q at %s", got, b.Location())
	}
	loc := b.Location()
	pid := loc[strings.LastIndex(loc, "/")+1:]
	if got := b.Text("#profile-assignments"); !strings.Contains(got, "WHfB pilot") {
		t.Errorf("assignments %q", got)
	}
	b.CheckLabels()
	b.CheckKeyboard()
	return pid
}

// seedDevice enrolls a simulated Windows 11 device as upn, syncs, provisions Hello and
// syncs again.
func seedDevice(t *testing.T, e *consoletest.Env, upn string) *device.Agent {
	t.Helper()
	ctx := context.Background()
	id, err := identity.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	id.DeviceName = "ALICE-PC"
	kdf := hello.KDFParams{Time: 1, MemoryKiB: 64, Threads: 1} // Argon2id affordable under -race
	a, err := device.Open(t.TempDir(), device.Options{Identity: &id, HTTPTimeout: 30 * time.Second, HelloKDF: &kdf})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Enroll(ctx, enroll.Request{ServerURL: e.URL, UPN: upn, Password: consoletest.Password,
		RootCAs: e.App.CA.Pool(), CSRShape: enroll.CSRWindows}); err != nil {
		t.Fatalf("enrolling: %v", err)
	}
	if _, err := a.Sync(ctx); err != nil {
		t.Fatalf("sync: %v", err)
	}
	if !a.Policy().PINRecoveryEnabled {
		t.Fatal("the device did not apply EnablePinRecovery")
	}
	if _, err := a.ProvisionHello(ctx, upn, "135792"); err != nil {
		t.Fatalf("provisioning Hello: %v", err)
	}
	if _, err := a.Sync(ctx); err != nil {
		t.Fatalf("second sync: %v", err)
	}
	return a
}

// checkDevicePage opens the device's page and looks for the setting by name with its state.
func checkDevicePage(t *testing.T, b *consoletest.Browser, did string) {
	t.Helper()
	b.Go("/console/t/" + consoletest.TenantID + "/devices/" + did)
	row := fmt.Sprintf(`#settings tbody tr[data-locuri=%q]`, "./Device/Vendor/MSFT/PassportForWork/"+consoletest.TenantID+"/Policies/EnablePinRecovery")
	if b.Count(row) != 1 {
		t.Fatalf("the device page has no EnablePinRecovery row:\n%s", b.Text("main"))
	}
	if got := b.Text(row + " td:nth-child(1)"); !strings.HasPrefix(got, "Enable Pin Recovery") {
		t.Errorf("the device page names the setting %q", got)
	}
	if got := b.Text(row + " td:nth-child(3)"); got != "succeeded" {
		t.Errorf("the device page shows Enable Pin Recovery %q", got)
	}
}
