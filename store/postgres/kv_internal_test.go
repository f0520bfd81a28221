package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/store/kv"
)

// raiseTriggers make the server fail the kv store's writes to bucket b with the SQLSTATE
// the written value names: at once for keys starting "raise-", at commit (a deferred
// constraint trigger) for keys starting "commit-".
const raiseTriggers = `
CREATE FUNCTION raise_now() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF position('raise-'::bytea IN NEW.k) = 1 THEN
		RAISE EXCEPTION 'injected' USING ERRCODE = convert_from(NEW.v, 'UTF8');
	END IF;
	RETURN NEW;
END $$;
CREATE FUNCTION raise_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF position('commit-'::bytea IN NEW.k) = 1 THEN
		RAISE EXCEPTION 'injected at commit' USING ERRCODE = convert_from(NEW.v, 'UTF8');
	END IF;
	RETURN NULL;
END $$;
CREATE TRIGGER raise_now BEFORE INSERT ON kv_b FOR EACH ROW EXECUTE FUNCTION raise_now();
CREATE CONSTRAINT TRIGGER raise_at_commit AFTER INSERT ON kv_b
	DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION raise_at_commit();`

// Every SQLSTATE that means the database cannot take requests now, raised by the real server
// on a write of a kv Tx or at the commit of its transaction, is store.ErrUnavailable and
// rolls the transaction back; errors that mean the request was wrong are not.
func TestKVServerErrorsUnavailable(t *testing.T) {
	dsn := internalDSN(t)
	ctx := t.Context()
	k, err := OpenKV(ctx, dsn, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	if err := k.EnsureBuckets(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	exec(t, dsn, raiseTriggers)
	for _, tc := range serverErrors {
		t.Run(tc.code, func(t *testing.T) {
			for _, failing := range []string{"raise-", "commit-"} {
				err := k.Update(ctx, func(tx kv.Tx) error {
					if err := tx.Put("b", []byte("w-"+tc.code), []byte("v")); err != nil {
						return err
					}
					return tx.Put("b", []byte(failing+tc.code), []byte(tc.code))
				})
				var pe *pgconn.PgError
				if !errors.As(err, &pe) || pe.Code != tc.code {
					t.Fatalf("%s: %v does not carry SQLSTATE %s", failing, err, tc.code)
				}
				if got := errors.Is(err, store.ErrUnavailable); got != tc.unavailable {
					t.Fatalf("%s: %v: ErrUnavailable %v, want %v", failing, err, got, tc.unavailable)
				}
				err = k.View(context.Background(), func(tx kv.Tx) error {
					v, err := tx.Get("b", []byte("w-"+tc.code))
					if v != nil {
						t.Errorf("%s: the write before the error is stored", failing)
					}
					return err
				})
				if err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// roundTrips counts what a connection sends and waits for: statements, pipelines, prepares.
type roundTrips struct{ n atomic.Int64 }

func (r *roundTrips) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	r.n.Add(1)
	return ctx
}
func (r *roundTrips) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}
func (r *roundTrips) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	r.n.Add(1)
	return ctx
}
func (r *roundTrips) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}
func (r *roundTrips) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData)     {}
func (r *roundTrips) TracePrepareStart(ctx context.Context, _ *pgx.Conn, _ pgx.TracePrepareStartData) context.Context {
	r.n.Add(1)
	return ctx
}
func (r *roundTrips) TracePrepareEnd(context.Context, *pgx.Conn, pgx.TracePrepareEndData) {}

// The round trips of transactions once their statements are prepared: BEGIN goes with the
// first statement, Put and Delete with the next statement or COMMIT, a scan takes one per
// page (16, 64, then 256 rows), a transaction that sends nothing none.
func TestKVRoundTrips(t *testing.T) {
	ps, err := newPoolSettings(internalDSN(t), Options{MaxConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	var rt roundTrips
	ps.cfg.Tracer = &rt
	ctx := t.Context()
	k, err := openKV(ctx, ps)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	if err := k.EnsureBuckets(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	err = k.Update(ctx, func(tx kv.Tx) error {
		for i := range 700 {
			if err := tx.Put("b", fmt.Appendf(nil, "s/%04d", i), []byte("v")); err != nil {
				return err
			}
		}
		return tx.Put("b", []byte("k"), []byte("0"))
	})
	if err != nil {
		t.Fatal(err)
	}
	get := func(tx kv.Tx) error { _, err := tx.Get("b", []byte("k")); return err }
	scan := func(stop int) func(tx kv.Tx) error {
		return func(tx kv.Tx) error {
			n := 0
			return tx.Scan("b", kv.Span{Prefix: []byte("s/")}, func(_, _ []byte) (bool, error) { n++; return n < stop, nil })
		}
	}
	inserts := 0
	cases := []struct {
		name string
		want int64
		run  func(context.Context, func(kv.Tx) error) error
		fn   func(tx kv.Tx) error
	}{
		{"View: nothing", 0, k.View, func(kv.Tx) error { return nil }},
		{"View: Get", 2, k.View, get},
		{"View: GetMany of 3", 2, k.View, func(tx kv.Tx) error {
			_, err := tx.GetMany("b", [][]byte{[]byte("k"), []byte("s/0001"), []byte("x")})
			return err
		}},
		{"View: Scan stopped at the first key", 2, k.View, scan(1)},
		{"View: Scan of 700 keys", 6, k.View, scan(1000)},
		{"Update: Put, Delete", 1, k.Update, func(tx kv.Tx) error {
			return errors.Join(tx.Put("b", []byte("p"), []byte("1")), tx.Delete("b", []byte("p")))
		}},
		{"Update: GetForUpdate, Put", 2, k.Update, func(tx kv.Tx) error {
			v, err := tx.GetForUpdate("b", []byte("k"))
			return errors.Join(err, tx.Put("b", []byte("k"), append(v, '1')))
		}},
		{"Update: Put, Get, Insert, Put", 3, k.Update, func(tx kv.Tx) error {
			inserts++
			err := errors.Join(tx.Put("b", []byte("p"), []byte("1")), get(tx), tx.Insert("b", fmt.Appendf(nil, "i%d", inserts), nil))
			return errors.Join(err, tx.Put("b", []byte("p"), []byte("2")))
		}},
		{"Update: Insert of an existing key, rolled back", 2, k.Update, func(tx kv.Tx) error {
			return tx.Insert("b", []byte("k"), nil)
		}},
	}
	for _, tc := range cases {
		if err := tc.run(ctx, tc.fn); err != nil && !errors.Is(err, store.ErrExists) {
			t.Fatalf("%s (preparing): %v", tc.name, err)
		}
		before := rt.n.Load()
		if err := tc.run(ctx, tc.fn); err != nil && !errors.Is(err, store.ErrExists) {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := rt.n.Load() - before; got != tc.want {
			t.Errorf("%s: %d round trips, want %d", tc.name, got, tc.want)
		}
	}
}
