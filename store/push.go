package store

import (
	"context"
	"time"
)

// PushStates keeps what the replicas' push hubs report of each device's push channels
// (docs/push.md, "Visibility"), so that every replica shows a device's channel wherever it
// is held, and the facts outlive the process that reported them. Hubs write them in
// batches (RecordPush), not one transaction per event.
type PushStates interface {
	// RecordPush applies channel changes and wake-ups in one write transaction:
	//   - a connected change records Replica as holding the device's built-in channel since
	//     Since, unless the stored channel is a connection with a later Since (the device
	//     reconnected elsewhere meanwhile);
	//   - a disconnected change ends the stored channel (DisconnectedAt = At) only when it is
	//     the one the change names (same Replica and Since): a device that reconnected to
	//     another replica stays connected there;
	//   - a wake-up replaces the stored last wake-up unless that one is later.
	// The channel record is locked while it changes, so replicas writing the same device
	// at once never lose a connection; two wake-ups of one device recorded at the same
	// moment by two replicas may keep either.
	RecordPush(ctx context.Context, channels []PushChannelChange, wakes []PushWake) error
	// PushStates returns the states of the devices, in the order of ids; a device with
	// nothing recorded gets a PushState with only DeviceID set. Connected is decided at
	// the read: the channel's replica must hold a current lease (RenewReplica).
	PushStates(ctx context.Context, ids []string) ([]PushState, error)
	// RenewReplica records that the replica is alive until until (its lease), and deletes
	// the leases that ran out more than a week before until.
	RenewReplica(ctx context.Context, replica string, until time.Time) error
	// DropReplica ends the replica's lease now (it shut down): channels the records still
	// show it holding read as disconnected at once.
	DropReplica(ctx context.Context, replica string) error
}

// PushChannelChange is one replica's report that a device's built-in channel connected or
// ended.
type PushChannelChange struct {
	DeviceID, TenantID string
	Replica            string
	Connected          bool
	// Since is when the channel connected (for both changes: it names the connection).
	Since time.Time
	// At is when the channel ended (disconnected changes).
	At time.Time
}

// PushWake is one wake-up a replica sent.
type PushWake struct {
	DeviceID, TenantID string
	Replica            string // the replica that sent it
	At                 time.Time
	Reason             string // command, policy, sync
	Channel            string // builtin, wns
	Result             string // delivered, coalesced, failed
	// Detail is what WNS answered ("accepted", or the error), empty for the built-in channel.
	Detail string
}

// MaxPushDetail bounds PushWake.Detail as stored.
const MaxPushDetail = 200

// PushState is a device's push channel as the store knows it.
type PushState struct {
	DeviceID string
	TenantID string
	// Connected: Replica holds the device's built-in channel now (the record says so and
	// the replica's lease is current).
	Connected bool
	// Replica is the replica holding the channel, or the last one that held it.
	Replica string
	// ConnectedSince is when the current (or last) channel connected.
	ConnectedSince time.Time
	// DisconnectedAt is when the last channel ended: as its replica reported, or, for a
	// replica that vanished without reporting, when its lease ran out.
	DisconnectedAt time.Time
	// LastWake is the last wake-up sent to the device (zero At when none).
	LastWake PushWake
}
