package core

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/store/kv"
)

// A console session is stored under its ID in bConsole as its absolute end (8 bytes,
// big-endian Unix nanoseconds) followed by its JSON, and indexed by that end in
// bConsoleExpiry (expiry.go), so sessions past their end are pruned in end order.

var consoleExpiry = expiryIndex{
	recs: bConsole, index: bConsoleExpiry, max: store.MaxConsoleSessionPrune, what: "console session",
	owns: func(stamp, raw []byte) bool { return len(raw) >= 8 && bytes.Equal(raw[:8], stamp) },
}

func encodeConsoleSession(cs store.ConsoleSession) ([]byte, error) {
	b, err := json.Marshal(cs)
	if err != nil {
		return nil, err
	}
	v := binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(b)), uint64(cs.ExpiresAt.UnixNano()))
	return append(v, b...), nil
}

func decodeConsoleSession(raw []byte) (store.ConsoleSession, error) {
	var cs store.ConsoleSession
	if len(raw) < 8 {
		return cs, errors.New("malformed console session record")
	}
	err := json.Unmarshal(raw[8:], &cs)
	return cs, err
}

// CreateConsoleSession stores a new session and prunes up to store.MaxConsoleSessionPrune
// sessions past their absolute end.
func (s *Store) CreateConsoleSession(ctx context.Context, cs store.ConsoleSession) error {
	if err := checkID("console session id", cs.ID); err != nil {
		return fmt.Errorf("creating console session: %w", err)
	}
	if !cs.ExpiresAt.After(cs.CreatedAt) || cs.IdleExpiresAt.IsZero() {
		return errors.New("creating console session: it must end after it starts")
	}
	v, err := encodeConsoleSession(cs)
	if err != nil {
		return fmt.Errorf("creating console session: %w", err)
	}
	err = s.update(ctx, func(w *wtx) error {
		k := []byte(cs.ID)
		if err := w.Insert(bConsole, k, v); err != nil {
			return err
		}
		if err := addExpiry(w, bConsoleExpiry, cs.ExpiresAt, k); err != nil {
			return err
		}
		return consoleExpiry.prune(w, cs.CreatedAt)
	})
	if err != nil {
		return fmt.Errorf("creating console session: %w", err)
	}
	return nil
}

// ConsoleSession returns a live session.
func (s *Store) ConsoleSession(ctx context.Context, id string, now time.Time) (store.ConsoleSession, error) {
	if err := checkID("console session id", id); err != nil {
		return store.ConsoleSession{}, fmt.Errorf("reading console session: %w", err)
	}
	var cs store.ConsoleSession
	err := s.view(ctx, func(tx kv.Tx) error {
		raw, err := tx.Get(bConsole, []byte(id))
		if err != nil {
			return err
		}
		if raw == nil {
			return store.ErrNotFound
		}
		cs, err = decodeConsoleSession(raw)
		return err
	})
	if err == nil && !cs.Live(now) {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.ConsoleSession{}, fmt.Errorf("reading console session: %w", err)
	}
	return cs, nil
}

// TouchConsoleSession moves a live session's idle end forward.
func (s *Store) TouchConsoleSession(ctx context.Context, id string, now, idle time.Time) error {
	if err := checkID("console session id", id); err != nil {
		return fmt.Errorf("touching console session: %w", err)
	}
	err := s.update(ctx, func(w *wtx) error {
		k := []byte(id)
		raw, err := w.GetForUpdate(bConsole, k)
		if err != nil {
			return err
		}
		if raw == nil {
			return store.ErrNotFound
		}
		cs, err := decodeConsoleSession(raw)
		if err != nil {
			return err
		}
		if !cs.Live(now) {
			return store.ErrNotFound
		}
		cs.LastSeenAt, cs.IdleExpiresAt = now, idle
		v, err := encodeConsoleSession(cs)
		if err != nil {
			return err
		}
		return w.Put(bConsole, k, v)
	})
	if err != nil {
		return fmt.Errorf("touching console session: %w", err)
	}
	return nil
}

// DeleteConsoleSession removes a session; its expiry entry goes when it falls due.
func (s *Store) DeleteConsoleSession(ctx context.Context, id string) error {
	if err := checkID("console session id", id); err != nil {
		return fmt.Errorf("deleting console session: %w", err)
	}
	err := s.update(ctx, func(w *wtx) error { return w.Delete(bConsole, []byte(id)) })
	if err != nil {
		return fmt.Errorf("deleting console session: %w", err)
	}
	return nil
}
