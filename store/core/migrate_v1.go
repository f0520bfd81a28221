package core

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	"github.com/hellomdm/hellomdm/audit"
	"github.com/hellomdm/hellomdm/store"
)

// legacyTable converts the rows of one table of the previous release's PostgreSQL schema
// (version 5) into records of this layout.
type legacyTable struct {
	name string
	copy func(w *wtx, r *legacyRow) error
}

// legacyTables lists the previous release's tables in the order they are copied.
// schema_migrations has no records to copy; it is dropped with the rest.
var legacyTables = []legacyTable{
	{"tenants", func(w *wtx, r *legacyRow) error {
		return insertLegacy(w, bTenants, []byte(r.text("id")), r.bytes("data"))
	}},
	{"tenant_domains", func(w *wtx, r *legacyRow) error {
		return insertLegacy(w, bTenantDomains, []byte(r.text("domain")), []byte(r.text("tenant_id")))
	}},
	{"users", func(w *wtx, r *legacyRow) error {
		t, id := r.text("tenant_id"), r.text("id")
		if err := insertLegacy(w, bUsers, subKey(t, id), r.bytes("data")); err != nil {
			return err
		}
		return insertLegacy(w, bUserUPN, subKey(t, r.text("upn_lower")), []byte(id))
	}},
	{"devices", copyLegacyDevice},
	{"revoked", func(w *wtx, r *legacyRow) error {
		v, err := json.Marshal(revocation{DeviceID: r.text("device_id"), RevokedAt: r.time("revoked_at")})
		if err != nil {
			return err
		}
		return insertLegacy(w, bRevoked, []byte(r.text("serial")), v)
	}},
	{"commands", copyLegacyCommand},
	{"sessions", func(w *wtx, r *legacyRow) error {
		v := binary.BigEndian.AppendUint64(nil, uint64(r.time("stamp").UnixNano()))
		return insertLegacy(w, bSessions, subKey(r.text("device_id"), r.text("session_id")), append(v, r.bytes("data")...))
	}},
	{"audit_heads", func(w *wtx, r *legacyRow) error {
		return insertLegacy(w, bAuditHead, []byte(r.text("tenant_id")), anchorValue(r.anchor()))
	}},
	{"audit_anchors", func(w *wtx, r *legacyRow) error {
		return insertLegacy(w, bAuditAnchor, []byte(r.text("tenant_id")), anchorValue(r.anchor()))
	}},
	{"audit_events", func(w *wtx, r *legacyRow) error {
		return insertLegacy(w, bAudit, seqKey(r.text("tenant_id"), r.uint("seq")), r.bytes("event"))
	}},
	{"tokens", func(w *wtx, r *legacyRow) error {
		hash := r.text("hash")
		if err := insertLegacy(w, bTokens, []byte(hash), r.bytes("data")); err != nil {
			return err
		}
		return insertLegacy(w, bTokenIDs, []byte(r.text("id")), []byte(hash))
	}},
	{"config", func(w *wtx, r *legacyRow) error {
		return insertLegacy(w, bConfig, []byte(r.text("key")), ConfigRecord(r.bool("sealed"), r.bytes("value")))
	}},
	{"policy_versions", func(w *wtx, r *legacyRow) error {
		return insertLegacy(w, bPolicyVersion, policyVersionKey(r.text("tenant_id")), binary.BigEndian.AppendUint64(nil, r.uint("version")))
	}},
	{"policy_groups", func(w *wtx, r *legacyRow) error {
		return insertLegacy(w, bGroups, subKey(r.text("tenant_id"), r.text("id")), r.bytes("data"))
	}},
	{"policy_members", func(w *wtx, r *legacyRow) error {
		t, g := r.text("tenant_id"), r.text("group_id")
		m := store.Member{Kind: r.text("kind"), ID: r.text("member_id")}
		if err := insertLegacy(w, bMembers, memberKey(t, g, m), memberMark); err != nil {
			return err
		}
		return insertLegacy(w, bParents, parentKey(t, g, m), nil)
	}},
	{"policy_profiles", func(w *wtx, r *legacyRow) error {
		return insertLegacy(w, bProfiles, subKey(r.text("tenant_id"), r.text("id")), r.bytes("data"))
	}},
	{"policy_assignments", func(w *wtx, r *legacyRow) error {
		return insertLegacy(w, bAssignments, subKey(r.text("tenant_id"), r.text("profile_id")), r.bytes("data"))
	}},
	{"setting_states", func(w *wtx, r *legacyRow) error {
		uri := r.text("loc_uri")
		k := append(prefix2(r.text("tenant_id"), r.text("device_id"), len(uri)), uri...)
		return insertLegacy(w, bSettings, k, r.bytes("data"))
	}},
	{"device_policies", func(w *wtx, r *legacyRow) error {
		return insertLegacy(w, bDevicePolicy, []byte(r.text("device_id")), r.bytes("data"))
	}},
	{"signin_failures", func(w *wtx, r *legacyRow) error {
		k, end := r.bytes("key"), r.time("window_end")
		if err := insertLegacy(w, bSignInFailures, k, encodeSignInWindow(end, int(r.uint("count")))); err != nil {
			return err
		}
		return insertLegacy(w, bSignInExpiry, expiryKey(end, k), nil)
	}},
	{"redemptions", func(w *wtx, r *legacyRow) error {
		k, exp := r.bytes("id"), r.time("expires_at")
		v := binary.BigEndian.AppendUint64(nil, uint64(exp.UnixNano()))
		if err := insertLegacy(w, bRedeemed, k, append(v, r.text("holder")...)); err != nil {
			return err
		}
		return insertLegacy(w, bRedeemedExpiry, expiryKey(exp, k), nil)
	}},
	{"idempotency_keys", func(w *wtx, r *legacyRow) error {
		k := idemKey(string(r.bytes("scope")), string(r.bytes("key")))
		// The previous PostgreSQL store sealed every stored answer's body.
		v, err := IdempotencyRecordValue(r.bytes("data"), true)
		if err != nil {
			return err
		}
		if err := insertLegacy(w, bIdempotency, k, v); err != nil {
			return err
		}
		return insertLegacy(w, bIdemExpiry, expiryKey(r.time("expires_at"), k), nil)
	}},
}

// copyLegacyDevice copies a device row: the record, its tenant index entry and the last
// command Seq assigned to it (next_seq), which the previous schema kept on the row.
func copyLegacyDevice(w *wtx, r *legacyRow) error {
	id, t := r.text("id"), r.text("tenant_id")
	if err := insertLegacy(w, bDevices, []byte(id), r.bytes("data")); err != nil {
		return err
	}
	if err := insertLegacy(w, bDeviceTenant, subKey(t, id), nil); err != nil {
		return err
	}
	if seq := r.uint("next_seq"); seq > 0 {
		return insertLegacy(w, bCmdSeq, []byte(id), binary.BigEndian.AppendUint64(nil, seq))
	}
	return nil
}

// copyLegacyCommand copies a command row: the record at its Seq, the ID index and, for an
// open command, its entry in the open set stamped with its creation time.
func copyLegacyCommand(w *wtx, r *legacyRow) error {
	dev, seq := r.text("device_id"), r.uint("seq")
	k := seqKey(dev, seq)
	if err := insertLegacy(w, bCommands, k, r.bytes("data")); err != nil {
		return err
	}
	if err := insertLegacy(w, bCmdIndex, subKey(dev, r.text("id")), binary.BigEndian.AppendUint64(nil, seq)); err != nil {
		return err
	}
	if !r.bool("is_open") {
		return nil
	}
	return insertLegacy(w, bOpen, k, binary.BigEndian.AppendUint64(nil, uint64(r.time("created_at").UnixNano())))
}

// migrateLegacyV1 copies every table of the previous release present in the database into
// the buckets, then drops those tables, all in the migration's transaction.
func (s *Store) migrateLegacyV1(w *wtx, lt LegacyTx) error {
	present, err := lt.LegacyTables()
	if err != nil || len(present) == 0 {
		return err
	}
	has := make(map[string]bool, len(present))
	for _, t := range present {
		has[t] = true
	}
	for _, t := range legacyTables {
		if !has[t.name] {
			continue
		}
		n := 0
		err := lt.LegacyRows(t.name, func(row map[string]any) error {
			n++
			r := &legacyRow{table: t.name, cols: row}
			if err := t.copy(w, r); err != nil {
				return err
			}
			return r.err
		})
		if err != nil {
			return fmt.Errorf("table %s, row %d: %w", t.name, n, err)
		}
		s.log.Info("migrated a table of the previous release", "table", t.name, "rows", n)
	}
	return lt.DropLegacyTables()
}

// legacyRow reads the columns of one row; the first column that is missing or of another
// type than expected is kept in err (and the zero value returned), so conversions read
// straight and the copy fails on it afterwards.
type legacyRow struct {
	table string
	cols  map[string]any
	err   error
}

func col[T any](r *legacyRow, name string) T {
	v, ok := r.cols[name].(T)
	if !ok && r.err == nil {
		var zero T
		r.err = fmt.Errorf("%w: column %s is %T, not %T", errLegacyRow, name, r.cols[name], zero)
	}
	return v
}

func (r *legacyRow) text(name string) string { return col[string](r, name) }

func (r *legacyRow) bytes(name string) []byte {
	if r.cols[name] == nil {
		return nil
	}
	return col[[]byte](r, name)
}

func (r *legacyRow) time(name string) time.Time { return col[time.Time](r, name).UTC() }

func (r *legacyRow) bool(name string) bool { return col[bool](r, name) }

func (r *legacyRow) uint(name string) uint64 {
	v := col[int64](r, name)
	if v < 0 && r.err == nil {
		r.err = fmt.Errorf("%w: column %s is negative", errLegacyRow, name)
	}
	return uint64(v)
}

func (r *legacyRow) anchor() audit.Anchor {
	return audit.Anchor{Seq: r.uint("seq"), Hash: r.text("hash")}
}
