package store

import "time"

// Auth policies of a tenant (MS-MDE2 3.1.4.1.3.2).
const (
	AuthOnPremise = "OnPremise"
	AuthFederated = "Federated"
)

// Tenant is a directory tenant.
type Tenant struct {
	ID              string   `json:"id"` // directory tenant GUID, lower-case, no braces
	DisplayName     string   `json:"displayName"`
	VerifiedDomains []string `json:"verifiedDomains"` // lower-case
	AuthPolicy      string   `json:"authPolicy"`      // AuthOnPremise or AuthFederated
	// FederationHost is the third-party sign-in host of a federated tenant.
	FederationHost string   `json:"federationHost,omitempty"`
	GovCloud       bool     `json:"govCloud,omitempty"`
	ScopeTags      []string `json:"scopeTags,omitempty"`
	// EnrollmentReturnURIs are the web sign-in return addresses (appru), besides Windows'
	// ms-app:// ones, to which the identity provider may post this tenant's enrollment tokens.
	EnrollmentReturnURIs []string `json:"enrollmentReturnUris,omitempty"`
	// PIN reset onboarding: admin consent to the two enterprise applications.
	PinResetServiceConsentAt *time.Time `json:"pinResetServiceConsentAt,omitempty"`
	PinResetClientConsentAt  *time.Time `json:"pinResetClientConsentAt,omitempty"`
	// WNS is the tenant's WNS push configuration (docs/protocol.md C.7); its client secret
	// is kept sealed in the configuration area (ConfigWNSSecretKey), never here.
	WNS       *TenantWNS `json:"wns,omitempty"`
	CreatedAt time.Time  `json:"createdAt"`
	UpdatedAt time.Time  `json:"updatedAt"`
}

// TenantWNS is a tenant's WNS push configuration: the package family name its devices are
// given (DMClient Push/PFN) and the package SID its wake-ups authenticate with.
type TenantWNS struct {
	PFN        string `json:"pfn"`
	PackageSID string `json:"packageSid"`
}

// User is a tenant user.
type User struct {
	TenantID     string    `json:"tenantId"`
	ID           string    `json:"id"`
	UPN          string    `json:"userPrincipalName"`
	DisplayName  string    `json:"displayName,omitempty"`
	PasswordHash string    `json:"passwordHash,omitempty"`
	TOTPSecret   []byte    `json:"totpSecret,omitempty"`
	TOTPLastStep int64     `json:"totpLastStep,omitempty"`
	ScopeTags    []string  `json:"scopeTags,omitempty"`
	CreatedAt    time.Time `json:"createdAt"`
	// Disabled users cannot sign in, enroll devices or reset PINs: the identity provider
	// and enrollment treat them as unknown.
	Disabled bool `json:"disabled,omitempty"`
	// AdminRole, when set (RoleAdmin, RoleOperator, RoleReader), lets the user sign in to the
	// admin console with that role, inside the user's tenant and limited to AdminScopeTags
	// (none: every object of the tenant), as an admin token of the same role and tags would.
	AdminRole      string   `json:"adminRole,omitempty"`
	AdminScopeTags []string `json:"adminScopeTags,omitempty"`
}

// Enrollment states of a device.
const (
	DeviceEnrolled   = "enrolled"
	DeviceUnenrolled = "unenrolled"
	DeviceRetired    = "retired"
)

// Device is an enrolled (or formerly enrolled) device.
type Device struct {
	ID             string    `json:"id"` // the DeviceID it enrolled with (./DevInfo/DevId)
	TenantID       string    `json:"tenantId"`
	HWDevID        string    `json:"hwDevId"`
	UserID         string    `json:"userId,omitempty"`
	UPN            string    `json:"userPrincipalName,omitempty"`
	DeviceName     string    `json:"deviceName,omitempty"`
	OSVersion      string    `json:"osVersion,omitempty"`
	OSEdition      int       `json:"osEdition,omitempty"`
	EnrollmentType string    `json:"enrollmentType,omitempty"` // Full or Device
	State          string    `json:"enrollmentState"`
	CertSerial     string    `json:"certSerial"`     // upper-case hex
	CertThumbprint string    `json:"certThumbprint"` // upper-case hex SHA-1
	CertNotAfter   time.Time `json:"certNotAfter"`
	EnrolledAt     time.Time `json:"enrolledAt"`
	UpdatedAt      time.Time `json:"updatedAt"`
	LastSeenAt     time.Time `json:"lastSeenAt,omitempty"`
	// Nodes holds what the device reported of DevInfo, DevDetail and hellomdm's status nodes.
	Nodes map[string]string `json:"nodes,omitempty"`
	// PolicyDirty marks that profiles, assignments or memberships changed since the device's
	// desired state was last resolved.
	PolicyDirty bool     `json:"policyDirty,omitempty"`
	ScopeTags   []string `json:"scopeTags,omitempty"`
	// WNS is the device's WNS push channel as the session engine provisioned and read it
	// (DMClient Provider/{ProviderID}/Push, docs/protocol.md C.7); nil when its tenant never
	// had a PFN.
	WNS *WNSChannel `json:"wns,omitempty"`
}

// WNSChannel is what the server knows of a device's WNS push channel.
type WNSChannel struct {
	// PFN is the package family name last sent to the device (Push/PFN).
	PFN string `json:"pfn"`
	// ChannelURI is the channel the device reported and the allowlist accepted; empty when
	// none (never reported, refused, or dropped after WNS answered 404/410).
	ChannelURI string `json:"channelUri,omitempty"`
	// Status is the last Push/Status the device reported (0 success; see
	// docs/protocol.md C.7); nil before the first read.
	Status *int `json:"status,omitempty"`
	// ExpiresAt is when ChannelURI expires: 30 days after the read that first returned it.
	ExpiresAt time.Time `json:"expiresAt,omitzero"`
	// ReadAt is when the server last queued the reads of ChannelURI and Status.
	ReadAt time.Time `json:"readAt,omitzero"`
	// Refused says why the last reported channel URI was not kept (the allowlist).
	Refused string `json:"refused,omitempty"`
	// NeedsRead asks for a new read at the next session (WNS answered 404 or 410).
	NeedsRead bool `json:"needsRead,omitempty"`
	// LastWakeAt and LastWakeResult are the last wake-up sent through WNS and how WNS
	// answered it ("accepted", or the error).
	LastWakeAt     time.Time `json:"lastWakeAt,omitzero"`
	LastWakeResult string    `json:"lastWakeResult,omitempty"`
}

// Usable reports whether the channel can be sent to at now.
func (w *WNSChannel) Usable(now time.Time) bool {
	return w != nil && w.ChannelURI != "" && now.Before(w.ExpiresAt)
}

// Where the agent reports which PIN resets the device can do (dsregcmd's CanReset), in
// hellomdm's HelloStatus node: the device-scoped form and the unscoped ./Vendor form that
// MS-MDM also accepts for device-scoped CSPs.
const (
	CanResetNode         = "./Device/Vendor/MSFT/hellomdm/HelloStatus/CanReset"
	CanResetNodeUnscoped = "./Vendor/MSFT/hellomdm/HelloStatus/CanReset"
)

// ReportedCanReset is the CanReset the device last reported ("" when it has not).
func (d Device) ReportedCanReset() string {
	if v, ok := d.Nodes[CanResetNode]; ok {
		return v
	}
	return d.Nodes[CanResetNodeUnscoped]
}

// CommandState is where a queued command stands.
type CommandState string

// Command states. Queued, Sent and Retry are open (the device still has to answer); the
// others are final. Accepted (202) is final for the queue: the policy engine confirms it later
// with a Get of its own. Unknown is final too: an at-most-once command (an Exec, see the
// session engine's atMostOnce) went out, its session broke off without a Status, and whether
// the device ran it cannot be known; nothing sends it again until an admin resends it, which
// queues a copy (ResentAs).
const (
	CommandQueued    CommandState = "queued"    // waiting to be sent
	CommandSent      CommandState = "sent"      // sent in a session; no Status yet
	CommandRetry     CommandState = "retry"     // failed, will be sent again after backoff
	CommandAccepted  CommandState = "accepted"  // device answered 202; confirmed later
	CommandSucceeded CommandState = "succeeded" // device answered 200
	CommandFailed    CommandState = "failed"    // device answered an error and retries are spent
	CommandCancelled CommandState = "cancelled" // withdrawn before delivery
	CommandUnknown   CommandState = "unknown"   // at-most-once, sent, no Status before its claim ran out
)

// Open reports whether a command in this state still needs the device.
func (s CommandState) Open() bool {
	return s == CommandQueued || s == CommandSent || s == CommandRetry
}

// Command is one entry of a device's durable command queue.
type Command struct {
	ID       string `json:"id"`
	TenantID string `json:"tenantId"`
	DeviceID string `json:"deviceId"`
	Seq      uint64 `json:"seq"` // position in the device's queue, assigned at Enqueue
	// Payload is the SyncML command to send, in its stored form (see Payload). Its CmdIDs are
	// assigned per message when sent.
	Payload Payload      `json:"payload"`
	Source  string       `json:"source,omitempty"` // "admin:<token id>", "policy:<profile id>", ...
	State   CommandState `json:"state"`
	// Attempts counts sends that ended with an error Status; MaxAttempts bounds them.
	Attempts      int       `json:"attempts"`
	MaxAttempts   int       `json:"maxAttempts"`
	NextAttemptAt time.Time `json:"nextAttemptAt,omitempty"`
	StatusCode    int       `json:"statusCode,omitempty"`
	// ChildStatus holds the status of each child of an Atomic or Sequence, in order.
	ChildStatus []int `json:"childStatus,omitempty"`
	// Results holds the items of the device's Results for a Get, in the order received.
	Results []Item `json:"results,omitempty"`
	// Claim: the session that carries the command now, and until when the claim holds.
	ClaimSession string    `json:"claimSession,omitempty"`
	ClaimUntil   time.Time `json:"claimUntil,omitempty"`
	// LastSession is the session that last carried the command; a failed command is
	// retried only in a later session.
	LastSession string `json:"lastSession,omitempty"`
	SentCount   int    `json:"sentCount"`
	// ResentAs is the command an admin queued to send an unknown command again.
	ResentAs  string    `json:"resentAs,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// SentRef ties a CmdID the server used in one of its messages to the queued command.
type SentRef struct {
	CommandID string `json:"commandId"`
	// Child is the index path of a child inside an Atomic/Sequence payload; empty for the
	// top-level command.
	Child []int  `json:"child,omitempty"`
	Verb  string `json:"verb"`
}

// Session is the server's state of one OMA-DM session of a device (MS-MDM 2.2.1 session
// rules). Nothing about a session lives only in process memory.
type Session struct {
	DeviceID  string `json:"deviceId"`
	SessionID string `json:"sessionId"` // opaque: "0" and "D" have been seen
	// Key is unique per session, even when a device starts a new session with a SessionID
	// it used before; command claims refer to it.
	Key         string `json:"key"`
	ClientMsgID int    `json:"clientMsgId"`
	ServerMsgID int    `json:"serverMsgId"`
	// Sent maps "<server MsgID>:<CmdID>" to the command it carried, for matching Status and
	// Results.
	Sent map[string]SentRef `json:"sent,omitempty"`
	// LastRequestHash and LastReply let a repeated client message be answered from the stored
	// reply instead of being applied twice.
	LastRequestHash string    `json:"lastRequestHash,omitempty"`
	LastReply       []byte    `json:"lastReply,omitempty"`
	MaxMsgSize      int       `json:"maxMsgSize,omitempty"`
	Ended           bool      `json:"ended,omitempty"`
	StartedAt       time.Time `json:"startedAt"`
	UpdatedAt       time.Time `json:"updatedAt"`
}

// Admin roles.
const (
	RoleAdmin    = "admin"
	RoleOperator = "operator"
	RoleReader   = "reader"
)

// AdminToken is an admin bearer token; only the hash of its secret is stored.
type AdminToken struct {
	ID   string `json:"id"`
	Hash string `json:"hash"` // SHA-256 hex of the secret
	Name string `json:"name"`
	Role string `json:"role"`
	// TenantID limits the token to one tenant; empty means every tenant (bootstrap token).
	TenantID  string    `json:"tenantId,omitempty"`
	ScopeTags []string  `json:"scopeTags,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
	// ExpiresAt, when set, is when the token stops being accepted.
	ExpiresAt time.Time `json:"expiresAt,omitzero"`
}

// DeviceRegistration is what Writer.RegisterDevice returns: the device as stored, and the
// record it replaced (nil for a first enrollment).
type DeviceRegistration struct {
	Device   Device
	Previous *Device
}
