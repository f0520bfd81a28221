package wire

import (
	"encoding/json"
	"time"
)

// AuditVerification is the answer of GET /tenants/{tid}/audit/verify.
type AuditVerification struct {
	OK      bool        `json:"ok"`
	Checked uint64      `json:"checked"`
	Start   AuditAnchor `json:"start"`
	Head    AuditAnchor `json:"head"`
	Broken  *AuditBreak `json:"broken"`
	// Unsealed counts the events committed but not sealed onto the chain yet when
	// verification ended (PostgreSQL's audit sequencer seals them within about a second):
	// not verified, and not missing either.
	Unsealed AuditUnsealed `json:"unsealed"`
}

// AuditUnsealed is the unsealed tail of a tenant's log.
type AuditUnsealed struct {
	Count  uint64     `json:"count"`
	Oldest *time.Time `json:"oldest,omitempty"`
}

// AuditAnchor is a chain position: an event by sequence number and hash.
type AuditAnchor struct {
	Seq  uint64 `json:"seq"`
	Hash string `json:"hash"`
}

// AuditBreak is the first broken link of a chain.
type AuditBreak struct {
	Seq     uint64 `json:"seq"`
	EventID string `json:"eventId"`
	Reason  string `json:"reason"`
	Detail  string `json:"detail"`
}

// AuditPage is the answer of GET /tenants/{tid}/audit/events: a page of the log, newest
// first.
type AuditPage struct {
	Value []AuditEvent `json:"value"`
	// NextBefore is the before of the next, older page; absent (0) when there is none.
	NextBefore uint64 `json:"nextBefore,omitempty"`
	// Unsealed is the unsealed tail of the log when the page was read: committed events the
	// page cannot show yet (see AuditVerification).
	Unsealed AuditUnsealed `json:"unsealed"`
}

// AuditEvent is one event of a tenant's audit log, as the audit package encodes it.
type AuditEvent struct {
	ID        string          `json:"id"`
	Seq       uint64          `json:"seq"`
	Time      time.Time       `json:"time"`
	TenantID  string          `json:"tenant_id"`
	Kind      string          `json:"kind"`
	Actor     AuditActor      `json:"actor"`
	Subject   AuditSubject    `json:"subject"`
	DeviceID  string          `json:"device_id,omitempty"`
	ProfileID string          `json:"profile_id,omitempty"`
	Action    string          `json:"action,omitempty"`
	Details   json.RawMessage `json:"details,omitempty"`
	PrevHash  string          `json:"prev_hash"`
	Hash      string          `json:"hash"`
}

// AuditActor is who did what an audit event records.
type AuditActor struct {
	Type       string `json:"type"`
	ID         string `json:"id,omitempty"`
	TokenID    string `json:"token_id,omitempty"`
	Role       string `json:"role,omitempty"`
	SourceAddr string `json:"source_addr,omitempty"`
}

// AuditSubject is what an audit event's action was done to.
type AuditSubject struct {
	Type string `json:"type,omitempty"`
	ID   string `json:"id,omitempty"`
}
