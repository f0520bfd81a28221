package kvtest

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/store/kv"
)

// Get returns nil for an absent key and a non-nil value for a present one, even an empty
// one; Put replaces; a transaction reads its own writes; Writable says which kind it is.
func testGetPut(t *testing.T, open opener) {
	b := open(t)
	ctx := t.Context()
	must(t, "View", b.View(ctx, func(tx kv.Tx) error {
		if tx.Writable() {
			t.Error("a View's Tx is Writable")
		}
		for _, get := range []func(kv.Bucket, []byte) ([]byte, error){tx.Get, tx.GetForUpdate} {
			if v, err := get(bA, []byte("k1")); v != nil || err != nil {
				t.Errorf("absent key: %q %v, want nil, nil", v, err)
			}
		}
		return nil
	}))
	must(t, "Update", b.Update(ctx, func(tx kv.Tx) error {
		if !tx.Writable() {
			t.Error("an Update's Tx is not Writable")
		}
		for k, v := range map[string][]byte{"k1": []byte("v1"), "empty": {}, "nilValue": nil} {
			if err := tx.Put(bA, []byte(k), v); err != nil {
				return err
			}
		}
		if err := tx.Put(bB, []byte("k1"), []byte("other bucket")); err != nil {
			return err
		}
		if err := tx.Put(bA, []byte("k1"), []byte("v1, replaced")); err != nil {
			return err
		}
		v, err := tx.Get(bA, []byte("k1"))
		if string(v) != "v1, replaced" || err != nil {
			t.Errorf("own write in the transaction: %q %v", v, err)
		}
		return nil
	}))
	must(t, "Batch", b.Batch(ctx, func(tx kv.Tx) error {
		if !tx.Writable() {
			t.Error("a Batch's Tx is not Writable")
		}
		return nil
	}))
	wantValue(t, b, bA, "k1", "v1, replaced")
	wantValue(t, b, bB, "k1", "other bucket")
	for _, k := range []string{"empty", "nilValue"} {
		if v := get(t, b, bA, k); v == nil || len(v) != 0 {
			t.Errorf("%s: %#v, want a non-nil empty value", k, v)
		}
	}
	wantValue(t, b, bB, "empty", "<nil>")
}

// Insert writes a new key; on an existing key it fails with store.ErrExists, writes nothing,
// and the transaction goes on and commits its other writes.
func testInsert(t *testing.T, open opener) {
	b := open(t)
	put(t, b, bA, "old", "old value")
	must(t, "Update", b.Update(t.Context(), func(tx kv.Tx) error {
		if err := tx.Insert(bA, []byte("new"), []byte("new value")); err != nil {
			return err
		}
		for _, k := range []string{"old", "new"} {
			err := tx.Insert(bA, []byte(k), []byte("clobbered"))
			if !errors.Is(err, store.ErrExists) {
				t.Errorf("Insert on existing %q: %v, want ErrExists", k, err)
			}
		}
		if err := tx.Delete(bA, []byte("old")); err != nil {
			return err
		}
		if err := tx.Insert(bA, []byte("old"), []byte("reinserted")); err != nil {
			t.Errorf("Insert after Delete in the same transaction: %v", err)
		}
		if err := tx.Insert(bB, []byte("new"), []byte("other bucket")); err != nil {
			t.Errorf("Insert of a key existing only in another bucket: %v", err)
		}
		return tx.Put(bA, []byte("after"), []byte("still written"))
	}))
	wantValue(t, b, bA, "new", "new value")
	wantValue(t, b, bA, "old", "reinserted")
	wantValue(t, b, bA, "after", "still written")
	wantValue(t, b, bB, "new", "other bucket")
	// A conflicting Insert alone in its transaction changes nothing either.
	err := b.Update(t.Context(), func(tx kv.Tx) error { return tx.Insert(bA, []byte("new"), []byte("x")) })
	if !errors.Is(err, store.ErrExists) {
		t.Fatalf("Update returning Insert's error: %v, want ErrExists", err)
	}
	wantValue(t, b, bA, "new", "new value")
}

// Delete removes a key (and no other: not one it prefixes); an absent key is no error.
func testDelete(t *testing.T, open opener) {
	b := open(t)
	put(t, b, bA, "k", "v", "k2", "v2")
	put(t, b, bB, "k", "other bucket")
	must(t, "Update", b.Update(t.Context(), func(tx kv.Tx) error {
		if err := tx.Delete(bA, []byte("absent")); err != nil {
			t.Errorf("Delete of an absent key: %v", err)
		}
		if err := tx.Delete(bA, []byte("k")); err != nil {
			return err
		}
		if v, err := tx.Get(bA, []byte("k")); v != nil || err != nil {
			t.Errorf("Get after Delete in the same transaction: %q %v", v, err)
		}
		return tx.Delete(bA, []byte("k"))
	}))
	wantValue(t, b, bA, "k", "<nil>")
	wantValue(t, b, bA, "k2", "v2")
	wantValue(t, b, bB, "k", "other bucket")
}

// GetMany answers in the order of the keys asked, nil for absent ones, repeats included,
// and sees the transaction's own writes.
func testGetMany(t *testing.T, open opener) {
	b := open(t)
	put(t, b, bA, "k1", "v1", "k2", "v2", "k3", "v3", "empty", "")
	check := func(tx kv.Tx, keys []string, want []string) {
		t.Helper()
		raw := make([][]byte, len(keys))
		for i, k := range keys {
			raw[i] = []byte(k)
		}
		vs, err := tx.GetMany(bA, raw)
		if err != nil {
			t.Fatalf("GetMany(%q): %v", keys, err)
		}
		got := make([]string, len(vs))
		for i, v := range vs {
			got[i] = show(v)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("GetMany(%q) = %q, want %q", keys, got, want)
		}
	}
	must(t, "View", b.View(t.Context(), func(tx kv.Tx) error {
		check(tx, []string{"k3", "absent", "k1", "k3", "empty"}, []string{"v3", "<nil>", "v1", "v3", ""})
		check(tx, nil, []string{})
		check(tx, []string{"absent"}, []string{"<nil>"})
		return nil
	}))
	must(t, "Update", b.Update(t.Context(), func(tx kv.Tx) error {
		if err := tx.Put(bA, []byte("k4"), []byte("v4")); err != nil {
			return err
		}
		if err := tx.Delete(bA, []byte("k1")); err != nil {
			return err
		}
		check(tx, []string{"k1", "k2", "k4"}, []string{"<nil>", "v2", "v4"})
		return nil
	}))
}

// incompressible returns n bytes that do not compress (PostgreSQL compresses a long index
// entry, so a key of one repeated byte would pass where random bytes of its length fail).
func incompressible(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 0x6b6579))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// Writes of an empty key or one longer than kv.MaxKeyLen fail with an error that is not an
// outage, write nothing, and leave the transaction usable; keys of exactly kv.MaxKeyLen
// bytes, incompressible ones included, are written, read and scanned back on every backend.
func testBadKeys(t *testing.T, open opener) {
	b := open(t)
	atLimit := [][]byte{incompressible(kv.MaxKeyLen, 1), incompressible(kv.MaxKeyLen, 2), bytes.Repeat([]byte("k"), kv.MaxKeyLen)}
	must(t, "Update", b.Update(t.Context(), func(tx kv.Tx) error {
		if err := tx.Put(bA, atLimit[0], []byte("put")); err != nil {
			return fmt.Errorf("Put of a key of kv.MaxKeyLen bytes: %w", err)
		}
		if err := tx.Insert(bA, atLimit[1], []byte("inserted")); err != nil {
			return fmt.Errorf("Insert of a key of kv.MaxKeyLen bytes: %w", err)
		}
		return tx.Put(bA, atLimit[2], []byte("repeated"))
	}))
	wantPairs(t, "keys of kv.MaxKeyLen bytes", viewScan(t, b, bA, kv.Span{}), sortedPairs(atLimit, "put", "inserted", "repeated"))
	must(t, "Update", b.Update(t.Context(), func(tx kv.Tx) error {
		for _, k := range atLimit {
			if err := tx.Delete(bA, k); err != nil {
				return err
			}
		}
		return nil
	}))

	long := incompressible(kv.MaxKeyLen+1, 3)
	must(t, "Update", b.Update(t.Context(), func(tx kv.Tx) error {
		for name, key := range map[string][]byte{"empty": {}, "nil": nil, "too long": long, "too long, compressible": bytes.Repeat([]byte("k"), kv.MaxKeyLen+1)} {
			for op, write := range map[string]func() error{
				"Put":    func() error { return tx.Put(bA, key, []byte("v")) },
				"Insert": func() error { return tx.Insert(bA, key, []byte("v")) },
			} {
				err := write()
				if err == nil || errors.Is(err, store.ErrUnavailable) || errors.Is(err, store.ErrExists) {
					t.Errorf("%s of a %s key: %v, want a plain error", op, name, err)
				}
			}
		}
		return tx.Put(bA, []byte("good"), []byte("v"))
	}))
	wantPairs(t, "after the bad keys", viewScan(t, b, bA, kv.Span{}), pairs("good", "v"))
}

// Buffers (kv.Tx): the key and value slices passed to a write are the backend's until the
// transaction ends, and the caller leaves them alone; a slice the Tx returned may be written
// back, under another key, and stays what it was when its own key is then overwritten; the
// key slices passed to reads may be reused as soon as the read returns.
func testBuffers(t *testing.T, open opener) {
	b := open(t)
	put(t, b, bA, "old", "stored")
	must(t, "Update", b.Update(t.Context(), func(tx kv.Tx) error {
		// One value slice written under two keys, and a key slice of its own per write.
		val := []byte("value-1")
		if err := tx.Put(bA, []byte("key-1"), val); err != nil {
			return err
		}
		if err := tx.Insert(bA, []byte("key-2"), val); err != nil {
			return err
		}
		// A value read in the transaction, written back under another key, then its own key
		// overwritten and deleted: the copy keeps the value it was given.
		for _, src := range []string{"old", "key-1"} {
			v, err := tx.Get(bA, []byte(src))
			if err != nil {
				return err
			}
			if err := tx.Put(bA, []byte("copy-of-"+src), v); err != nil {
				return err
			}
			if err := tx.Put(bA, []byte(src), []byte("overwritten")); err != nil {
				return err
			}
			if err := tx.Delete(bA, []byte(src)); err != nil {
				return err
			}
		}
		// A read's key buffer reused for the next read.
		key := []byte("key-2")
		if v, err := tx.Get(bA, key); err != nil || string(v) != "value-1" {
			return fmt.Errorf("Get key-2 = %q, %v", v, err)
		}
		copy(key, "key-9")
		if v, err := tx.Get(bA, key); err != nil || v != nil {
			return fmt.Errorf("Get key-9 = %q, %v; want absent", v, err)
		}
		return nil
	}))
	wantPairs(t, "after the writes", viewScan(t, b, bA, kv.Span{}),
		pairs("copy-of-key-1", "value-1", "copy-of-old", "stored", "key-2", "value-1"))
}

// Keys are bytes: 0x00 and 0xFF anywhere, ordered by bytes, prefixes of 0xFF bytes.
func testBinaryKeys(t *testing.T, open opener) {
	b := open(t)
	keys := []string{
		"\xff\xff\xff", "\x00", "\x01\xff", "\xff", "\x00\x00", "\x01", "\x02", "\xff\x00",
		"\x00\xff", "\x01\x00", "a\x00b", "\x01\xff\xff", "\xff\xff", "a\x00", "a",
	}
	var kvs []string
	for _, k := range keys {
		kvs = append(kvs, k, "v"+k)
	}
	put(t, b, bA, kvs...)
	for _, k := range keys {
		wantValue(t, b, bA, k, "v"+k)
	}
	sorted := slices.Clone(keys)
	slices.SortFunc(sorted, func(x, y string) int { return bytes.Compare([]byte(x), []byte(y)) })
	withPrefix := func(p string) []pair {
		var out []pair
		for _, k := range sorted {
			if len(k) >= len(p) && k[:len(p)] == p {
				out = append(out, pair{k, "v" + k})
			}
		}
		return out
	}
	for _, p := range []string{"", "\x00", "\x01\xff", "\xff", "\xff\xff", "\xff\xff\xff", "a\x00", "\x03"} {
		wantPairs(t, fmt.Sprintf("prefix %q", p), viewScan(t, b, bA, kv.Span{Prefix: []byte(p)}), withPrefix(p))
	}
	wantPairs(t, "from \\x01\\xff", viewScan(t, b, bA, kv.Span{Prefix: []byte{1}, Start: []byte{1, 0xff}}),
		pairs("\x01\xff", "v\x01\xff", "\x01\xff\xff", "v\x01\xff\xff"))
	put(t, b, bB, "x", "y")
	must(t, "Update", b.Update(t.Context(), func(tx kv.Tx) error { return tx.Delete(bA, []byte{0}) }))
	wantPairs(t, "prefix \\x00 after deleting \\x00", viewScan(t, b, bA, kv.Span{Prefix: []byte{0}}),
		pairs("\x00\x00", "v\x00\x00", "\x00\xff", "v\x00\xff"))
}

// Values of a megabyte (and long keys) go through Put, Get, GetMany and Scan unchanged.
func testLargeValues(t *testing.T, open opener) {
	b := open(t)
	rng := rand.New(rand.NewPCG(1, 2))
	random := func(n int) []byte {
		out := make([]byte, n)
		for i := range out {
			out[i] = byte(rng.Uint32())
		}
		return out
	}
	big1, big2 := random(1<<20), random(1<<20)
	longKey := append([]byte("long/"), random(2048)...)
	must(t, "Update", b.Update(t.Context(), func(tx kv.Tx) error {
		if err := tx.Put(bA, []byte("big"), big1); err != nil {
			return err
		}
		if err := tx.Put(bA, longKey, big2); err != nil {
			return err
		}
		return tx.Put(bA, []byte("big"), big2)
	}))
	must(t, "View", b.View(t.Context(), func(tx kv.Tx) error {
		v, err := tx.Get(bA, []byte("big"))
		if err != nil || !bytes.Equal(v, big2) {
			t.Errorf("Get of the replaced 1 MB value: %d bytes, equal %v, %v", len(v), bytes.Equal(v, big2), err)
		}
		vs, err := tx.GetMany(bA, [][]byte{longKey, []byte("big")})
		if err != nil || len(vs) != 2 || !bytes.Equal(vs[0], big2) || !bytes.Equal(vs[1], big2) {
			t.Errorf("GetMany of the 1 MB values: %d values, %v", len(vs), err)
		}
		n := 0
		err = tx.Scan(bA, kv.Span{}, func(k, v []byte) (bool, error) {
			n++
			if !bytes.Equal(v, big2) || !bytes.Equal(k, []byte("big")) && !bytes.Equal(k, longKey) {
				t.Errorf("Scan: key of %d bytes with a value of %d bytes", len(k), len(v))
			}
			return true, nil
		})
		if err != nil || n != 2 {
			t.Errorf("Scan: %d keys, %v", n, err)
		}
		return nil
	}))
}

// sortedPairs pairs keys[i] with values[i], in ascending key order (a scan's).
func sortedPairs(keys [][]byte, values ...string) []pair {
	out := make([]pair, len(keys))
	for i, k := range keys {
		out[i] = pair{string(k), values[i]}
	}
	slices.SortFunc(out, func(a, b pair) int { return bytes.Compare([]byte(a.k), []byte(b.k)) })
	return out
}
