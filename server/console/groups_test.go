package console_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/hellomdm/hellomdm/internal/consoletest"
	adminclient "github.com/hellomdm/hellomdm/server/adminapi/client"
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
)

const (
	groupsPath = "/console/t/" + consoletest.TenantID + "/groups"
	usersPath  = "/console/t/" + consoletest.TenantID + "/users"
)

// rowWith is the index of the first row of table whose text contains text, -1 if none.
func rowWith(b *consoletest.Browser, table, text string) int {
	return consoletest.Eval[int](b, fmt.Sprintf(`Array.from(document.querySelectorAll(%q)).findIndex(tr => tr.innerText.includes(%q))`, table+" tbody tr", text))
}

// pressButton focuses the button of the row of table holding text (by its aria-label
// prefix, "Add" or "Remove") and presses Enter, as a keyboard user does.
func pressButton(t *testing.T, b *consoletest.Browser, table, text, label, shot string) {
	t.Helper()
	i := rowWith(b, table, text)
	if i < 0 {
		t.Fatalf("no row of %s holds %q: %q", table, text, b.Text(table))
	}
	b.Submit(fmt.Sprintf(`%s tbody tr:nth-child(%d) button[aria-label^=%q]`, table, i+1, label), shot)
}

// An admin creates a group, nests another group in it and adds a user found by searching
// part of their name (no ID typed anywhere), removes a member; the API holds the same
// members, the cycle the nesting would make is refused beside the picker, and every page
// has labels and works by keyboard.
func TestBrowserGroupsNestAndMembers(t *testing.T) {
	e := consoletest.Start(t)
	ctx := context.Background()
	ada := e.User("ada@contoso.com", "admin")
	grace, err := e.Admin.CreateUser(ctx, consoletest.TenantID, wire.UserRequest{UserPrincipalName: "grace.hopper@contoso.com",
		DisplayName: "Grace Hopper", PasswordProfile: wire.PasswordProfile{Password: "long enough"}})
	if err != nil {
		t.Fatal(err)
	}
	staff, err := e.Admin.CreateGroup(ctx, consoletest.TenantID, wire.GroupRequest{DisplayName: "All staff"})
	if err != nil {
		t.Fatal(err)
	}
	b := consoletest.NewBrowser(t, e)
	b.SignIn(ada)

	b.Go(groupsPath)
	b.CheckLabels()
	b.CheckKeyboard()
	b.Type("#group-name", "WHfB pilot")
	b.Type("#group-description", "PIN recovery pilot users")
	b.Submit("#group-name", "group-created")
	if got := b.Text("h1"); got != "WHfB pilot" {
		t.Fatalf("after create the page is %q (%s)", got, b.Location())
	}
	pilotID := strings.TrimPrefix(b.Location(), groupsPath+"/")

	// Nest: find "All staff" by a part of its name and add it.
	b.Type("#find", "staff")
	b.Submit("#find", "find-staff")
	b.CheckLabels()
	b.CheckKeyboard()
	pressButton(t, b, "#matches", "All staff", "Add", "nested")
	// Add a user found by part of the display name.
	b.Type("#find", "hopper")
	b.Submit("#find", "find-hopper")
	if rowWith(b, "#matches", "grace.hopper@contoso.com") < 0 {
		t.Fatalf("the search for hopper lists %q", b.Text("#matches"))
	}
	pressButton(t, b, "#matches", "grace.hopper@contoso.com", "Add", "user-added")
	if got := b.Text(".flash"); got != "Added grace.hopper@contoso.com." {
		t.Errorf("notice %q", got)
	}
	if rowWith(b, "#members", "All staff") < 0 || rowWith(b, "#members", "Grace Hopper") < 0 {
		t.Fatalf("members %q", b.Text("#members"))
	}
	ms, err := e.Admin.Members(ctx, consoletest.TenantID, pilotID)
	if err != nil || len(ms) != 2 {
		t.Fatalf("the API lists members %+v (%v)", ms, err)
	}
	for _, m := range ms {
		if !(m.Kind == "group" && m.ID == staff.ID) && !(m.Kind == "user" && m.ID == grace.ID) {
			t.Fatalf("unexpected member %+v", m)
		}
	}

	// A device found by the start of its name.
	seedFleet(e)
	b.Type("#find", "PC-00")
	b.Submit("#find", "find-device")
	pressButton(t, b, "#matches", "PC-007", "Add", "device-added")
	if i := rowWith(b, "#members", "PC-007"); i < 0 || !strings.Contains(b.Text("#members"), "device") {
		t.Fatalf("members after adding a device: %q", b.Text("#members"))
	}
	if ms, _ := e.Admin.Members(ctx, consoletest.TenantID, pilotID); len(ms) != 3 {
		t.Fatalf("the API lists %+v", ms)
	}
	// A cycle: All staff already holds... make it hold the pilot, then try the reverse from
	// the staff page; the API's refusal shows beside the picker.
	if err := e.Admin.RemoveMember(ctx, consoletest.TenantID, pilotID, staff.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.Admin.AddMember(ctx, consoletest.TenantID, staff.ID, pilotID); err != nil {
		t.Fatal(err)
	}
	b.Go(groupsPath + "/" + pilotID + "?find=" + url.QueryEscape("All"))
	pressButton(t, b, "#matches", "All staff", "Add", "cycle-refused")
	if got := b.Text("#form-error"); !strings.Contains(got, "cycle") {
		t.Errorf("the cycle's refusal reads %q", got)
	}

	// Remove the user again.
	b.Go(groupsPath + "/" + pilotID)
	pressButton(t, b, "#members", "Grace Hopper", "Remove", "user-removed")
	if rowWith(b, "#members", "Grace Hopper") >= 0 {
		t.Fatalf("the user is still listed: %q", b.Text("#members"))
	}
	if ms, _ := e.Admin.Members(ctx, consoletest.TenantID, pilotID); len(ms) != 1 || ms[0].Kind != "device" {
		t.Fatalf("the API still lists %+v", ms)
	}

	// The list searches and pages.
	for i := range 52 {
		if _, err := e.Admin.CreateGroup(ctx, consoletest.TenantID, wire.GroupRequest{DisplayName: fmt.Sprintf("Site %02d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	b.Go(groupsPath + "?search=site")
	if n := b.Count("#groups tbody tr"); n != 50 {
		t.Fatalf("the first page of site groups has %d rows", n)
	}
	b.Submit("#next-page", "groups-page-2")
	if n := b.Count("#groups tbody tr"); n != 2 || rowWith(b, "#groups", "Site 51") < 0 {
		t.Fatalf("the second page: %q", b.Text("#groups"))
	}
	// A group of many members shows them a page at a time.
	sites, err := e.Admin.CreateGroup(ctx, consoletest.TenantID, wire.GroupRequest{DisplayName: "All sites"})
	if err != nil {
		t.Fatal(err)
	}
	page, err := e.Admin.SearchGroups(ctx, consoletest.TenantID, adminclient.ListQuery{Search: "site", Top: 100})
	if err != nil || len(page.Value) != 53 {
		t.Fatalf("site groups: %d (%v)", len(page.Value), err)
	}
	for _, g := range page.Value {
		if g.ID == sites.ID {
			continue
		}
		if err := e.Admin.AddMember(ctx, consoletest.TenantID, sites.ID, g.ID); err != nil {
			t.Fatal(err)
		}
	}
	b.Go(groupsPath + "/" + sites.ID)
	if n := b.Count("#members tbody tr"); n != 50 || b.Text("#members-h") != "Members (52)" {
		t.Fatalf("the first page of members: %d rows, %q", n, b.Text("#members-h"))
	}
	b.Submit("#next-members", "members-page-2")
	if n := b.Count("#members tbody tr"); n != 2 || b.Count("#first-members") != 1 || b.Count("#next-members") != 0 {
		t.Fatalf("the second page of members: %d rows", n)
	}
	// A duplicate name is refused beside the form.
	b.Go(groupsPath)
	b.Type("#group-name", "whfb PILOT")
	b.Submit("#group-name", "group-duplicate")
	if got := b.Text("#form-error"); !strings.Contains(got, "already exists") {
		t.Errorf("duplicate group: %q", got)
	}
}

// A reader sees the groups, users, PIN reset and audit pages without a single write control
// (no form posts anything but sign-out), and the writes a page could forge with the
// session's CSRF token are refused by the API.
func TestBrowserAdminPagesReader(t *testing.T) {
	e := consoletest.Start(t)
	ctx := context.Background()
	rita := e.User("rita@contoso.com", "reader")
	g, err := e.Admin.CreateGroup(ctx, consoletest.TenantID, wire.GroupRequest{DisplayName: "WHfB pilot"})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Admin.AddMember(ctx, consoletest.TenantID, g.ID, rita.ID); err != nil {
		t.Fatal(err)
	}
	b := consoletest.NewBrowser(t, e)
	b.SignIn(rita)
	posts := `Array.from(document.querySelectorAll("main form")).filter(f => f.method === "post").length`
	for _, path := range []string{groupsPath, groupsPath + "/" + g.ID + "?find=rita", usersPath, usersPath + "/" + rita.ID,
		pinResetPath, auditPath, auditPath + "/verify"} {
		b.Go(path)
		if n := consoletest.Eval[int](b, posts); n != 0 {
			t.Errorf("%s: a reader sees %d forms that post", path, n)
		}
		if b.Count("h1") != 1 || b.Count(".error[role=alert]") != 0 {
			t.Errorf("%s: %q", path, b.Text("main"))
		}
		b.CheckLabels()
		b.CheckKeyboard()
	}
	b.Go(groupsPath + "/" + g.ID)
	if rowWith(b, "#members", "rita@contoso.com") < 0 {
		t.Fatalf("members %q", b.Text("#members"))
	}
	csrf := b.CSRF() // the sign-out form's
	for _, f := range []struct {
		path string
		form url.Values
	}{
		{groupsPath, url.Values{"name": {"forged"}}},
		{groupsPath + "/" + g.ID + "/members", url.Values{"member": {rita.ID}}},
		{groupsPath + "/" + g.ID + "/members/" + rita.ID + "/remove", nil},
		{groupsPath + "/" + g.ID + "/delete", nil},
		{usersPath, url.Values{"upn": {"mallory@contoso.com"}, "password": {"long enough"}}},
		{usersPath + "/" + rita.ID + "/totp", nil},
		{pinResetPath + "/consent", url.Values{"app": {"service"}, "granted": {"true"}}},
	} {
		form := url.Values{"csrf": {csrf}}
		for k, v := range f.form {
			form[k] = v
		}
		if st := b.Post(f.path, form); st != 403 {
			t.Errorf("a reader's POST %s answered %d", f.path, st)
		}
	}
	if ms, _ := e.Admin.Members(ctx, consoletest.TenantID, g.ID); len(ms) != 1 {
		t.Fatalf("the reader's forged writes changed the members: %+v", ms)
	}
	if sps, _ := e.Admin.ServicePrincipals(ctx, consoletest.TenantID); sps.Value[0].Consented {
		t.Fatal("the reader's forged consent took effect")
	}
}
