package adminclient

import (
	"context"
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// CreateTenant is POST /tenants.
func (c *Client) CreateTenant(ctx context.Context, req wire.TenantRequest) (wire.Tenant, error) {
	var out wire.Tenant
	err := c.do(ctx, request{method: http.MethodPost, path: "/tenants", json: req}, &out)
	return out, err
}

// Tenants is GET /tenants: the tenants the token sees.
func (c *Client) Tenants(ctx context.Context) ([]wire.Tenant, error) {
	return list[wire.Tenant](ctx, c, "/tenants", nil)
}

// Tenant is GET /tenants/{tid}.
func (c *Client) Tenant(ctx context.Context, tid string) (wire.Tenant, error) {
	var out wire.Tenant
	err := c.get(ctx, tenantPath(tid), nil, &out)
	return out, err
}

// UpdateTenant is PATCH /tenants/{tid}.
func (c *Client) UpdateTenant(ctx context.Context, tid string, patch wire.TenantPatch) (wire.Tenant, error) {
	var out wire.Tenant
	err := c.do(ctx, request{method: http.MethodPatch, path: tenantPath(tid), json: patch}, &out)
	return out, err
}

// DeleteTenant is DELETE /tenants/{tid}; force retires its enrolled devices first (without
// it a tenant with enrolled devices is refused with 409, whose Error.Body counts them).
func (c *Client) DeleteTenant(ctx context.Context, tid string, force bool) error {
	var q url.Values
	if force {
		q = url.Values{"force": {"true"}}
	}
	return c.do(ctx, request{method: http.MethodDelete, path: tenantPath(tid), query: q}, nil)
}

// Overview is GET /tenants/{tid}/overview: device counts, recent check-ins and profiles in
// trouble, from counts the server keeps.
func (c *Client) Overview(ctx context.Context, tid string) (wire.Overview, error) {
	var out wire.Overview
	err := c.get(ctx, tenantPath(tid, "overview"), nil, &out)
	return out, err
}

// CreateUser is POST /tenants/{tid}/users.
func (c *Client) CreateUser(ctx context.Context, tid string, req wire.UserRequest) (wire.User, error) {
	var out wire.User
	err := c.do(ctx, request{method: http.MethodPost, path: tenantPath(tid, "users"), json: req}, &out)
	return out, err
}

// Users is GET /tenants/{tid}/users.
func (c *Client) Users(ctx context.Context, tid string) ([]wire.User, error) {
	return list[wire.User](ctx, c, tenantPath(tid, "users"), nil)
}

// User is GET /tenants/{tid}/users/{uid}.
func (c *Client) User(ctx context.Context, tid, uid string) (wire.User, error) {
	var out wire.User
	err := c.get(ctx, tenantPath(tid, "users", uid), nil, &out)
	return out, err
}

// UpdateUser is PATCH /tenants/{tid}/users/{uid}.
func (c *Client) UpdateUser(ctx context.Context, tid, uid string, patch wire.UserPatch) (wire.User, error) {
	var out wire.User
	err := c.do(ctx, request{method: http.MethodPatch, path: tenantPath(tid, "users", uid), json: patch}, &out)
	return out, err
}

// DeleteUser is DELETE /tenants/{tid}/users/{uid}.
func (c *Client) DeleteUser(ctx context.Context, tid, uid string) error {
	return c.do(ctx, request{method: http.MethodDelete, path: tenantPath(tid, "users", uid)}, nil)
}

// SetAdminRole is PUT /tenants/{tid}/users/{uid}/adminRole: the user may sign in to the web
// console with that role.
func (c *Client) SetAdminRole(ctx context.Context, tid, uid string, req wire.AdminRoleRequest) (wire.User, error) {
	var out wire.User
	err := c.do(ctx, request{method: http.MethodPut, path: tenantPath(tid, "users", uid, "adminRole"), json: req}, &out)
	return out, err
}

// RevokeAdminRole is DELETE /tenants/{tid}/users/{uid}/adminRole.
func (c *Client) RevokeAdminRole(ctx context.Context, tid, uid string) (wire.User, error) {
	var out wire.User
	err := c.do(ctx, request{method: http.MethodDelete, path: tenantPath(tid, "users", uid, "adminRole")}, &out)
	return out, err
}

// EnrollTOTP is POST /tenants/{tid}/users/{uid}/authenticationMethods/totp: a new TOTP
// secret, shown once.
func (c *Client) EnrollTOTP(ctx context.Context, tid, uid string) (wire.TOTP, error) {
	var out wire.TOTP
	err := c.do(ctx, request{method: http.MethodPost, path: tenantPath(tid, "users", uid, "authenticationMethods", "totp")}, &out)
	return out, err
}

// DeviceFilter narrows a device list.
type DeviceFilter struct {
	// CanReset, when non-nil, keeps the devices reporting this CanReset value.
	CanReset *string
}

// Devices is GET /tenants/{tid}/devices.
func (c *Client) Devices(ctx context.Context, tid string, f DeviceFilter) ([]wire.Device, error) {
	var q url.Values
	if f.CanReset != nil {
		q = url.Values{"canReset": {*f.CanReset}}
	}
	return list[wire.Device](ctx, c, tenantPath(tid, "devices"), q)
}

// DevicePageQuery asks for one page of a tenant's devices (the paged form of GET
// /tenants/{tid}/devices); zero fields do not filter.
type DevicePageQuery struct {
	Top       int
	SkipToken string
	// Search is a prefix of the device name or the user's UPN.
	Search string
	// CanReset, when non-nil, keeps devices showing this CanReset ("" not reported).
	CanReset        *string
	EnrollmentState string
	OSVersion       string // prefix
	OSEdition       int
	// SeenSince and NotSeenSince bound the last check-in (at or after / before or never).
	SeenSince, NotSeenSince time.Time
}

func (q DevicePageQuery) values() url.Values {
	v := url.Values{}
	if q.Top > 0 {
		v.Set("top", strconv.Itoa(q.Top))
	} else {
		v.Set("top", "50")
	}
	set := func(k, val string) {
		if val != "" {
			v.Set(k, val)
		}
	}
	set("skipToken", q.SkipToken)
	set("search", q.Search)
	set("enrollmentState", q.EnrollmentState)
	set("osVersion", q.OSVersion)
	if q.CanReset != nil {
		v.Set("canReset", *q.CanReset)
	}
	if q.OSEdition != 0 {
		v.Set("osEdition", strconv.Itoa(q.OSEdition))
	}
	if !q.SeenSince.IsZero() {
		v.Set("seenSince", q.SeenSince.UTC().Format(time.RFC3339))
	}
	if !q.NotSeenSince.IsZero() {
		v.Set("notSeenSince", q.NotSeenSince.UTC().Format(time.RFC3339))
	}
	return v
}

// DevicePage is GET /tenants/{tid}/devices?top=...: one page from the device index.
func (c *Client) DevicePage(ctx context.Context, tid string, q DevicePageQuery) (wire.DevicePage, error) {
	var out wire.DevicePage
	err := c.get(ctx, tenantPath(tid, "devices"), q.values(), &out)
	return out, err
}

// Device is GET /tenants/{tid}/devices/{did}.
func (c *Client) Device(ctx context.Context, tid, did string) (wire.Device, error) {
	var out wire.Device
	err := c.get(ctx, tenantPath(tid, "devices", did), nil, &out)
	return out, err
}

// RetireDevice is POST /tenants/{tid}/devices/{did}/retire.
func (c *Client) RetireDevice(ctx context.Context, tid, did string) (wire.Device, error) {
	var out wire.Device
	err := c.do(ctx, request{method: http.MethodPost, path: tenantPath(tid, "devices", did, "retire")}, &out)
	return out, err
}

// ResendFailed is POST /tenants/{tid}/devices/{did}/resendFailed: the device's settings in
// error go out again at its next check-in.
func (c *Client) ResendFailed(ctx context.Context, tid, did string) (wire.ResendFailed, error) {
	var out wire.ResendFailed
	err := c.do(ctx, request{method: http.MethodPost, path: tenantPath(tid, "devices", did, "resendFailed")}, &out)
	return out, err
}

// SyncDevice is POST /tenants/{tid}/devices/{did}/syncDevice: "Sync now", the device is
// woken on its push channel.
func (c *Client) SyncDevice(ctx context.Context, tid, did string) (wire.SyncResult, error) {
	var out wire.SyncResult
	err := c.do(ctx, request{method: http.MethodPost, path: tenantPath(tid, "devices", did, "syncDevice")}, &out)
	return out, err
}

// QueueCommand is POST /tenants/{tid}/devices/{did}/commands.
func (c *Client) QueueCommand(ctx context.Context, tid, did string, req wire.CommandRequest) (wire.Command, error) {
	var out wire.Command
	err := c.do(ctx, request{method: http.MethodPost, path: tenantPath(tid, "devices", did, "commands"), json: req}, &out)
	return out, err
}

// Commands is GET /tenants/{tid}/devices/{did}/commands.
func (c *Client) Commands(ctx context.Context, tid, did string) ([]wire.Command, error) {
	return list[wire.Command](ctx, c, tenantPath(tid, "devices", did, "commands"), nil)
}

// Command is GET /tenants/{tid}/devices/{did}/commands/{id}.
func (c *Client) Command(ctx context.Context, tid, did, id string) (wire.Command, error) {
	var out wire.Command
	err := c.get(ctx, tenantPath(tid, "devices", did, "commands", id), nil, &out)
	return out, err
}

// ResendCommand is POST /tenants/{tid}/devices/{did}/commands/{id}/resend: the copy queued.
func (c *Client) ResendCommand(ctx context.Context, tid, did, id string) (wire.Command, error) {
	var out wire.Command
	err := c.do(ctx, request{method: http.MethodPost, path: tenantPath(tid, "devices", did, "commands", id, "resend")}, &out)
	return out, err
}

// CreateToken is POST /tokens: the token and its secret, shown once.
func (c *Client) CreateToken(ctx context.Context, req wire.TokenRequest) (wire.CreatedToken, error) {
	var out wire.CreatedToken
	err := c.do(ctx, request{method: http.MethodPost, path: "/tokens", json: req}, &out)
	return out, err
}

// Tokens is GET /tokens.
func (c *Client) Tokens(ctx context.Context) ([]wire.Token, error) {
	return list[wire.Token](ctx, c, "/tokens", nil)
}

// RevokeToken is DELETE /tokens/{id}.
func (c *Client) RevokeToken(ctx context.Context, id string) error {
	return c.do(ctx, request{method: http.MethodDelete, path: "/tokens/" + url.PathEscape(id)}, nil)
}

// PinResetConsent is POST /tenants/{tid}/pinReset/consent: grants (or withdraws) the
// tenant's consent to a PIN reset application.
func (c *Client) PinResetConsent(ctx context.Context, tid string, req wire.ConsentRequest) (wire.ServicePrincipals, error) {
	var out wire.ServicePrincipals
	err := c.do(ctx, request{method: http.MethodPost, path: tenantPath(tid, "pinReset", "consent"), json: req}, &out)
	return out, err
}

// ServicePrincipals is GET /tenants/{tid}/servicePrincipals: the PIN reset applications.
func (c *Client) ServicePrincipals(ctx context.Context, tid string) (wire.ServicePrincipals, error) {
	var out wire.ServicePrincipals
	err := c.get(ctx, tenantPath(tid, "servicePrincipals"), nil, &out)
	return out, err
}

// TenantWNS is GET /tenants/{tid}/wns: the tenant's WNS push settings.
func (c *Client) TenantWNS(ctx context.Context, tid string) (wire.TenantWNS, error) {
	var out wire.TenantWNS
	err := c.get(ctx, tenantPath(tid, "wns"), nil, &out)
	return out, err
}

// UpdateTenantWNS is PATCH /tenants/{tid}/wns.
func (c *Client) UpdateTenantWNS(ctx context.Context, tid string, patch wire.TenantWNSPatch) (wire.TenantWNS, error) {
	var out wire.TenantWNS
	err := c.do(ctx, request{method: http.MethodPatch, path: tenantPath(tid, "wns"), json: patch}, &out)
	return out, err
}

// Backup is GET /backup: a consistent copy of a bbolt server's database, streamed.
func (c *Client) Backup(ctx context.Context) (*Download, error) {
	return c.download(ctx, "/backup", nil)
}
