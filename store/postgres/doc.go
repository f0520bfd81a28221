// Package postgres is the PostgreSQL store backend: a store.Store that several hellomdm
// replicas can share, on github.com/jackc/pgx/v5.
//
// # Basics
//
// Open parses a DSN (postgres://user@host:5432/db?sslmode=... or key=value form), dials the
// server (a dial failure is wrapped with store.ErrUnavailable and names the host), and
// applies the embedded schema migrations. Migrations are numbered SQL files
// (migrations/NNNN_name.sql), forward-only, each applied in its own transaction and recorded
// in schema_migrations, all under a session advisory lock keyed by the current schema, so
// replicas starting together apply each migration once. A database whose schema version is
// newer than the binary's refuses to open, naming both versions. Tables live in the first
// schema of the search_path (set it with search_path=... in the DSN to share a database).
//
// Records are JSON in bytea columns (byte-exact and safe for NUL, unlike jsonb); the
// columns beside them are what statements select, order and lock on. Keys use the "C"
// collation, so listings sort by bytes as in the bbolt backend.
//
// # Check-ins across replicas
//
// Checkin runs its function in one READ COMMITTED transaction that first locks the device's
// row (SELECT … FOR UPDATE): two sessions of one device, on any replicas, run one after the
// other. Commands are claimed through Command.ClaimSession/ClaimUntil, which the session
// engine sets as a lease; a replica that dies mid-session leaves its claims to expire. The
// hot path is a handful of statements: the row lock, the session read, HasPending (one probe
// of a partial index of open commands), the session write (which also evicts sessions beyond
// MaxSessions in the same statement), and the commit. Enqueue reserves Seqs by bumping the
// device row's counter, which locks the row too; devices are locked in ID order.
//
// A transaction that fails with a serialization failure or deadlock (SQLSTATE 40001, 40P01)
// runs again, up to Options.MaxRetries, which is why a Checkin function may run more than
// once. A connection lost mid-transaction rolls it back and gives store.ErrUnavailable (the
// server answers 503 with Retry-After); when the commit itself is cut off its outcome is
// unknown, as with any remote database.
//
// # Audit log
//
// Each tenant's chain has a head row. An append locks the head rows of its tenants (in
// tenant order) with one INSERT … ON CONFLICT DO UPDATE, seals the events with
// audit.SealAfter after the heads it read, and writes events and heads in one pipelined
// batch, so chains stay linear however many replicas write. Events are stored as their JSON
// (encoded without HTML escaping) so Details keeps its exact bytes; kind, device, profile,
// actor and time are copied into columns for filters and retention. AuditEvents and the
// audit.Reader read 256 events per query and call back while holding no connection.
// Retention (DropAuditSegments) drops whole segments of SegmentSize Seqs, as bbolt does, in
// the same transaction as the audit.retention event recording it.
//
// # Failed sign-ins
//
// store.SignInLimits lives in signin_failures (migration 2): one row per key, keyed by its
// bytes. RecordFailedSignIn is one INSERT … ON CONFLICT DO UPDATE that either adds one to
// the open window or starts a new one, so failures recorded at once on several replicas
// are all counted; before it, one DELETE removes up to store.MaxSignInPrune expired rows
// (oldest first, skipping rows locked by others), so the table holds about one row per key
// that failed within the last window.
//
// # Single-use credentials
//
// store.Redemptions lives in redemptions (migration 4): one row per redeemed ID until its
// expiry. Redeem is one INSERT … ON CONFLICT DO UPDATE … WHERE the row has expired, so of
// concurrent redemptions on any replica exactly one gets its row back; expired rows are
// pruned as for failed sign-ins.
//
// # Secrets at rest
//
// Config values under "tenant/", "secret/" and "ca/" are encrypted with AES-256-GCM under
// Options.EncryptionKey, with a random nonce and the config key as additional data (so a
// ciphertext copied to another key does not decrypt). The key is required: Open refuses to
// start without 32 bytes (ErrNoKey) rather than store secrets in the clear. `hellomdm serve`
// reads it from HELLOMDM_STORE_KEY (base64) or --store-key-file.
//
// # Caveats
//
//   - A Checkin, Enqueue, RegisterDevice or AppendAudit function may run more than once;
//     UpdateTenant, UpdateUser, UpdateDevice and UpdateProfile run theirs once.
//   - The connection pool is this package's own (pgxpool would need a module this project
//     does not depend on); Options.MaxConns bounds it, and a connection idle for more than a
//     second is pinged before reuse.
//   - Calls after Close fail with store.ErrUnavailable.
//   - The tests run when HELLOMDM_TEST_POSTGRES holds a DSN; each works in a fresh schema.
package postgres
