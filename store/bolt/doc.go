// Package bolt is the embedded store backend: a store.Store on one bbolt file, for
// single-server installations.
//
// # Basics
//
// Open creates or opens the file with mode 0600. Every commit is fsynced (NoSync is never
// set), so a call that returned nil survives a crash. Records are JSON in buckets; keys that
// combine an owner with something else start with the owner's length-prefixed ID, so one
// device's (or tenant's) keys form one contiguous, sorted range:
//
//	tenants, tenantDomains       tenant records; lower-case domain → tenant ID
//	users, userUPN               tenant+user ID → user; tenant+lower-case UPN → user ID
//	devices, deviceTenant        device records; tenant+device ID (for listing)
//	revoked                      upper-case certificate serial → device and time
//	commands, cmdIndex, cmdSeq   device+Seq → command; device+command ID → Seq; last Seq
//	open                         device+Seq for every open command (State.Open)
//	sessions                     device+session ID → update stamp + session
//	audit, auditHead, auditAnchor tenant+Seq → event; chain head; retention anchor
//	tokens, tokenIDs, config     token hash → token; token ID → hash; key → value
//
// HasPending is one cursor Seek into the open set. A device keeps its MaxSessions most
// recently updated OMA-DM sessions; writing a new one deletes older ones.
//
// # Check-in throughput
//
// Checkin, Enqueue, RegisterDevice and AppendAudit run through bbolt's DB.Batch: concurrent
// calls share one write transaction and one fsync (waiting at most Options.MaxBatchDelay
// for company). BenchmarkCheckinParallel (each check-in reads the device, a session and
// HasPending, and writes the session with a 512-byte stored reply) measured, on 2 cores of
// an AMD EPYC VM with fsync on:
//
//	64 concurrent check-ins:  ~6,000 check-ins/s   (167 µs/op, 55 allocs/op)
//	256 concurrent check-ins: ~11,000 check-ins/s  (90 µs/op, 55 allocs/op)
//
// A single check-in with nobody to share its commit costs one fsync plus MaxBatchDelay.
//
// # Audit log
//
// AppendAudit reads each tenant's head under the write transaction, seals the event with
// audit.SealAfter and writes event and head together, so chains stay linear however many
// writers there are. Events are JSON without HTML escaping, so Details keeps its exact bytes;
// invalid UTF-8 in string fields is replaced by U+FFFD before sealing. AuditEvents reads 256
// events per read transaction and calls its function outside any transaction. Retention
// works in segments of SegmentSize consecutive Seqs: a segment is dropped only when it is
// complete and every event in it is older than the cut, oldest first; the anchor is the
// last dropped event. DropAudit drops one segment per transaction; DropAuditSegments (the
// audit.Retainer method) drops and records the retention event in one transaction.
// AuditReader adapts the store to audit.Reader for audit.VerifyTenant and audit.Export; its
// iterator reads and decodes the next pages in a goroutine of its own (at most two pages
// ahead) while the caller consumes the current one, so close it when done (Close waits for
// the goroutine; it also ends when the iterator's context is done).
//
// # Caveats
//
//   - A Checkin (and Enqueue, RegisterDevice, AppendAudit) function may run more than once,
//     because a failing member of a batch makes bbolt retry the others. DeviceTx methods
//     touch only the device's own keys, plus the revocation of its own old serial and the
//     audit chains of the events it is given. Audit events receive Seq and Hash after commit.
//   - UpdateTenant, UpdateUser and UpdateDevice run their function exactly once, in a
//     transaction of its own.
//   - The store does not enforce references between records (a user's tenant need not
//     exist), except that commands are enqueued only for existing devices.
//   - IDs used in keys must be 1 to 1,024 bytes.
//   - One process at a time: a second Open waits Options.Timeout for the file lock and then
//     fails with store.ErrUnavailable. Calls after Close fail with store.ErrUnavailable.
package bolt
