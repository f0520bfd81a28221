package console_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/audit"
	"github.com/hellomdm/hellomdm/internal/consoletest"
	adminclient "github.com/hellomdm/hellomdm/server/adminapi/client"
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
	"github.com/hellomdm/hellomdm/store"
)

// seedFleet writes 60 devices: PC-000..PC-059, users u0..u9, CanReset by thirds, PC-007
// retired, PC-000 (DestructiveAndNonDestructive, seen now) with one setting in error and one
// succeeded, changed at its last check-in.
func seedFleet(e *consoletest.Env) {
	// The tenant consented to both PIN reset applications: DestructiveAndNonDestructive
	// shows as reported.
	granted := true
	for _, app := range []string{"service", "client"} {
		if _, err := e.Admin.PinResetConsent(context.Background(), consoletest.TenantID, wire.ConsentRequest{App: app, Granted: &granted}); err != nil {
			e.T.Fatalf("consenting %s: %v", app, err)
		}
	}
	// The two example profiles; the devices' settings name them as their sources.
	ids := map[string]string{}
	for name, file := range map[string]string{"whfb": "whfb-pin-recovery.settings-catalog.json", "web": "web-sign-in-allowed-urls.custom.json"} {
		raw, err := os.ReadFile(filepath.Join("..", "..", "examples", "policy", file))
		if err != nil {
			e.T.Fatal(err)
		}
		route := adminclient.SettingsCatalog
		if name == "web" {
			route = adminclient.CustomOMAURI
		}
		p, err := e.Admin.CreateProfile(context.Background(), consoletest.TenantID, route, raw)
		if err != nil {
			e.T.Fatalf("creating the %s profile: %v", name, err)
		}
		ids[name] = p.ID
	}
	var devs []consoletest.SeedDevice
	now := time.Now()
	for i := range 60 {
		d := consoletest.SeedDevice{ID: fmt.Sprintf("dev-%03d", i), Name: fmt.Sprintf("PC-%03d", i), UPN: fmt.Sprintf("u%d@contoso.com", i%10),
			OSVersion: "10.0.26100.1742", OSEdition: 4, JoinType: "azureADJoined", LastSeen: now.Add(-time.Duration(i) * 65 * time.Minute)}
		switch i % 3 {
		case 0:
			d.CanReset = "DestructiveAndNonDestructive"
		case 1:
			d.CanReset = "DestructiveOnly"
		}
		if i == 7 {
			d.State = store.DeviceRetired
		}
		if i == 0 {
			d.Settings = []store.SettingState{
				{LocURI: "./Device/Vendor/MSFT/PassportForWork/" + consoletest.TenantID + "/Policies/EnablePinRecovery", Format: "bool", Value: "true",
					State: store.SettingSucceeded, Sources: []string{ids["whfb"]}, LastChanged: d.LastSeen},
				{LocURI: "./Vendor/MSFT/Policy/Config/Authentication/ConfigureWebSignInAllowedUrls", Format: "chr", Value: "a.com;b.com",
					State: store.SettingError, ErrorCode: 405, ErrorDetail: "the device refused the command", Sources: []string{ids["web"]}, LastChanged: d.LastSeen},
			}
		}
		devs = append(devs, d)
	}
	e.Seed(devs...)
}

// An operator pages, searches and filters the device list, opens a device with its facts,
// settings and commands, queues a command (a bad one shows the API's reason), resends the
// failed settings; an admin retires it. Every page: labels, keyboard, screenshots.
func TestBrowserDevices(t *testing.T) {
	e := consoletest.Start(t)
	seedFleet(e)
	admin := e.User("ada@contoso.com", "admin")
	b := consoletest.NewBrowser(t, e)
	base := "/console/t/" + consoletest.TenantID
	b.SignIn(admin)
	b.Go(base + "/")
	if got := b.Text("#enrolled"); got != "59" {
		t.Errorf("overview: %q enrolled, want 59", got)
	}
	if got := b.Text(`#coverage-h ~ figure tr[data-key="DestructiveAndNonDestructive"] td:nth-child(2)`); got != "20" {
		t.Errorf("overview: DestructiveAndNonDestructive %q, want 20", got)
	}
	if got := b.Text("#checkins"); got != "1" {
		t.Errorf("overview: %q devices checked in during the last hour, want 1 (PC-000)", got)
	}
	if got := b.Text("#troubles tbody"); !strings.Contains(got, "Web sign-in") || !strings.Contains(got, "1") {
		t.Errorf("profiles in trouble: %q", got)
	}
	consoletest.READMEScreenshot(b, "console-overview.png")
	b.Go(base + "/devices")
	b.CheckLabels()
	b.CheckKeyboard()
	if n := b.Count("#devices tbody tr"); n != 50 {
		t.Fatalf("first page: %d rows, want 50", n)
	}
	b.Go(strings.TrimPrefix(b.Eval(`document.querySelector('a[rel="next"]').getAttribute("href")`), ""))
	if n := b.Count("#devices tbody tr"); n != 10 {
		t.Fatalf("second page: %d rows, want 10", n)
	}
	// Search by user, by keyboard; then filter on CanReset.
	b.Go(base + "/devices")
	b.Type("#q", "u3@")
	b.Submit("#q", "devices-search")
	if got := b.Count("#devices tbody tr"); got != 6 {
		t.Errorf("search u3@: %d rows, want 6", got)
	}
	b.Go(base + "/devices?canReset=DestructiveOnly&state=enrolled&seen=24h")
	if got := b.Count("#devices tbody tr"); got != 7 { // i%3==1, i*65 min < 24 h, not retired: 1,4,10,...,22
		t.Errorf("DestructiveOnly seen in 24h: %d rows, want 7", got)
	}

	b.Go(base + "/devices/dev-000")
	consoletest.READMEScreenshot(b, "console-device.png")
	b.CheckLabels()
	b.CheckKeyboard()
	if got := b.Text(".facts"); !strings.Contains(got, "AzureAdJoined") || !strings.Contains(got, "YES") {
		t.Errorf("dsregcmd facts: %q", got)
	}
	if got := b.Text(`#settings tr[data-locuri$="ConfigureWebSignInAllowedUrls"]`); !strings.Contains(got, "error") || !strings.Contains(got, "refused") {
		t.Errorf("the failed setting's row: %q", got)
	}
	b.Type("#locUri", "/Vendor/MSFT/Nope")
	b.Submit("#locUri", "command-refused")
	if got := b.Text("#command-error"); got == "" {
		t.Error("a bad command was not refused with a reason")
	}
	b.Eval(`(document.querySelector("#locUri").value = "", true)`)
	b.Type("#locUri", "./DevDetail/SwV")
	b.Submit("#locUri", "command-queued")
	if got := b.Text(".flash"); !strings.Contains(got, "Queued Get ./DevDetail/SwV") {
		t.Errorf("after queueing: %q", got)
	}
	if got := b.Text("#commands tbody tr"); !strings.Contains(got, "./DevDetail/SwV") || !strings.Contains(got, "ada@contoso.com") {
		t.Errorf("command history: %q", got)
	}
	b.Submit(`form[action$="/sync"] button`, "sync-now")
	if got := b.Text(".flash"); !strings.Contains(got, "Sync requested") {
		t.Errorf("after Sync now: %q", got)
	}
	b.Submit(`form[action$="/resend-failed"] button`, "resend-failed")
	if got := b.Text(".flash"); !strings.Contains(got, "1 failed setting goes out again") {
		t.Errorf("after resend: %q", got)
	}
	b.Eval(`(window.confirm = () => true, true)`)
	b.Submit(`form[action$="/retire"] button`, "retired")
	if got := b.Text(".sub"); !strings.Contains(got, "retired") {
		t.Errorf("after retire: %q", got)
	}
	d, err := e.Admin.Device(context.Background(), consoletest.TenantID, "dev-000")
	if err != nil || d.EnrollmentState != "retired" {
		t.Fatalf("the API does not show the device retired: %+v, %v", d, err)
	}
	// Every action is an audit event naming the person who signed in, with their role.
	actions := map[string]bool{}
	err = e.App.Store.AuditEvents(context.Background(), consoletest.TenantID, 0, func(ev *audit.Event) (bool, error) {
		if ev.Kind == audit.KindAdminWrite && ev.DeviceID == "dev-000" && ev.Actor.ID == admin.UPN && ev.Actor.Role == "admin" {
			actions[ev.Action] = true
		}
		return true, nil
	})
	if err != nil || !actions["retire"] || !actions["resendFailed"] || !actions["sync"] {
		t.Errorf("audit events of the console's actions by %s: %v, %v", admin.UPN, actions, err)
	}
}
