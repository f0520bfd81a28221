package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Kind names one thing the system does. Kinds are dotted, lower-case
// "area.verb" strings; the set is closed (see Kinds) so a typo at a call site
// is an error at Record time instead of an event no filter ever finds.
type Kind string

// The event kinds hellomdm records.
const (
	// KindAdminWrite: an administrator created, updated, deleted or assigned
	// an object through /api/v1 (Action says which; Details carries
	// before/after).
	KindAdminWrite Kind = "admin.write"
	// KindAuthRefused: authentication or authorization of a device, admin or
	// user was refused (bad/revoked certificate, DeviceID not matching the
	// certificate, bad token, wrong tenant, missing role or scope).
	KindAuthRefused Kind = "auth.refused"
	// KindSignIn: a user signed in to the identity provider (password and,
	// where configured, TOTP) — the step before a PIN reset.
	KindSignIn Kind = "auth.signin"

	// KindEnrolled: a device completed MS-MDE2 enrollment (certificate issued).
	KindEnrolled Kind = "enrollment.enrolled"
	// KindRenewed: a device renewed its enrollment certificate (MS-MDE2 renewal).
	KindRenewed Kind = "enrollment.renewed"
	// KindUnenrolled: the device asked to leave management (Alert 1226,
	// com.microsoft:mdm.unenrollment.userrequest, MS-MDM 2.2.7.2).
	KindUnenrolled Kind = "enrollment.unenrolled"
	// KindRetired: an administrator retired the device; its certificate is
	// revoked and further check-ins are refused.
	KindRetired Kind = "enrollment.retired"
	// KindEnrollmentRefused: a discovery, policy or enrollment request was
	// refused (unknown domain, bad credentials or token, bad CSR).
	KindEnrollmentRefused Kind = "enrollment.refused"

	// KindCommandQueued: an OMA-DM command was queued for a device.
	KindCommandQueued Kind = "command.queued"
	// KindCommandSent: the command went out in a server package (CmdID in Details).
	KindCommandSent Kind = "command.sent"
	// KindCommandDelivered: the device returned a Status for the command;
	// Details carries the SyncML status code (MS-MDM 2.2.7, OMA-DM 1.2 RepPro).
	KindCommandDelivered Kind = "command.delivered"
	// KindCommandFailed: the device returned a failure status, or the command
	// expired or could not be built; Details carries the status code.
	KindCommandFailed Kind = "command.failed"
	// KindCommandCancelled: a queued command was withdrawn before delivery
	// (profile unassigned or superseded).
	KindCommandCancelled Kind = "command.cancelled"
	// KindCommandUnknown: an at-most-once command (Exec) was sent and its session broke off
	// without a Status; it is not sent again unless an admin resends it.
	KindCommandUnknown Kind = "command.unknown"

	// KindSettingState: a (device, profile, LocURI) setting moved from one
	// compliance state to another; Details has from/to.
	KindSettingState Kind = "setting.state"
	// KindDeviceAlert: the device sent a generic alert (1224, or 1226 outside
	// unenrollment), MS-MDM 2.2.7.2.
	KindDeviceAlert Kind = "device.alert"
	// KindDevicePush: the device's WNS push channel changed: the server sent or removed its
	// PFN, the device reported a channel (kept or refused, with the reason), or WNS answered
	// that the channel is gone (docs/protocol.md C.7).
	KindDevicePush Kind = "device.push"

	// KindPINResetRequested: a PIN reset was started for a device/user.
	KindPINResetRequested Kind = "pinreset.requested"
	// KindPINResetSucceeded: the PIN reset service released the recovery
	// secret and the device re-wrapped its container.
	KindPINResetSucceeded Kind = "pinreset.succeeded"
	// KindPINResetRefused: the PIN reset was refused (policy off, sign-in
	// failed, wrong tenant, no protector).
	KindPINResetRefused Kind = "pinreset.refused"

	// KindRetention: whole old segments of this tenant's log were dropped;
	// see RetentionEvent.
	KindRetention Kind = "audit.retention"
	// KindExported: someone exported this tenant's audit log or a compliance
	// report (Details carries the filter and format).
	KindExported Kind = "audit.exported"
	// KindVerified: the tenant's chain was verified (Details carries the result).
	KindVerified Kind = "audit.verified"

	// KindGPOAnalyzed: an administrator had a Group Policy object analyzed (or an import
	// dry-run); Details carries the file, its format and the summary. A real import is an
	// admin.write of the profile it creates.
	KindGPOAnalyzed Kind = "gpo.analyzed"
)

// Kinds returns every kind hellomdm records, in a stable order.
func Kinds() []Kind {
	return []Kind{
		KindAdminWrite, KindAuthRefused, KindSignIn,
		KindEnrolled, KindRenewed, KindUnenrolled, KindRetired, KindEnrollmentRefused,
		KindCommandQueued, KindCommandSent, KindCommandDelivered, KindCommandFailed, KindCommandCancelled, KindCommandUnknown,
		KindSettingState, KindDeviceAlert, KindDevicePush,
		KindPINResetRequested, KindPINResetSucceeded, KindPINResetRefused,
		KindRetention, KindExported, KindVerified,
		KindGPOAnalyzed,
	}
}

// Valid reports whether k is one of Kinds.
func (k Kind) Valid() bool {
	switch k {
	case KindAdminWrite, KindAuthRefused, KindSignIn,
		KindEnrolled, KindRenewed, KindUnenrolled, KindRetired, KindEnrollmentRefused,
		KindCommandQueued, KindCommandSent, KindCommandDelivered, KindCommandFailed, KindCommandCancelled, KindCommandUnknown,
		KindSettingState, KindDeviceAlert, KindDevicePush,
		KindPINResetRequested, KindPINResetSucceeded, KindPINResetRefused,
		KindRetention, KindExported, KindVerified,
		KindGPOAnalyzed:
		return true
	}
	return false
}

// Actor types.
const (
	ActorAdmin  = "admin"
	ActorDevice = "device"
	ActorUser   = "user"
	ActorSystem = "system"
)

// Subject types. Other values are allowed; these are the ones hellomdm uses.
const (
	SubjectDevice     = "device"
	SubjectProfile    = "profile"
	SubjectGroup      = "group"
	SubjectUser       = "user"
	SubjectTenant     = "tenant"
	SubjectCommand    = "command"
	SubjectSetting    = "setting"
	SubjectAssignment = "assignment"
	SubjectToken      = "token"
	SubjectAuditLog   = "audit"
)

// Actor is who did it.
type Actor struct {
	Type       string `json:"type"`                  // ActorAdmin, ActorDevice, ActorUser or ActorSystem
	ID         string `json:"id,omitempty"`          // admin/user name, DeviceID, or component name for system
	TokenID    string `json:"token_id,omitempty"`    // API token or certificate serial used
	Role       string `json:"role,omitempty"`        // role the request was authorized under
	SourceAddr string `json:"source_addr,omitempty"` // client address after trusted-proxy resolution
}

// Subject is what it was done to.
type Subject struct {
	Type string `json:"type,omitempty"`
	ID   string `json:"id,omitempty"`
}

// Event is one entry of a tenant's append-only log. See the package
// documentation for the hash encoding.
type Event struct {
	ID        string          `json:"id"`  // UUIDv7, set by Log
	Seq       uint64          `json:"seq"` // 1-based position in the tenant's chain, set by Seal
	Time      time.Time       `json:"time"`
	TenantID  string          `json:"tenant_id"`
	Kind      Kind            `json:"kind"`
	Actor     Actor           `json:"actor"`
	Subject   Subject         `json:"subject"`
	DeviceID  string          `json:"device_id,omitempty"`
	ProfileID string          `json:"profile_id,omitempty"`
	Action    string          `json:"action,omitempty"`
	Details   json.RawMessage `json:"details,omitempty"`
	PrevHash  string          `json:"prev_hash"`
	Hash      string          `json:"hash"`
}

// Validation errors. Seal and Log.Record wrap them in an *EventError.
var (
	ErrMissingField   = errors.New("required field is empty")
	ErrUnknownKind    = errors.New("unknown event kind")
	ErrBadDetails     = errors.New("details is not a JSON object")
	ErrTimeOutOfRange = errors.New("time outside the years 1678-2261")
	ErrTenantMismatch = errors.New("previous event belongs to another tenant")
	ErrTooLarge       = errors.New("field too large")
)

// Size limits checked by Seal and Log.Record. They keep every field well
// inside the 4-byte length prefix of the hash encoding.
const (
	MaxFieldSize   = 4 << 10 // any string field
	MaxDetailsSize = 1 << 20 // Details, in compact form
)

// EventError says which field of an event is wrong.
type EventError struct {
	Field string
	Err   error
}

func (e *EventError) Error() string { return fmt.Sprintf("audit event %s: %v", e.Field, e.Err) }
func (e *EventError) Unwrap() error { return e.Err }

// validate checks the fields a caller supplies (everything except Seq,
// PrevHash and Hash).
func (e *Event) validate() error {
	switch {
	case e.ID == "":
		return &EventError{"id", ErrMissingField}
	case e.TenantID == "":
		return &EventError{"tenant", ErrMissingField}
	case e.Kind == "":
		return &EventError{"kind", ErrMissingField}
	case !e.Kind.Valid():
		return &EventError{"kind", fmt.Errorf("%w: %q", ErrUnknownKind, e.Kind)}
	case e.Actor.Type == "":
		return &EventError{"actor.type", ErrMissingField}
	case e.Time.IsZero():
		return &EventError{"time", ErrMissingField}
	case e.Time.UTC().Year() < 1678 || e.Time.UTC().Year() > 2261: // int64 Unix nanoseconds
		return &EventError{"time", ErrTimeOutOfRange}
	}
	fields := [...]struct{ name, v string }{
		{"id", e.ID}, {"tenant", e.TenantID}, {"kind", string(e.Kind)},
		{"actor.type", e.Actor.Type}, {"actor.id", e.Actor.ID}, {"actor.token", e.Actor.TokenID},
		{"actor.role", e.Actor.Role}, {"actor.addr", e.Actor.SourceAddr},
		{"subject.type", e.Subject.Type}, {"subject.id", e.Subject.ID},
		{"device", e.DeviceID}, {"profile", e.ProfileID}, {"action", e.Action},
	}
	for _, f := range fields {
		if len(f.v) > MaxFieldSize {
			return &EventError{f.name, ErrTooLarge}
		}
	}
	return nil
}

// canonicalDetails returns d in compact form, or nil for empty input (or
// JSON null). Anything else must be a JSON object.
func canonicalDetails(d json.RawMessage) (json.RawMessage, error) {
	t := bytes.TrimSpace(d)
	if len(t) == 0 || string(t) == "null" {
		return nil, nil
	}
	if len(t) > MaxDetailsSize {
		return nil, &EventError{"details", ErrTooLarge}
	}
	if t[0] != '{' {
		return nil, &EventError{"details", ErrBadDetails}
	}
	var buf bytes.Buffer
	buf.Grow(len(t))
	if err := json.Compact(&buf, t); err != nil {
		return nil, &EventError{"details", fmt.Errorf("%w: %w", ErrBadDetails, err)}
	}
	return buf.Bytes(), nil
}

// Details marshals v (a struct or map) into an event Details object.
func Details(v any) (json.RawMessage, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encoding audit details: %w", err)
	}
	return canonicalDetails(b)
}
