package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/hellomdm/hellomdm/store"
)

// newID returns a random command ID.
func newID() string { return uuid.NewString() }

func checkCommand(c store.Command) error {
	if err := checkID("device id", c.DeviceID); err != nil {
		return err
	}
	return checkID("command id", c.ID)
}

// Enqueue appends commands to their devices' queues in one transaction, assigning each the
// next Seq of its device. An empty ID gets a random UUID, an empty State is CommandQueued,
// a zero CreatedAt is now, an empty TenantID is the device's. ErrNotFound when a device does
// not exist, ErrConflict when TenantID names another tenant, ErrExists when a command ID is
// already in the device's queue. Devices are locked in ID order, so concurrent enqueues and
// check-ins do not deadlock.
func (d *DB) Enqueue(ctx context.Context, cmds ...store.Command) error {
	if len(cmds) == 0 {
		return nil
	}
	byDevice := map[string][]store.Command{}
	for _, c := range cmds {
		if c.ID == "" {
			c.ID = newID()
		}
		if err := checkCommand(c); err != nil {
			return fmt.Errorf("enqueueing commands: %w", err)
		}
		byDevice[c.DeviceID] = append(byDevice[c.DeviceID], c)
	}
	devices := make([]string, 0, len(byDevice))
	for id := range byDevice {
		devices = append(devices, id)
	}
	slices.Sort(devices)
	now := d.now()
	err := d.tx(ctx, txOptions{retry: true}, func(tx pgx.Tx) error {
		for _, id := range devices {
			if err := enqueueDevice(ctx, tx, id, byDevice[id], now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("enqueueing commands: %w", err)
	}
	return nil
}

// enqueueDevice appends cmds (all of deviceID, IDs set) to the device's queue: one UPDATE
// that reserves their Seqs (and locks the device), one INSERT.
func enqueueDevice(ctx context.Context, q querier, deviceID string, cmds []store.Command, now time.Time) error {
	var (
		tenantID string
		last     int64
	)
	err := q.QueryRow(ctx, `UPDATE devices SET next_seq = next_seq + $2 WHERE id = $1 RETURNING tenant_id, next_seq`,
		deviceID, len(cmds)).Scan(&tenantID, &last)
	if err != nil {
		return fmt.Errorf("device %s: %w", deviceID, notFound(err))
	}
	first := last - int64(len(cmds)) + 1
	seqs := make([]int64, len(cmds))
	ids := make([]string, len(cmds))
	open := make([]bool, len(cmds))
	data := make([][]byte, len(cmds))
	created := make([]time.Time, len(cmds))
	for i, c := range cmds {
		switch {
		case c.TenantID == "":
			c.TenantID = tenantID
		case c.TenantID != tenantID:
			return fmt.Errorf("command %s for tenant %s on a device of tenant %s: %w", c.ID, c.TenantID, tenantID, store.ErrConflict)
		}
		c.Seq = uint64(first + int64(i))
		if c.State == "" {
			c.State = store.CommandQueued
		}
		if c.CreatedAt.IsZero() {
			c.CreatedAt = now
		}
		if c.UpdatedAt.IsZero() {
			c.UpdatedAt = c.CreatedAt
		}
		raw, err := encode(&c)
		if err != nil {
			return err
		}
		seqs[i], ids[i], open[i], data[i], created[i] = int64(c.Seq), c.ID, c.State.Open(), raw, c.CreatedAt
	}
	rows, err := q.Query(ctx, `INSERT INTO commands (device_id, seq, id, is_open, data, created_at)
		SELECT $1, * FROM unnest($2::bigint[], $3::text[], $4::boolean[], $5::bytea[], $6::timestamptz[])
		ON CONFLICT DO NOTHING RETURNING id`, deviceID, seqs, ids, open, data, created)
	if err != nil {
		return err
	}
	stored, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	if len(stored) != len(ids) {
		for i, id := range ids {
			if !slices.Contains(stored, id) || slices.Index(ids, id) != i {
				return fmt.Errorf("command %s: %w", id, store.ErrExists)
			}
		}
		return fmt.Errorf("%d of %d commands: %w", len(ids)-len(stored), len(ids), store.ErrExists)
	}
	return nil
}

// scanCommand decodes a (seq, data) row; the Seq column is authoritative.
func scanCommand(row pgx.CollectableRow) (store.Command, error) {
	var (
		seq int64
		raw []byte
		c   store.Command
	)
	if err := row.Scan(&seq, &raw); err != nil {
		return c, err
	}
	if err := decode(raw, &c); err != nil {
		return c, err
	}
	c.Seq = uint64(seq)
	return c, nil
}

func commandTx(ctx context.Context, q querier, deviceID, id string) (store.Command, error) {
	rows, err := q.Query(ctx, `SELECT seq, data FROM commands WHERE device_id = $1 AND id = $2`, deviceID, id)
	if err != nil {
		return store.Command{}, err
	}
	c, err := pgx.CollectExactlyOneRow(rows, scanCommand)
	if err != nil {
		return store.Command{}, fmt.Errorf("command %s: %w", id, notFound(err))
	}
	return c, nil
}

func listCommands(ctx context.Context, q querier, query, deviceID string) ([]store.Command, error) {
	rows, err := q.Query(ctx, query, deviceID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, scanCommand)
}

// putCommandTx writes back an existing command and keeps is_open in step with its State.
func putCommandTx(ctx context.Context, q querier, c store.Command) error {
	raw, err := encode(&c)
	if err != nil {
		return err
	}
	var seq int64
	err = q.QueryRow(ctx, `UPDATE commands SET is_open = $4, data = $5
		WHERE device_id = $1 AND id = $2 AND ($3::bigint = 0 OR seq = $3) RETURNING seq`,
		c.DeviceID, c.ID, int64(c.Seq), c.State.Open(), raw).Scan(&seq)
	if !errors.Is(err, pgx.ErrNoRows) {
		return err
	}
	stored, err := commandTx(ctx, q, c.DeviceID, c.ID)
	if err != nil {
		return err
	}
	return fmt.Errorf("command %s seq %d, stored %d: %w", c.ID, c.Seq, stored.Seq, store.ErrConflict)
}

// QueueStats counts the partial index of open commands and reads the oldest open command's
// stamp from commands_open_created (one index probe).
func (d *DB) QueueStats(ctx context.Context) (store.QueueStats, error) {
	var (
		qs     store.QueueStats
		oldest *time.Time
	)
	err := d.withConn(ctx, func(conn *pgx.Conn) error {
		return conn.QueryRow(ctx, `SELECT count(*), min(created_at) FROM commands WHERE is_open`).Scan(&qs.Open, &oldest)
	})
	if err != nil {
		return store.QueueStats{}, fmt.Errorf("queue stats: %w", err)
	}
	if oldest != nil {
		qs.OldestOpen = oldest.UTC()
	}
	return qs, nil
}

// Command returns a command of a device.
func (d *DB) Command(ctx context.Context, deviceID, id string) (store.Command, error) {
	var c store.Command
	err := d.withConn(ctx, func(conn *pgx.Conn) error {
		var err error
		c, err = commandTx(ctx, conn, deviceID, id)
		return err
	})
	if err != nil {
		return store.Command{}, fmt.Errorf("getting command of device %s: %w", deviceID, err)
	}
	return c, nil
}

// ListCommands returns a device's commands, oldest (lowest Seq) first.
func (d *DB) ListCommands(ctx context.Context, deviceID string) ([]store.Command, error) {
	var out []store.Command
	err := d.withConn(ctx, func(c *pgx.Conn) error {
		var err error
		out, err = listCommands(ctx, c, `SELECT seq, data FROM commands WHERE device_id = $1 ORDER BY seq`, deviceID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("listing commands of device %s: %w", deviceID, err)
	}
	return out, nil
}
