package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hellomdm/hellomdm/store"
)

// FailedSignIns returns the failures counted for key in its window open at now.
func (d *DB) FailedSignIns(ctx context.Context, key string, now time.Time) (int, time.Time, error) {
	if err := checkID("sign-in limit key", key); err != nil {
		return 0, time.Time{}, fmt.Errorf("reading failed sign-ins: %w", err)
	}
	var (
		count int
		end   time.Time
	)
	err := d.withConn(ctx, func(c *pgx.Conn) error {
		err := c.QueryRow(ctx, `SELECT count, window_end FROM signin_failures WHERE key = $1 AND window_end > $2`,
			[]byte(key), now).Scan(&count, &end)
		if errors.Is(err, pgx.ErrNoRows) {
			count, end = 0, time.Time{}
			return nil
		}
		return err
	})
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("reading failed sign-ins: %w", err)
	}
	if count == 0 {
		return 0, time.Time{}, nil
	}
	return count, end.UTC(), nil
}

// RecordFailedSignIn counts one failure for key with one INSERT … ON CONFLICT DO UPDATE
// (which locks the row, so concurrent failures on any replica are all counted), then deletes
// up to store.MaxSignInPrune rows whose window ended at or before now, skipping rows other
// transactions hold.
func (d *DB) RecordFailedSignIn(ctx context.Context, key string, now time.Time, window time.Duration) (int, time.Time, error) {
	if err := checkID("sign-in limit key", key); err != nil {
		return 0, time.Time{}, fmt.Errorf("recording failed sign-in: %w", err)
	}
	if window <= 0 {
		return 0, time.Time{}, fmt.Errorf("recording failed sign-in: window %s is not positive", window)
	}
	var (
		count int
		end   time.Time
	)
	err := d.withConn(ctx, func(c *pgx.Conn) error {
		_, err := c.Exec(ctx, `DELETE FROM signin_failures WHERE key IN (
				SELECT key FROM signin_failures WHERE window_end <= $1
				ORDER BY window_end LIMIT $2 FOR UPDATE SKIP LOCKED)`,
			now, store.MaxSignInPrune)
		if err != nil {
			return fmt.Errorf("pruning expired windows: %w", err)
		}
		return c.QueryRow(ctx, `INSERT INTO signin_failures AS f (key, window_end, count) VALUES ($1, $2, 1)
			ON CONFLICT (key) DO UPDATE SET
				count      = CASE WHEN f.window_end <= $3 THEN 1 ELSE f.count + 1 END,
				window_end = CASE WHEN f.window_end <= $3 THEN excluded.window_end ELSE f.window_end END
			RETURNING count, window_end`,
			[]byte(key), now.Add(window), now).Scan(&count, &end)
	})
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("recording failed sign-in: %w", err)
	}
	return count, end.UTC(), nil
}

// ResetFailedSignIns deletes key's window.
func (d *DB) ResetFailedSignIns(ctx context.Context, key string) error {
	if err := checkID("sign-in limit key", key); err != nil {
		return fmt.Errorf("resetting failed sign-ins: %w", err)
	}
	err := d.withConn(ctx, func(c *pgx.Conn) error {
		_, err := c.Exec(ctx, `DELETE FROM signin_failures WHERE key = $1`, []byte(key))
		return err
	})
	if err != nil {
		return fmt.Errorf("resetting failed sign-ins: %w", err)
	}
	return nil
}

var _ store.SignInLimits = (*DB)(nil)
