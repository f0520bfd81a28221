package wire

import "time"

// Device is how the API shows a device.
type Device struct {
	ID                string `json:"id"`
	DeviceName        string `json:"deviceName"`
	UserPrincipalName string `json:"userPrincipalName"`
	UserID            string `json:"userId,omitempty"`
	OSVersion         string `json:"osVersion"`
	EnrollmentType    string `json:"enrollmentType,omitempty"`
	EnrollmentState   string `json:"enrollmentState"`
	// CanReset is dsregcmd's CanReset as it stands: what the agent reported at its last
	// check-in (computed from the whole PIN reset support matrix), made DestructiveOnly by
	// what the server knows better (the tenant's consent withdrawn, a government cloud);
	// CanResetReason then names the matrix row and why ("" for DestructiveAndNonDestructive).
	CanReset       string `json:"canReset"`
	CanResetReason string `json:"canResetReason,omitempty"`
	// JoinType, TrustType and AccountType are what the agent reports at every check-in in
	// hellomdm's DeviceState nodes (device/identity/join.go): azureADJoined, hybridAzureADJoined,
	// azureADRegistered or domainJoined; key, certificate or cloudKerberos; workOrSchool or
	// microsoftAccount. Empty until the device reported them.
	JoinType        string    `json:"joinType,omitempty"`
	TrustType       string    `json:"trustType,omitempty"`
	AccountType     string    `json:"accountType,omitempty"`
	CertSerial      string    `json:"certSerial,omitempty"`
	CertNotAfter    time.Time `json:"certNotAfter,omitzero"`
	LastSeenAt      time.Time `json:"lastSeenAt,omitzero"`
	EnrolledAt      time.Time `json:"enrolledAt"`
	RoleScopeTagIDs []string  `json:"roleScopeTagIds"`
	// WNS is the device's WNS push channel; absent when its tenant never had a PFN.
	WNS *DeviceWNS `json:"wns,omitempty"`
	// Push is the device's push channel, the same on every replica (issue 18, PushStatus).
	Push *PushStatus `json:"push,omitempty"`
}

// DeviceWNS is a device's WNS channel in its view.
type DeviceWNS struct {
	PFN string `json:"pfn"`
	// HasChannel: a channel URI is kept and has not expired.
	HasChannel bool `json:"hasChannel"`
	// ChannelHost is the host of the channel URI (the URI itself is the device's
	// address at WNS and is not shown).
	ChannelHost      string    `json:"channelHost,omitempty"`
	ChannelExpiresAt time.Time `json:"channelExpiresAt,omitzero"`
	// Status is the device's Push/Status (0 success; 1-8 failures, docs/protocol.md C.7).
	Status         *int      `json:"status,omitempty"`
	ReadAt         time.Time `json:"readAt,omitzero"`
	Refused        string    `json:"refused,omitempty"`
	LastWakeAt     time.Time `json:"lastWakeAt,omitzero"`
	LastWakeResult string    `json:"lastWakeResult,omitempty"`
}

// PushStatus is a device's push channel in the device view (issue 18, docs/push.md
// "Visibility"), the same on every replica: Channel is "builtin" while the device holds
// hellomdm's channel on any replica (Connected, since ConnectedSince), Replica names the
// replica holding it or the last one that did, DisconnectedAt when the last channel ended
// (reported by its replica, or the end of that replica's lease when it vanished). The last
// wake-up is the last one any replica sent (LastWakeChannel builtin or wns; LastWakeDetail
// what WNS answered, or the write's error; LastWakeReplica the replica that sent it).
type PushStatus struct {
	Channel         string    `json:"channel,omitempty"`
	Connected       bool      `json:"connected"`
	ConnectedSince  time.Time `json:"connectedSince,omitzero"`
	DisconnectedAt  time.Time `json:"disconnectedAt,omitzero"`
	Replica         string    `json:"replica,omitempty"`
	LastWakeAt      time.Time `json:"lastWakeAt,omitzero"`
	LastWakeReason  string    `json:"lastWakeReason,omitempty"`
	LastWakeResult  string    `json:"lastWakeResult,omitempty"`
	LastWakeChannel string    `json:"lastWakeChannel,omitempty"`
	LastWakeDetail  string    `json:"lastWakeDetail,omitempty"`
	LastWakeReplica string    `json:"lastWakeReplica,omitempty"`
}

// SyncResult answers POST .../devices/{did}/syncDevice.
type SyncResult struct {
	// Wake is what the server did: delivered, forwarded or notConnected.
	Wake string     `json:"wake"`
	Push PushStatus `json:"push"`
}

// DevicePage is a page of devices; NextSkipToken, when set, asks for the next.
type DevicePage struct {
	Value         []Device `json:"value"`
	NextSkipToken string   `json:"nextSkipToken,omitempty"`
}

// ResendFailed answers POST /tenants/{tid}/devices/{did}/resendFailed.
type ResendFailed struct {
	DeviceID string `json:"deviceId"`
	// Settings are the LocURIs in error that the device's next check-in sends again.
	Settings []string `json:"settings"`
}

// CommandRequest is the JSON body of POST .../devices/{did}/commands: one OMA-DM command,
// or an Atomic/Sequence of them.
type CommandRequest struct {
	Verb     string           `json:"verb"`
	LocURI   string           `json:"locUri,omitempty"`
	Format   string           `json:"format,omitempty"`
	Type     string           `json:"type,omitempty"`
	Data     string           `json:"data,omitempty"`
	Commands []CommandRequest `json:"commands,omitempty"`
}

// Command is how the API shows a queued command. The nested Commands of an Atomic or
// Sequence carry their own state, statusCode and statusText from the device's Status for
// each; ChildStatus lists the same codes depth-first.
type Command struct {
	ID          string    `json:"id"`
	DeviceID    string    `json:"deviceId"`
	Verb        string    `json:"verb"`
	LocURI      string    `json:"locUri,omitempty"`
	Format      string    `json:"format,omitempty"`
	Data        string    `json:"data,omitempty"`
	Commands    []Command `json:"commands,omitempty"`
	State       string    `json:"state"`
	StatusCode  int       `json:"statusCode,omitempty"`
	StatusText  string    `json:"statusText,omitempty"`
	ChildStatus []int     `json:"childStatus,omitempty"`
	Attempts    int       `json:"attempts"`
	SentCount   int       `json:"sentCount"`
	// ResentAs is the copy an admin queued with POST .../commands/{id}/resend.
	ResentAs  string          `json:"resentAs,omitempty"`
	Results   []CommandResult `json:"results,omitempty"`
	Source    string          `json:"source,omitempty"`
	CreatedAt time.Time       `json:"createdAt"`
	UpdatedAt time.Time       `json:"updatedAt"`
}

// CommandResult is one Results item of a Get.
type CommandResult struct {
	LocURI string `json:"locUri"`
	Format string `json:"format,omitempty"`
	Data   string `json:"data"`
}
