package postgres

import (
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/hellomdm/hellomdm/store/kv"
)

// The tables of the previous release's schema (version 5, migrations 0001–0005), which held
// the records before the kv tables existed. The store core copies their rows into its
// buckets once (store/core migrate_v1.go) and drops them; this backend only lists, reads and
// drops them, without knowing what their rows mean.
var legacyTables = []string{
	"tenants", "tenant_domains", "users", "devices", "revoked", "commands", "sessions",
	"audit_heads", "audit_anchors", "audit_events", "tokens", "config", "policy_versions",
	"policy_groups", "policy_members", "policy_profiles", "policy_assignments",
	"setting_states", "device_policies", "signin_failures", "redemptions", "idempotency_keys",
	"schema_migrations",
}

// legacyPage is how many rows LegacyRows fetches per round trip.
const legacyPage = 500

// LegacyTables lists the previous release's tables present in the connection's schema.
func (t *pgTx) LegacyTables() ([]string, error) {
	var present []string
	for _, name := range legacyTables {
		var ok bool
		q := queued{op: "looking for table " + name, sql: `SELECT to_regclass($1) IS NOT NULL`, args: []any{pgx.Identifier{name}.Sanitize()}}
		if err := t.query(q, func(rows pgx.Rows) error { return rows.Scan(&ok) }); err != nil {
			return nil, err
		}
		if ok {
			present = append(present, name)
		}
	}
	return present, nil
}

// LegacyRows calls fn for each row of one of the previous release's tables, columns by name:
// text as string, bytea as []byte, timestamptz as time.Time, integers as int64, booleans as
// bool. It reads through a cursor, legacyPage rows per round trip, so fn may run statements
// of its own on the transaction between pages... and within one: the page is read before fn
// runs.
func (t *pgTx) LegacyRows(table string, fn func(row map[string]any) error) error {
	if !isLegacy(table) {
		return fmt.Errorf("%s is not a table of the previous release", table)
	}
	op := "reading table " + table
	cursor := pgx.Identifier{"legacy_" + table}.Sanitize()
	if _, err := t.exec(queued{op: op, sql: `DECLARE ` + cursor + ` NO SCROLL CURSOR FOR SELECT * FROM ` + pgx.Identifier{table}.Sanitize()}); err != nil {
		return err
	}
	defer func() { _, _ = t.exec(queued{op: op, sql: `CLOSE ` + cursor}) }()
	for {
		page, err := t.fetchLegacy(op, cursor)
		if err != nil {
			return err
		}
		for _, row := range page {
			if err := fn(row); err != nil {
				return err
			}
		}
		if len(page) < legacyPage {
			return nil
		}
	}
}

// fetchLegacy reads the next page of a cursor into column maps.
func (t *pgTx) fetchLegacy(op, cursor string) ([]map[string]any, error) {
	var page []map[string]any
	err := t.query(queued{op: op, sql: fmt.Sprintf(`FETCH %d FROM %s`, legacyPage, cursor)}, func(rows pgx.Rows) error {
		vals, err := rows.Values()
		if err != nil {
			return err
		}
		row := make(map[string]any, len(vals))
		for i, fd := range rows.FieldDescriptions() {
			switch v := vals[i].(type) {
			case int16:
				row[fd.Name] = int64(v)
			case int32:
				row[fd.Name] = int64(v)
			default:
				row[fd.Name] = v
			}
		}
		page = append(page, row)
		return nil
	})
	return page, err
}

// DropLegacyTables drops the previous release's tables, in the transaction (the statements
// go with the next one that needs an answer, or with COMMIT).
func (t *pgTx) DropLegacyTables() error {
	if !t.writable {
		return kv.ErrReadOnly
	}
	for _, name := range legacyTables {
		if err := t.queue("dropping table "+name, "", `DROP TABLE IF EXISTS `+pgx.Identifier{name}.Sanitize()+` CASCADE`); err != nil {
			return err
		}
	}
	return nil
}

func isLegacy(table string) bool {
	for _, name := range legacyTables {
		if name == table {
			return true
		}
	}
	return false
}
