package adminclient_test

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/device"
	devenroll "github.com/hellomdm/hellomdm/device/enroll"
	"github.com/hellomdm/hellomdm/internal/testserve"
	"github.com/hellomdm/hellomdm/server"
	adminclient "github.com/hellomdm/hellomdm/server/adminapi/client"
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
)

const testToken = "hmdm_client-test-token"

const tid = "6d2a3f0e-1c55-4b0b-9a3e-2f4f7c1d9e01"

// start runs a real server with its services and returns a client of it and its base URL.
func start(t *testing.T) (*adminclient.Client, string, string) {
	t.Helper()
	dir := t.TempDir()
	app := testserve.Start(t, server.Options{DataDir: dir, AdminToken: testToken}, server.Services)
	pool, err := adminclient.LoadCAFile(filepath.Join(dir, server.CAFile))
	if err != nil {
		t.Fatal(err)
	}
	base := "https://" + app.Addr().String()
	return adminclient.New(adminclient.Config{Server: base, Token: testToken, RootCAs: pool, Timeout: time.Minute}), base, dir
}

func check(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// wantError checks err is the server's refusal with this status and code.
func wantError(t *testing.T, what string, err error, status int, code string) *adminclient.Error {
	t.Helper()
	var ae *adminclient.Error
	if !errors.As(err, &ae) || ae.Status != status || (code != "" && ae.Code != code) {
		t.Fatalf("%s: err = %v, want HTTP %d %s", what, err, status, code)
	}
	return ae
}

func TestIdentityRoutes(t *testing.T) {
	c, base, dir := start(t)
	ctx := context.Background()
	tn, err := c.CreateTenant(ctx, wire.TenantRequest{ID: tid, DisplayName: "Contoso", VerifiedDomains: []string{"contoso.com"},
		AuthPolicy: "OnPremise", RoleScopeTagIDs: []string{}, EnrollmentReturnURIs: []string{}})
	check(t, "CreateTenant", err)
	if tn.ID != tid || tn.CreatedAt.IsZero() || tn.VerifiedDomains[0] != "contoso.com" {
		t.Fatalf("CreateTenant: %+v", tn)
	}
	_, err = c.CreateTenant(ctx, wire.TenantRequest{ID: tid, DisplayName: "Contoso", VerifiedDomains: []string{"contoso.com"}, AuthPolicy: "OnPremise"})
	wantError(t, "CreateTenant twice", err, http.StatusConflict, "")
	ts, err := c.Tenants(ctx)
	check(t, "Tenants", err)
	if len(ts) != 1 || ts[0].ID != tid {
		t.Fatalf("Tenants: %+v", ts)
	}
	name := "Contoso Ltd"
	tn, err = c.UpdateTenant(ctx, tid, wire.TenantPatch{DisplayName: &name})
	check(t, "UpdateTenant", err)
	if got, err := c.Tenant(ctx, tid); err != nil || got.DisplayName != name || tn.DisplayName != name {
		t.Fatalf("Tenant after update: %+v, %v", got, err)
	}

	u, err := c.CreateUser(ctx, tid, wire.UserRequest{UserPrincipalName: "alice@contoso.com", PasswordProfile: wire.PasswordProfile{Password: "Correct horse 1"}})
	check(t, "CreateUser", err)
	if users, err := c.Users(ctx, tid); err != nil || len(users) != 1 || users[0].ID != u.ID {
		t.Fatalf("Users: %+v, %v", users, err)
	}
	off := false
	if u2, err := c.UpdateUser(ctx, tid, u.ID, wire.UserPatch{AccountEnabled: &off}); err != nil || u2.AccountEnabled {
		t.Fatalf("UpdateUser: %+v, %v", u2, err)
	}
	on := true
	_, err = c.UpdateUser(ctx, tid, u.ID, wire.UserPatch{AccountEnabled: &on})
	check(t, "UpdateUser", err)
	totp, err := c.EnrollTOTP(ctx, tid, u.ID)
	check(t, "EnrollTOTP", err)
	if totp.Secret == "" || !strings.HasPrefix(totp.URI, "otpauth://") {
		t.Fatalf("EnrollTOTP: %+v", totp)
	}
	if got, err := c.User(ctx, tid, u.ID); err != nil || !got.TOTPEnrolled {
		t.Fatalf("User: %+v, %v", got, err)
	}
	roleRoutes(t, c, u.ID)

	did := enroll(t, c, base, dir)
	devs, err := c.Devices(ctx, tid, adminclient.DeviceFilter{})
	check(t, "Devices", err)
	if len(devs) != 1 || devs[0].ID != did {
		t.Fatalf("Devices: %+v", devs)
	}
	none := "DestructiveAndNonDestructive"
	if d, err := c.Devices(ctx, tid, adminclient.DeviceFilter{CanReset: &none}); err != nil || len(d) != 0 {
		t.Fatalf("Devices --can-reset %s: %+v, %v", none, d, err)
	}
	if d, err := c.Device(ctx, tid, did); err != nil || d.UserPrincipalName != "alice@contoso.com" {
		t.Fatalf("Device: %+v, %v", d, err)
	}
	commandRoutes(t, c, did)
	if d, err := c.RetireDevice(ctx, tid, did); err != nil || d.EnrollmentState == "enrolled" {
		t.Fatalf("RetireDevice: %+v, %v", d, err)
	}
	_, err = c.Device(ctx, tid, "0123456789abcdef0123456789abcdef")
	wantError(t, "Device unknown", err, http.StatusNotFound, "")

	tokenRoutes(t, c, func(token string) *adminclient.Client {
		pool, err := adminclient.LoadCAFile(filepath.Join(dir, server.CAFile))
		check(t, "LoadCAFile", err)
		return adminclient.New(adminclient.Config{Server: base, Token: token, RootCAs: pool})
	})
	pinResetRoutes(t, c)

	check(t, "DeleteUser", c.DeleteUser(ctx, tid, u.ID))
	_, err = c.User(ctx, tid, u.ID)
	wantError(t, "User deleted", err, http.StatusNotFound, "")
	check(t, "DeleteTenant", c.DeleteTenant(ctx, tid, true))
	_, err = c.Tenant(ctx, tid)
	wantError(t, "Tenant deleted", err, http.StatusNotFound, "")
}

// enroll enrolls a simulated device as alice and returns its ID.
func enroll(t *testing.T, c *adminclient.Client, base, dir string) string {
	t.Helper()
	pool, err := adminclient.LoadCAFile(filepath.Join(dir, server.CAFile))
	check(t, "LoadCAFile", err)
	a, err := device.Open(t.TempDir(), device.Options{})
	check(t, "device.Open", err)
	err = a.Enroll(context.Background(), devenroll.Request{ServerURL: base, UPN: "alice@contoso.com", Password: "Correct horse 1", RootCAs: pool})
	check(t, "Enroll", err)
	devs, err := c.Devices(context.Background(), tid, adminclient.DeviceFilter{})
	check(t, "Devices", err)
	if len(devs) != 1 {
		t.Fatalf("devices after enrolling: %+v", devs)
	}
	return devs[0].ID
}

func commandRoutes(t *testing.T, c *adminclient.Client, did string) {
	ctx := context.Background()
	cmd, err := c.QueueCommand(ctx, tid, did, wire.CommandRequest{Verb: "Exec", LocURI: "./Vendor/MSFT/RemoteWipe/doWipe"})
	check(t, "QueueCommand", err)
	if cmd.ID == "" || cmd.State != "queued" || cmd.DeviceID != did {
		t.Fatalf("QueueCommand: %+v", cmd)
	}
	if list, err := c.Commands(ctx, tid, did); err != nil || len(list) == 0 {
		t.Fatalf("Commands: %+v, %v", list, err)
	}
	if got, err := c.Command(ctx, tid, did, cmd.ID); err != nil || got.LocURI != cmd.LocURI {
		t.Fatalf("Command: %+v, %v", got, err)
	}
	// Only a command in state unknown may be sent again: the refusal says so.
	_, err = c.ResendCommand(ctx, tid, did, cmd.ID)
	wantError(t, "ResendCommand of a pending command", err, http.StatusConflict, "")
}

func tokenRoutes(t *testing.T, c *adminclient.Client, as func(token string) *adminclient.Client) {
	ctx := context.Background()
	created, err := c.CreateToken(ctx, wire.TokenRequest{Name: "helpdesk", Role: "reader", TenantID: tid, RoleScopeTagIDs: []string{},
		ExpiresAt: time.Now().Add(time.Hour).Truncate(time.Second)})
	check(t, "CreateToken", err)
	if created.ID == "" || !strings.HasPrefix(created.Secret, "hmdm_") || created.ExpiresAt.IsZero() {
		t.Fatalf("CreateToken: %+v", created)
	}
	// The new token works, and sees only its tenant.
	if ts, err := as(created.Secret).Tenants(ctx); err != nil || len(ts) != 1 || ts[0].ID != tid {
		t.Fatalf("Tenants with the new token: %+v, %v", ts, err)
	}
	toks, err := c.Tokens(ctx)
	check(t, "Tokens", err)
	found := false
	for _, tk := range toks {
		found = found || tk.ID == created.ID
	}
	if !found {
		t.Fatalf("Tokens lacks %s: %+v", created.ID, toks)
	}
	check(t, "RevokeToken", c.RevokeToken(ctx, created.ID))
	wantError(t, "RevokeToken twice", c.RevokeToken(ctx, created.ID), http.StatusNotFound, "")
}

func pinResetRoutes(t *testing.T, c *adminclient.Client) {
	ctx := context.Background()
	granted := true
	sps, err := c.PinResetConsent(ctx, tid, wire.ConsentRequest{App: "service", Granted: &granted})
	check(t, "PinResetConsent", err)
	if len(sps.Value) == 0 {
		t.Fatalf("PinResetConsent: %+v", sps)
	}
	sps, err = c.ServicePrincipals(ctx, tid)
	check(t, "ServicePrincipals", err)
	for _, sp := range sps.Value {
		if sp.App == "service" && (!sp.Consented || sp.ConsentedAt == nil) {
			t.Fatalf("ServicePrincipals: %+v", sps)
		}
	}
	_, err = c.PinResetConsent(ctx, tid, wire.ConsentRequest{App: "nope", Granted: &granted})
	wantError(t, "PinResetConsent of an unknown app", err, http.StatusUnprocessableEntity, "invalidConsent")
}

// roleRoutes grants uid a role, finds it among the role holders (and only it), and revokes it.
func roleRoutes(t *testing.T, c *adminclient.Client, uid string) {
	ctx := context.Background()
	bob, err := c.CreateUser(ctx, tid, wire.UserRequest{UserPrincipalName: "bob@contoso.com", PasswordProfile: wire.PasswordProfile{Password: "Correct horse 1"}})
	check(t, "CreateUser bob", err)
	if page, err := c.AdminRoleHolders(ctx, tid, adminclient.ListQuery{Top: 10}); err != nil || len(page.Value) != 0 {
		t.Fatalf("AdminRoleHolders before a grant: %+v, %v", page, err)
	}
	u, err := c.SetAdminRole(ctx, tid, uid, wire.AdminRoleRequest{Role: "operator"})
	check(t, "SetAdminRole", err)
	if u.AdminRole != "operator" {
		t.Fatalf("SetAdminRole: %+v", u)
	}
	page, err := c.AdminRoleHolders(ctx, tid, adminclient.ListQuery{Top: 10})
	if err != nil || len(page.Value) != 1 || page.Value[0].ID != uid || page.Value[0].AdminRole != "operator" || page.NextSkipToken != "" {
		t.Fatalf("AdminRoleHolders: %+v, %v", page, err)
	}
	if page, err := c.AdminRoleHolders(ctx, tid, adminclient.ListQuery{StartsWith: "bob"}); err != nil || len(page.Value) != 0 {
		t.Fatalf("AdminRoleHolders starting with bob: %+v, %v", page, err)
	}
	_, err = c.RevokeAdminRole(ctx, tid, uid)
	check(t, "RevokeAdminRole", err)
	if page, err := c.AdminRoleHolders(ctx, tid, adminclient.ListQuery{}); err != nil || len(page.Value) != 0 {
		t.Fatalf("AdminRoleHolders after the revocation: %+v, %v", page, err)
	}
	check(t, "DeleteUser bob", c.DeleteUser(ctx, tid, bob.ID))
}
