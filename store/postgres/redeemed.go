package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hellomdm/hellomdm/store"
)

// Redeem records id as used by holder with one INSERT … ON CONFLICT DO UPDATE … WHERE the
// existing row has expired: the row lock makes exactly one of concurrent calls, on any
// replica, insert (or take over an expired row); the others get no row back and read the
// holder that won. Up to store.MaxRedemptionPrune expired rows are deleted first, skipping
// rows other transactions hold.
func (d *DB) Redeem(ctx context.Context, id, holder string, expires, now time.Time) (string, error) {
	if err := checkID("redemption id", id); err != nil {
		return "", fmt.Errorf("redeeming: %w", err)
	}
	if !expires.After(now) {
		return "", fmt.Errorf("redeeming %q: expiry %s is not after now", id, expires.UTC().Format(time.RFC3339))
	}
	var first string
	conflict := false
	err := d.withConn(ctx, func(c *pgx.Conn) error {
		first, conflict = "", false
		_, err := c.Exec(ctx, `DELETE FROM redemptions WHERE id IN (
				SELECT id FROM redemptions WHERE expires_at <= $1
				ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED)`,
			now, store.MaxRedemptionPrune)
		if err != nil {
			return fmt.Errorf("pruning expired redemptions: %w", err)
		}
		var inserted bool
		err = c.QueryRow(ctx, `INSERT INTO redemptions AS r (id, holder, expires_at) VALUES ($1, $2, $3)
			ON CONFLICT (id) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
				WHERE r.expires_at <= $4
			RETURNING true`, []byte(id), holder, expires, now).Scan(&inserted)
		if err == nil {
			return nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		conflict = true
		err = c.QueryRow(ctx, `SELECT holder FROM redemptions WHERE id = $1`, []byte(id)).Scan(&first)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil // pruned in between: it was used all the same
		}
		return err
	})
	if err != nil {
		return "", fmt.Errorf("redeeming: %w", err)
	}
	if conflict {
		return first, fmt.Errorf("redeeming %q: already redeemed: %w", id, store.ErrConflict)
	}
	return "", nil
}

var _ store.Redemptions = (*DB)(nil)
