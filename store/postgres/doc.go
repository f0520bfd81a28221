// Package postgres is the PostgreSQL backend of the store: a kv.Backend (KV) that several
// hellomdm servers can share, on github.com/jackc/pgx/v5. It holds no business rule: the
// store core (store/core) runs every one of them over it; core.OpenPostgres wires the two.
//
// OpenKV parses a DSN (postgres://user@host:5432/db?sslmode=... or key=value form) and dials
// the server (a dial failure is wrapped with store.ErrUnavailable and names the host). Each
// bucket is a table of its own, kv_<bucket in snake case> (k bytea PRIMARY KEY, v bytea NOT
// NULL), in the first schema of the search_path (set search_path=... in the DSN to share a
// database); EnsureBuckets creates the missing ones under a transaction-scoped advisory lock,
// so servers starting together do not race. Keys sort by bytes, as in bbolt.
//
// Transactions: a View is REPEATABLE READ READ ONLY (one snapshot for all its reads); Update
// and Batch are READ COMMITTED. GetForUpdate is SELECT … FOR UPDATE (the row lock that makes
// two check-ins of one device, on any servers, run one after the other); Insert is INSERT …
// ON CONFLICT DO NOTHING (a lost creation race is store.ErrExists); a SkipLocked scan is FOR
// UPDATE SKIP LOCKED (pruners on several servers share the work). Batch runs its function
// again, after a short random pause, when the transaction lost a deadlock or serialization
// check (SQLSTATE 40P01, 40001), up to Options.MaxRetries times. Statements are pipelined:
// BEGIN travels with the first statement, Put and Delete with the next statement that needs
// an answer or with COMMIT (a failed Put is reported by that later call or by the commit, and
// nothing commits).
//
// Errors that mean the database cannot take requests now (lost or refused connections, the
// SQLSTATE classes 08 and 53, shutdowns, a read-only standby) wrap store.ErrUnavailable, so
// the server answers 503 and devices retry.
//
// The previous release kept its records in tables of their own (schema version 5: tenants,
// devices, commands, audit_events, …). LegacyTables, LegacyRows and DropLegacyTables let the
// store core copy them into the kv tables once, in one transaction, and drop them; this
// package reads those rows without knowing what they mean.
package postgres
