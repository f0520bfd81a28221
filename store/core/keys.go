package core

import (
	"encoding/binary"

	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/store/kv"
)

// Buckets and their keys. Keys that combine an owner ID with something else start with the
// owner ID length-prefixed (see prefix), so one owner's keys never run into another's and
// form one contiguous, sorted range. The layout is the one bbolt files of earlier releases
// already have, so they open without rewriting (migrate.go).
const (
	bMeta           kv.Bucket = "meta"              // "schema" → format version (8, big-endian)
	bTenants        kv.Bucket = "tenants"           // tenant ID → Tenant JSON
	bTenantDomains  kv.Bucket = "tenantDomains"     // lower-case domain → tenant ID
	bUsers          kv.Bucket = "users"             // prefix(tenant)+user ID → User JSON
	bUserUPN        kv.Bucket = "userUPN"           // prefix(tenant)+lower-case UPN → user ID
	bDevices        kv.Bucket = "devices"           // device ID → Device JSON
	bDeviceTenant   kv.Bucket = "deviceTenant"      // prefix(tenant)+device ID → nil
	bRevoked        kv.Bucket = "revoked"           // upper-case serial → revocation JSON
	bCommands       kv.Bucket = "commands"          // prefix(device)+seq → Command JSON
	bCmdIndex       kv.Bucket = "cmdIndex"          // prefix(device)+command ID → seq
	bCmdSeq         kv.Bucket = "cmdSeq"            // device ID → last assigned seq
	bOpen           kv.Bucket = "open"              // prefix(device)+seq → CreatedAt(8) [+ waits until(8)], for every open command (openEntry)
	bSessions       kv.Bucket = "sessions"          // prefix(device)+session ID → stamp(8) + Session JSON
	bAudit          kv.Bucket = "audit"             // prefix(tenant)+seq → audit.Event JSON, or a batch of the events up to seq (auditbatch.go)
	bAuditHead      kv.Bucket = "auditHead"         // tenant ID → anchor (seq(8) + hash) of the last event
	bAuditAnchor    kv.Bucket = "auditAnchor"       // tenant ID → anchor of the last dropped event
	bAuditPending   kv.Bucket = "auditPending"      // prefix(tenant)+stamp(8)+writer(8)+n(8) → unsealed audit.Event JSON, or a batch of one transaction's
	bAuditLease     kv.Bucket = "auditLease"        // "sequencer" → expiry (8) + holder
	bTokens         kv.Bucket = "tokens"            // token hash → AdminToken JSON
	bTokenIDs       kv.Bucket = "tokenIDs"          // token ID → token hash
	bConfig         kv.Bucket = "config"            // key → value
	bSignInFailures kv.Bucket = "signInFailures"    // sign-in limit key → window end (8) + count (8)
	bSignInExpiry   kv.Bucket = "signInExpiry"      // window end (8) + sign-in limit key → nil
	bRedeemed       kv.Bucket = "redeemed"          // redemption ID → expiry (8) + holder
	bRedeemedExpiry kv.Bucket = "redeemedExpiry"    // expiry (8) + redemption ID → nil
	bIdempotency    kv.Bucket = "idempotency"       // prefix(scope)+key → IdempotencyRecord JSON
	bIdemExpiry     kv.Bucket = "idemExpiry"        // expiry (8) + record key → nil
	bPolicyVersion  kv.Bucket = "policyVersion"     // tenant ID → uint64 version
	bGroups         kv.Bucket = "policyGroups"      // prefix(tenant)+group ID → Group JSON
	bMembers        kv.Bucket = "policyMembers"     // prefix(tenant)+prefix(group)+kind+0+member ID → memberMark (nil before format 10)
	bParents        kv.Bucket = "policyParents"     // prefix(tenant)+prefix(kind+0+member ID)+group ID → nil
	bProfiles       kv.Bucket = "policyProfiles"    // prefix(tenant)+profile ID → Profile JSON
	bAssignments    kv.Bucket = "policyAssignments" // prefix(tenant)+profile ID → []Assignment JSON
	bSettings       kv.Bucket = "policySettings"    // prefix(tenant)+prefix(device)+LocURI → SettingState JSON
	bDevicePolicy   kv.Bucket = "policyDevices"     // device ID → DevicePolicy JSON
	bConsole        kv.Bucket = "consoleSessions"   // session ID → expiry (8) + ConsoleSession JSON
	bConsoleExpiry  kv.Bucket = "consoleExpiry"     // expiry (8) + session ID → nil
	bDevSummary     kv.Bucket = "deviceSummary"     // device ID → device summary JSON (deviceindex.go)
	bDevIndex       kv.Bucket = "deviceIndex"       // prefix(tenant)+kind+… → nil or scope tags (deviceindex.go)
	bDevCounts      kv.Bucket = "deviceCounts"      // prefix(tenant)+tags+0+state+0+canReset+0+shard → count (8)
	bTroubles       kv.Bucket = "settingTroubles"   // prefix(tenant)+profile+0+state+0+shard → count (8)
	bPushChannels   kv.Bucket = "pushChannels"      // device ID → pushChannel JSON (push.go)
	bPushWakes      kv.Bucket = "pushWakes"         // device ID → pushWake JSON (push.go)
	bPushReplicas   kv.Bucket = "pushReplicas"      // replica ID → lease end (8, Unix ns)
	bProfStatus     kv.Bucket = "profileStatus"     // prefix(tenant)+prefix(profile)+kind+… → nil (profilestatus.go)
	bProfCounts     kv.Bucket = "profileCounts"     // prefix(tenant)+prefix(profile)+state+0+shard → count (8)
	bRoleHolders    kv.Bucket = "roleHolders"       // prefix(tenant)+lower-case UPN → user ID, for users holding an admin role (roleholders.go)
	bGroupNames     kv.Bucket = "groupNames"        // prefix(tenant)+lower-case display name+0+group ID → group ID (groupnames.go)
	bMemberCounts   kv.Bucket = "memberCounts"      // prefix(tenant)+group ID → direct member count (8) (groupmembers.go)
)

// allBuckets lists every bucket the store uses; New creates the missing ones.
var allBuckets = []kv.Bucket{
	bMeta, bTenants, bTenantDomains, bUsers, bUserUPN, bDevices, bDeviceTenant, bRevoked,
	bCommands, bCmdIndex, bCmdSeq, bOpen, bSessions, bAudit, bAuditHead, bAuditAnchor,
	bAuditPending, bAuditLease,
	bTokens, bTokenIDs, bConfig, bSignInFailures, bSignInExpiry, bRedeemed, bRedeemedExpiry,
	bIdempotency, bIdemExpiry, bPolicyVersion, bGroups, bMembers, bParents, bProfiles,
	bAssignments, bSettings, bDevicePolicy, bConsole, bConsoleExpiry,
	bDevSummary, bDevIndex, bDevCounts, bTroubles, bPushChannels, bPushWakes, bPushReplicas,
	bProfStatus, bProfCounts, bRoleHolders, bGroupNames, bMemberCounts,
}

// Buckets returns the names of every bucket the store uses (for backend tools and tests).
func Buckets() []kv.Bucket { return append([]kv.Bucket(nil), allBuckets...) }

// checkID rejects IDs that cannot be keys.
func checkID(what, id string) error { return store.CheckID(what, id) }

// prefix returns the key prefix of an owner: its length (2 bytes, big-endian) and bytes,
// with room for extra bytes after it.
func prefix(owner string, extra int) []byte {
	k := make([]byte, 0, 2+len(owner)+extra)
	k = binary.BigEndian.AppendUint16(k, uint16(len(owner)))
	return append(k, owner...)
}

// prefix2 is prefix(a) followed by prefix(b).
func prefix2(a, b string, extra int) []byte {
	k := prefix(a, 2+len(b)+extra)
	k = binary.BigEndian.AppendUint16(k, uint16(len(b)))
	return append(k, b...)
}

// subKey is prefix(owner) followed by sub.
func subKey(owner, sub string) []byte {
	return append(prefix(owner, len(sub)), sub...)
}

// seqKey is prefix(owner) followed by seq, big-endian, so keys sort in seq order.
func seqKey(owner string, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(prefix(owner, 8), seq)
}

// splitOwner splits a key made by prefix(owner)+rest.
func splitOwner(k []byte) (owner, rest string, ok bool) {
	if len(k) < 2 {
		return "", "", false
	}
	n := int(binary.BigEndian.Uint16(k))
	if len(k) < 2+n {
		return "", "", false
	}
	return string(k[2 : 2+n]), string(k[2+n:]), true
}

// hasPrefix reports whether k starts with p.
func hasPrefix(k, p []byte) bool {
	return len(k) >= len(p) && string(k[:len(p)]) == string(p)
}
