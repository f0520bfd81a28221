package adminclient

import (
	"encoding/json"
	"time"

	"github.com/hellomdm/hellomdm/policy/gpo"
)

// The wire types: the JSON of each matches the server's type named in its comment, field
// for field (TestWireTypesMatchServer holds them together).

// TenantRequest is the body of POST /tenants (adminapi.TenantRequest).
type TenantRequest struct {
	ID              string   `json:"id"`
	DisplayName     string   `json:"displayName"`
	VerifiedDomains []string `json:"verifiedDomains"`
	AuthPolicy      string   `json:"authPolicy"`
	FederationHost  string   `json:"federationHost"`
	GovCloud        bool     `json:"govCloud"`
	RoleScopeTagIDs []string `json:"roleScopeTagIds"`
	// EnrollmentReturnURIs are https addresses, besides Windows' ms-app:// ones, to which the
	// sign-in page may post the tenant's enrollment tokens (appru).
	EnrollmentReturnURIs []string `json:"enrollmentReturnUris"`
}

// TenantPatch is the body of PATCH /tenants/{tid}; nil fields stay as they are
// (adminapi.TenantPatch).
type TenantPatch struct {
	DisplayName          *string   `json:"displayName"`
	VerifiedDomains      *[]string `json:"verifiedDomains"`
	AuthPolicy           *string   `json:"authPolicy"`
	FederationHost       *string   `json:"federationHost"`
	GovCloud             *bool     `json:"govCloud"`
	EnrollmentReturnURIs *[]string `json:"enrollmentReturnUris"`
}

// Tenant is how the API shows a tenant (adminapi.TenantView).
type Tenant struct {
	ID                   string    `json:"id"`
	DisplayName          string    `json:"displayName"`
	VerifiedDomains      []string  `json:"verifiedDomains"`
	AuthPolicy           string    `json:"authPolicy"`
	FederationHost       string    `json:"federationHost,omitempty"`
	GovCloud             bool      `json:"govCloud"`
	RoleScopeTagIDs      []string  `json:"roleScopeTagIds"`
	EnrollmentReturnURIs []string  `json:"enrollmentReturnUris"`
	CreatedAt            time.Time `json:"createdAt"`
	UpdatedAt            time.Time `json:"updatedAt"`
}

// PasswordProfile is the password of a new user (Microsoft Graph's passwordProfile).
type PasswordProfile struct {
	Password string `json:"password"`
}

// UserRequest is the body of POST /tenants/{tid}/users (adminapi.UserRequest).
type UserRequest struct {
	UserPrincipalName string          `json:"userPrincipalName"`
	DisplayName       string          `json:"displayName"`
	PasswordProfile   PasswordProfile `json:"passwordProfile"`
	RoleScopeTagIDs   []string        `json:"roleScopeTagIds"`
}

// User is how the API shows a user (adminapi.UserView).
type User struct {
	ID                string   `json:"id"`
	UserPrincipalName string   `json:"userPrincipalName"`
	DisplayName       string   `json:"displayName,omitempty"`
	TOTPEnrolled      bool     `json:"totpEnrolled"`
	AccountEnabled    bool     `json:"accountEnabled"`
	RoleScopeTagIDs   []string `json:"roleScopeTagIds"`
	// AdminRole is the user's web console role ("" when none), limited to
	// AdminRoleScopeTagIDs.
	AdminRole            string    `json:"adminRole,omitempty"`
	AdminRoleScopeTagIDs []string  `json:"adminRoleScopeTagIds"`
	CreatedAt            time.Time `json:"createdAt"`
}

// AdminRoleRequest is the body of PUT /tenants/{tid}/users/{uid}/adminRole
// (adminapi.AdminRoleRequest).
type AdminRoleRequest struct {
	Role            string   `json:"role"`
	RoleScopeTagIDs []string `json:"roleScopeTagIds"`
}

// UserPatch is the body of PATCH /tenants/{tid}/users/{uid} (adminapi.UserPatch).
type UserPatch struct {
	AccountEnabled *bool `json:"accountEnabled"`
}

// TOTP is a new TOTP enrollment, shown once (adminapi.TOTPView).
type TOTP struct {
	Secret string `json:"secret"`
	URI    string `json:"uri"`
}

// Device is how the API shows an enrolled device (adminapi.DeviceView).
type Device struct {
	ID                string    `json:"id"`
	DeviceName        string    `json:"deviceName"`
	UserPrincipalName string    `json:"userPrincipalName"`
	UserID            string    `json:"userId,omitempty"`
	OSVersion         string    `json:"osVersion"`
	EnrollmentType    string    `json:"enrollmentType,omitempty"`
	EnrollmentState   string    `json:"enrollmentState"`
	CanReset          string    `json:"canReset"`
	CanResetReason    string    `json:"canResetReason,omitempty"`
	JoinType          string    `json:"joinType,omitempty"`
	TrustType         string    `json:"trustType,omitempty"`
	AccountType       string    `json:"accountType,omitempty"`
	CertSerial        string    `json:"certSerial,omitempty"`
	CertNotAfter      time.Time `json:"certNotAfter,omitzero"`
	LastSeenAt        time.Time `json:"lastSeenAt,omitzero"`
	EnrolledAt        time.Time `json:"enrolledAt"`
	RoleScopeTagIDs   []string  `json:"roleScopeTagIds"`
	// WNS is the device's WNS push channel; nil when its tenant never had a PFN.
	WNS *DeviceWNS `json:"wns,omitempty"`
	// Push is the device's push channel as the answering replica knows it.
	Push *PushStatus `json:"push,omitempty"`
}

// DeviceWNS is a device's WNS push channel (adminapi.DeviceWNSView).
type DeviceWNS struct {
	PFN              string    `json:"pfn"`
	HasChannel       bool      `json:"hasChannel"`
	ChannelHost      string    `json:"channelHost,omitempty"`
	ChannelExpiresAt time.Time `json:"channelExpiresAt,omitzero"`
	Status           *int      `json:"status,omitempty"`
	ReadAt           time.Time `json:"readAt,omitzero"`
	Refused          string    `json:"refused,omitempty"`
	LastWakeAt       time.Time `json:"lastWakeAt,omitzero"`
	LastWakeResult   string    `json:"lastWakeResult,omitempty"`
}

// TenantWNS is a tenant's WNS push settings (adminapi.TenantWNSView); the client secret is
// never shown, only whether one is configured.
type TenantWNS struct {
	PFN                    string `json:"pfn"`
	PackageSID             string `json:"packageSid"`
	ClientSecretConfigured bool   `json:"clientSecretConfigured"`
}

// TenantWNSPatch is the body of PATCH /tenants/{tid}/wns (adminapi.TenantWNSPatch): nil
// fields stay as they are, "" clears one.
type TenantWNSPatch struct {
	PFN          *string `json:"pfn"`
	PackageSID   *string `json:"packageSid"`
	ClientSecret *string `json:"clientSecret"`
}

// PushStatus is a device's push channel (adminapi.PushStatus).
type PushStatus struct {
	Channel         string    `json:"channel,omitempty"`
	Connected       bool      `json:"connected"`
	ConnectedSince  time.Time `json:"connectedSince,omitzero"`
	LastWakeAt      time.Time `json:"lastWakeAt,omitzero"`
	LastWakeReason  string    `json:"lastWakeReason,omitempty"`
	LastWakeResult  string    `json:"lastWakeResult,omitempty"`
	LastWakeChannel string    `json:"lastWakeChannel,omitempty"`
	Replica         string    `json:"replica,omitempty"`
}

// SyncResult answers SyncDevice (adminapi.SyncResult): Wake is delivered, forwarded or
// notConnected.
type SyncResult struct {
	Wake string     `json:"wake"`
	Push PushStatus `json:"push"`
}

// TokenRequest is the body of POST /tokens (adminapi.TokenRequest).
type TokenRequest struct {
	Name            string    `json:"name"`
	Role            string    `json:"role"`
	TenantID        string    `json:"tenantId"`
	RoleScopeTagIDs []string  `json:"roleScopeTagIds"`
	ExpiresAt       time.Time `json:"expiresAt,omitzero"`
}

// Token is how the API shows an admin token, never its secret (adminapi.TokenView).
type Token struct {
	ID              string    `json:"id"`
	Name            string    `json:"name"`
	Role            string    `json:"role"`
	TenantID        string    `json:"tenantId"`
	RoleScopeTagIDs []string  `json:"roleScopeTagIds"`
	CreatedAt       time.Time `json:"createdAt"`
	ExpiresAt       time.Time `json:"expiresAt,omitzero"`
}

// CreatedToken is the answer of POST /tokens: the only time the secret is shown
// (adminapi.CreatedTokenView).
type CreatedToken struct {
	Token
	Secret string `json:"token"`
}

// CommandRequest is a command to queue: one verb on a LocURI, or an Atomic/Sequence of them
// (adminapi.CommandRequest).
type CommandRequest struct {
	Verb     string           `json:"verb"`
	LocURI   string           `json:"locUri,omitempty"`
	Format   string           `json:"format,omitempty"`
	Type     string           `json:"type,omitempty"`
	Data     string           `json:"data,omitempty"`
	Commands []CommandRequest `json:"commands,omitempty"`
}

// Command is how the API shows a queued command (adminapi.CommandView).
type Command struct {
	ID          string          `json:"id"`
	DeviceID    string          `json:"deviceId"`
	Verb        string          `json:"verb"`
	LocURI      string          `json:"locUri,omitempty"`
	Format      string          `json:"format,omitempty"`
	Data        string          `json:"data,omitempty"`
	Commands    []Command       `json:"commands,omitempty"`
	State       string          `json:"state"`
	StatusCode  int             `json:"statusCode,omitempty"`
	StatusText  string          `json:"statusText,omitempty"`
	ChildStatus []int           `json:"childStatus,omitempty"`
	Attempts    int             `json:"attempts"`
	SentCount   int             `json:"sentCount"`
	ResentAs    string          `json:"resentAs,omitempty"`
	Results     []CommandResult `json:"results,omitempty"`
	Source      string          `json:"source,omitempty"`
	CreatedAt   time.Time       `json:"createdAt"`
	UpdatedAt   time.Time       `json:"updatedAt"`
}

// CommandResult is one Results item of a Get (adminapi.ResultView).
type CommandResult struct {
	LocURI string `json:"locUri"`
	Format string `json:"format,omitempty"`
	Data   string `json:"data"`
}

// ConsentRequest is the body of POST /tenants/{tid}/pinReset/consent (adminapi.ConsentRequest).
type ConsentRequest struct {
	App     string `json:"app"`
	Granted *bool  `json:"granted"`
}

// ServicePrincipal is one PIN reset application of a tenant (adminapi.ServicePrincipalView).
type ServicePrincipal struct {
	App         string     `json:"app"`
	AppID       string     `json:"appId"`
	DisplayName string     `json:"displayName"`
	Consented   bool       `json:"consented"`
	ConsentedAt *time.Time `json:"consentedAt"`
}

// ServicePrincipals is the answer of the PIN reset routes: the applications and, after a
// consent, what will not work as it seems to (a government cloud tenant).
type ServicePrincipals struct {
	Value    []ServicePrincipal `json:"value"`
	Warnings []string           `json:"warnings,omitempty"`
}

// GroupRequest is the body of POST /tenants/{tid}/groups (adminapi.GroupRequest).
type GroupRequest struct {
	DisplayName string `json:"displayName"`
	Description string `json:"description"`
}

// Group is how the API shows a group (adminapi.GroupView).
type Group struct {
	ID          string    `json:"id"`
	DisplayName string    `json:"displayName"`
	Description string    `json:"description,omitempty"`
	CreatedAt   time.Time `json:"createdAt"`
	UpdatedAt   time.Time `json:"updatedAt"`
}

// Member is one member of a group: a user, device or group (adminapi.MemberView).
type Member struct {
	Kind string `json:"kind"`
	ID   string `json:"id"`
}

// Target types of an assignment (Microsoft Graph).
const (
	TargetGroup      = "#microsoft.graph.groupAssignmentTarget"
	TargetExclusion  = "#microsoft.graph.exclusionGroupAssignmentTarget"
	TargetAllDevices = "#microsoft.graph.allDevicesAssignmentTarget"
	TargetAllUsers   = "#microsoft.graph.allLicensedUsersAssignmentTarget"
)

// AssignmentTarget is whom an assignment targets (adminapi.AssignmentTarget).
type AssignmentTarget struct {
	Type    string `json:"@odata.type"`
	GroupID string `json:"groupId,omitempty"`
}

// Assignment is one assignment of a profile (adminapi.AssignmentView).
type Assignment struct {
	Target AssignmentTarget `json:"target"`
}

// Assignments is the answer of an assign: the profile's assignments now and, when
// non-destructive PIN reset cannot work in the tenant, a warning.
type Assignments struct {
	Value    []Assignment `json:"value"`
	Warnings []string     `json:"warnings,omitempty"`
}

// SettingState is one setting's state on a device (adminapi.SettingStateView).
type SettingState struct {
	LocURI      string    `json:"locUri"`
	Format      string    `json:"format"`
	Value       string    `json:"value"`
	State       string    `json:"state"`
	Removing    bool      `json:"removing,omitempty"`
	ErrorCode   int       `json:"errorCode"`
	ErrorDetail string    `json:"errorDetail,omitempty"`
	Sources     []string  `json:"sources"`
	LastChanged time.Time `json:"lastChanged"`
}

// ProfileStatus is a profile's deployment report (adminapi.ProfileStatusView).
type ProfileStatus struct {
	ProfileID string                `json:"profileId"`
	Deleted   bool                  `json:"deleted,omitempty"`
	Counts    map[string]int        `json:"counts"`
	Devices   []DeviceSettingStatus `json:"devices"`
}

// DeviceSettingStatus is one device of a profile's report (adminapi.DeviceSettingView).
type DeviceSettingStatus struct {
	DeviceID       string         `json:"deviceId"`
	Settings       []SettingState `json:"settings"`
	CanReset       string         `json:"canReset,omitempty"`
	CanResetReason string         `json:"canResetReason,omitempty"`
}

// DeviceProfiles is a device's policy report (adminapi.DeviceProfilesView).
type DeviceProfiles struct {
	DeviceID string         `json:"deviceId"`
	Profiles []string       `json:"profiles"`
	Counts   map[string]int `json:"counts"`
	Settings []SettingState `json:"settings"`
}

// GroupPolicyReport is the analysis of a Group Policy upload (adminapi.GroupPolicyReportView).
type GroupPolicyReport struct {
	Source       gpo.Source        `json:"source"`
	Summary      gpo.Summary       `json:"summary"`
	Value        []gpo.Row         `json:"value"`
	Instructions []gpo.Instruction `json:"instructions"`
}

// GroupPolicyImport is the answer of a Group Policy import: the custom profile created (or,
// on a dry run, that would be) and the analysis (adminapi.GroupPolicyImportView).
type GroupPolicyImport struct {
	DryRun  bool            `json:"dryRun"`
	ID      string          `json:"id,omitempty"`
	Profile json.RawMessage `json:"profile"`
	GroupPolicyReport
}

// AuditVerification is the answer of an audit chain check (adminapi.VerifyView).
type AuditVerification struct {
	OK      bool        `json:"ok"`
	Checked uint64      `json:"checked"`
	Start   AuditAnchor `json:"start"`
	Head    AuditAnchor `json:"head"`
	Broken  *AuditBreak `json:"broken"`
	// Unsealed is the tail of events committed but not sealed yet (adminapi.UnsealedView).
	Unsealed AuditUnsealed `json:"unsealed"`
}

// AuditUnsealed counts events committed but not sealed onto the chain yet.
type AuditUnsealed struct {
	Count  uint64     `json:"count"`
	Oldest *time.Time `json:"oldest,omitempty"`
}

// AuditAnchor is an event of the chain by sequence number and hash (adminapi.AnchorView).
type AuditAnchor struct {
	Seq  uint64 `json:"seq"`
	Hash string `json:"hash"`
}

// AuditBreak is the first event where the chain does not hold (adminapi.BrokenView).
type AuditBreak struct {
	Seq     uint64 `json:"seq"`
	EventID string `json:"eventId"`
	Reason  string `json:"reason"`
	Detail  string `json:"detail"`
}

// Overview is GET /tenants/{tid}/overview (adminapi.OverviewView).
type Overview struct {
	TenantID          string           `json:"tenantId"`
	DevicesByState    map[string]int   `json:"devicesByState"`
	CanReset          map[string]int   `json:"canReset"`
	CheckedInSince    time.Time        `json:"checkedInSince"`
	CheckedIn         int              `json:"checkedIn"`
	ProfilesInTrouble []ProfileTrouble `json:"profilesInTrouble"`
}

// ProfileTrouble is a profile with device settings in error or conflict
// (adminapi.ProfileTroubleView).
type ProfileTrouble struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Route    string `json:"route"`
	Error    int    `json:"error"`
	Conflict int    `json:"conflict"`
}

// ResendFailed answers a device's resend of its settings in error (adminapi.ResendFailedView).
type ResendFailed struct {
	DeviceID string   `json:"deviceId"`
	Settings []string `json:"settings"`
}
