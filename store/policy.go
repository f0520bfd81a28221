package store

import (
	"context"
	"encoding/json"
	"time"
)

// Kinds of group members. A device belongs to a group when it, or its enrolled user
// (Device.UserID), is a member, directly or through nested groups.
const (
	MemberUser   = "user"
	MemberDevice = "device"
	MemberGroup  = "group"
)

// Group is a static security group of a tenant.
type Group struct {
	TenantID    string    `json:"tenantId"`
	ID          string    `json:"id"`
	DisplayName string    `json:"displayName"`
	Description string    `json:"description,omitempty"`
	ScopeTags   []string  `json:"roleScopeTagIds,omitempty"`
	CreatedAt   time.Time `json:"createdAt"`
	UpdatedAt   time.Time `json:"updatedAt"`
}

// Member is one direct member of a group.
type Member struct {
	Kind string `json:"kind"` // MemberUser, MemberDevice or MemberGroup
	ID   string `json:"id"`
}

// Profile kinds: the Intune shape a profile was imported from.
const (
	// ProfileSettingsCatalog: #microsoft.graph.deviceManagementConfigurationPolicy.
	ProfileSettingsCatalog = "settingsCatalog"
	// ProfileCustom: #microsoft.graph.windows10CustomConfiguration (custom OMA-URI).
	ProfileCustom = "customOMAURI"
)

// Profile is a configuration profile: the JSON the admin imported, kept verbatim so exports
// round-trip, and the settings parsed from it (package policy parses and validates).
type Profile struct {
	TenantID    string `json:"tenantId"`
	ID          string `json:"id"`
	Kind        string `json:"kind"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// ScopeTags are Intune's roleScopeTagIds; ["0"] (Default) when the import had none.
	ScopeTags []string `json:"roleScopeTagIds"`
	// Version starts at 1 and increments on every UpdateProfile.
	Version   uint64           `json:"version"`
	Raw       json.RawMessage  `json:"raw"`
	Settings  []ProfileSetting `json:"settings"`
	CreatedAt time.Time        `json:"createdAt"`
	UpdatedAt time.Time        `json:"updatedAt"`
}

// ProfileSetting is one node value a profile asks for.
type ProfileSetting struct {
	// DefinitionID is the settings-catalog id; empty for custom OMA-URI settings.
	DefinitionID string `json:"settingDefinitionId,omitempty"`
	// Name is the custom setting's displayName (or the definition id).
	Name string `json:"name,omitempty"`
	// LocURI is canonical; "{TenantId}" stands for the tenant's ID until resolution.
	LocURI string `json:"locUri"`
	Format string `json:"format"` // Meta Format on the wire: bool, int, chr, b64, xml, ...
	Value  string `json:"value"`
}

// Assignment target types, Intune's deviceAndAppManagementAssignmentTarget @odata.type values.
const (
	TargetGroup            = "#microsoft.graph.groupAssignmentTarget"
	TargetExclusionGroup   = "#microsoft.graph.exclusionGroupAssignmentTarget"
	TargetAllDevices       = "#microsoft.graph.allDevicesAssignmentTarget"
	TargetAllLicensedUsers = "#microsoft.graph.allLicensedUsersAssignmentTarget"
)

// Assignment targets a profile at devices.
type Assignment struct {
	Target  string `json:"target"`            // one of the Target* values
	GroupID string `json:"groupId,omitempty"` // for group and exclusion group targets
}

// PolicySnapshot is everything of a tenant that decides its devices' desired state, read in
// one consistent transaction together with the tenant's policy version.
type PolicySnapshot struct {
	TenantID    string
	Version     uint64
	Groups      []Group
	Members     map[string][]Member     // group ID → direct members
	Profiles    []Profile               // by ID
	Assignments map[string][]Assignment // profile ID → its assignments
	UserIDs     []string                // the tenant's users (allLicensedUsers targets)
}

// Setting states of one (device, LocURI).
const (
	SettingPending       = "pending"       // a command writing (or removing) it awaits the device
	SettingSucceeded     = "succeeded"     // the device holds the desired value
	SettingError         = "error"         // the device refused, or reports another value
	SettingConflict      = "conflict"      // two profiles want different values: nothing sent
	SettingNotApplicable = "notApplicable" // OS build or edition cannot hold the node
	SettingRemoved       = "removed"       // no longer assigned, and deleted on the device
)

// SettingState is where one node of one device stands.
type SettingState struct {
	TenantID    string   `json:"tenantId"`
	DeviceID    string   `json:"deviceId"`
	LocURI      string   `json:"locUri"` // canonical, concrete
	Format      string   `json:"format"`
	Value       string   `json:"value"`
	State       string   `json:"state"`
	ErrorCode   int      `json:"errorCode,omitempty"`
	ErrorDetail string   `json:"errorDetail,omitempty"`
	Sources     []string `json:"sources,omitempty"` // profile IDs that set it
	// Removing: the setting is no longer assigned and a Delete was (or is to be) sent.
	Removing bool `json:"removing,omitempty"`
	// Written: a write was queued since the node was last removed, so removal needs a Delete.
	Written bool `json:"written,omitempty"`
	// WriteCommandID is the command writing (or deleting) the node; VerifyCommandID the Get
	// that reads it back.
	WriteCommandID  string    `json:"writeCommandId,omitempty"`
	VerifyCommandID string    `json:"verifyCommandId,omitempty"`
	LastChanged     time.Time `json:"lastChanged"`
}

// DevicePolicy is what the device's desired state was last resolved from.
type DevicePolicy struct {
	Version    uint64    `json:"version"` // the tenant's policy version
	OSVersion  string    `json:"osVersion,omitempty"`
	OSEdition  int       `json:"osEdition,omitempty"`
	UserID     string    `json:"userId,omitempty"`
	ResolvedAt time.Time `json:"resolvedAt"`
}

// PolicyCheck is what a check-in reads, outside its transaction, to decide whether the
// device's desired state may have changed.
type PolicyCheck struct {
	Device        Device
	Resolved      DevicePolicy
	HasResolved   bool // false when the device was never resolved
	TenantVersion uint64
}

// Policy is the policy engine's storage.
type Policy interface {
	Groups
	Memberships
	Profiles
	Assignments
	PolicyReads
}

// Groups holds static security groups. Every change bumps the tenant's policy version, and
// appends the events of ctx's AuditFunc (WithAudit) in the same transaction.
type Groups interface {
	// CreateGroup stores a new group; ErrExists if the ID is taken in the tenant.
	CreateGroup(ctx context.Context, g Group) error
	Group(ctx context.Context, tenantID, id string) (Group, error)
	ListGroups(ctx context.Context, tenantID string) ([]Group, error)
	// DeleteGroup removes the group, its member list and its membership in other groups;
	// ErrConflict while a profile assignment targets it.
	DeleteGroup(ctx context.Context, tenantID, id string) error
}

// Memberships holds group members. Every change bumps the tenant's policy version, and
// appends the events of ctx's AuditFunc (WithAudit) in the same transaction.
type Memberships interface {
	// AddMembers adds members to a group in one transaction. Each must exist in the tenant
	// (ErrNotFound); a group member that would create a cycle gives ErrConflict. Adding an
	// existing member is not an error.
	AddMembers(ctx context.Context, tenantID, groupID string, members ...Member) error
	// RemoveMember removes a direct member; ErrNotFound when it is not one.
	RemoveMember(ctx context.Context, tenantID, groupID string, m Member) error
	// Members lists the direct members of a group, by kind then ID.
	Members(ctx context.Context, tenantID, groupID string) ([]Member, error)
}

// Profiles holds configuration profiles. Every change bumps the tenant's policy version, and
// appends the events of ctx's AuditFunc (WithAudit) in the same transaction.
type Profiles interface {
	// CreateProfile stores a new profile at Version 1; ErrExists if the ID is taken.
	CreateProfile(ctx context.Context, p Profile) error
	Profile(ctx context.Context, tenantID, id string) (Profile, error)
	ListProfiles(ctx context.Context, tenantID string) ([]Profile, error)
	// UpdateProfile applies fn and writes the profile back with Version incremented; fn must
	// not change the ID or tenant (ErrConflict).
	UpdateProfile(ctx context.Context, tenantID, id string, fn func(*Profile) error) error
	// DeleteProfile removes the profile and its assignments.
	DeleteProfile(ctx context.Context, tenantID, id string) error
}

// Assignments holds which devices each profile targets.
type Assignments interface {
	// SetAssignments replaces the profile's assignments; groups they name must exist
	// (ErrNotFound). One write whatever the size of the groups. Events of ctx's AuditFunc
	// (WithAudit) are appended in the same transaction.
	SetAssignments(ctx context.Context, tenantID, profileID string, as []Assignment) error
	Assignments(ctx context.Context, tenantID, profileID string) ([]Assignment, error)
}

// PolicyReads serves check-ins and reports.
type PolicyReads interface {
	// PolicyVersion is the tenant's policy version: 0 until the first change, then bumped by
	// every change of its groups, members, profiles or assignments.
	PolicyVersion(ctx context.Context, tenantID string) (uint64, error)
	// PolicyCheck reads a device, what its desired state was last resolved from and its
	// tenant's policy version, in one read transaction.
	PolicyCheck(ctx context.Context, deviceID string) (PolicyCheck, error)
	// PolicySnapshot reads the tenant's whole policy consistently.
	PolicySnapshot(ctx context.Context, tenantID string) (PolicySnapshot, error)
	// SettingStates lists a device's setting states by LocURI.
	SettingStates(ctx context.Context, deviceID string) ([]SettingState, error)
	// ListSettingStates calls fn for each setting state of the tenant, by device then LocURI,
	// until fn returns false or an error. It streams.
	ListSettingStates(ctx context.Context, tenantID string, fn func(SettingState) (bool, error)) error
}

// PolicyTx is the policy engine's part of a check-in transaction.
type PolicyTx interface {
	// SettingStates lists the device's setting states by LocURI.
	SettingStates() ([]SettingState, error)
	// PutSettingState writes one state (TenantID and DeviceID are the device's).
	PutSettingState(s SettingState) error
	DeleteSettingState(locURI string) error
	// DevicePolicy returns what the device was last resolved from; ok false when never.
	DevicePolicy() (p DevicePolicy, ok bool, err error)
	PutDevicePolicy(p DevicePolicy) error
}
