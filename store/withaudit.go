package store

import (
	"context"

	"github.com/hellomdm/hellomdm/audit"
)

// AuditFunc builds the audit events of one admin write (see [WithAudit]). The backend calls
// it inside the write's transaction, after the change is applied, with the record as the
// write stores it:
//
//   - CreateTenant, UpdateTenant, DeleteTenant: a [Tenant] (for DeleteTenant, the tenant removed)
//   - CreateUser, UpdateUser, DeleteUser: a [User] (for DeleteUser, the user removed)
//   - RegisterDevice: a [DeviceRegistration] (the device stored and the record it replaced)
//   - UpdateDevice: a [Device]
//   - CreateToken, DeleteToken: an [AdminToken] (for DeleteToken, the token removed)
//   - CreateGroup: a [Group]
//   - CreateProfile, UpdateProfile: a [Profile] (with its new Version)
//   - SetAssignments: the []Assignment stored (never nil)
//   - DeleteGroup, AddMembers, RemoveMember, DeleteProfile: nil
//
// stored carries what only the transaction knows (UpdatedAt, Version, defaults), so "after"
// views are built from what was written rather than read back after the commit.
//
// A write may run its transaction more than once (a retried transaction, bbolt Batch), and
// so call the AuditFunc more than once: it must have no effect beyond building events
// (setting the caller's own variables, overwritten by each call, is fine) and must return
// fresh events on each call. An error from it rolls the write back and is returned.
type AuditFunc func(stored any) ([]*audit.Event, error)

// auditKey is the context key of the write's AuditFunc.
type auditKey struct{}

// WithAudit returns a copy of ctx that makes the admin write it is passed to append the
// events f builds to the audit log in the same transaction: the change and its record commit
// together or not at all. If f returns an error or appending fails, the write is rolled back
// and the error returned; if the write fails, f's events are not appended. The events get
// their Seq, PrevHash and Hash as with AppendAudit, copied to the *audit.Event values f
// returned once the transaction has committed.
//
// Device actions use it the same way: an enrollment (RegisterDevice) and a certificate
// renewal (UpdateDevice) commit with their audit events, so a refused enrollment leaves no
// device behind and no device changes unrecorded.
//
// Only the writes documented to honour it do (the ones listed at [AuditFunc]); reads,
// AppendAudit and other writes ignore it. The context should therefore be given to exactly
// one write: a second write with the same context would append the events again.
func WithAudit(ctx context.Context, f AuditFunc) context.Context {
	return context.WithValue(ctx, auditKey{}, f)
}

// AuditFrom returns the AuditFunc of ctx set by WithAudit, or nil. Backends call it.
func AuditFrom(ctx context.Context) AuditFunc {
	f, _ := ctx.Value(auditKey{}).(AuditFunc)
	return f
}
