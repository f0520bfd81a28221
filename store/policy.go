package store

import (
	"context"
	"strings"

	"github.com/hellomdm/hellomdm/policy/model"
)

// The policy types are package model's (policy/model), shared with package policy so that
// neither imports the other; these aliases keep them in store's vocabulary. Their JSON is the
// stored format.
type (
	Group          = model.Group
	Member         = model.Member
	Profile        = model.Profile
	ProfileSetting = model.ProfileSetting
	Assignment     = model.Assignment
	PolicySnapshot = model.PolicySnapshot
	SettingState   = model.SettingState
	DevicePolicy   = model.DevicePolicy
)

// Kinds of group members (model.Member*).
const (
	MemberUser   = model.MemberUser
	MemberDevice = model.MemberDevice
	MemberGroup  = model.MemberGroup
)

// Profile kinds (model.Profile*).
const (
	ProfileSettingsCatalog = model.ProfileSettingsCatalog
	ProfileCustom          = model.ProfileCustom
)

// Assignment target types (model.Target*).
const (
	TargetGroup            = model.TargetGroup
	TargetExclusionGroup   = model.TargetExclusionGroup
	TargetAllDevices       = model.TargetAllDevices
	TargetAllLicensedUsers = model.TargetAllLicensedUsers
)

// Setting states (model.Setting*).
const (
	SettingPending       = model.SettingPending
	SettingSucceeded     = model.SettingSucceeded
	SettingError         = model.SettingError
	SettingConflict      = model.SettingConflict
	SettingNotApplicable = model.SettingNotApplicable
	SettingRemoved       = model.SettingRemoved
)

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

// Groups holds static security groups. Every change bumps the tenant's policy version.
type Groups interface {
	// CreateGroup stores a new group; ErrExists if the ID is taken in the tenant.
	CreateGroup(ctx context.Context, g Group) error
	Group(ctx context.Context, tenantID, id string) (Group, error)
	ListGroups(ctx context.Context, tenantID string) ([]Group, error)
	// ListGroupsPage returns a page of the tenant's groups in display name order
	// (case-insensitive, then ID: GroupSortKey) from an index kept with every group write,
	// reading the groups whose sort key follows after ("" for the first) and no more than
	// budget of them, however many the tenant has. It stops at limit groups keep accepts
	// (keep nil accepts all); next is "" when the end was reached, else the sort key to pass
	// as after for the next page: the last group's when one more follows, else that of the
	// last group read when the budget ran out (the page may then hold fewer than limit).
	ListGroupsPage(ctx context.Context, tenantID, after string, limit, budget int, keep func(Group) bool) (groups []Group, next string, err error)
	// DeleteGroup removes the group, its member list and its membership in other groups;
	// ErrConflict while a profile assignment targets it.
	DeleteGroup(ctx context.Context, tenantID, id string) error
}

// GroupSortKey is a group's place in ListGroupsPage's order and the after of a page that
// ends with it: its display name lower-cased, 0, its ID.
func GroupSortKey(g Group) string { return strings.ToLower(g.DisplayName) + "\x00" + g.ID }

// Memberships holds group members. Every change bumps the tenant's policy version.
type Memberships interface {
	// AddMembers adds members to a group in one transaction. Each must exist in the tenant
	// (ErrNotFound); a group member that would create a cycle gives ErrConflict. Adding an
	// existing member is not an error.
	AddMembers(ctx context.Context, tenantID, groupID string, members ...Member) error
	// RemoveMember removes a direct member; ErrNotFound when it is not one.
	RemoveMember(ctx context.Context, tenantID, groupID string, m Member) error
	// Members lists the direct members of a group, by kind then ID.
	Members(ctx context.Context, tenantID, groupID string) ([]Member, error)
	// MembersPage returns up to limit direct members of a group by kind then ID, those
	// after after (MemberPage.Next of the page before, "" for the first), and the group's
	// direct member count, kept by every membership write: it reads one page of member
	// keys, however large the group. ErrNotFound when the group does not exist.
	MembersPage(ctx context.Context, tenantID, groupID, after string, limit int) (MemberPage, error)
	// MembersAmong reports which of candidates are direct members of the group, in their
	// order: one lookup of their keys, however large the group.
	MembersAmong(ctx context.Context, tenantID, groupID string, candidates []Member) ([]bool, error)
}

// MemberPage is a page of a group's direct members.
type MemberPage struct {
	Members []Member
	// Next is the after of the next page, "" on the last.
	Next string
	// Count is the group's direct member count.
	Count int
}

// Profiles holds configuration profiles. Every change bumps the tenant's policy version.
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
	// (ErrNotFound). One write whatever the size of the groups.
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
	// SettingTroubles counts, per profile (ID), the tenant's setting states in error and in
	// conflict that name the profile among their sources. The counts are kept with every
	// setting state write, so reading them costs no scan of the states.
	SettingTroubles(ctx context.Context, tenantID string) (map[string]SettingTrouble, error)
	// ProfileStatusCounts counts the setting states that name the profile among their
	// sources, by state (every state of policy.States, 0 when none). The counts are kept with
	// every setting state write: no scan of the states.
	ProfileStatusCounts(ctx context.Context, tenantID, profileID string) (map[string]int, error)
	// QueryProfileStatus returns one page of the setting states that name the profile among
	// their sources, by device ID then LocURI, from the profile status index kept with every
	// setting state write: its cost grows with the page, not with the tenant or the profile.
	QueryProfileStatus(ctx context.Context, q ProfileStatusQuery) (ProfileStatusPage, error)
}

// ProfileStatusQuery selects one page of a profile's setting states
// (PolicyReads.QueryProfileStatus).
type ProfileStatusQuery struct {
	TenantID, ProfileID string
	// State keeps the setting states in one state ("" keeps all).
	State string
	// After is the Next of the previous page of the same profile and state ("" for the
	// first); another is ErrInvalidCursor.
	After string
	// Limit is the page size (1 to MaxProfileStatusPage; 0 means DefaultProfileStatusPage).
	Limit int
	// Devices asks for the device records of the page's rows as well (one read per page).
	Devices bool
}

// ProfileStatusRow is one device × setting of a profile's status, with the device's name
// and user from the device index (no read of the device record).
type ProfileStatusRow struct {
	SettingState
	DeviceName, UPN string
}

// ProfileStatusPage is one page of a profile's status.
type ProfileStatusPage struct {
	Rows []ProfileStatusRow
	// Devices holds the rows' device records when the query asked for them (by ID; a device
	// deleted since its setting state was written is absent).
	Devices map[string]Device
	// Next continues the listing ("" when the end was reached).
	Next string
}

// Profile status page bounds.
const (
	DefaultProfileStatusPage = 100
	MaxProfileStatusPage     = 1000
)

// SettingTrouble is a profile's count of device settings in error and in conflict.
type SettingTrouble struct {
	Error    int `json:"error"`
	Conflict int `json:"conflict"`
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
	// PolicyVersion is the tenant's policy version as PolicyReads.PolicyVersion gives it, read
	// in the check-in's transaction: with the device and DevicePolicy, all a check-in needs
	// to tell whether the device's desired state may have changed, in the one transaction.
	PolicyVersion(tenantID string) (uint64, error)
}
