package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hellomdm/hellomdm/store"
)

// Stored answers can hold secrets (POST /tokens answers the new token's secret once), so a
// record's Body is sealed with the store's key, bound to its scope and key, like the secrets
// in config.
func idemAAD(scope, key string) string { return "idempotency/" + scope + "\x00" + key }

// openIdem decrypts the Body of a record read from the table.
func (d *DB) openIdem(rec store.IdempotencyRecord) (store.IdempotencyRecord, error) {
	if len(rec.Body) == 0 {
		return rec, nil
	}
	b, err := d.open(idemAAD(rec.Scope, rec.Key), rec.Body)
	if err != nil {
		return rec, fmt.Errorf("decrypting the stored answer: %w", err)
	}
	rec.Body = b
	return rec, nil
}

func checkIdem(scope, key string) error {
	if err := checkID("idempotency scope", scope); err != nil {
		return err
	}
	return checkID("idempotency key", key)
}

// lockIdem reads the record of (scope, key) and locks its row for the transaction.
func lockIdem(ctx context.Context, tx pgx.Tx, scope, key string) (store.IdempotencyRecord, bool, error) {
	var (
		rec store.IdempotencyRecord
		raw []byte
	)
	err := tx.QueryRow(ctx, `SELECT data FROM idempotency_keys WHERE scope = $1 AND key = $2 FOR UPDATE`, []byte(scope), []byte(key)).Scan(&raw)
	if errors.Is(err, pgx.ErrNoRows) {
		return rec, false, nil
	}
	if err != nil {
		return rec, false, err
	}
	if err := json.Unmarshal(raw, &rec); err != nil {
		return rec, false, fmt.Errorf("decoding idempotency record: %w", err)
	}
	return rec, true, nil
}

func putIdem(ctx context.Context, tx pgx.Tx, rec store.IdempotencyRecord) error {
	raw, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `INSERT INTO idempotency_keys (scope, key, expires_at, data) VALUES ($1, $2, $3, $4)
		ON CONFLICT (scope, key) DO UPDATE SET expires_at = excluded.expires_at, data = excluded.data`,
		[]byte(rec.Scope), []byte(rec.Key), rec.ExpiresAt, raw)
	return err
}

// ReserveIdempotencyKey stores rec unless a live record holds its key (store.IdempotencyKeys):
// it deletes up to store.MaxIdempotencyPrune expired rows (skipping rows other transactions
// hold), inserts the row if it is absent (ON CONFLICT DO NOTHING, so concurrent reservations
// on any replica agree on one winner), else locks it and decides with
// store.IdempotencyTakeover.
func (d *DB) ReserveIdempotencyKey(ctx context.Context, rec store.IdempotencyRecord, now time.Time) (store.IdempotencyRecord, bool, error) {
	if err := checkIdem(rec.Scope, rec.Key); err != nil {
		return store.IdempotencyRecord{}, false, fmt.Errorf("reserving idempotency key: %w", err)
	}
	rec.State, rec.Committed = store.IdemReserved, false
	raw, err := json.Marshal(rec)
	if err != nil {
		return store.IdempotencyRecord{}, false, fmt.Errorf("reserving idempotency key: %w", err)
	}
	var (
		held store.IdempotencyRecord
		mine bool
	)
	err = d.tx(ctx, txOptions{}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM idempotency_keys WHERE (scope, key) IN (
				SELECT scope, key FROM idempotency_keys WHERE expires_at <= $1
				ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED)`, now, store.MaxIdempotencyPrune); err != nil {
			return fmt.Errorf("pruning expired keys: %w", err)
		}
		tag, err := tx.Exec(ctx, `INSERT INTO idempotency_keys (scope, key, expires_at, data) VALUES ($1, $2, $3, $4)
			ON CONFLICT DO NOTHING`, []byte(rec.Scope), []byte(rec.Key), rec.ExpiresAt, raw)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 1 {
			held, mine = rec, true
			return nil
		}
		old, ok, err := lockIdem(ctx, tx, rec.Scope, rec.Key)
		if err != nil {
			return err
		}
		if ok && !store.IdempotencyTakeover(old, rec, now) {
			held, mine = old, false
			held, err = d.openIdem(old)
			return err
		}
		held, mine = rec, true
		return putIdem(ctx, tx, rec)
	})
	if err != nil {
		return store.IdempotencyRecord{}, false, fmt.Errorf("reserving idempotency key: %w", err)
	}
	return held, mine, nil
}

// CompleteIdempotencyKey stores the answer of the request that reserved (scope, key).
func (d *DB) CompleteIdempotencyKey(ctx context.Context, scope, key string, ans store.IdempotencyAnswer) error {
	if err := checkIdem(scope, key); err != nil {
		return fmt.Errorf("completing idempotency key: %w", err)
	}
	err := d.tx(ctx, txOptions{}, func(tx pgx.Tx) error {
		rec, ok, err := lockIdem(ctx, tx, scope, key)
		if err != nil {
			return err
		}
		if !ok {
			return store.ErrNotFound
		}
		var sealed []byte
		if len(ans.Body) > 0 {
			if sealed, err = d.seal(idemAAD(scope, key), ans.Body); err != nil {
				return err
			}
		}
		rec.State, rec.Status, rec.ContentType, rec.Body, rec.Withheld = store.IdemDone, ans.Status, ans.ContentType, sealed, ans.Withheld
		return putIdem(ctx, tx, rec)
	})
	if err != nil {
		return fmt.Errorf("completing idempotency key: %w", err)
	}
	return nil
}

// ReleaseIdempotencyKey deletes an uncommitted reservation of (scope, key).
func (d *DB) ReleaseIdempotencyKey(ctx context.Context, scope, key string) error {
	if err := checkIdem(scope, key); err != nil {
		return fmt.Errorf("releasing idempotency key: %w", err)
	}
	err := d.tx(ctx, txOptions{}, func(tx pgx.Tx) error {
		rec, ok, err := lockIdem(ctx, tx, scope, key)
		if err != nil || !ok || rec.State != store.IdemReserved || rec.Committed {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2`, []byte(scope), []byte(key))
		return err
	})
	if err != nil {
		return fmt.Errorf("releasing idempotency key: %w", err)
	}
	return nil
}

// markIdemTx marks the idempotency record of ctx (store.WithIdempotency) Committed in tx, the
// transaction of the admin write it belongs to. Nothing when ctx has none or the record is
// gone.
func markIdemTx(ctx context.Context, tx pgx.Tx) error {
	ref, ok := store.IdempotencyFrom(ctx)
	if !ok {
		return nil
	}
	rec, found, err := lockIdem(ctx, tx, ref.Scope, ref.Key)
	if err != nil || !found || rec.Committed {
		return err
	}
	rec.Committed = true
	return putIdem(ctx, tx, rec)
}
