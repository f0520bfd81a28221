package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hellomdm/hellomdm/store/kv"
)

var _ kv.Notifier = (*KV)(nil)

// Notify sends payload on channel with pg_notify on a pooled connection, outside any
// transaction: the listeners connected now get it (kv.Notifier).
func (k *KV) Notify(ctx context.Context, channel, payload string) error {
	if err := k.enter(); err != nil {
		return err
	}
	defer k.leave()
	c, err := k.pool.acquire(ctx)
	if err != nil {
		return mapErr(err)
	}
	defer k.pool.release(c)
	name, err := k.channelName(ctx, c, channel)
	if err != nil {
		return err
	}
	if _, err := c.Exec(ctx, "SELECT pg_notify($1, $2)", name, payload); err != nil {
		return fmt.Errorf("notifying %s: %w", channel, connErr(c, err))
	}
	return nil
}

// channelName qualifies channel with the connection's schema: notifications are
// database-wide, and stores in two schemas of one database (tests do that) must not hear
// each other. A name that would pass PostgreSQL's 63-byte identifier limit takes a hash of
// the schema instead.
func (k *KV) channelName(ctx context.Context, c *pgx.Conn, channel string) (string, error) {
	if s, ok := k.schema.Load().(string); ok {
		return qualify(channel, s), nil
	}
	var s string
	if err := c.QueryRow(ctx, "SELECT coalesce(current_schema(), '')").Scan(&s); err != nil {
		return "", fmt.Errorf("reading the schema: %w", connErr(c, err))
	}
	k.schema.Store(s)
	return qualify(channel, s), nil
}

func qualify(channel, schema string) string {
	name := channel + "." + schema
	if len(name) > 63 {
		sum := sha256.Sum256([]byte(schema))
		name = channel + "." + hex.EncodeToString(sum[:8])
	}
	return name
}

// Listen holds a connection of its own (not from the pool, which it would keep forever),
// LISTENs on channel and calls fn with each notification until ctx is done (kv.Notifier).
// A lost connection is dialled again after a jittered back-off of 100 ms doubling up to
// 10 s; connected is called each time LISTEN took effect.
func (k *KV) Listen(ctx context.Context, channel string, connected func(), fn func(payload string)) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		start := time.Now()
		err := k.listenOnce(ctx, channel, connected, fn)
		if ctx.Err() != nil {
			return
		}
		if time.Since(start) > time.Minute {
			backoff = 100 * time.Millisecond // it was listening for a while: start over
		}
		wait := backoff/2 + rand.N(backoff/2+1)
		k.log.Warn("notification listener lost its connection; reconnecting", "channel", channel, "err", err, "in", wait)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		backoff = min(2*backoff, 10*time.Second)
	}
}

// listenOnce dials, listens and delivers until the connection fails or ctx is done.
func (k *KV) listenOnce(ctx context.Context, channel string, connected func(), fn func(string)) error {
	c, err := pgx.ConnectConfig(ctx, k.pool.cfg)
	if err != nil {
		return mapErr(err)
	}
	defer closeConn(c)
	name, err := k.channelName(ctx, c, channel)
	if err != nil {
		return err
	}
	if _, err := c.Exec(ctx, "LISTEN "+pgx.Identifier{name}.Sanitize()); err != nil {
		return connErr(c, err)
	}
	if connected != nil {
		connected()
	}
	for {
		n, err := c.WaitForNotification(ctx)
		if err != nil {
			if errors.Is(err, context.Canceled) {
				return nil
			}
			return connErr(c, err)
		}
		fn(n.Payload)
	}
}
