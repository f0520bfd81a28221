package store

import (
	"context"

	"github.com/hellomdm/hellomdm/audit"
)

// Writer makes the admin writes of one transaction ([Writes.Write]) and appends their audit
// events to it. Each change returns the record as the transaction stored it (with what only
// the transaction knows: UpdatedAt, Version, defaults; for a deletion, the record removed),
// so the caller builds its "after" views and its events from what was written rather than
// reading it back after the commit. A change follows the rules of the one-call method of
// the same name (its errors, revocations, policy-version bump, idempotency record); an
// error from it leaves the transaction usable only to be rolled back: return it.
//
// A Writer is valid only inside the function given to Write, and from one goroutine.
type Writer interface {
	CreateTenant(t Tenant) (Tenant, error)
	UpdateTenant(id string, fn func(*Tenant) error) (Tenant, error)
	DeleteTenant(id string) (Tenant, error)

	CreateUser(u User) (User, error)
	UpdateUser(tenantID, id string, fn func(*User) error) (User, error)
	DeleteUser(tenantID, id string) (User, error)

	// RegisterDevice returns the device as stored and the record it replaced.
	RegisterDevice(d Device) (DeviceRegistration, error)
	UpdateDevice(id string, fn func(*Device) error) (Device, error)

	CreateToken(t AdminToken) (AdminToken, error)
	DeleteToken(id string) (AdminToken, error)

	CreateGroup(g Group) (Group, error)
	DeleteGroup(tenantID, id string) error
	AddMembers(tenantID, groupID string, members ...Member) error
	RemoveMember(tenantID, groupID string, m Member) error

	// CreateProfile and UpdateProfile return the profile with its new Version.
	CreateProfile(p Profile) (Profile, error)
	UpdateProfile(tenantID, id string, fn func(*Profile) error) (Profile, error)
	DeleteProfile(tenantID, id string) error
	// SetAssignments returns the assignments stored (never nil).
	SetAssignments(tenantID, profileID string, as []Assignment) ([]Assignment, error)

	// PutConfig stores a configuration value as Config.PutConfig does (sealed under the
	// secret prefixes); DeleteConfig removes one (nothing when absent).
	PutConfig(key string, value []byte) error
	DeleteConfig(key string) error

	// Audit appends events to their tenants' audit chains in the transaction, as
	// AppendAudit would on its own: they commit with the changes or not at all. Their Seq,
	// PrevHash and Hash are set once the transaction has committed.
	Audit(events ...*audit.Event) error
}

// Writes runs admin writes together with their audit records.
type Writes interface {
	// Write runs fn in one write transaction: the changes fn makes and the events it
	// appends commit together or not at all. An error from fn rolls everything back and is
	// returned as is. fn may run more than once (a shared commit, a retried conflict), each
	// time in a fresh transaction, so it must only make the changes and build the events (it
	// may set the caller's own variables, each run overwriting the last). The events get
	// their Seq, PrevHash and Hash once the transaction has committed, or, on a store with
	// an audit sequencer (package documentation, "Audit sequencer"), their ID and canonical
	// form then and their Seq when sealed.
	//
	// The idempotency record of ctx (WithIdempotency) is marked Committed in the same
	// transaction. The one-call admin writes (CreateTenant, UpdateUser, ...) are Writes of
	// one change and no events.
	Write(ctx context.Context, fn func(w Writer) error) error
}
