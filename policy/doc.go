// Package policy owns hellomdm's configuration policy: it imports profiles in Intune's own JSON
// shapes, resolves what every device must hold, and keeps devices there.
//
// # Profiles
//
// [Parser.ParseProfile] accepts a settings-catalog policy
// (#microsoft.graph.deviceManagementConfigurationPolicy: choice, simple, simple-collection and
// group-collection setting instances) or a custom OMA-URI profile
// (#microsoft.graph.windows10CustomConfiguration with omaSetting* values), as Intune exports
// them (Microsoft Graph beta, deviceManagementConfigurationPolicy and windows10CustomConfiguration
// resources). Every settings-catalog setting must map onto a node of the CSP catalog (package
// csp); a custom OMA-URI inside a CSP the catalog covers is checked the same way, with a "did
// you mean" suggestion for a node that does not exist; URIs of other CSPs are accepted as they
// are. Errors are *[ValidationError]. "{TenantId}" (also typed "<TenantId>") stands for the
// tenant's ID until resolution; the literal segment "TenantId" is refused with the corrected
// URI ([Parser.ParseTenantProfile] names the tenant's ID), and [Parser.TenantWarnings] flags a
// PassportForWork path naming another tenant. [ParseAssignments] reads Intune's assign body.
//
// # Resolution
//
// [Resolve] is a pure function of a tenant [Snapshot] (groups and members, profiles,
// assignments) and a device: an exclusion group beats any inclusion; a device is in a group
// when it or its enrolled user is, transitively; two profiles giving one canonical LocURI
// different values is a conflict (reported, nothing sent); a node whose MinOS is above the
// device's build, or whose edition list excludes it, is not applicable.
//
// # Reconciliation
//
// Every change of groups, members, profiles or assignments bumps the tenant's policy version
// in the store (one write, however many devices are affected). At check-in [Engine.Prepare]
// compares the version (and the device's OS build, edition and user) with what the device was
// last resolved from: an idle check-in costs one read transaction. Otherwise [Engine.Reconcile]
// diffs the resolution with the device's setting states and queues Add/Replace with explicit
// Meta Format, a verifying Get, and Delete for settings no longer assigned; [Engine.Outcome]
// moves setting states as the device answers (pending, succeeded, error, conflict,
// notApplicable, removed) and returns an audit event (audit.KindSettingState) per change.
// The engine keeps nothing in memory but a per-tenant snapshot cache keyed by policy version.
//
// # Reports
//
// [ProfileReport] and [DeviceReport] summarise setting states for the admin API.
package policy
