// Package audit owns hellomdm's audit trail: the event model, one
// append-only hash chain per tenant, verification, filters and the
// CSV/JSON/NDJSON exporters (also used for the policy compliance report).
// It answers auditors' questions — who turned PIN recovery on for a group,
// when each device got it, which devices failed, who reset a PIN — from
// data that cannot be quietly edited. It imports only the standard library;
// storage is done by store backends through the small interfaces declared
// here (Store, Reader, Retainer).
//
// # Basics
//
// Server code builds an Event (TenantID, Kind, Actor, Subject, DeviceID,
// ProfileID, Action, Details) and calls Log.Record, which gives it a UUIDv7
// ID and the current time and hands it to Store.AppendAudit. When an event
// must commit together with the change it records, call Log.Prepare and
// append the prepared event inside the store transaction. The store seals
// each event (SealAfter) against the tenant's current head while holding the
// lock or transaction that writes the sealed event, which sets Seq, PrevHash
// and Hash: either in the appending transaction itself, or later, in batches,
// by a sequencer that took the event committed unsealed (Canonicalize) off a
// queue (store/doc.go, "Audit sequencer"); such a store reports the events
// not sealed yet (UnsealedReader) and VerifyTenant shows them.
//
// Export streams a tenant's events through a Filter to an Exporter made by
// NewExporter; VerifyTenant (or Verify/VerifyFrom over any Iterator) checks
// the chain and reports the first broken link.
//
// # Hash chain
//
// Hash is the lower-case hex SHA-256 of the canonical encoding of the event
// with Hash itself left out. The encoding is a concatenation of these
// fields, in this order, where a "string" is its byte length as a 4-byte
// big-endian unsigned integer followed by its bytes (UTF-8 as stored, no
// normalisation), and a "u64"/"i64" is 8 bytes big-endian:
//
//	 1 string  "hellomdm.audit.v1" (domain and version tag)
//	 2 string  ID
//	 3 u64     Seq
//	 4 i64     Time as Unix nanoseconds (two's complement; Seal truncates
//	           Time to whole microseconds, so this is a multiple of 1000)
//	 5 string  TenantID
//	 6 string  Kind
//	 7 string  Actor.Type
//	 8 string  Actor.ID
//	 9 string  Actor.TokenID
//	10 string  Actor.Role
//	11 string  Actor.SourceAddr
//	12 string  Subject.Type
//	13 string  Subject.ID
//	14 string  DeviceID
//	15 string  ProfileID
//	16 string  Action
//	17 string  Details (compact JSON as stored; empty when there are none)
//	18 string  PrevHash (hex text, "" for the first event of a tenant)
//
// In PostgreSQL this is, for example, int4send(octet_length(x)) || convert_to(x,
// 'UTF8') per string, int8send(seq) and int8send(unix_micros*1000), hashed
// with sha256() and encode(..., 'hex'). testdata/canonical_v1.golden holds
// the encoding and hash of one fixed event (see TestCanonicalGolden) to check
// another implementation against. Seal canonicalises before hashing: Time
// to UTC microseconds, Details to compact JSON (json.Compact: insignificant
// whitespace removed, key order and string escapes kept) or empty for
// none/null. Backends must store strings and Details byte for byte (text or
// bytea, not jsonb, which reorders keys) and Time to the microsecond.
//
// Seq starts at 1 and PrevHash of event n is the Hash of event n-1. Verify
// reports, at the event where it first shows: an altered event (its hash
// does not match), a removed event (seq gap at its successor), reordered or
// duplicated events, a rewritten-and-rehashed event (prev_hash mismatch at
// its successor) and events of another tenant.
//
// # Retention
//
// Backends store events in segments (ranges of Seq). Log.Retain asks the
// Retainer to drop whole segments older than a cut-off; the backend keeps
// the Anchor (Seq and Hash) of the last dropped event and, in the same
// transaction, appends an audit.retention event naming that anchor (see
// RetentionEvent). VerifyFrom starts from the anchor: the first kept event
// must chain to it, and some audit.retention event must name it, so moving
// the anchor without a record is itself detected.
//
// # Exports
//
// Every format carries the same columns (EventColumns, or the table's
// columns): CSV (RFC 4180, header row, CRLF, quoting like encoding/csv),
// a JSON array streamed element by element, or NDJSON. In JSON formats
// seq is a number and details a JSON object or null; time is RFC 3339
// with nanoseconds, UTC. Exporters write cell by cell into one reused
// buffer flushed every 32 KiB: memory is constant however many events
// stream through, and there is no reflection per event.
//
// CSV cells that begin with =, +, -, @, tab, CR or an apostrophe get a
// leading apostrophe so spreadsheets show them as text instead of running
// them as formulas (CSV injection). This changes the field — "-1" exports
// as "'-1" — in a reversible way: UnneutraliseCell restores the stored
// value exactly. JSON and NDJSON are not neutralised.
//
// # Caveats
//
//   - The chain is tamper-evident, not tamper-proof: it is unkeyed, so
//     whoever can rewrite an event and every event after it can forge a
//     consistent chain, and dropping the newest events leaves a valid
//     shorter chain. Record VerifyReport.Head outside the database (or in an
//     audit.verified event exported elsewhere) to pin it.
//   - Verify checks Seq order, not Time order: replicas' clocks differ.
//   - Kinds are a closed set (Kinds); Record refuses others.
//
// # Performance
//
// On the 2-core AMD EPYC development machine (shared, so figures vary by
// about ±30%), go test -bench . gave:
//
//	BenchmarkSeal-2           322381     3312 ns/op    224 B/op   3 allocs/op
//	BenchmarkVerify-2            100  24109525 ns/op   414774 events/s (10,000-event chain)
//	BenchmarkExportCSV-2           1  1636208246 ns/op  611169 events/s   48 heap-growth-KiB
//	BenchmarkExportNDJSON-2        1  2650394783 ns/op  377302 events/s   48 heap-growth-KiB
//	BenchmarkExportJSON-2          1  3055711824 ns/op  327256 events/s   48 heap-growth-KiB
//
// Each export benchmark streams 1,000,000 generated events to io.Discard;
// heap-growth is the peak HeapInuse (sampled every 50,000 events) above the
// level before the run, so memory stays flat.
package audit
