package postgres

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hellomdm/hellomdm/audit"
	"github.com/hellomdm/hellomdm/store"
)

// SegmentSize is the retention unit of an audit chain: seqs (k*SegmentSize, (k+1)*SegmentSize]
// form segment k, dropped only as a whole.
const SegmentSize = store.AuditSegmentSize

// auditPage is how many events AuditEvents reads per query.
const auditPage = 256

// sealedEvent is an event sealed in a transaction, copied to dst once it commits.
type sealedEvent struct {
	dst *audit.Event
	ev  audit.Event
}

// AppendAudit seals events onto their tenants' chains and stores them in one transaction.
// The tenants' head rows are locked (in tenant order) before sealing, so chains stay linear
// across writers and replicas. On success each event holds its Seq, PrevHash and Hash.
// Invalid UTF-8 in string fields is replaced by U+FFFD before sealing.
func (d *DB) AppendAudit(ctx context.Context, events ...*audit.Event) error {
	if len(events) == 0 {
		return nil
	}
	var sealed []sealedEvent
	err := d.tx(ctx, txOptions{retry: true}, func(tx pgx.Tx) error {
		var err error
		sealed, err = appendAuditTx(ctx, tx, events)
		return err
	})
	if err != nil {
		return fmt.Errorf("appending audit events: %w", err)
	}
	d.publish(sealed)
	return nil
}

// lockHeads locks (creating at the zero Anchor) the head rows of tenants, in sorted order,
// and returns the heads.
func lockHeads(ctx context.Context, q querier, tenants []string) (map[string]audit.Anchor, error) {
	tenants = slices.Clone(tenants)
	slices.Sort(tenants)
	tenants = slices.Compact(tenants)
	rows, err := q.Query(ctx, `INSERT INTO audit_heads (tenant_id, seq, hash) SELECT unnest($1::text[]), 0, ''
		ON CONFLICT (tenant_id) DO UPDATE SET seq = audit_heads.seq RETURNING tenant_id, seq, hash`, tenants)
	if err != nil {
		return nil, fmt.Errorf("locking audit heads: %w", err)
	}
	heads := make(map[string]audit.Anchor, len(tenants))
	var (
		tenant string
		seq    int64
		hash   string
	)
	_, err = pgx.ForEachRow(rows, []any{&tenant, &seq, &hash}, func() error {
		heads[tenant] = audit.Anchor{Seq: uint64(seq), Hash: hash}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("locking audit heads: %w", err)
	}
	return heads, nil
}

// appendAuditTx seals copies of events after their tenants' heads and writes them and the
// new heads in one round trip.
func appendAuditTx(ctx context.Context, q querier, events []*audit.Event) ([]sealedEvent, error) {
	if len(events) == 0 {
		return nil, nil
	}
	tenants := make([]string, 0, len(events))
	for _, e := range events {
		if e == nil {
			return nil, errors.New("appending audit event: nil event")
		}
		tid := strings.ToValidUTF8(e.TenantID, "\uFFFD")
		if err := checkID("audit tenant id", tid); err != nil {
			return nil, fmt.Errorf("appending audit event: %w", err)
		}
		tenants = append(tenants, tid)
	}
	heads, err := lockHeads(ctx, q, tenants)
	if err != nil {
		return nil, err
	}
	n := len(events)
	var (
		out                                 = make([]sealedEvent, 0, n)
		tids, kinds, devs, profiles, actors = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		seqs                                = make([]int64, n)
		times                               = make([]time.Time, n)
		blobs                               = make([][]byte, n)
		buf                                 bytes.Buffer
	)
	for i, dst := range events {
		ev := *dst
		validUTF8(&ev)
		if err := audit.SealAfter(heads[ev.TenantID], &ev); err != nil {
			return nil, fmt.Errorf("sealing audit event: %w", err)
		}
		heads[ev.TenantID] = ev.Head()
		buf.Reset()
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(&ev); err != nil {
			return nil, fmt.Errorf("encoding audit event: %w", err)
		}
		blobs[i] = bytes.Clone(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
		tids[i], seqs[i], times[i] = ev.TenantID, int64(ev.Seq), ev.Time
		kinds[i], devs[i], profiles[i], actors[i] = col(string(ev.Kind)), col(ev.DeviceID), col(ev.ProfileID), col(ev.Actor.ID)
		out = append(out, sealedEvent{dst: dst, ev: ev})
	}
	hTenants := make([]string, 0, len(heads))
	hSeqs := make([]int64, 0, len(heads))
	hHashes := make([]string, 0, len(heads))
	for tid, h := range heads {
		hTenants, hSeqs, hHashes = append(hTenants, tid), append(hSeqs, int64(h.Seq)), append(hHashes, h.Hash)
	}
	b := &pgx.Batch{}
	b.Queue(`INSERT INTO audit_events (tenant_id, seq, time, kind, device_id, profile_id, actor_id, event)
		SELECT * FROM unnest($1::text[], $2::bigint[], $3::timestamptz[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bytea[])`,
		tids, seqs, times, kinds, devs, profiles, actors, blobs)
	b.Queue(`UPDATE audit_heads h SET seq = v.seq, hash = v.hash
		FROM unnest($1::text[], $2::bigint[], $3::text[]) AS v(tenant_id, seq, hash) WHERE h.tenant_id = v.tenant_id`,
		hTenants, hSeqs, hHashes)
	if err := q.SendBatch(ctx, b).Close(); err != nil {
		return nil, fmt.Errorf("writing audit events: %w", err)
	}
	return out, nil
}

// col is a string as stored in a text column (PostgreSQL text cannot hold NUL). Filters
// pass through col too, so the SQL filter stays a superset of audit.Filter.Match.
func col(s string) string { return strings.ReplaceAll(s, "\x00", "") }

// validUTF8 replaces invalid UTF-8 in the string fields of e, which JSON could not store
// exactly.
func validUTF8(e *audit.Event) {
	for _, f := range []*string{
		&e.ID, &e.TenantID, &e.Actor.Type, &e.Actor.ID, &e.Actor.TokenID, &e.Actor.Role,
		&e.Actor.SourceAddr, &e.Subject.Type, &e.Subject.ID, &e.DeviceID, &e.ProfileID, &e.Action,
	} {
		*f = strings.ToValidUTF8(*f, "\uFFFD")
	}
	e.Kind = audit.Kind(strings.ToValidUTF8(string(e.Kind), "\uFFFD"))
}

// AuditEvents calls fn for the tenant's events with Seq > afterSeq in chain order, until fn
// returns false or an error. It reads auditPage events per query and calls fn while holding
// no connection, so fn may use the store.
func (d *DB) AuditEvents(ctx context.Context, tenantID string, afterSeq uint64, fn func(e *audit.Event) (bool, error)) error {
	next := afterSeq
	for {
		page, err := d.auditPage(ctx, tenantID, next, audit.Filter{})
		if err != nil {
			return fmt.Errorf("reading audit events of tenant %s: %w", tenantID, err)
		}
		for _, ev := range page {
			more, err := fn(ev)
			if err != nil || !more {
				return err
			}
		}
		if len(page) < auditPage {
			return nil
		}
		next = page[len(page)-1].Seq
	}
}

// auditPage reads up to auditPage events after seq that may match f.
func (d *DB) auditPage(ctx context.Context, tenantID string, after uint64, f audit.Filter) ([]*audit.Event, error) {
	var from, to *time.Time
	if !f.From.IsZero() {
		t := f.From.Truncate(time.Microsecond)
		from = &t
	}
	if !f.To.IsZero() {
		t := f.To.Truncate(time.Microsecond)
		if !t.Equal(f.To) {
			t = t.Add(time.Microsecond)
		}
		to = &t
	}
	kinds := make([]string, len(f.Kinds))
	for i, k := range f.Kinds {
		kinds[i] = col(string(k))
	}
	page := make([]*audit.Event, 0, auditPage)
	err := d.withConn(ctx, func(c *pgx.Conn) error {
		rows, err := c.Query(ctx, `SELECT event FROM audit_events WHERE tenant_id = $1 AND seq > $2
			AND ($3::timestamptz IS NULL OR time >= $3) AND ($4::timestamptz IS NULL OR time < $4)
			AND (cardinality($5::text[]) = 0 OR kind = ANY ($5))
			AND ($6 = '' OR device_id = $6) AND ($7 = '' OR profile_id = $7) AND ($8 = '' OR actor_id = $8)
			ORDER BY seq LIMIT $9`,
			tenantID, int64(after), from, to, kinds, col(f.DeviceID), col(f.ProfileID), col(f.ActorID), auditPage)
		if err != nil {
			return err
		}
		var raw []byte
		_, err = pgx.ForEachRow(rows, []any{&raw}, func() error {
			ev := new(audit.Event)
			if err := decode(raw, ev); err != nil {
				return fmt.Errorf("audit event: %w", err)
			}
			page = append(page, ev)
			return nil
		})
		return err
	})
	return page, err
}

// AuditAnchor returns the anchor left by retention (zero when none).
func (d *DB) AuditAnchor(ctx context.Context, tenantID string) (audit.Anchor, error) {
	var a audit.Anchor
	err := d.withConn(ctx, func(c *pgx.Conn) error {
		var err error
		a, err = readAnchor(ctx, c, tenantID, false)
		return err
	})
	if err != nil {
		return audit.Anchor{}, fmt.Errorf("reading audit anchor: %w", err)
	}
	return a, nil
}

func readAnchor(ctx context.Context, q querier, tenantID string, lock bool) (audit.Anchor, error) {
	query := `SELECT seq, hash FROM audit_anchors WHERE tenant_id = $1`
	if lock {
		query += ` FOR UPDATE`
	}
	var (
		seq  int64
		hash string
	)
	switch err := q.QueryRow(ctx, query, tenantID).Scan(&seq, &hash); {
	case errors.Is(err, pgx.ErrNoRows):
		return audit.Anchor{}, nil
	case err != nil:
		return audit.Anchor{}, err
	}
	return audit.Anchor{Seq: uint64(seq), Hash: hash}, nil
}

// DropAuditSegments drops, in one transaction, the tenant's oldest complete segments whose
// events are all older than before, stores the new anchor, and appends the event record
// returns, sealed after the current head (whose row it locks first). When nothing qualifies
// it calls nothing and returns the current anchor.
func (d *DB) DropAuditSegments(ctx context.Context, tenantID string, before time.Time,
	record func(dropped uint64, upTo audit.Anchor) (*audit.Event, error)) (audit.Anchor, error) {
	if record == nil {
		return audit.Anchor{}, errors.New("dropping audit segments: nil record function")
	}
	var (
		anchor audit.Anchor
		sealed []sealedEvent
		total  int64
	)
	err := d.tx(ctx, txOptions{}, func(tx pgx.Tx) error {
		sealed, total = nil, 0
		heads, err := lockHeads(ctx, tx, []string{tenantID})
		if err != nil {
			return err
		}
		head := heads[tenantID]
		if anchor, err = readAnchor(ctx, tx, tenantID, true); err != nil {
			return err
		}
		for {
			first := anchor.Seq + 1
			last := (anchor.Seq/SegmentSize + 1) * SegmentSize
			if head.Seq < last {
				break
			}
			var (
				count  int64
				allOld bool
			)
			err := tx.QueryRow(ctx, `SELECT count(*), coalesce(bool_and(time < $4), false) FROM audit_events
				WHERE tenant_id = $1 AND seq BETWEEN $2 AND $3`, tenantID, int64(first), int64(last), before).Scan(&count, &allOld)
			if err != nil {
				return err
			}
			if !allOld {
				break
			}
			var lastEv audit.Event
			err = getRecord(ctx, tx, &lastEv, `SELECT event FROM audit_events WHERE tenant_id = $1 AND seq = $2`, tenantID, int64(last))
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("audit segment ending at %d has no last event: %w", last, store.ErrConflict)
			} else if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `DELETE FROM audit_events WHERE tenant_id = $1 AND seq BETWEEN $2 AND $3`,
				tenantID, int64(first), int64(last)); err != nil {
				return err
			}
			total += count
			anchor = audit.Anchor{Seq: last, Hash: lastEv.Hash}
		}
		if total == 0 {
			return nil
		}
		_, err = tx.Exec(ctx, `INSERT INTO audit_anchors (tenant_id, seq, hash) VALUES ($1, $2, $3)
			ON CONFLICT (tenant_id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash`, tenantID, int64(anchor.Seq), anchor.Hash)
		if err != nil {
			return err
		}
		ev, err := record(uint64(total), anchor)
		if err != nil {
			return fmt.Errorf("recording retention: %w", err)
		}
		sealed, err = appendAuditTx(ctx, tx, []*audit.Event{ev})
		return err
	})
	if err != nil {
		return audit.Anchor{}, fmt.Errorf("dropping audit segments of tenant %s: %w", tenantID, err)
	}
	for _, s := range sealed {
		*s.dst = s.ev
	}
	if total > 0 {
		d.log.Info("audit retention", "tenant", tenantID, "dropped", total, "anchor_seq", anchor.Seq)
	}
	return anchor, nil
}

// AuditReader returns the store as an audit.Reader, for audit.VerifyTenant and audit.Export.
// Filters are applied in SQL where the columns allow, and re-checked with Filter.Match.
func (d *DB) AuditReader() audit.Reader { return auditReader{d} }

type auditReader struct{ d *DB }

var _ audit.Reader = auditReader{}

func (r auditReader) AuditAnchor(ctx context.Context, tenantID string) (audit.Anchor, error) {
	return r.d.AuditAnchor(ctx, tenantID)
}

// AuditEvents returns an iterator over the tenant's events in Seq order that match f. It
// reads a page per query and holds no connection between pages.
func (r auditReader) AuditEvents(ctx context.Context, tenantID string, f audit.Filter) (audit.EventIterator, error) {
	if err := f.Validate(); err != nil {
		return nil, fmt.Errorf("reading audit events: %w", err)
	}
	return &eventIterator{ctx: ctx, d: r.d, tenantID: tenantID, filter: f}, nil
}

type eventIterator struct {
	ctx      context.Context
	d        *DB
	tenantID string
	filter   audit.Filter
	next     uint64 // last Seq read
	page     []*audit.Event
	done     bool
}

// Next returns the next matching event.
func (it *eventIterator) Next() (audit.Event, bool, error) {
	for {
		for len(it.page) > 0 {
			ev := it.page[0]
			it.page = it.page[1:]
			if it.filter.Match(ev) {
				return *ev, true, nil
			}
		}
		if it.done {
			return audit.Event{}, false, nil
		}
		page, err := it.d.auditPage(it.ctx, it.tenantID, it.next, it.filter)
		if err != nil {
			return audit.Event{}, false, fmt.Errorf("reading audit events of tenant %s: %w", it.tenantID, err)
		}
		it.done = len(page) < auditPage
		if len(page) > 0 {
			it.next = page[len(page)-1].Seq
		}
		it.page = page
	}
}

// Close releases nothing: no connection stays held between pages.
func (it *eventIterator) Close() error { return nil }

// writeAuditTx appends, in tx, the events of ctx's store.AuditFunc (store.WithAudit) for the
// record the write stored. It returns the sealed events, to be published once tx commits;
// nothing when ctx has no AuditFunc.
func writeAuditTx(ctx context.Context, tx pgx.Tx, stored any) ([]sealedEvent, error) {
	if err := markIdemTx(ctx, tx); err != nil {
		return nil, fmt.Errorf("marking the idempotency key: %w", err)
	}
	f := store.AuditFrom(ctx)
	if f == nil {
		return nil, nil
	}
	events, err := f(stored)
	if err != nil {
		return nil, fmt.Errorf("building audit events: %w", err)
	}
	return appendAuditTx(ctx, tx, events)
}

// copyBack copies sealed events to the caller's events, after their transaction committed.
func copyBack(sealed []sealedEvent) {
	for _, s := range sealed {
		*s.dst = s.ev
	}
}
