package wire

import (
	"encoding/json"
	"time"
)

// Target types of an assignment (Microsoft Graph).
const (
	TargetGroup      = "#microsoft.graph.groupAssignmentTarget"
	TargetExclusion  = "#microsoft.graph.exclusionGroupAssignmentTarget"
	TargetAllDevices = "#microsoft.graph.allDevicesAssignmentTarget"
	TargetAllUsers   = "#microsoft.graph.allLicensedUsersAssignmentTarget"
)

// AssignmentTarget is Intune's deviceAndAppManagementAssignmentTarget: whom an assignment
// targets.
type AssignmentTarget struct {
	Type    string `json:"@odata.type"`
	GroupID string `json:"groupId,omitempty"`
}

// Assignment is one assignment of a profile as Graph shows it.
type Assignment struct {
	Target AssignmentTarget `json:"target"`
}

// AssignBody is Intune's assign action body: the assignments that replace the profile's.
type AssignBody struct {
	Assignments []Assignment `json:"assignments"`
}

// Assignments is the answer of an assign: the profile's assignments now and, when
// non-destructive PIN reset cannot work in the tenant, a warning.
type Assignments struct {
	Value    []Assignment `json:"value"`
	Warnings []string     `json:"warnings,omitempty"`
}

// SettingState is where one node of one device stands.
type SettingState struct {
	LocURI string `json:"locUri"`
	Format string `json:"format"`
	Value  string `json:"value"`
	State  string `json:"state"` // pending, succeeded, error, conflict, notApplicable, removed
	// Removing is set while the setting is being removed from the device (its profile was
	// deleted or unassigned): pending means the removal is on its way, error that the device
	// refused it.
	Removing    bool      `json:"removing,omitempty"`
	ErrorCode   int       `json:"errorCode"`
	ErrorDetail string    `json:"errorDetail,omitempty"`
	Sources     []string  `json:"sources"` // profile IDs
	LastChanged time.Time `json:"lastChanged"`
}

// ProfileStatus is a profile's deployment report.
type ProfileStatus struct {
	ProfileID string `json:"profileId"`
	// Deleted is set when the profile was deleted and devices are removing its settings.
	Deleted bool                  `json:"deleted,omitempty"`
	Counts  map[string]int        `json:"counts"`
	Devices []DeviceSettingStatus `json:"devices"`
	// NextSkipToken is set, on a page asked for with top, when more rows follow: pass it as
	// skipToken for the next page.
	NextSkipToken string `json:"nextSkipToken,omitempty"`
}

// DeviceSettingStatus is one device's settings in a profile report.
type DeviceSettingStatus struct {
	DeviceID string `json:"deviceId"`
	// DeviceName and UserPrincipalName are the device's (Device), from the device index.
	DeviceName        string         `json:"deviceName,omitempty"`
	UserPrincipalName string         `json:"userPrincipalName,omitempty"`
	Settings          []SettingState `json:"settings"`
	// CanReset and CanResetReason are the device's (Device) when the profile sets
	// PassportForWork EnablePinRecovery: the setting's state is what the device answered
	// (the CSP exists on every edition, Home included), while these say whether
	// non-destructive reset is available there and, if not, which support matrix row
	// refuses it (for example home-destructive-only).
	CanReset       string `json:"canReset,omitempty"`
	CanResetReason string `json:"canResetReason,omitempty"`
}

// DeviceProfiles is one device's policy: its profiles, counts by state and settings.
type DeviceProfiles struct {
	DeviceID string         `json:"deviceId"`
	Profiles []string       `json:"profiles"`
	Counts   map[string]int `json:"counts"`
	Settings []SettingState `json:"settings"`
}

// SettingDefinition is one setting of the settings catalog.
type SettingDefinition struct {
	// ID is the settingDefinitionId a profile's setting instance names.
	ID          string `json:"id"`
	DisplayName string `json:"displayName"`
	// CategoryName is the picker's category ("Windows Hello For Business").
	CategoryName string `json:"categoryName"`
	Description  string `json:"description,omitempty"`
	// LocURI is the node's OMA-URI pattern ({TenantId}: the tenant's ID on delivery).
	LocURI string `json:"locUri"`
	Format string `json:"format"` // bool, int or chr
	// ValueKind is the setting instance a profile uses: choice (options), integer (a simple
	// integer value), string (a simple string value) or stringCollection (a simple setting
	// collection, joined with the node's list separator on delivery).
	ValueKind    string          `json:"valueKind"`
	Options      []SettingOption `json:"options,omitempty"`
	Minimum      *int            `json:"minimum,omitempty"`
	Maximum      *int            `json:"maximum,omitempty"`
	DefaultValue string          `json:"defaultValue,omitempty"`
	MinimumOS    string          `json:"minimumSupportedVersion,omitempty"`
	// GroupSettingDefinitionID is the group setting (a groupSettingCollectionInstance) the
	// setting's instance must be a child of, e.g. device_vendor_msft_passportforwork_{tenantid};
	// "" for a top-level setting.
	GroupSettingDefinitionID string `json:"groupSettingDefinitionId,omitempty"`
}

// SettingOption is one option of a choice setting: itemId is the choiceSettingValue's value.
type SettingOption struct {
	ItemID      string `json:"itemId"`
	DisplayName string `json:"displayName"`
}

// SettingCategory is one category of the settings catalog.
type SettingCategory struct {
	DisplayName string `json:"displayName"`
}

// GroupPolicyReport is the analysis of an uploaded GPO: what was read, the counts, one row
// per registry value and the deletion instructions met (policy/gpo's Report).
type GroupPolicyReport struct {
	Source       GroupPolicySource        `json:"source"`
	Summary      GroupPolicySummary       `json:"summary"`
	Value        []GroupPolicyRow         `json:"value"`
	Instructions []GroupPolicyInstruction `json:"instructions"`
}

// GroupPolicyImport answers an import: the profile created (as GET shows it) and its ID, or
// on a dry run the Intune document that would be created; and the analysis.
type GroupPolicyImport struct {
	DryRun  bool            `json:"dryRun"`
	ID      string          `json:"id,omitempty"`
	Profile json.RawMessage `json:"profile"`
	GroupPolicyReport
}

// GroupPolicySource describes what was parsed.
type GroupPolicySource struct {
	Format  string `json:"format"` // gpmcBackup, gpreport, registryPol or lgpoText
	File    string `json:"file"`   // the name given to the parser
	GPOName string `json:"gpoName,omitempty"`
	GPOID   string `json:"gpoId,omitempty"`
}

// GroupPolicySummary counts rows as Intune's Group Policy analytics does.
type GroupPolicySummary struct {
	Settings         int `json:"settings"`
	Supported        int `json:"supported"`
	NotSupported     int `json:"notSupported"`
	Unknown          int `json:"unknown"`
	SupportedPercent int `json:"supportedPercent"` // supported / settings, rounded; 0 with no settings
}

// GroupPolicyRow is one registry value of the GPO and what MDM makes of it.
type GroupPolicyRow struct {
	Scope      string `json:"scope"` // machine or user
	Key        string `json:"key"`
	ValueName  string `json:"valueName"`
	Type       string `json:"type,omitempty"` // REG_DWORD, REG_SZ, ...
	Data       string `json:"data"`
	Setting    string `json:"setting,omitempty"`    // the ADMX setting's display name
	ADMX       string `json:"admx,omitempty"`       // file and policy name, e.g. Passport.admx MSPassport_EnablePinRecovery
	MDMSupport string `json:"mdmSupport"`           // supported, notSupported or unknown
	CSPMapping string `json:"cspMapping,omitempty"` // the OMA-URI, tenant filled in
	DataType   string `json:"dataType,omitempty"`   // the node's format: bool, int, chr
	Value      string `json:"value,omitempty"`      // what would be sent
	Source     string `json:"source,omitempty"`     // the CSP documentation page of the mapping
	Note       string `json:"note,omitempty"`       // why a setting is not supported
}

// GroupPolicyInstruction is a deletion instruction of the GPO (**del., **delvals., ...).
type GroupPolicyInstruction struct {
	Scope     string `json:"scope"`
	Key       string `json:"key"`
	ValueName string `json:"valueName,omitempty"`
	Action    string `json:"action"`
}
