// Package store owns hellomdm's durable state: the records (tenants, users, devices,
// commands, sessions, policy, audit events, tokens, configuration), the interfaces callers
// use ([Store] composes them), and the errors every backend returns.
//
// # Layers
//
//	callers (server, policy engine adapters, CLI through the API)
//	   │  store.Store: small interfaces, records by value
//	store/core   every business rule, once, over kv.Tx
//	   │  kv.Backend: View / Update / Batch closures, ordered buckets of bytes
//	store/bolt (bbolt file)     store/postgres (one table per bucket)
//
// A backend implements storage primitives only (package store/kv): transactions given as
// closures, records by key, ordered scans by prefix, one round trip for many keys, a row lock
// for read-modify-write, insert-if-absent. It knows no record type, no key layout and no
// rule. core.OpenBolt and core.OpenPostgres put a backend under the core.
//
// # Why closures over ordered buckets
//
// We read how three projects we model ourselves on draw this line:
//
//   - nanomdm defines its storage as interfaces per concern and implements them several times
//     (file, MySQL, PostgreSQL), each backend carrying the rules again; beside those, its kv
//     package implements every interface once over a minimal key-value contract, so any
//     key-value engine plugs in without new rules. We take the second shape for every
//     backend, PostgreSQL included: two full implementations were 93 twin functions here.
//   - bbolt gives transactions as closures (DB.View, DB.Update) and coalesces concurrent
//     writers into one commit and one fsync (DB.Batch, whose function may run more than once).
//     A closure bounds the transaction's life, commits or rolls back by its return, and cannot
//     leak. The check-in hot path depends on Batch, so kv.Backend has exactly these three.
//   - etcd's mvcc layer owns its key and value encoding and keeps its backend (bbolt) to
//     ordered byte ranges behind read and batch transactions. We keep that split (the core owns
//     the layout, keys.go) but not etcd's long-lived batch transaction, which PostgreSQL cannot
//     share across servers; PostgreSQL gets row locks (kv.Tx.GetForUpdate), unique inserts
//     (kv.Tx.Insert) and FOR UPDATE SKIP LOCKED scans instead, which bbolt, with one writer,
//     satisfies trivially.
//
// PostgreSQL keeps real tables (kv_<bucket>, primary key on the key bytes): range scans by
// prefix are index scans, GetMany is one query with k = ANY($1), reports over a tenant read
// an index bucket's keys and fetch records in chunks, claims and pruning use SKIP LOCKED.
//
// # Business rules, all in store/core
//
//   - Uniqueness: tenant IDs and verified domains (case-insensitive); user IDs and UPNs per
//     tenant; token IDs and hashes; command IDs per device; group and profile IDs per tenant.
//     Created with insert-if-absent, so a race between servers has one winner.
//   - Devices: one tenant per device ID (enrolling in another is ErrConflict); a replaced
//     certificate serial is revoked in the same transaction, and so is the current one when a
//     device leaves the enrolled state; a registration locks its tenant first, so it cannot
//     interleave with the tenant's deletion.
//   - Tenant deletion: refused while a device is enrolled; removes domains, users, groups,
//     members, profiles, assignments, setting states, the policy version, the tenant's tokens
//     and configuration keys; retires its devices; keeps its audit chain. User deletion
//     removes the user from every group and forgets its failed sign-ins.
//   - Policy: every change of a tenant's groups, members, profiles or assignments bumps its
//     policy version, with the version record locked first (a tenant's policy writes run one
//     at a time; check-ins only read it); members must exist; no group cycles; a group an
//     assignment targets cannot be deleted; assigned groups must exist; a profile's Version
//     increments on every update.
//   - Command queue: Seq per device from the device's counter, assigned under the device's
//     lock (enqueues serialise with its check-ins); the open set follows each command's state
//     and holds its creation time, so the queue depth and oldest open command need no record.
//   - Check-ins: one transaction per device message, the device locked first (two sessions of
//     one device on any servers run one after the other); a device keeps its MaxSessions most
//     recently updated OMA-DM sessions. On PostgreSQL the lock is queued first and sent with
//     the message's first reads, which DeviceTx.Prefetch names (the session, the open set
//     and, at a Final message, the device's policy record and its tenant's policy version;
//     then the open commands' records and, for a new session, the device's sessions): a
//     message of a command session is 3 round trips, an idle check-in 2 (BEGIN with the
//     reads, then COMMIT), counted by server's TestCheckinRoundTripsPostgres.
//   - Audit log: one hash chain per tenant, each event sealed after the chain head read under
//     lock, written with insert-if-absent (a chain never forks, a record is never
//     overwritten); invalid UTF-8 normalised before sealing; retention drops whole segments
//     of AuditSegmentSize events, oldest first, with the anchor and the retention event in the
//     same transaction; no method edits or silently drops events. Where sealing happens
//     depends on the backend: see "Audit sequencer".
//   - Single-use and limited things: failed sign-in windows per key, redemptions (single use
//     until expiry), idempotency records (reserve, complete, release, takeover, 24 h); their
//     expired records are pruned through one time-ordered expiry index, a bounded number per
//     write, skipping what another server holds.
//   - Configuration: values of secret keys (tenant/, secret/, ca/) sealed at rest with
//     AES-256-GCM when the store has a key (always on PostgreSQL); first writer wins for
//     PutConfigIfAbsent.
//   - Format: a database carries its format version (core.FormatVersion); a database of the
//     previous release is migrated on open in one transaction; a newer one is refused.
//
// What stays in a backend: durability (fsync, commits), transaction isolation, mapping its
// errors to ErrUnavailable and ErrExists, creating its buckets, online backup (bbolt), and
// reading the previous release's PostgreSQL tables for the migration without knowing their
// meaning.
//
// # Records
//
// Records are JSON of the types in this package and policy/model, whose tags are the stored
// format: renaming a tag changes what is on disk and needs a new format version and a
// migration. Hot records (device, session, command, device policy, audit event) have
// hand-written decoders in the core, fuzzed against encoding/json. A session record, written
// on every check-in message, is binary from format version 4 on (store/core/sessionrecord.go:
// no reflection, its last reply as bytes rather than base64), and decodes to exactly what its
// JSON would; sessions stored as JSON by earlier versions are read as they are. All servers
// on one database run one release: an earlier one refuses a database of a later format.
//
// # Audit of admin writes
//
// Admin writes (tenants, users, devices, tokens, groups, members, profiles, assignments) and
// device enrolments record their audit events in their own transaction, so no change is
// stored without its audit record and no record describes a change that did not commit. The
// caller makes them explicitly in a [Writes.Write]: its function makes the changes through
// the [Writer], which returns each record as stored, builds the events from those records and
// appends them with [Writer.Audit]. The one-call methods (CreateTenant, UpdateUser, ...) are
// Writes of one change and no events.
//
// # Audit sequencer
//
// Sealing an event needs its tenant's chain head, and a fleet is mostly one tenant: when every
// write that records an event locked the head until it committed, every check-in of a tenant
// ran one at a time across all servers (issue 23: about 95 % of PostgreSQL backends waited on
// that row under load). On PostgreSQL the core therefore seals outside the writes, the way a
// transparency log's sequencer does (Certificate Transparency, Trillian: writers queue
// entries, one sequencer assigns order and hashes in batches within a bounded merge delay):
//
//   - Append: a write (check-in, admin write, enrolment, AppendAudit) validates and
//     canonicalises its events (audit.Canonicalize) and inserts them unsealed, in its own
//     transaction, into the pending bucket: one record per transaction and tenant (a batch
//     record when it holds several events, store/core/auditbatch.go), under prefix(tenant) +
//     the time of the append + the store's random writer ID + a counter: keys no other
//     writer can make, so nothing is locked and nothing collides. The caller's events get
//     their ID and canonical Time and Details when the write commits, but no Seq, PrevHash
//     or Hash: callers that need them read the log (no production caller does; metrics
//     count kinds only).
//   - Sealing: one server at a time holds the sequencer lease (a record in the lease bucket:
//     holder and expiry, taken with a row lock when free or expired, renewed every 0.5 s,
//     3 s long, given up on a clean shutdown). The holder seals every pending event on each
//     local commit that appended one (an in-process signal; at least 20 ms after a batch
//     that sealed something, so that appends gather into batches) and every 50 ms (events
//     of other servers): per tenant, one transaction per batch locks the head once, reads
//     pending records in key order until they hold 512 events or more, seals their events
//     after the head (audit.SealAfter), writes them into the chain as one batch record per
//     retention segment they fall in (under the key of the record's last Seq, so a reader
//     seeks to the record holding a Seq; a batch record is never cut across a segment's end,
//     so retention drops whole records), deletes the pending records and writes the head.
//     From format version 8 on; records of one event, as earlier versions and bbolt write
//     them, read as before. An event so costs PostgreSQL one pending insert shared with the
//     other events of its transaction, a delete shared likewise and its share of a batch
//     record, which PostgreSQL compresses (TOAST): measured at load, 9.1 KB of WAL and 28 WAL
//     records per command session for the audit before, 5.2 KB and 14 after (BENCHMARKS.md).
//   - Order: a tenant's Seq order is sealing order. An event whose transaction committed
//     before a batch started is sealed in that batch or an earlier one; within a batch events
//     follow their pending keys (append time on the writer's clock, then writer, then
//     counter) and, within a pending record, their argument order, so one call's events keep
//     their argument order and one server's appends keep the order they were made in.
//     Across servers, events committed close together may be sealed in either order (their
//     Time fields then need not be monotonic in Seq, as before).
//   - Crashes: a batch is one transaction, so a sequencer that dies mid-batch leaves its
//     events pending and its head unchanged; its lease expires within 3 s and any server takes
//     over. Unsealed events are ordinary committed rows: they survive every crash and are
//     sealed when a sequencer runs again. Two sealers at once (a slow holder whose lease was
//     taken over, a reader sealing for itself) cannot fork a chain or seal an event twice:
//     each locks the head before reading the pending events, so the second finds the first's
//     events gone.
//   - Delay: with the lease held, an event is sealed within one poll interval plus one batch
//     after its commit (measured at load in BENCHMARKS.md; the metric
//     hellomdm_audit_seal_delay_seconds reports it per event). Under overload batches grow
//     (512 events or more per transaction), so the delay grows with the backlog, not with the
//     number of writers; without a lease holder (all servers down, or within 3 s of the
//     holder's death) events wait pending.
//   - Reads: reading a tenant's log (AuditEvents, the audit.Reader behind verification and
//     exports) and retention first seal the tenant's pending events in the reader's own
//     process, so they see, sealed, every event committed before they began; exports need not
//     wait for the sequencer whatever their time range. audit.VerifyTenant reports the events
//     committed after that (audit.Unsealed: count and oldest Time) as not verified yet; an
//     export records that count in its audit.exported event. The compliance report reads
//     setting states, which commit with their check-in, so sealing does not affect it.
//   - Retention drops sealed segments only: unsealed events are never dropped, and the
//     retention event itself is appended like any other.
//
// On bbolt writers never overlap (one write transaction at a time, kv.Serial), so locking
// the head makes no one wait, and sealing inline costs one head read and write per
// transaction while the sequencer would add a pending insert, a read and a delete per
// transaction, a second copy of the events and a second transaction: the core seals inline there, and bbolt appends return sealed
// events as before.
//
// # Profile status index
//
// A profile's status report (the admin API's deviceStatuses, the console's profile status
// page and its CSV) reads the profile's rows, not the tenant's setting states
// (store/core/profilestatus.go). With every setting state write (PutSettingState,
// DeleteSettingState, in the check-in's transaction) the core moves, for each profile the
// state names among its Sources (each once):
//
//   - an entry per row, prefix(tenant)+prefix(profile)+'a'+prefix(device)+LocURI, and one
//     per row and state, ...+'s'+state+0+prefix(device)+LocURI. The part after the kind is
//     the setting state's own key after its tenant, so a page is one ordered scan of index
//     keys from the skip token (the last key shown) and one GetMany of the setting states;
//     the order is the one the report always had, device ID then LocURI, and stays stable
//     while rows come and go. The device name and user come from the device summaries of the
//     device index (one GetMany per page), the device records only when asked (the API's
//     CanReset column of a PIN recovery profile);
//   - counts per profile and state, spread over 16 rows chosen by device like the device
//     counts, so the chart is a read of at most 96 rows.
//
// A rewrite that changes neither the state nor the sources writes no index entry, so an
// idle check-in costs nothing more. Only the tenant's deletion removes entries otherwise: a
// retired device keeps its setting states and a deleted profile's states keep naming it
// until its devices remove the settings (its report goes on, see the admin API). Format
// version 6 builds the index and counts of an existing database in its migration
// transaction.
//
// # Role holder index
//
// The users holding an admin role (User.AdminRole, the console's Admin roles page and the
// admin API's users?hasAdminRole=true) are listed by Users.ListRoleHoldersPage from an index
// of them only (store/core/roleholders.go): prefix(tenant)+lower-case UPN → user ID, the UPN
// index's layout restricted to the holders, so they page in the user list's UPN order with
// the same after. CreateUser, UpdateUser and DeleteUser move a user's entry from the stored
// record to the one written (a grant, a changed or revoked role, a renamed UPN) in their
// transaction; the tenant's deletion removes its entries. Format version 7 builds the index
// of an existing database in its migration transaction.
//
// # Group name index
//
// The group list (the console's Groups page and its search, the member picker, the admin
// API's groups with top) is read by Groups.ListGroupsPage from an index of the tenant's
// groups by name (store/core/groupnames.go): prefix(tenant)+lower-case display name+0+group
// ID → group ID, the order the list always had (GroupSortKey), so a page reads its groups
// and, searching, at most its budget of them, however many groups the tenant holds; the
// API's check that a new group's name is free reads the one entry from that name on.
// CreateGroup and DeleteGroup write and remove a group's entry in their transaction (a group
// is never renamed); the tenant's deletion removes its entries. Format version 9 builds the
// index of an existing database in its migration transaction.
//
// # Caveats
//
//   - A Checkin function may run more than once: backends are allowed to group concurrent
//     transactions into one commit (bbolt Batch) and to retry a group when one member fails,
//     or a transaction that lost a deadlock (PostgreSQL). The function must have no effect
//     outside the [DeviceTx] it is given. The same holds for the function of a
//     [Writes.Write]: it may run more than once and must only make its changes through the
//     [Writer] and build events.
//   - Every write that must not be lost is durable before the call returns.
//   - Records are returned by value; mutating a returned record changes nothing until it is
//     written back.
package store
