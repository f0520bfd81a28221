package adminclient

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// CreateTenant is POST /tenants.
func (c *Client) CreateTenant(ctx context.Context, req TenantRequest) (Tenant, error) {
	var out Tenant
	err := c.do(ctx, request{method: http.MethodPost, path: "/tenants", json: req}, &out)
	return out, err
}

// Tenants is GET /tenants: the tenants the token sees.
func (c *Client) Tenants(ctx context.Context) ([]Tenant, error) {
	return list[Tenant](ctx, c, "/tenants", nil)
}

// Tenant is GET /tenants/{tid}.
func (c *Client) Tenant(ctx context.Context, tid string) (Tenant, error) {
	var out Tenant
	err := c.get(ctx, tenantPath(tid), nil, &out)
	return out, err
}

// UpdateTenant is PATCH /tenants/{tid}.
func (c *Client) UpdateTenant(ctx context.Context, tid string, patch TenantPatch) (Tenant, error) {
	var out Tenant
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
func (c *Client) Overview(ctx context.Context, tid string) (Overview, error) {
	var out Overview
	err := c.get(ctx, tenantPath(tid, "overview"), nil, &out)
	return out, err
}

// CreateUser is POST /tenants/{tid}/users.
func (c *Client) CreateUser(ctx context.Context, tid string, req UserRequest) (User, error) {
	var out User
	err := c.do(ctx, request{method: http.MethodPost, path: tenantPath(tid, "users"), json: req}, &out)
	return out, err
}

// Users is GET /tenants/{tid}/users.
func (c *Client) Users(ctx context.Context, tid string) ([]User, error) {
	return list[User](ctx, c, tenantPath(tid, "users"), nil)
}

// User is GET /tenants/{tid}/users/{uid}.
func (c *Client) User(ctx context.Context, tid, uid string) (User, error) {
	var out User
	err := c.get(ctx, tenantPath(tid, "users", uid), nil, &out)
	return out, err
}

// UpdateUser is PATCH /tenants/{tid}/users/{uid}.
func (c *Client) UpdateUser(ctx context.Context, tid, uid string, patch UserPatch) (User, error) {
	var out User
	err := c.do(ctx, request{method: http.MethodPatch, path: tenantPath(tid, "users", uid), json: patch}, &out)
	return out, err
}

// DeleteUser is DELETE /tenants/{tid}/users/{uid}.
func (c *Client) DeleteUser(ctx context.Context, tid, uid string) error {
	return c.do(ctx, request{method: http.MethodDelete, path: tenantPath(tid, "users", uid)}, nil)
}

// SetAdminRole is PUT /tenants/{tid}/users/{uid}/adminRole: the user may sign in to the web
// console with that role.
func (c *Client) SetAdminRole(ctx context.Context, tid, uid string, req AdminRoleRequest) (User, error) {
	var out User
	err := c.do(ctx, request{method: http.MethodPut, path: tenantPath(tid, "users", uid, "adminRole"), json: req}, &out)
	return out, err
}

// RevokeAdminRole is DELETE /tenants/{tid}/users/{uid}/adminRole.
func (c *Client) RevokeAdminRole(ctx context.Context, tid, uid string) (User, error) {
	var out User
	err := c.do(ctx, request{method: http.MethodDelete, path: tenantPath(tid, "users", uid, "adminRole")}, &out)
	return out, err
}

// EnrollTOTP is POST /tenants/{tid}/users/{uid}/authenticationMethods/totp: a new TOTP
// secret, shown once.
func (c *Client) EnrollTOTP(ctx context.Context, tid, uid string) (TOTP, error) {
	var out TOTP
	err := c.do(ctx, request{method: http.MethodPost, path: tenantPath(tid, "users", uid, "authenticationMethods", "totp")}, &out)
	return out, err
}

// DeviceFilter narrows a device list.
type DeviceFilter struct {
	// CanReset, when non-nil, keeps the devices reporting this CanReset value.
	CanReset *string
}

// Devices is GET /tenants/{tid}/devices.
func (c *Client) Devices(ctx context.Context, tid string, f DeviceFilter) ([]Device, error) {
	var q url.Values
	if f.CanReset != nil {
		q = url.Values{"canReset": {*f.CanReset}}
	}
	return list[Device](ctx, c, tenantPath(tid, "devices"), q)
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

// DevicePage is one page of devices (adminapi.DevicePageView); NextSkipToken, when set,
// asks for the next.
type DevicePage struct {
	Value         []Device `json:"value"`
	NextSkipToken string   `json:"nextSkipToken,omitempty"`
}

// DevicePage is GET /tenants/{tid}/devices?top=...: one page from the device index.
func (c *Client) DevicePage(ctx context.Context, tid string, q DevicePageQuery) (DevicePage, error) {
	var out DevicePage
	err := c.get(ctx, tenantPath(tid, "devices"), q.values(), &out)
	return out, err
}

// Device is GET /tenants/{tid}/devices/{did}.
func (c *Client) Device(ctx context.Context, tid, did string) (Device, error) {
	var out Device
	err := c.get(ctx, tenantPath(tid, "devices", did), nil, &out)
	return out, err
}

// RetireDevice is POST /tenants/{tid}/devices/{did}/retire.
func (c *Client) RetireDevice(ctx context.Context, tid, did string) (Device, error) {
	var out Device
	err := c.do(ctx, request{method: http.MethodPost, path: tenantPath(tid, "devices", did, "retire")}, &out)
	return out, err
}

// ResendFailed is POST /tenants/{tid}/devices/{did}/resendFailed: the device's settings in
// error go out again at its next check-in.
func (c *Client) ResendFailed(ctx context.Context, tid, did string) (ResendFailed, error) {
	var out ResendFailed
	err := c.do(ctx, request{method: http.MethodPost, path: tenantPath(tid, "devices", did, "resendFailed")}, &out)
	return out, err
}

// SyncDevice is POST /tenants/{tid}/devices/{did}/syncDevice: "Sync now", the device is
// woken on its push channel.
func (c *Client) SyncDevice(ctx context.Context, tid, did string) (SyncResult, error) {
	var out SyncResult
	err := c.do(ctx, request{method: http.MethodPost, path: tenantPath(tid, "devices", did, "syncDevice")}, &out)
	return out, err
}

// QueueCommand is POST /tenants/{tid}/devices/{did}/commands.
func (c *Client) QueueCommand(ctx context.Context, tid, did string, req CommandRequest) (Command, error) {
	var out Command
	err := c.do(ctx, request{method: http.MethodPost, path: tenantPath(tid, "devices", did, "commands"), json: req}, &out)
	return out, err
}

// Commands is GET /tenants/{tid}/devices/{did}/commands.
func (c *Client) Commands(ctx context.Context, tid, did string) ([]Command, error) {
	return list[Command](ctx, c, tenantPath(tid, "devices", did, "commands"), nil)
}

// Command is GET /tenants/{tid}/devices/{did}/commands/{id}.
func (c *Client) Command(ctx context.Context, tid, did, id string) (Command, error) {
	var out Command
	err := c.get(ctx, tenantPath(tid, "devices", did, "commands", id), nil, &out)
	return out, err
}

// ResendCommand is POST /tenants/{tid}/devices/{did}/commands/{id}/resend: the copy queued.
func (c *Client) ResendCommand(ctx context.Context, tid, did, id string) (Command, error) {
	var out Command
	err := c.do(ctx, request{method: http.MethodPost, path: tenantPath(tid, "devices", did, "commands", id, "resend")}, &out)
	return out, err
}

// CreateToken is POST /tokens: the token and its secret, shown once.
func (c *Client) CreateToken(ctx context.Context, req TokenRequest) (CreatedToken, error) {
	var out CreatedToken
	err := c.do(ctx, request{method: http.MethodPost, path: "/tokens", json: req}, &out)
	return out, err
}

// Tokens is GET /tokens.
func (c *Client) Tokens(ctx context.Context) ([]Token, error) {
	return list[Token](ctx, c, "/tokens", nil)
}

// RevokeToken is DELETE /tokens/{id}.
func (c *Client) RevokeToken(ctx context.Context, id string) error {
	return c.do(ctx, request{method: http.MethodDelete, path: "/tokens/" + url.PathEscape(id)}, nil)
}

// PinResetConsent is POST /tenants/{tid}/pinReset/consent: grants (or withdraws) the
// tenant's consent to a PIN reset application.
func (c *Client) PinResetConsent(ctx context.Context, tid string, req ConsentRequest) (ServicePrincipals, error) {
	var out ServicePrincipals
	err := c.do(ctx, request{method: http.MethodPost, path: tenantPath(tid, "pinReset", "consent"), json: req}, &out)
	return out, err
}

// ServicePrincipals is GET /tenants/{tid}/servicePrincipals: the PIN reset applications.
func (c *Client) ServicePrincipals(ctx context.Context, tid string) (ServicePrincipals, error) {
	var out ServicePrincipals
	err := c.get(ctx, tenantPath(tid, "servicePrincipals"), nil, &out)
	return out, err
}

// TenantWNS is GET /tenants/{tid}/wns: the tenant's WNS push settings.
func (c *Client) TenantWNS(ctx context.Context, tid string) (TenantWNS, error) {
	var out TenantWNS
	err := c.get(ctx, tenantPath(tid, "wns"), nil, &out)
	return out, err
}

// UpdateTenantWNS is PATCH /tenants/{tid}/wns.
func (c *Client) UpdateTenantWNS(ctx context.Context, tid string, patch TenantWNSPatch) (TenantWNS, error) {
	var out TenantWNS
	err := c.do(ctx, request{method: http.MethodPatch, path: tenantPath(tid, "wns"), json: patch}, &out)
	return out, err
}

// Backup is GET /backup: a consistent copy of a bbolt server's database, streamed.
func (c *Client) Backup(ctx context.Context) (*Download, error) {
	return c.download(ctx, "/backup", nil)
}
