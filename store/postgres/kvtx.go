package postgres

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/store/kv"
)

// table holds the statements of one bucket's table.
type table struct {
	create, get, getLocked, getMany, getManyLocked, put, insert, del string
	count, countBounded                                              string
	// scans[page][variant]: by page size (scanPages) and scanVariant bits.
	scans [len(scanPages)][8]string
}

// scanPages are the sizes of a scan's pages, as literal LIMITs so that the planner knows
// them: the first page is small, because many scans stop at their first keys (is there an
// open command, the sessions of a device); the next ones grow to the last size. A SkipLocked
// scan so locks at most 16 rows, or three times as many as it passed to fn, that it does not
// pass to fn.
var scanPages = [...]int{kv.ScanAhead, 64, 256}

// Bits of a scan variant.
const (
	scanKeysOnly = 1 << iota // select k only
	scanBounded              // k < $2: the end of the prefix
	scanLocked               // FOR UPDATE SKIP LOCKED
)

// scanSQL is the query of one page of a scan of table q.
func scanSQL(q string, size, variant int) string {
	cols, where, lock := "k, v", "k >= $1", ""
	if variant&scanKeysOnly != 0 {
		cols = "k"
	}
	if variant&scanBounded != 0 {
		where += " AND k < $2"
	}
	if variant&scanLocked != 0 {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	return fmt.Sprintf("SELECT %s FROM %s WHERE %s ORDER BY k LIMIT %d%s", cols, q, where, size, lock)
}

// maxTableName is PostgreSQL's limit on identifiers (NAMEDATALEN - 1).
const maxTableName = 63

// tableName returns the table of bucket b: "kv_" and b in snake case (policyMembers →
// kv_policy_members). b must be a lower camel case identifier (a lower-case letter, then
// letters and digits), so that no two buckets share a table.
func tableName(b kv.Bucket) (string, error) {
	var sb strings.Builder
	sb.WriteString("kv_")
	for i, r := range string(b) {
		switch {
		case r >= 'a' && r <= 'z', i > 0 && r >= '0' && r <= '9':
			sb.WriteRune(r)
		case i > 0 && r >= 'A' && r <= 'Z':
			sb.WriteByte('_')
			sb.WriteRune(r + 'a' - 'A')
		default:
			return "", fmt.Errorf("bucket name %q: want a lower-case letter, then letters and digits", b)
		}
	}
	if b == "" || sb.Len() > maxTableName {
		return "", fmt.Errorf("bucket name %q: empty, or its table name longer than %d bytes", b, maxTableName)
	}
	return sb.String(), nil
}

// table returns the statements of bucket b, built once.
func (k *KV) table(b kv.Bucket) (*table, error) {
	if t, ok := k.tables.Load(b); ok {
		return t.(*table), nil
	}
	name, err := tableName(b)
	if err != nil {
		return nil, err
	}
	q := pgx.Identifier{name}.Sanitize()
	t := &table{
		create:        `CREATE TABLE IF NOT EXISTS ` + q + ` (k bytea PRIMARY KEY, v bytea NOT NULL)`,
		get:           `SELECT v FROM ` + q + ` WHERE k = $1`,
		getLocked:     `SELECT v FROM ` + q + ` WHERE k = $1 FOR UPDATE`,
		getMany:       `SELECT k, v FROM ` + q + ` WHERE k = ANY($1)`,
		getManyLocked: `SELECT k, v FROM ` + q + ` WHERE k = ANY($1) FOR UPDATE`,
		put:           `INSERT INTO ` + q + ` (k, v) VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v`,
		insert:        `INSERT INTO ` + q + ` (k, v) VALUES ($1, $2) ON CONFLICT (k) DO NOTHING`,
		del:           `DELETE FROM ` + q + ` WHERE k = $1`,
		count:         `SELECT count(*) FROM ` + q + ` WHERE k >= $1`,
		countBounded:  `SELECT count(*) FROM ` + q + ` WHERE k >= $1 AND k < $2`,
	}
	for p, size := range scanPages {
		for v := range t.scans[p] {
			t.scans[p][v] = scanSQL(q, size, v)
		}
	}
	actual, _ := k.tables.LoadOrStore(b, t)
	return actual.(*table), nil
}

func (t *pgTx) Writable() bool { return t.writable }

func (t *pgTx) Get(b kv.Bucket, key []byte) ([]byte, error) { return t.get(b, key, false) }

// GetForUpdate locks the row in a write transaction (SELECT … FOR UPDATE); in a View, where
// nothing can be locked, it is Get.
func (t *pgTx) GetForUpdate(b kv.Bucket, key []byte) ([]byte, error) {
	return t.get(b, key, t.writable)
}

func (t *pgTx) get(b kv.Bucket, key []byte, lock bool) ([]byte, error) {
	if p, i := t.covering(b, key, lock); p != nil {
		if err := t.await(p); err != nil {
			return nil, err
		}
		return p.vals[i], nil
	}
	tb, err := t.k.table(b)
	if err != nil {
		return nil, err
	}
	q := tb.get
	if lock {
		q = tb.getLocked
	}
	var v []byte
	found := false
	err = t.query(queued{op: "reading", b: b, sql: q, args: []any{key}}, func(rows pgx.Rows) error {
		found = true
		return rows.Scan(&v)
	})
	if err != nil {
		return nil, err
	}
	if found && v == nil {
		v = []byte{}
	}
	return v, nil
}

// GetMany is one query for every key (k = ANY($1)).
func (t *pgTx) GetMany(b kv.Bucket, keys [][]byte) ([][]byte, error) {
	tb, err := t.k.table(b)
	if err != nil {
		return nil, err
	}
	out := make([][]byte, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	if ok, err := t.fromAhead(b, keys, out); ok || err != nil {
		return out, err
	}
	found := make(map[string][]byte, len(keys))
	err = t.query(queued{op: "reading", b: b, sql: tb.getMany, args: []any{keys}}, func(rows pgx.Rows) error {
		var k, v []byte
		if err := rows.Scan(&k, &v); err != nil {
			return err
		}
		if v == nil {
			v = []byte{}
		}
		found[string(k)] = v
		return nil
	})
	if err != nil {
		return nil, err
	}
	for i, k := range keys {
		out[i] = found[string(k)]
	}
	return out, nil
}

// write checks a write of key to b and returns b's statements.
func (t *pgTx) write(b kv.Bucket, key []byte) (*table, error) {
	if !t.writable {
		return nil, kv.ErrReadOnly
	}
	if err := kv.CheckKey(key); err != nil {
		return nil, err
	}
	return t.k.table(b)
}

// Put is queued (see pgTx) with key and value as they are: kv.Tx's contract keeps the caller
// from modifying them until the transaction ends.
func (t *pgTx) Put(b kv.Bucket, key, value []byte) error {
	tb, err := t.write(b, key)
	if err != nil {
		return err
	}
	if value == nil {
		value = []byte{} // nil would be NULL
	}
	t.dropAhead(b)
	return t.queue("writing", b, tb.put, key, value)
}

// Insert is INSERT … ON CONFLICT DO NOTHING, sent at once: an existing key (committed, or
// inserted by a concurrent transaction that then commits) leaves no row inserted, and no
// failed statement in the transaction.
func (t *pgTx) Insert(b kv.Bucket, key, value []byte) error {
	tb, err := t.write(b, key)
	if err != nil {
		return err
	}
	if value == nil {
		value = []byte{}
	}
	t.dropAhead(b)
	tag, err := t.exec(queued{op: "writing", b: b, sql: tb.insert, args: []any{key, value}})
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("key in bucket %s: %w", b, store.ErrExists)
	}
	return nil
}

// Delete is queued (see pgTx) with key as it is (kv.Tx's contract, as for Put).
func (t *pgTx) Delete(b kv.Bucket, key []byte) error {
	if !t.writable {
		return kv.ErrReadOnly
	}
	tb, err := t.k.table(b)
	if err != nil {
		return err
	}
	t.dropAhead(b)
	return t.queue("deleting from", b, tb.del, key)
}

// Scan reads the span page by page (each page a query that continues after the last key of
// the one before, its rows read to the end before fn sees them, so fn can query through the
// same transaction). A SkipLocked scan in a write transaction locks the rows of each page it
// reads and skips the rows other transactions hold locked.
func (t *pgTx) Scan(b kv.Bucket, span kv.Span, fn func(key, value []byte) (bool, error)) error {
	tb, err := t.k.table(b)
	if err != nil {
		return err
	}
	from := span.Start
	if from == nil {
		from = span.Prefix
	}
	if from == nil {
		from = []byte{}
	}
	until := prefixEnd(span.Prefix)
	variant := 0
	if span.KeysOnly {
		variant |= scanKeysOnly
	}
	if until != nil {
		variant |= scanBounded
	}
	if span.SkipLocked && t.writable {
		variant |= scanLocked
	}
	first := 0
	if ahead := t.scanAhead(b, span); ahead != nil {
		if err := t.await(ahead); err != nil {
			return err
		}
		for i, k := range ahead.keys {
			var v []byte
			if !span.KeysOnly {
				v = ahead.vals[i]
			}
			if more, err := fn(k, v); err != nil || !more {
				return err
			}
		}
		if len(ahead.keys) < kv.ScanAhead {
			return nil
		}
		from, first = append(bytes.Clone(ahead.keys[len(ahead.keys)-1]), 0), 1
	}
	for p := first; ; p = min(p+1, len(scanPages)-1) {
		keys, values, err := t.page(b, tb.scans[p][variant], from, until, span.KeysOnly)
		if err != nil {
			return err
		}
		for i, k := range keys {
			if !bytes.HasPrefix(k, span.Prefix) {
				return nil // a Start before Prefix, as in bbolt: the scan ends at the first key outside
			}
			if more, err := fn(k, values[i]); err != nil || !more {
				return err
			}
		}
		if len(keys) < scanPages[p] {
			return nil
		}
		from = append(bytes.Clone(keys[len(keys)-1]), 0) // the least key after the last one
	}
}

// page reads one page of a scan of b (query sql) from key from (inclusive) to until
// (exclusive, nil: no bound); values are nil when keysOnly.
func (t *pgTx) page(b kv.Bucket, sql string, from, until []byte, keysOnly bool) (keys, values [][]byte, err error) {
	args := []any{from}
	if until != nil {
		args = append(args, until)
	}
	err = t.query(queued{op: "scanning", b: b, sql: sql, args: args}, func(rows pgx.Rows) error {
		var k, v []byte
		var err error
		if keysOnly {
			err = rows.Scan(&k)
		} else if err = rows.Scan(&k, &v); v == nil {
			v = []byte{}
		}
		keys, values = append(keys, k), append(values, v)
		return err
	})
	return keys, values, err
}

// Count counts the keys of span in one statement (kv.Counter): the database counts them
// instead of sending every key a page at a time (100,000 keys: one round trip, not about
// 400). It sees the transaction's own writes, as Scan does.
func (t *pgTx) Count(b kv.Bucket, span kv.Span) (int, error) {
	tb, err := t.k.table(b)
	if err != nil {
		return 0, err
	}
	from := span.Start
	if bytes.Compare(from, span.Prefix) < 0 {
		from = span.Prefix
	}
	if from == nil {
		from = []byte{}
	}
	sql, args := tb.count, []any{from}
	if until := prefixEnd(span.Prefix); until != nil {
		sql, args = tb.countBounded, append(args, until)
	}
	var n int64
	err = t.query(queued{op: "counting", b: b, sql: sql, args: args}, func(rows pgx.Rows) error { return rows.Scan(&n) })
	return int(n), err
}

// prefixEnd returns the least key greater than every key that starts with p, nil when
// there is none (p empty or all 0xFF).
func prefixEnd(p []byte) []byte {
	end := bytes.Clone(p)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}
