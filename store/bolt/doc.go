// Package bolt is the embedded backend of the store: a kv.Backend (KV) on one bbolt file, for
// single-server installations. It holds no business rule: the store core (store/core) runs
// every one of them over it; core.OpenBolt wires the two.
//
// OpenKV creates or opens the file with mode 0600. Every commit is fsynced (NoSync is never
// set), so a call that returned nil survives a crash. Buckets are bbolt buckets; View and
// Update are bbolt's; Batch is a group commit in the manner of bbolt's DB.Batch, so
// concurrent check-ins share one write transaction and one fsync (the first waiting at most
// Options.MaxBatchDelay for company, and every call that arrives while the commit before
// runs joining), and a function may run more than once. GetForUpdate is Get: bbolt has one writer at a time. Buckets the core
// declares append-only (kv.Packer: the audit log) are split nearly full.
//
// A file system that refuses a write or an fsync (no space, quota, file size limit, read-only
// remount, I/O error) and a closed or locked database give errors wrapping
// store.ErrUnavailable; bbolt rolls the commit back, so none leaves half a transaction.
// Backup copies the file from one read transaction while writers go on. One process at a
// time: a second OpenKV waits Options.Timeout for the file lock and then fails with
// store.ErrUnavailable.
package bolt
