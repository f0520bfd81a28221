package store

import (
	"context"
	"errors"
	"time"

	"github.com/hellomdm/hellomdm/audit"
)

// Errors every backend returns, so callers can map them at the edge.
var (
	ErrNotFound = errors.New("not found")
	ErrExists   = errors.New("already exists")
	ErrConflict = errors.New("conflict")
	// ErrUnavailable means the backend could not be reached; the caller should answer 503.
	ErrUnavailable = errors.New("store unavailable")
)

// Store is everything a hellomdm server needs from a backend.
type Store interface {
	Tenants
	Users
	Devices
	DeviceIndex
	Commands
	Checkins
	AuditLog
	Tokens
	Config
	Policy
	SignInLimits
	Redemptions
	IdempotencyKeys
	ConsoleSessions
	PushStates
	Writes
	// Backend names the backend ("bbolt", "postgres") for health reports.
	Backend() string
	Close() error
}

// Tenants holds directory tenants.
type Tenants interface {
	// CreateTenant stores a new tenant; ErrExists if its ID or one of its domains is taken.
	CreateTenant(ctx context.Context, t Tenant) error
	Tenant(ctx context.Context, id string) (Tenant, error)
	// TenantByDomain finds the tenant that verified domain (case-insensitive).
	TenantByDomain(ctx context.Context, domain string) (Tenant, error)
	// UpdateTenant applies fn to the stored tenant and writes it back atomically.
	UpdateTenant(ctx context.Context, id string, fn func(*Tenant) error) error
	ListTenants(ctx context.Context) ([]Tenant, error)
	// DeleteTenant removes a tenant and returns the record removed; ErrNotFound when there is
	// none, ErrConflict (changing nothing) while one of its devices is enrolled: retire them
	// first. In one transaction it removes the tenant with its verified domains, users,
	// groups and members, profiles, assignments, setting states and policy version, the
	// admin tokens bound to it and its configuration keys (ConfigTenantPrefix: its signing
	// keys). It keeps the tenant's audit chain (evidence: a Write appends the deletion's
	// events to it in the same transaction) and its device records, all retired, with their
	// revoked certificates.
	DeleteTenant(ctx context.Context, id string) (Tenant, error)
}

// ConfigTenantPrefix is the prefix of the configuration keys that belong to one tenant
// (its token signing and PIN reset keys); DeleteTenant removes them.
func ConfigTenantPrefix(tenantID string) string { return "tenant/" + tenantID + "/" }

// ConfigWNSSecretKey is the configuration key of a tenant's WNS client secret (sealed at
// rest like every key under ConfigTenantPrefix; removed with the tenant).
func ConfigWNSSecretKey(tenantID string) string {
	return ConfigTenantPrefix(tenantID) + "wns/clientSecret"
}

// Users holds tenant users.
type Users interface {
	// CreateUser stores a new user; ErrExists if the UPN is taken in that tenant.
	CreateUser(ctx context.Context, u User) error
	User(ctx context.Context, tenantID, id string) (User, error)
	// UserByUPN finds a user by UPN (case-insensitive) within a tenant.
	UserByUPN(ctx context.Context, tenantID, upn string) (User, error)
	// UpdateUser applies fn to the stored user and writes it back atomically.
	UpdateUser(ctx context.Context, tenantID, id string, fn func(*User) error) error
	// DeleteUser removes the user and returns the record removed; ErrNotFound when there is
	// none. In the same transaction it removes the user from every group (bumping the
	// tenant's policy version) and forgets the failed sign-in window of its UPN (the shared
	// counter, keyed by the lower-cased UPN); its TOTP secret lived on the record and goes
	// with it. Devices the user enrolled are left as they are.
	DeleteUser(ctx context.Context, tenantID, id string) (User, error)
	ListUsers(ctx context.Context, tenantID string) ([]User, error)
	// ListUsersPage returns up to limit of the tenant's users in UPN order (lower-cased)
	// whose UPN sorts after after ("": from the first), leaving out those keep refuses (nil
	// keeps every user). It reads at most budget users, so a search that few users match
	// costs a bounded read; next is the after of the following page: "" when the tenant's
	// last user was read, else the UPN up to which every user was shown or refused (the
	// page may then hold fewer than limit users).
	ListUsersPage(ctx context.Context, tenantID, after string, limit, budget int, keep func(User) bool) (users []User, next string, err error)
	// ListRoleHoldersPage is ListUsersPage over the tenant's users who hold an admin role
	// (User.AdminRole not ""), through an index of them kept with every user write: it
	// reads those users only (at most budget of them), however many others the tenant has.
	// after and next are those of ListUsersPage (lower-cased UPNs).
	ListRoleHoldersPage(ctx context.Context, tenantID, after string, limit, budget int, keep func(User) bool) (users []User, next string, err error)
}

// Devices holds enrolled devices and the revocation list of their certificates.
type Devices interface {
	// RegisterDevice creates the device, or re-enrolls it in the same tenant: the previous
	// certificate serial is revoked in the same transaction and the previous record returned.
	// A DeviceID enrolled (or retired) in another tenant gives ErrConflict and stores nothing.
	RegisterDevice(ctx context.Context, d Device) (previous *Device, err error)
	Device(ctx context.Context, id string) (Device, error)
	// UpdateDevice applies fn to the stored device and writes it back atomically. If fn changes
	// the certificate serial, the old serial is revoked in the same transaction; if the device
	// leaves the enrolled state (unenrolled, retired), its current serial is revoked. The same
	// rules hold for DeviceTx.PutDevice.
	UpdateDevice(ctx context.Context, id string, fn func(*Device) error) error
	ListDevices(ctx context.Context, tenantID string) ([]Device, error)
	// ListWNSDevices returns the tenant's enrolled devices whose record holds a WNS channel
	// URI (Device.WNS.ChannelURI, expired or not), in ID order, reading only those (an
	// index kept with every device write): the WNS fan-out of a policy change.
	ListWNSDevices(ctx context.Context, tenantID string) ([]Device, error)
	// CertRevoked reports whether a certificate serial (upper-case hex) has been revoked.
	CertRevoked(ctx context.Context, serial string) (bool, error)
}

// Commands is the admin side of the per-device command queue.
type Commands interface {
	// Enqueue appends commands to their devices' queues (assigning Seq) and marks each device
	// as having pending work.
	Enqueue(ctx context.Context, cmds ...Command) error
	Command(ctx context.Context, deviceID, id string) (Command, error)
	// ListCommands returns a device's commands, oldest first.
	ListCommands(ctx context.Context, deviceID string) ([]Command, error)
	// QueueStats counts the open commands of every device and finds the oldest (for
	// metrics; see QueueStatser for its cost).
	QueueStatser
}

// Checkins runs the check-in hot path.
type Checkins interface {
	// Checkin runs fn in one durable transaction scoped to deviceID. fn may run more than
	// once (see the package Caveats). An error from fn aborts the transaction and is returned.
	Checkin(ctx context.Context, deviceID string, fn func(tx DeviceTx) error) error
}

// Prefetch is what DeviceTx.Prefetch reads ahead: the session SessionID (when set), the
// device's open commands, and, when Policy is set, the device's policy record
// (DeviceTx.DevicePolicy) and the policy version (DeviceTx.PolicyVersion) of TenantID, the
// device's tenant as the caller last saw it (when set; a wrong one costs a read, not an
// answer).
type Prefetch struct {
	SessionID string
	Policy    bool
	TenantID  string
}

// DeviceTx is one device's view of the store inside a Checkin transaction.
type DeviceTx interface {
	// Prefetch names, before the transaction reads anything, what the check-in will read
	// first: a backend behind a network then reads them with the device in fewer round trips.
	// It changes no answer and writes nothing; elsewhere it does nothing.
	Prefetch(p Prefetch)
	Device() (Device, error)
	PutDevice(d Device) error
	// Session returns the stored state of one OMA-DM session of this device.
	Session(sessionID string) (Session, error)
	PutSession(s Session) error
	// HasPending reports, with one cheap read, whether the device has open commands.
	HasPending() (bool, error)
	// Open returns the device's open commands (not yet delivered or finally failed), in Seq
	// order. The caller decides which are due (claims, backoff).
	Open() ([]Command, error)
	// OpenDue is Open without the commands that wait, by their stored state, past now: a
	// sent command whose claim runs past now (ClaimUntil after now) and a command to retry
	// whose NextAttemptAt is after now. It reads only the open set's entries for those, not
	// their records. The open commands at the Seqs in also are returned whatever their stored
	// state (the caller's own copies, changed but not yet written back, may be due).
	OpenDue(now time.Time, also []uint64) ([]Command, error)
	Command(id string) (Command, error)
	// PutCommand writes a command back; a command whose State is final leaves the open set.
	PutCommand(c Command) error
	// Enqueue appends new commands for this device within the transaction.
	Enqueue(cmds ...Command) error
	// Audit appends events to their tenants' audit chains within the transaction.
	Audit(events ...*audit.Event) error
	PolicyTx
}

// AuditLog is the append-only audit log, one hash chain per tenant. It is the contract the
// audit package needs from a backend: audit.Store to append (audit.Log.Record), audit.Retainer
// to drop old segments together with the audit.retention event recording the drop
// (audit.Log.Retain), and an audit.Reader for audit.VerifyTenant and audit.Export. There is
// deliberately no method that edits events or drops them without recording the drop.
type AuditLog interface {
	audit.Store
	audit.Retainer
	// AuditEvents calls fn for the tenant's events with Seq > afterSeq in chain order, until fn
	// returns false or an error. It streams: memory does not grow with the log.
	AuditEvents(ctx context.Context, tenantID string, afterSeq uint64, fn func(e *audit.Event) (bool, error)) error
	// AuditAnchor returns the chain anchor left by retention (zero Anchor when none).
	AuditAnchor(ctx context.Context, tenantID string) (audit.Anchor, error)
	// AuditReader returns the log as an audit.Reader (its AuditEvents method takes an
	// audit.Filter and returns an iterator, so it cannot share the method set above).
	AuditReader() audit.Reader
}

// Tokens holds admin bearer tokens (only their hashes).
type Tokens interface {
	// CreateToken stores a token; ErrExists if its ID or hash is taken.
	CreateToken(ctx context.Context, t AdminToken) error
	// TokenByHash finds a token by the SHA-256 hex of its secret.
	TokenByHash(ctx context.Context, hash string) (AdminToken, error)
	ListTokens(ctx context.Context) ([]AdminToken, error)
	// DeleteToken removes (revokes) the token with that ID and returns it; ErrNotFound when
	// there is none.
	DeleteToken(ctx context.Context, id string) (AdminToken, error)
}

// Config is a small key/value area for server configuration and keys.
type Config interface {
	GetConfig(ctx context.Context, key string) ([]byte, error)
	PutConfig(ctx context.Context, key string, value []byte) error
	// PutConfigIfAbsent stores value unless key exists; it returns the value that is stored
	// afterwards (the existing one when there was one), so concurrent first starts agree.
	PutConfigIfAbsent(ctx context.Context, key string, value []byte) ([]byte, error)
}
