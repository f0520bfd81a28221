package core_test

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"path/filepath"
	"testing"

	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/store/bolt"
	"github.com/hellomdm/hellomdm/store/core"
	"github.com/hellomdm/hellomdm/store/kv"
)

// configBucket is the bucket the store keeps configuration records in.
const configBucket kv.Bucket = "config"

// magic is the start of a tagged configuration record (secrets.go).
const magic = "\x00hmcfg"

// openBoltKey opens the store core over the bbolt file at path with secret key key (none
// when nil); the store is closed when t ends unless the test closes it first.
func openBoltKey(t *testing.T, path string, key []byte) *core.Store {
	t.Helper()
	b, err := bolt.OpenKV(path, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := core.New(context.Background(), b, core.Options{SecretKey: key})
	if err != nil {
		_ = b.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func newKey(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, core.SecretKeySize)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

// rawConfig reads the record at key as stored.
func rawConfig(t *testing.T, s *core.Store, key string) []byte {
	t.Helper()
	var rec []byte
	err := s.KV().View(t.Context(), func(tx kv.Tx) error {
		v, err := tx.Get(configBucket, []byte(key))
		rec = bytes.Clone(v)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// putRaw stores rec at key as it is (a record an earlier release or a migration wrote).
func putRaw(t *testing.T, s *core.Store, key string, rec []byte) {
	t.Helper()
	err := s.KV().Update(t.Context(), func(tx kv.Tx) error { return tx.Put(configBucket, []byte(key), rec) })
	if err != nil {
		t.Fatal(err)
	}
}

func mustGet(t *testing.T, s *core.Store, key string, want []byte) {
	t.Helper()
	got, err := s.GetConfig(t.Context(), key)
	if err != nil || !bytes.Equal(got, want) || got == nil {
		t.Fatalf("GetConfig(%s) = %q, %v; want %q", key, got, err, want)
	}
}

func TestConfigPlainRecords(t *testing.T) {
	// Without a secret key every value is stored as it is (the bytes the bbolt store of
	// earlier releases wrote, so files open both ways), except a value that begins with the
	// record tag, which is escaped and still reads back exactly.
	s := openBoltKey(t, filepath.Join(t.TempDir(), "db"), nil)
	ctx := t.Context()
	for key, v := range map[string][]byte{
		"tenant/t1/signing-key": []byte("-----BEGIN HELLOMDM KEY-----\n"),
		"bootstrap":             []byte("ab12"),
		"empty":                 {},
		"secret/tagged":         []byte(magic + "\x01looks sealed"),
		"tagged-only":           []byte(magic),
	} {
		if err := s.PutConfig(ctx, key, v); err != nil {
			t.Fatal(err)
		}
		mustGet(t, s, key, v)
		rec := rawConfig(t, s, key)
		if bytes.HasPrefix(v, []byte(magic)) {
			if want := append([]byte(magic+"\x00"), v...); !bytes.Equal(rec, want) {
				t.Fatalf("record of %s = %q, want the escaped %q", key, rec, want)
			}
		} else if !bytes.Equal(rec, v) {
			t.Fatalf("record of %s = %q, want the value as it is", key, rec)
		}
	}
	if err := s.PutConfig(ctx, "nil", nil); err != nil {
		t.Fatal(err)
	}
	mustGet(t, s, "nil", []byte{})
	// Records of earlier releases: raw bytes, DER included.
	der := []byte{0x30, 0x82, 0x01, 0x0a, 0x02}
	putRaw(t, s, "tenant/t2/pinreset-key", der)
	mustGet(t, s, "tenant/t2/pinreset-key", der)
}

func TestConfigSealedRecords(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	key := newKey(t)
	ctx := t.Context()

	// A secret value written before a key was configured stays readable once there is one,
	// and the next write seals it.
	s := openBoltKey(t, path, nil)
	if err := s.PutConfig(ctx, "tenant/t1/signing-key", []byte("plain before the key")); err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	s = openBoltKey(t, path, key)
	mustGet(t, s, "tenant/t1/signing-key", []byte("plain before the key"))

	secretValue := []byte("PRIVATE KEY MATERIAL")
	for _, k := range []string{"tenant/t1/signing-key", "secret/pepper", "ca/key"} {
		if err := s.PutConfig(ctx, k, secretValue); err != nil {
			t.Fatal(err)
		}
		rec := rawConfig(t, s, k)
		if !bytes.HasPrefix(rec, []byte(magic+"\x01")) || bytes.Contains(rec, secretValue) {
			t.Fatalf("record of secret %s is not sealed: %q", k, rec)
		}
		mustGet(t, s, k, secretValue)
	}
	// Sealing draws a fresh nonce each time.
	if err := s.PutConfig(ctx, "ca/key2", secretValue); err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(rawConfig(t, s, "ca/key"), rawConfig(t, s, "ca/key2")) {
		t.Fatal("two sealings of one value are equal")
	}
	// Other keys are not secret: stored as they are.
	if err := s.PutConfig(ctx, "ready-probe", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if rec := rawConfig(t, s, "ready-probe"); string(rec) != "x" {
		t.Fatalf("record of a plain key = %q", rec)
	}
	// PutConfigIfAbsent seals what it stores and answers with the plain value either way.
	for _, v := range []string{"first", "second"} {
		got, err := s.PutConfigIfAbsent(ctx, "tenant/t1/pinreset-key", []byte(v))
		if err != nil || string(got) != "first" {
			t.Fatalf("PutConfigIfAbsent(%s) = %q, %v; want first", v, got, err)
		}
	}
	if rec := rawConfig(t, s, "tenant/t1/pinreset-key"); bytes.Contains(rec, []byte("first")) {
		t.Fatalf("PutConfigIfAbsent stored a secret in clear: %q", rec)
	}

	// A sealed value is never handed out without the right key, nor under another key.
	moved := rawConfig(t, s, "secret/pepper")
	putRaw(t, s, "secret/other", moved)
	if v, err := s.GetConfig(ctx, "secret/other"); err == nil {
		t.Fatalf("a sealed value moved to another key opened: %q", v)
	}
	_ = s.Close()
	for name, k := range map[string][]byte{"no key": nil, "another key": newKey(t)} {
		s := openBoltKey(t, path, k)
		if v, err := s.GetConfig(ctx, "secret/pepper"); err == nil || errors.Is(err, store.ErrNotFound) {
			t.Fatalf("GetConfig of a sealed value with %s = %q, %v; want an error", name, v, err)
		}
		if v, err := s.PutConfigIfAbsent(ctx, "secret/pepper", []byte("x")); err == nil {
			t.Fatalf("PutConfigIfAbsent over a sealed value with %s = %q; want an error", name, v)
		}
		mustGet(t, s, "ready-probe", []byte("x"))
		_ = s.Close()
	}
}

// pgSeal seals value at key as the PostgreSQL store of earlier releases did (its
// config.value of a sealed row).
func pgSeal(t *testing.T, key, value, storeKey []byte) []byte {
	t.Helper()
	block, err := aes.NewCipher(storeKey)
	if err != nil {
		t.Fatal(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		t.Fatal(err)
	}
	return aead.Seal(nonce, nonce, value, key)
}

func TestConfigRecordMigratesPostgresRows(t *testing.T) {
	// The rows (key, sealed, value) of the PostgreSQL config table become ConfigRecord(sealed,
	// value) and read back with the same key.
	storeKey := newKey(t)
	s := openBoltKey(t, filepath.Join(t.TempDir(), "db"), storeKey)
	rows := []struct {
		key    string
		sealed bool
		value  []byte
		want   []byte
	}{
		{"tenant/t1/signing-key", true, pgSeal(t, []byte("tenant/t1/signing-key"), []byte("DER"), storeKey), []byte("DER")},
		{"secret/empty", true, pgSeal(t, []byte("secret/empty"), nil, storeKey), []byte{}},
		{"bootstrap", false, []byte("ab12"), []byte("ab12")},
		{"odd", false, []byte(magic + "\x01not sealed"), []byte(magic + "\x01not sealed")},
		{"nothing", false, nil, []byte{}},
	}
	for _, r := range rows {
		putRaw(t, s, r.key, core.ConfigRecord(r.sealed, r.value))
		mustGet(t, s, r.key, r.want)
	}
}

func TestConfigRecordErrors(t *testing.T) {
	// Tagged records this release cannot read are errors, never values.
	s := openBoltKey(t, filepath.Join(t.TempDir(), "db"), newKey(t))
	for name, rec := range map[string][]byte{
		"no format byte": []byte(magic),
		"unknown format": []byte(magic + "\x07later"),
		"short sealed":   []byte(magic + "\x01abc"),
	} {
		putRaw(t, s, "secret/x", rec)
		if v, err := s.GetConfig(t.Context(), "secret/x"); err == nil {
			t.Fatalf("GetConfig of a record with %s = %q; want an error", name, v)
		}
	}
}

func TestSecretKeySize(t *testing.T) {
	for _, n := range []int{1, 16, 31, 33, 64} {
		b, err := bolt.OpenKV(filepath.Join(t.TempDir(), "db"), bolt.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if s, err := core.New(t.Context(), b, core.Options{SecretKey: make([]byte, n)}); err == nil {
			_ = s.Close()
			t.Fatalf("New with a %d-byte secret key succeeded", n)
		}
		_ = b.Close()
	}
}
