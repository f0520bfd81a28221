package main

import (
	"flag"
	"fmt"
	"strings"
	"time"

	adminclient "github.com/hellomdm/hellomdm/server/adminapi/client"
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
)

// repeatedString is a flag that may be given several times (--domain a --domain b).
type repeatedString []string

func (r *repeatedString) String() string { return strings.Join(*r, ",") }

func (r *repeatedString) Set(v string) error {
	*r = append(*r, v)
	return nil
}

// Identity administration: tenants, users, devices, tokens and PIN reset onboarding.

func runTenantCreate(c *adminClient, args []string) error {
	fs := commandFlags("tenant create")
	id := fs.String("id", "", "directory tenant GUID")
	name := fs.String("name", "", "display name")
	var domains, tags repeatedString
	fs.Var(&domains, "domain", "verified domain (repeatable)")
	fs.Var(&tags, "scope-tag", "role scope tag (repeatable)")
	policy := fs.String("auth-policy", "OnPremise", "MS-MDE2 auth policy: OnPremise or Federated")
	fedHost := fs.String("federation-host", "", "third-party sign-in host of a federated tenant")
	gov := fs.Bool("gov-cloud", false, "government cloud tenant (no PIN reset service)")
	var returns repeatedString
	fs.Var(&returns, "return-uri", returnURIHelp)
	if err := parseCommand(fs, args, "id", "name", "domain"); err != nil {
		return err
	}
	uris, err := returnURIs(returns)
	if err != nil {
		return err
	}
	t, err := c.api.CreateTenant(c.ctx, wire.TenantRequest{ID: *id, DisplayName: *name, VerifiedDomains: domains, AuthPolicy: *policy,
		FederationHost: *fedHost, GovCloud: *gov, RoleScopeTagIDs: nonNilList(tags), EnrollmentReturnURIs: uris})
	if err := c.wrote(err); err != nil {
		return err
	}
	return c.print(t, tenantDetailColumns()...)
}

func runTenantList(c *adminClient, args []string) error {
	if err := parseCommand(commandFlags("tenant list"), args); err != nil {
		return err
	}
	ts, err := c.api.Tenants(c.ctx)
	if err := c.read(err); err != nil {
		return err
	}
	return printList(c, ts, tenantColumns()...)
}

func runUserCreate(c *adminClient, args []string) error {
	fs := commandFlags("user create")
	tid := fs.String("tenant", "", "tenant ID or domain")
	upn := fs.String("upn", "", "user principal name, in one of the tenant's verified domains")
	pw := fs.String("password", "", "password (at least 8 characters)")
	name := fs.String("name", "", "display name")
	if err := parseCommand(fs, args, "tenant", "upn", "password"); err != nil {
		return err
	}
	tenant, err := c.resolve("tenant", "", *tid)
	if err != nil {
		return err
	}
	u, err := c.api.CreateUser(c.ctx, tenant, wire.UserRequest{UserPrincipalName: *upn, DisplayName: *name,
		PasswordProfile: wire.PasswordProfile{Password: *pw}})
	if err := c.wrote(err); err != nil {
		return err
	}
	return c.print(u, userColumns()...)
}

// runUserList lists the tenant's users, or with --admin-roles only those holding an admin
// role (read through the server's index of them), with their roles.
func runUserList(c *adminClient, args []string) error {
	fs := commandFlags("user list")
	tid := fs.String("tenant", "", "tenant ID or domain")
	roles := fs.Bool("admin-roles", false, "only the users holding an admin role (console access), with their roles")
	if err := parseCommand(fs, args, "tenant"); err != nil {
		return err
	}
	tenant, err := c.resolve("tenant", "", *tid)
	if err != nil {
		return err
	}
	if !*roles {
		list, err := c.api.Users(c.ctx, tenant)
		if err := c.read(err); err != nil {
			return err
		}
		return printList(c, list, userColumns()...)
	}
	page, err := c.api.AdminRoleHolders(c.ctx, tenant, adminclient.ListQuery{})
	if err := c.read(err); err != nil {
		return err
	}
	return printList(c, page.Value, "id", "userPrincipalName", "adminRole", "adminRoleScopeTagIds", "accountEnabled")
}

func runUserTotp(c *adminClient, args []string) error {
	tenant, user, err := c.parseInTenant("user totp", "user", args)
	if err != nil {
		return err
	}
	out, err := c.api.EnrollTOTP(c.ctx, tenant, user)
	if err := c.wrote(err); err != nil {
		return err
	}
	switch c.output {
	case "json":
		return c.print(out)
	case "id":
		_, err := fmt.Fprintln(c.stdout, out.URI)
		return err
	}
	_, err = fmt.Fprintf(c.stdout, "secret: %s\nuri:    %s\n", out.Secret, out.URI)
	return err
}

func runDeviceList(c *adminClient, args []string) error {
	fs := commandFlags("device list")
	tid := fs.String("tenant", "", "tenant ID or domain")
	canReset := fs.String("can-reset", "", "only devices reporting this CanReset value")
	if err := parseCommand(fs, args, "tenant"); err != nil {
		return err
	}
	var filter adminclient.DeviceFilter
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "can-reset" {
			filter.CanReset = canReset
		}
	})
	tenant, err := c.resolve("tenant", "", *tid)
	if err != nil {
		return err
	}
	ds, err := c.api.Devices(c.ctx, tenant, filter)
	if err := c.read(err); err != nil {
		return err
	}
	return printList(c, ds, deviceColumns()...)
}

func runDeviceRetire(c *adminClient, args []string) error {
	tenant, device, err := c.parseInTenant("device retire", "device", args)
	if err != nil {
		return err
	}
	d, err := c.api.RetireDevice(c.ctx, tenant, device)
	if err := c.wrote(err); err != nil {
		return err
	}
	return c.print(d, deviceColumns()...)
}

func runTokenCreate(c *adminClient, args []string) error {
	fs := commandFlags("token create")
	name := fs.String("name", "", "token name")
	role := fs.String("role", "", "admin, operator or reader")
	tid := fs.String("tenant", "", "limit the token to this tenant (ID or domain)")
	var tags repeatedString
	fs.Var(&tags, "scope-tag", "role scope tag (repeatable)")
	expires := fs.String("expires", "", "the token stops working after this duration (e.g. 720h) or at this RFC 3339 time")
	if err := parseCommand(fs, args, "name", "role"); err != nil {
		return err
	}
	expiresAt, err := parseExpiry(*expires, time.Now())
	if err != nil {
		return usageError{err.Error()}
	}
	tenant, err := c.resolve("tenant", "", *tid)
	if err != nil {
		return err
	}
	// The expiry goes to the server in whole seconds.
	out, err := c.api.CreateToken(c.ctx, wire.TokenRequest{Name: *name, Role: *role, TenantID: tenant,
		RoleScopeTagIDs: nonNilList(tags), ExpiresAt: expiresAt.UTC().Truncate(time.Second)})
	if err := c.wrote(err); err != nil {
		return err
	}
	if c.output != "json" {
		fmt.Fprintln(c.stderr, "The token secret is shown once; store it now.")
	}
	return c.print(out, "id", "name", "role", "tenantId", "expiresAt", "token")
}

func runTokenRevoke(c *adminClient, args []string) error {
	fs := commandFlags("token revoke")
	asGiven := fs.String("id", "", "ID or name of the token to revoke (from token list)")
	if err := parseCommand(fs, args, "id"); err != nil {
		return err
	}
	id, err := c.resolve("token", "", *asGiven)
	if err != nil {
		return err
	}
	if err := c.wrote(c.api.RevokeToken(c.ctx, id)); err != nil {
		return err
	}
	switch c.output {
	case "json":
		return c.print(map[string]any{"id": id, "revoked": true}, "id", "revoked")
	case "id":
		return c.printIDs(id)
	}
	fmt.Fprintf(c.stdout, "revoked token %s\n", given(id, *asGiven))
	return nil
}

func runTokenList(c *adminClient, args []string) error {
	if err := parseCommand(commandFlags("token list"), args); err != nil {
		return err
	}
	ts, err := c.api.Tokens(c.ctx)
	if err := c.read(err); err != nil {
		return err
	}
	return printList(c, ts, "id", "name", "role", "tenantId", "roleScopeTagIds", "createdAt", "expiresAt")
}

func runPinresetConsent(c *adminClient, args []string) error {
	fs := commandFlags("pinreset consent")
	tid := fs.String("tenant", "", "tenant ID or domain")
	app := fs.String("app", "", "service (PIN Reset Service) or client (PIN Reset Client)")
	revoke := fs.Bool("revoke", false, "withdraw the consent instead of granting it")
	if err := parseCommand(fs, args, "tenant", "app"); err != nil {
		return err
	}
	tenant, err := c.resolve("tenant", "", *tid)
	if err != nil {
		return err
	}
	granted := !*revoke
	sps, err := c.api.PinResetConsent(c.ctx, tenant, wire.ConsentRequest{App: *app, Granted: &granted})
	return c.servicePrincipals(sps, c.wrote(err))
}

func runPinresetStatus(c *adminClient, args []string) error {
	fs := commandFlags("pinreset status")
	tid := fs.String("tenant", "", "tenant ID or domain")
	if err := parseCommand(fs, args, "tenant"); err != nil {
		return err
	}
	tenant, err := c.resolve("tenant", "", *tid)
	if err != nil {
		return err
	}
	sps, err := c.api.ServicePrincipals(c.ctx, tenant)
	return c.servicePrincipals(sps, c.read(err))
}

// servicePrincipals prints the PIN reset applications of an answer; under -q their
// application IDs.
func (c *adminClient) servicePrincipals(out wire.ServicePrincipals, err error) error {
	if err != nil {
		return err
	}
	c.warnAnswer(out.Warnings)
	if c.output != "id" {
		if out.Value == nil {
			out.Value = []wire.ServicePrincipal{}
		}
		return c.print(out, servicePrincipalColumns()...)
	}
	var ids []string
	for _, sp := range out.Value {
		ids = append(ids, sp.AppID)
	}
	return c.printIDs(ids...)
}

// Table columns, by JSON field name.

func tenantColumns() []string {
	return []string{"id", "displayName", "verifiedDomains", "authPolicy", "govCloud"}
}

// tenantDetailColumns are the columns of one tenant just created or changed.
func tenantDetailColumns() []string {
	return append(tenantColumns(), "federationHost", "enrollmentReturnUris")
}

// returnURIHelp is the help of --return-uri (tenant create and update).
const returnURIHelp = "https address, besides Windows' ms-app:// ones, to which the sign-in page may post the tenant's enrollment tokens (appru; matched exactly; repeatable, at most 16)"

// returnURIs is the list of --return-uri values: a lone "" is the empty list (tenant update
// --return-uri "" removes them all); "" among addresses is a mistake.
func returnURIs(vs []string) ([]string, error) {
	if len(vs) == 1 && vs[0] == "" {
		return []string{}, nil
	}
	for _, v := range vs {
		if v == "" {
			return nil, usageError{`--return-uri "" removes every return address: give it alone`}
		}
	}
	return nonNilList(vs), nil
}

func userColumns() []string {
	return []string{"id", "userPrincipalName", "totpEnrolled", "accountEnabled", "createdAt"}
}

func deviceColumns() []string {
	return []string{"id", "deviceName", "userPrincipalName", "osVersion", "joinType", "trustType", "enrollmentState", "canReset", "canResetReason", "lastSeenAt"}
}

func servicePrincipalColumns() []string {
	return []string{"app", "appId", "displayName", "consented", "consentedAt"}
}

func nonNilList(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// parseExpiry reads --expires: a duration from now (720h) or an RFC 3339 time; "" is none.
func parseExpiry(v string, now time.Time) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(v); err == nil {
		if d <= 0 {
			return time.Time{}, fmt.Errorf("--expires %s: want a positive duration", v)
		}
		return now.Add(d), nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("--expires %q: want a duration (720h) or an RFC 3339 time (2027-01-01T00:00:00Z)", v)
	}
	return t, nil
}
