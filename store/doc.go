// Package store owns hellomdm's durable state behind small interfaces, so that the embedded
// bbolt backend (store/bolt) and the PostgreSQL backend can serve the same callers.
//
// # Basics
//
// Each concern has its own interface of a few methods: tenants, users, devices (with their
// certificates and revocations), the per-device command queue and OMA-DM session state, the
// audit log, admin tokens, failed sign-in counters ([SignInLimits], shared by all replicas so
// that a rate limit holds across them), used single-use credentials ([Redemptions], so a
// token is refused on every replica once used) and a small key/value area for
// configuration. [Store] composes them.
//
// The check-in hot path runs through [Checkins.Checkin]: one durable transaction scoped to one
// device, in which the session engine records the device's statuses and results, takes the next
// commands, saves the session and appends audit events. A reply is sent only after that
// transaction commits.
//
// Admin writes (tenants, users, tokens, groups, members, profiles, assignments) record
// themselves the same way: the caller attaches an [AuditFunc] to the write's context with
// [WithAudit], and the backend appends the events it builds in the write's own transaction,
// so no change is stored without its audit record.
//
// # Caveats
//
//   - A Checkin function may run more than once: backends are allowed to group concurrent
//     transactions into one commit (bbolt Batch) and to retry a group when one member fails.
//     The function must have no effect outside the [DeviceTx] it is given. The same holds
//     for an [AuditFunc]: it may be called more than once and must only build events.
//   - Every write that must not be lost is fsynced before the call returns.
//   - Records are returned by value; mutating a returned record changes nothing until it is
//     written back.
package store
