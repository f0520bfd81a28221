package core_test

import (
	"context"
	"encoding/binary"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/internal/testpg"
	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/store/core"
	"github.com/hellomdm/hellomdm/store/kv"
	"github.com/hellomdm/hellomdm/store/postgres"
)

// racingKV makes another server win the race to create a record: the first Insert into
// bucket target is preceded by the same Insert, committed on the other server's connection.
type racingKV struct {
	kv.Backend
	rival  kv.Backend
	target kv.Bucket
	fired  atomic.Bool
}

func (r *racingKV) Update(ctx context.Context, fn func(kv.Tx) error) error {
	return r.Backend.Update(ctx, func(tx kv.Tx) error { return fn(racingTx{tx, r, ctx}) })
}

func (r *racingKV) Batch(ctx context.Context, fn func(kv.Tx) error) error {
	return r.Backend.Batch(ctx, func(tx kv.Tx) error { return fn(racingTx{tx, r, ctx}) })
}

type racingTx struct {
	kv.Tx
	r   *racingKV
	ctx context.Context
}

func (t racingTx) Insert(b kv.Bucket, key, value []byte) error {
	if b == t.r.target && t.r.fired.CompareAndSwap(false, true) {
		err := t.r.rival.Update(t.ctx, func(tx kv.Tx) error { return tx.Insert(b, key, value) })
		if err != nil {
			return err
		}
	}
	return t.Tx.Insert(b, key, value)
}

// openRacing returns the store core on a fresh PostgreSQL schema where another server
// creates the first record of bucket target just before the store does.
func openRacing(t *testing.T, target kv.Bucket) (*core.Store, *racingKV) {
	t.Helper()
	dsn, key := testpg.Schema(t), testpg.Key(t)
	open := func() kv.Backend {
		k, err := postgres.OpenKV(t.Context(), dsn, postgres.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	r := &racingKV{Backend: open(), rival: open(), target: target}
	t.Cleanup(func() { _ = r.rival.Close() })
	s, err := core.New(t.Context(), r, core.Options{SecretKey: key})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, r
}

// A write that loses the race to create its record (another server created it between the
// write's read and its Insert) runs again and honours the record it lost to.
func TestCreationRacePostgres(t *testing.T) {
	ctx := context.Background()
	t.Run("RegisterDevice", func(t *testing.T) {
		s, r := openRacing(t, "devices")
		prev, err := s.RegisterDevice(ctx, store.Device{ID: "d1", TenantID: "t1", CertSerial: "0a", State: store.DeviceEnrolled})
		if err != nil || !r.fired.Load() {
			t.Fatalf("RegisterDevice: %v (race fired: %v)", err, r.fired.Load())
		}
		if prev == nil {
			t.Fatal("the registration that lost the race reports a first enrollment")
		}
	})
	t.Run("RecordFailedSignIn", func(t *testing.T) {
		s, r := openRacing(t, "signInFailures")
		n, _, err := s.RecordFailedSignIn(ctx, "alice@contoso.com", pruneBase, time.Minute)
		if err != nil || !r.fired.Load() || n != 2 {
			t.Fatalf("RecordFailedSignIn = %d, %v (race fired: %v); want 2, the rival's failure counted", n, err, r.fired.Load())
		}
	})
	t.Run("Redeem", func(t *testing.T) {
		s, r := openRacing(t, "redeemed")
		holder, err := s.Redeem(ctx, "jti-1", "me", pruneBase.Add(time.Hour), pruneBase)
		if !errors.Is(err, store.ErrConflict) || holder != "me" || !r.fired.Load() {
			t.Fatalf("Redeem = %q, %v (race fired: %v); want the rival's record, a conflict", holder, err, r.fired.Load())
		}
		var raw []byte
		err = r.rival.View(ctx, func(tx kv.Tx) error {
			v, err := tx.Get("redeemed", []byte("jti-1"))
			raw = append([]byte(nil), v...)
			return err
		})
		if err != nil || len(raw) < 8 || int64(binary.BigEndian.Uint64(raw)) != pruneBase.Add(time.Hour).UnixNano() {
			t.Fatalf("stored redemption %x, %v", raw, err)
		}
	})
	t.Run("ReserveIdempotencyKey", func(t *testing.T) {
		s, r := openRacing(t, "idempotency")
		rec := store.IdempotencyRecord{Scope: "token:a", Key: "k", RequestHash: "h", LeaseUntil: pruneBase.Add(time.Minute),
			CreatedAt: pruneBase, ExpiresAt: pruneBase.Add(time.Hour)}
		held, mine, err := s.ReserveIdempotencyKey(ctx, rec, pruneBase)
		if err != nil || mine || held.RequestHash != "h" || !r.fired.Load() {
			t.Fatalf("Reserve: mine %v, held %+v, %v (race fired: %v); want the rival's reservation", mine, held, err, r.fired.Load())
		}
	})
}
