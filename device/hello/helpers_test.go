package hello

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"os"
	"sync"
	"testing"
	"time"
)

// cheapKDF keeps Argon2id fast in tests; production uses DefaultKDFParams.
var cheapKDF = KDFParams{Time: 1, MemoryKiB: 64, Threads: 1}

var testNow = time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)

func testOpts() []Option {
	return []Option{WithKDFParams(cheapKDF), WithClock(func() time.Time { return testNow })}
}

// legacyUser and legacyPIN are the user and PIN of testdata/container_without_attempts.json,
// a container file written before the failed-attempt counter and the protector label
// version existed.
const (
	legacyUser = "alice@contoso.com"
	legacyPIN  = "2580"
)

// openLegacyContainer installs testdata/container_without_attempts.json in a new directory
// and opens it, after checking the fixture predates field (it must not name it). It returns
// the container and its directory.
func openLegacyContainer(t *testing.T, field string) (*Container, string) {
	t.Helper()
	old, err := os.ReadFile("testdata/container_without_attempts.json")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(old, []byte(field)) {
		t.Fatalf("fixture names %s; it must predate it", field)
	}
	dir := t.TempDir()
	path, _ := containerPath(dir, legacyUser)
	if err := os.WriteFile(path, old, 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Open(dir, legacyUser, testOpts()...)
	if err != nil {
		t.Fatalf("Open of a file without %s: %v", field, err)
	}
	return c, dir
}

// serviceKey is the PIN reset service's RSA 3072 key, generated once per test binary
// because generation is slow.
var serviceKey = sync.OnceValues(func() (*rsa.PrivateKey, error) {
	return rsa.GenerateKey(rand.Reader, 3072)
})

func mustServiceKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	k, err := serviceKey()
	if err != nil {
		t.Fatalf("generating service key: %v", err)
	}
	return k
}

const testTenant = "8f1c6b5e-2d3a-4b7c-9e0f-112233445566"

func mustProvision(t testing.TB, dir, user, pin string) *Container {
	t.Helper()
	c, err := Provision(dir, user, pin, PINPolicy{}, rand.Reader, testOpts()...)
	if err != nil {
		t.Fatalf("Provision: %v", err)
	}
	return c
}

func mustUnlock(t testing.TB, c *Container, pin string) *Unlocked {
	t.Helper()
	u, err := c.Unlock(pin)
	if err != nil {
		t.Fatalf("Unlock(%q): %v", pin, err)
	}
	t.Cleanup(u.Close)
	return u
}

func mustReadFile(t testing.TB, dir, user string) []byte {
	t.Helper()
	path, err := containerPath(dir, user)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// escrowedProtector plays the PIN reset service: it decrypts the container's protector.
func escrowedProtector(t testing.TB, c *Container) []byte {
	t.Helper()
	ct, tenant, err := c.ProtectorCiphertext()
	if err != nil {
		t.Fatalf("ProtectorCiphertext: %v", err)
	}
	plain, err := rsa.DecryptOAEP(sha256.New(), nil, mustServiceKey(t), ct, ProtectorLabel(tenant, c.User()))
	if err != nil {
		t.Fatalf("service decrypting protector: %v", err)
	}
	return plain
}

func wantErrIs(t testing.TB, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("error = %v, want %v", err, target)
	}
}
