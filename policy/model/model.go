// Package model holds the types package policy and package store share: a tenant's groups,
// members, profiles and assignments, the snapshot of them a check-in resolves against, and
// where each setting of a device stands. It imports only the standard library, so that policy
// (which plans) and store (which keeps) depend on it and not on each other.
//
// The JSON tags are the stored format of both backends: changing one changes what is on disk.
package model

import (
	"encoding/json"
	"time"
)

// Kinds of group members. A device belongs to a group when it, or its enrolled user
// (store.Device.UserID), is a member, directly or through nested groups.
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
	// Version starts at 1 and increments on every UpdateProfile (package store).
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
