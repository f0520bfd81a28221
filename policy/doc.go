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
// The engine is pure: package policy imports neither store nor server, and the [Engine] reads
// and writes nothing and keeps no memory but its catalog and ID generator. The types it
// shares with the store (groups, members, profiles, assignments, [model.PolicySnapshot],
// [model.SettingState], [model.DevicePolicy]) live in package policy/model, which imports
// only the standard library; store aliases them.
//
// Every change of groups, members, profiles or assignments bumps the tenant's policy version
// in the store (one write, however many devices are affected). At check-in, before its
// transaction, the session engine (server/omadm, policyhook.go) reads the device's
// [Check] (one read transaction) and asks [Check.Stale] whether the policy version, OS build,
// edition or user moved since the device was last resolved: an idle check-in costs that one
// read. Otherwise it takes the tenant's [Snapshot] from a cache it keeps keyed by policy
// version, reading the store's [model.PolicySnapshot] and indexing it with [NewSnapshot] on a
// miss. The cache lives there, beside the reads, so that the engine stays free of I/O.
//
// Inside the transaction [Engine.Reconcile] takes the snapshot, the device's facts
// ([DeviceInfo]), its setting states and the [Delivery] of each command [Awaited] names, and
// returns a [Plan]: Add/Replace with explicit Meta Format and a verifying Get for each change,
// Delete for settings no longer assigned, the setting states to write, the [model.DevicePolicy]
// to record and an audit event (audit.KindSettingState) per state change. [Engine.Outcome]
// takes the setting states and a [CommandResult] (only for commands [Follows] accepts) and
// plans the move of the setting as the device answers (pending, succeeded, error, conflict,
// notApplicable, removed). The session engine applies each plan in the check-in's transaction,
// in the plan's order.
//
// # Reports
//
// [DeviceReport] summarises a device's setting states for the admin API. [ProfileReport]
// summarises a profile's from a walk of every setting state of the tenant; the admin API reads
// the store's profile status index instead (store.PolicyReads.QueryProfileStatus), which the
// store's conformance suite checks against such a walk.
package policy
