package adminclient

import (
	"cmp"
	"context"
	"encoding/json"
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
	"net/http"
	"net/url"
	"strconv"
)

// ProfileRoute is the route of a profile's Intune shape.
type ProfileRoute string

// The two profile routes.
const (
	// SettingsCatalog is a settings catalog policy (deviceManagementConfigurationPolicy).
	SettingsCatalog ProfileRoute = "configurationPolicies"
	// CustomOMAURI is a custom OMA-URI profile (windows10CustomConfiguration).
	CustomOMAURI ProfileRoute = "deviceConfigurations"
)

// ProfileRoutes are both routes, settings catalog first.
var ProfileRoutes = []ProfileRoute{SettingsCatalog, CustomOMAURI}

// Profile is a profile's Intune JSON as the server shows it, kept as received (Raw, which
// it marshals back to), with the fields clients read most decoded beside it.
type Profile struct {
	Raw                  json.RawMessage
	ID                   string
	Name                 string // a settings catalog policy's name
	DisplayName          string // a custom profile's name
	Version              int
	LastModifiedDateTime string
	// Warnings are what a write accepted but will not do as it seems to (e.g. a setting
	// that names another tenant).
	Warnings []string
}

// UnmarshalJSON keeps the document and reads its header.
func (p *Profile) UnmarshalJSON(b []byte) error {
	var h struct {
		ID                   string   `json:"id"`
		Name                 string   `json:"name"`
		DisplayName          string   `json:"displayName"`
		Version              int      `json:"version"`
		LastModifiedDateTime string   `json:"lastModifiedDateTime"`
		Warnings             []string `json:"warnings"`
	}
	if err := json.Unmarshal(b, &h); err != nil {
		return err
	}
	*p = Profile{Raw: append(json.RawMessage(nil), b...), ID: h.ID, Name: h.Name, DisplayName: h.DisplayName,
		Version: h.Version, LastModifiedDateTime: h.LastModifiedDateTime, Warnings: h.Warnings}
	return nil
}

// MarshalJSON is the document as received.
func (p Profile) MarshalJSON() ([]byte, error) {
	if p.Raw == nil {
		return []byte("null"), nil
	}
	return p.Raw, nil
}

// ProfileServerFields are the properties the server sets on a profile's JSON (id, version,
// times, counts, warnings): an export leaves them out, so the document imports as a new
// profile, here or in another tenant.
var ProfileServerFields = []string{"id", "version", "createdDateTime", "lastModifiedDateTime", "settingCount", "@odata.context", "warnings"}

// Export is the profile's Intune JSON without ProfileServerFields, indented.
func (p Profile) Export() ([]byte, error) {
	var doc map[string]any
	if err := json.Unmarshal(p.Raw, &doc); err != nil {
		return nil, err
	}
	for _, f := range ProfileServerFields {
		delete(doc, f)
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	return append(b, '\n'), err
}

// Title is the profile's name in its shape: name or displayName.
func (p Profile) Title() string { return p.Name + p.DisplayName }

// CreateGroup is POST /tenants/{tid}/groups.
func (c *Client) CreateGroup(ctx context.Context, tid string, req wire.GroupRequest) (wire.Group, error) {
	var out wire.Group
	err := c.do(ctx, request{method: http.MethodPost, path: tenantPath(tid, "groups"), json: req}, &out)
	return out, err
}

// Groups is GET /tenants/{tid}/groups.
func (c *Client) Groups(ctx context.Context, tid string) ([]wire.Group, error) {
	return list[wire.Group](ctx, c, tenantPath(tid, "groups"), nil)
}

// Group is GET /tenants/{tid}/groups/{gid}.
func (c *Client) Group(ctx context.Context, tid, gid string) (wire.Group, error) {
	var out wire.Group
	err := c.get(ctx, tenantPath(tid, "groups", gid), nil, &out)
	return out, err
}

// DeleteGroup is DELETE /tenants/{tid}/groups/{gid}.
func (c *Client) DeleteGroup(ctx context.Context, tid, gid string) error {
	return c.do(ctx, request{method: http.MethodDelete, path: tenantPath(tid, "groups", gid)}, nil)
}

// AddMember is POST /tenants/{tid}/groups/{gid}/members: a user, device or group by ID.
func (c *Client) AddMember(ctx context.Context, tid, gid, member string) error {
	body := wire.MemberRequest{ID: member}
	return c.do(ctx, request{method: http.MethodPost, path: tenantPath(tid, "groups", gid, "members"), json: body}, nil)
}

// Members is GET /tenants/{tid}/groups/{gid}/members.
func (c *Client) Members(ctx context.Context, tid, gid string) ([]wire.Member, error) {
	return list[wire.Member](ctx, c, tenantPath(tid, "groups", gid, "members"), nil)
}

// MemberPage is GET /tenants/{tid}/groups/{gid}/members with q's Top and SkipToken: a page
// of the group's direct members by kind then ID.
func (c *Client) MemberPage(ctx context.Context, tid, gid string, q ListQuery) (Page[wire.Member], error) {
	var out Page[wire.Member]
	err := c.get(ctx, tenantPath(tid, "groups", gid, "members"), q.values(), &out)
	return out, err
}

// MembersAmong is GET /tenants/{tid}/groups/{gid}/members?id=…: which of ids (at most
// 100) are direct members of the group.
func (c *Client) MembersAmong(ctx context.Context, tid, gid string, ids []string) ([]wire.Member, error) {
	var out Page[wire.Member]
	if len(ids) == 0 {
		return nil, nil
	}
	err := c.get(ctx, tenantPath(tid, "groups", gid, "members"), url.Values{"id": ids}, &out)
	return out.Value, err
}

// RemoveMember is DELETE /tenants/{tid}/groups/{gid}/members/{mid}.
func (c *Client) RemoveMember(ctx context.Context, tid, gid, member string) error {
	return c.do(ctx, request{method: http.MethodDelete, path: tenantPath(tid, "groups", gid, "members", member)}, nil)
}

// CreateProfile is POST /tenants/{tid}/{route}: doc is an Intune export of the route's shape.
func (c *Client) CreateProfile(ctx context.Context, tid string, route ProfileRoute, doc json.RawMessage) (Profile, error) {
	var out Profile
	err := c.do(ctx, request{method: http.MethodPost, path: tenantPath(tid, string(route)), json: doc}, &out)
	return out, err
}

// ValidateProfile is POST /tenants/{tid}/{route}?dryRun=true: doc is validated as an import
// and answered as it would be stored (with its warnings), nothing written. It is sent once,
// without Idempotency-Key: it changes nothing.
func (c *Client) ValidateProfile(ctx context.Context, tid string, route ProfileRoute, doc json.RawMessage) (Profile, error) {
	var out Profile
	err := c.do(ctx, request{method: http.MethodPost, path: tenantPath(tid, string(route)), query: url.Values{"dryRun": {"true"}},
		raw: doc, contentType: "application/json", noRetry: true}, &out)
	return out, err
}

// Profiles is GET /tenants/{tid}/{route}.
func (c *Client) Profiles(ctx context.Context, tid string, route ProfileRoute) ([]Profile, error) {
	return list[Profile](ctx, c, tenantPath(tid, string(route)), nil)
}

// Profile is GET /tenants/{tid}/{route}/{pid}.
func (c *Client) Profile(ctx context.Context, tid string, route ProfileRoute, pid string) (Profile, error) {
	var out Profile
	err := c.get(ctx, tenantPath(tid, string(route), pid), nil, &out)
	return out, err
}

// ReplaceProfile is PUT /tenants/{tid}/{route}/{pid}: doc replaces the profile's JSON.
func (c *Client) ReplaceProfile(ctx context.Context, tid string, route ProfileRoute, pid string, doc json.RawMessage) (Profile, error) {
	var out Profile
	err := c.do(ctx, request{method: http.MethodPut, path: tenantPath(tid, string(route), pid), json: doc}, &out)
	return out, err
}

// PatchProfile is PATCH /tenants/{tid}/{route}/{pid}: doc is merged into the profile's JSON.
func (c *Client) PatchProfile(ctx context.Context, tid string, route ProfileRoute, pid string, doc json.RawMessage) (Profile, error) {
	var out Profile
	err := c.do(ctx, request{method: http.MethodPatch, path: tenantPath(tid, string(route), pid), json: doc}, &out)
	return out, err
}

// DeleteProfile is DELETE /tenants/{tid}/{route}/{pid}.
func (c *Client) DeleteProfile(ctx context.Context, tid string, route ProfileRoute, pid string) error {
	return c.do(ctx, request{method: http.MethodDelete, path: tenantPath(tid, string(route), pid)}, nil)
}

// AssignProfile is POST /tenants/{tid}/{route}/{pid}/assign: the assignments replace the
// profile's.
func (c *Client) AssignProfile(ctx context.Context, tid string, route ProfileRoute, pid string, as []wire.Assignment) (wire.Assignments, error) {
	if as == nil {
		as = []wire.Assignment{}
	}
	body := wire.AssignBody{Assignments: as}
	var out wire.Assignments
	err := c.do(ctx, request{method: http.MethodPost, path: tenantPath(tid, string(route), pid, "assign"), json: body}, &out)
	return out, err
}

// ProfileAssignments is GET /tenants/{tid}/{route}/{pid}/assignments.
func (c *Client) ProfileAssignments(ctx context.Context, tid string, route ProfileRoute, pid string) ([]wire.Assignment, error) {
	return list[wire.Assignment](ctx, c, tenantPath(tid, string(route), pid, "assignments"), nil)
}

// ProfileStatus is GET /tenants/{tid}/{route}/{pid}/deviceStatuses: the deployment report
// (a deleted profile's report is answered on either route while devices remove it).
func (c *Client) ProfileStatus(ctx context.Context, tid string, route ProfileRoute, pid string) (wire.ProfileStatus, error) {
	var out wire.ProfileStatus
	err := c.get(ctx, tenantPath(tid, string(route), pid, "deviceStatuses"), nil, &out)
	return out, err
}

// ProfileStatusQuery selects one page of a profile's deployment report.
type ProfileStatusQuery struct {
	// State keeps the rows in one state ("" all); the counts are always every state's.
	State string
	// Top is the page size in device × setting rows (0: 100).
	Top int
	// SkipToken is the NextSkipToken of the previous page.
	SkipToken string
}

// ProfileStatusPage is GET /tenants/{tid}/{route}/{pid}/deviceStatuses with top: the counts
// and one page of rows (a device whose settings go on is listed again on the next page).
func (c *Client) ProfileStatusPage(ctx context.Context, tid string, route ProfileRoute, pid string, q ProfileStatusQuery) (wire.ProfileStatus, error) {
	v := url.Values{"top": {strconv.Itoa(cmp.Or(q.Top, 100))}}
	if q.State != "" {
		v.Set("state", q.State)
	}
	if q.SkipToken != "" {
		v.Set("skipToken", q.SkipToken)
	}
	var out wire.ProfileStatus
	err := c.get(ctx, tenantPath(tid, string(route), pid, "deviceStatuses"), v, &out)
	return out, err
}

// ResendToFailed is POST /tenants/{tid}/{route}/{pid}/resendToFailed: the settings in error
// are sent again at each device's next check-in; it returns the IDs of the devices marked.
func (c *Client) ResendToFailed(ctx context.Context, tid string, route ProfileRoute, pid string) ([]string, error) {
	var out struct {
		Value []string `json:"value"`
	}
	err := c.do(ctx, request{method: http.MethodPost, path: tenantPath(tid, string(route), pid, "resendToFailed")}, &out)
	return out.Value, err
}

// DeviceSettingStates is GET /tenants/{tid}/devices/{did}/settingStates.
func (c *Client) DeviceSettingStates(ctx context.Context, tid, did string) ([]wire.SettingState, error) {
	return list[wire.SettingState](ctx, c, tenantPath(tid, "devices", did, "settingStates"), nil)
}

// DeviceProfiles is GET /tenants/{tid}/devices/{did}/profiles.
func (c *Client) DeviceProfiles(ctx context.Context, tid, did string) (wire.DeviceProfiles, error) {
	var out wire.DeviceProfiles
	err := c.get(ctx, tenantPath(tid, "devices", did, "profiles"), nil, &out)
	return out, err
}

// GroupPolicyUpload is a Group Policy file to analyze or import: a GPMC backup folder
// zipped, a gpreport.xml, a registry.pol or an LGPO text file.
type GroupPolicyUpload struct {
	FileName string // the file's name, as the report shows it
	Scope    string // machine or user for a bare registry.pol; "" is machine
	Data     []byte
}

func (u GroupPolicyUpload) query() url.Values {
	q := url.Values{"fileName": {u.FileName}}
	if u.Scope != "" {
		q.Set("scope", u.Scope)
	}
	return q
}

// AnalyzeGroupPolicy is POST /tenants/{tid}/groupPolicy/analyze: which settings MDM can
// deliver. The upload is sent once (no Idempotency-Key: it changes nothing).
func (c *Client) AnalyzeGroupPolicy(ctx context.Context, tid string, up GroupPolicyUpload) (wire.GroupPolicyReport, error) {
	var out wire.GroupPolicyReport
	err := c.do(ctx, request{method: http.MethodPost, path: tenantPath(tid, "groupPolicy", "analyze"), query: up.query(),
		raw: up.Data, contentType: "application/octet-stream", noRetry: true}, &out)
	return out, err
}

// ImportGroupPolicy is POST /tenants/{tid}/groupPolicy/import: a custom profile named name
// of the supported settings (dryRun: shown, not created).
func (c *Client) ImportGroupPolicy(ctx context.Context, tid, name string, dryRun bool, up GroupPolicyUpload) (wire.GroupPolicyImport, error) {
	q := up.query()
	q.Set("name", name)
	if dryRun {
		q.Set("dryRun", strconv.FormatBool(dryRun))
	}
	var out wire.GroupPolicyImport
	err := c.do(ctx, request{method: http.MethodPost, path: tenantPath(tid, "groupPolicy", "import"), query: q,
		raw: up.Data, contentType: "application/octet-stream", noRetry: true}, &out)
	return out, err
}

// SearchSettings is GET /tenants/{tid}/configurationSettings: the settings whose name, id,
// OMA-URI or description hold every word of search, in category ("" any).
func (c *Client) SearchSettings(ctx context.Context, tid, search, category string) ([]wire.SettingDefinition, error) {
	q := url.Values{}
	if search != "" {
		q.Set("search", search)
	}
	if category != "" {
		q.Set("category", category)
	}
	return list[wire.SettingDefinition](ctx, c, tenantPath(tid, "configurationSettings"), q)
}

// SettingCategories is GET /tenants/{tid}/configurationCategories: the catalog's categories.
func (c *Client) SettingCategories(ctx context.Context, tid string) ([]string, error) {
	cs, err := list[wire.SettingCategory](ctx, c, tenantPath(tid, "configurationCategories"), nil)
	var out []string
	for _, c := range cs {
		out = append(out, c.DisplayName)
	}
	return out, err
}
