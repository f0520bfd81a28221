package hello

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestProvisionUnlock(t *testing.T) {
	dir := t.TempDir()
	c := mustProvision(t, dir, "alice@contoso.com", "2580")
	if !validGUID(c.NgcKeyID()) {
		t.Fatalf("NgcKeyID %q is not a canonical GUID", c.NgcKeyID())
	}
	if got := c.PINSetAt(); !got.Equal(testNow) {
		t.Fatalf("PINSetAt = %v, want %v", got, testNow)
	}
	if c.HasProtector() {
		t.Fatal("new container has a protector")
	}

	reopened, err := Open(dir, "alice@contoso.com")
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	u := mustUnlock(t, reopened, "2580")
	if u.NgcKeyID() != c.NgcKeyID() {
		t.Fatalf("NgcKeyID after reopen = %s, want %s", u.NgcKeyID(), c.NgcKeyID())
	}
	if !u.PublicKey().Equal(c.PublicKey()) {
		t.Fatal("unlocked public key differs from stored public key")
	}
	digest := sha256.Sum256([]byte("nonce"))
	sig, err := u.Sign(digest[:])
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	if !ecdsa.VerifyASN1(c.PublicKey(), digest[:], sig) {
		t.Fatal("signature does not verify with the container's public key")
	}
	cert, err := u.Certificate()
	if err != nil || cert != nil {
		t.Fatalf("Certificate() = %x, %v; want empty slot", cert, err)
	}
}

func TestUnlockWrongPIN(t *testing.T) {
	c := mustProvision(t, t.TempDir(), "bob", "1357")
	for _, pin := range []string{"1358", "", "13570", "1357 "} {
		t.Run(pin, func(t *testing.T) {
			_, err := c.Unlock(pin)
			wantErrIs(t, err, ErrWrongPIN)
		})
	}
}

func TestProvisionErrors(t *testing.T) {
	dir := t.TempDir()
	mustProvision(t, dir, "carol", "1111")
	tests := []struct {
		name   string
		dir    string
		user   string
		pin    string
		policy PINPolicy
		opts   []Option
		want   string
	}{
		{"already exists", dir, "carol", "2222", PINPolicy{}, testOpts(), "already exists"},
		{"PIN breaks policy", dir, "dave", "12", PINPolicy{}, testOpts(), "MinimumPINLength"},
		{"empty user", dir, "", "1234", PINPolicy{}, testOpts(), "empty user"},
		{"empty dir", "", "erin", "1234", PINPolicy{}, testOpts(), "empty container directory"},
		{"bad KDF", dir, "frank", "1234", PINPolicy{}, []Option{WithKDFParams(KDFParams{})}, "argon2id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Provision(tt.dir, tt.user, tt.pin, tt.policy, rand.Reader, tt.opts...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Provision error = %v, want %q", err, tt.want)
			}
		})
	}
	if _, err := Provision(dir, "gina", "1234", PINPolicy{}, nil, testOpts()...); err == nil {
		t.Fatal("Provision with nil rnd succeeded")
	}
}

func TestFilesArePrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ngc")
	c := mustProvision(t, dir, "alice", "2580")
	u := mustUnlock(t, c, "2580")
	if err := u.CreateProtector(&mustServiceKey(t).PublicKey, testTenant, rand.Reader); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Fatalf("directory holds %d entries, want 1 (no temporary files left)", len(entries))
	}
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		if perm := info.Mode().Perm(); perm != 0o600 {
			t.Errorf("%s mode = %o, want 600", e.Name(), perm)
		}
	}
	st, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		t.Errorf("directory mode = %o, want no group/other access", perm)
	}
}

func TestNoSecretsInFile(t *testing.T) {
	dir := t.TempDir()
	c := mustProvision(t, dir, "alice", "918273")
	u := mustUnlock(t, c, "918273")
	data := mustReadFile(t, dir, "alice")
	if bytes.Contains(data, []byte("918273")) {
		t.Fatal("file contains the PIN")
	}
	if bytes.Contains(data, u.key) {
		t.Fatal("file contains the container key")
	}
	if bytes.Contains(data, u.priv.D.Bytes()) {
		t.Fatal("file contains the private scalar")
	}
}

func TestExistsDelete(t *testing.T) {
	dir := t.TempDir()
	ok, err := Exists(dir, "alice")
	if err != nil || ok {
		t.Fatalf("Exists before provisioning = %v, %v", ok, err)
	}
	mustProvision(t, dir, "alice", "2580")
	ok, err = Exists(dir, "alice")
	if err != nil || !ok {
		t.Fatalf("Exists after provisioning = %v, %v", ok, err)
	}
	// A hard link shows whether Delete overwrote the data before unlinking.
	path, _ := containerPath(dir, "alice")
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Link(path, link); err != nil {
		t.Skipf("hard links unsupported: %v", err)
	}
	if err := Delete(dir, "alice"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	ok, err = Exists(dir, "alice")
	if err != nil || ok {
		t.Fatalf("Exists after Delete = %v, %v", ok, err)
	}
	left, err := os.ReadFile(link)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) == 0 || bytes.Count(left, []byte{0}) != len(left) {
		t.Fatal("Delete did not overwrite the container before removing it")
	}
	_, err = Open(dir, "alice")
	wantErrIs(t, err, ErrNoContainer)
	if err := Delete(dir, "alice"); err != nil {
		t.Fatalf("Delete of a missing container: %v", err)
	}
}

func TestUsersAreSeparate(t *testing.T) {
	dir := t.TempDir()
	a := mustProvision(t, dir, `CONTOSO\alice`, "1111")
	b := mustProvision(t, dir, "../../etc/passwd", "2222")
	if a.NgcKeyID() == b.NgcKeyID() {
		t.Fatal("two users share an NgcKeyId")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Fatalf("directory holds %d entries, want 2", len(entries))
	}
	if _, err := b.Unlock("1111"); !errors.Is(err, ErrWrongPIN) {
		t.Fatalf("other user's PIN: %v", err)
	}
}

func TestCorruptFiles(t *testing.T) {
	dir := t.TempDir()
	mustProvision(t, dir, "alice", "2580")
	orig := mustReadFile(t, dir, "alice")
	path, _ := containerPath(dir, "alice")

	edit := func(fn func(m map[string]any)) []byte {
		var m map[string]any
		if err := json.Unmarshal(orig, &m); err != nil {
			t.Fatal(err)
		}
		fn(m)
		b, _ := json.Marshal(m)
		return b
	}
	tests := []struct {
		name       string
		data       []byte
		openErr    error // nil = Open succeeds
		unlockErr  error
		unlockWith string
	}{
		{"garbage", []byte("not json"), ErrCorrupt, nil, ""},
		{"empty", nil, ErrCorrupt, nil, ""},
		{"other user", edit(func(m map[string]any) { m["user"] = "mallory" }), ErrCorrupt, nil, ""},
		{"bad version", edit(func(m map[string]any) { m["version"] = 7 }), ErrCorrupt, nil, ""},
		{"unknown field", edit(func(m map[string]any) { m["extra"] = 1 }), ErrCorrupt, nil, ""},
		{"huge KDF memory", edit(func(m map[string]any) {
			m["pinProtector"].(map[string]any)["kdf"].(map[string]any)["memoryKiB"] = 1 << 31
		}), ErrCorrupt, nil, ""},
		{"negative failed attempts", edit(func(m map[string]any) { m["failedPinAttempts"] = -1 }), ErrCorrupt, nil, ""},
		{"fractional failed attempts", edit(func(m map[string]any) { m["failedPinAttempts"] = 1.5 }), ErrCorrupt, nil, ""},
		{"failed attempts at the limit", edit(func(m map[string]any) { m["failedPinAttempts"] = DefaultMaxPINAttempts }), nil, ErrPINLocked, "2580"},
		{"swapped NgcKeyId", edit(func(m map[string]any) { m["ngcKeyId"] = "00000000-0000-4000-8000-000000000000" }), nil, ErrWrongPIN, "2580"},
		{"tampered sealed content", edit(func(m map[string]any) {
			s := m["sealed"].(string)
			m["sealed"] = s[:20] + flipB64(s[20]) + s[21:]
		}), nil, ErrCorrupt, "2580"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := os.WriteFile(path, tt.data, 0o600); err != nil {
				t.Fatal(err)
			}
			c, err := Open(dir, "alice")
			if tt.openErr != nil {
				wantErrIs(t, err, tt.openErr)
				return
			}
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			_, err = c.Unlock(tt.unlockWith)
			wantErrIs(t, err, tt.unlockErr)
		})
	}
}

func flipB64(c byte) string {
	if c == 'A' {
		return "B"
	}
	return "A"
}

func TestChangePINAndHistory(t *testing.T) {
	dir := t.TempDir()
	policy := PINPolicy{History: 2}
	c, err := Provision(dir, "alice", "1111", policy, rand.Reader, testOpts()...)
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name     string
		from, to string
		wantRule string
	}{
		{"current PIN refused", "1111", "1111", "History"},
		{"new PIN accepted", "1111", "2222", ""},
		{"previous PIN refused", "2222", "1111", "History"},
		{"third PIN accepted", "2222", "3333", ""},
		{"PIN older than history accepted", "3333", "1111", ""},
		{"PIN breaking complexity refused", "1111", "12a4", "LowercaseLetters"},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			u := mustUnlock(t, c, s.from)
			before := mustReadFile(t, dir, "alice")
			err := u.ChangePIN(s.to, policy, rand.Reader)
			if s.wantRule == "" {
				if err != nil {
					t.Fatalf("ChangePIN: %v", err)
				}
				mustUnlock(t, c, s.to)
				if _, err := c.Unlock(s.from); !errors.Is(err, ErrWrongPIN) {
					t.Fatalf("old PIN still unlocks: %v", err)
				}
				return
			}
			var pe *PolicyError
			if !errors.As(err, &pe) || pe.Rule != s.wantRule {
				t.Fatalf("ChangePIN error = %v, want rule %s", err, s.wantRule)
			}
			if !bytes.Equal(before, mustReadFile(t, dir, "alice")) {
				t.Fatal("refused ChangePIN modified the file")
			}
		})
	}
}

func TestHistoryCapped(t *testing.T) {
	dir := t.TempDir()
	c := mustProvision(t, dir, "alice", "1000")
	u := mustUnlock(t, c, "1000")
	for i := 1; i <= MaxHistory+5; i++ {
		if err := u.ChangePIN(strings.Repeat("0", 3)+string(rune('0'+i%10))+string(rune('0'+i/10)), PINPolicy{}, rand.Reader); err != nil {
			t.Fatalf("change %d: %v", i, err)
		}
	}
	var n int
	if err := u.view(func(_ *containerFile, inner *sealedContent) error { n = len(inner.History); return nil }); err != nil {
		t.Fatal(err)
	}
	if n != MaxHistory {
		t.Fatalf("history holds %d entries, want %d", n, MaxHistory)
	}
}

func TestPINExpired(t *testing.T) {
	c := mustProvision(t, t.TempDir(), "alice", "2580")
	p := PINPolicy{Expiration: 42}
	if c.PINExpired(p, testNow.Add(41*24*time.Hour)) {
		t.Fatal("expired after 41 of 42 days")
	}
	if !c.PINExpired(p, testNow.Add(42*24*time.Hour)) {
		t.Fatal("not expired after 42 days")
	}
}

func TestCertificateSlot(t *testing.T) {
	dir := t.TempDir()
	c := mustProvision(t, dir, "alice", "2580")
	u := mustUnlock(t, c, "2580")

	ca, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	issue := func(pub *ecdsa.PublicKey) []byte {
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "alice"},
			NotBefore: testNow, NotAfter: testNow.AddDate(1, 0, 0),
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, ca)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	good := issue(u.PublicKey())
	other := issue(&ca.PublicKey)

	tests := []struct {
		name    string
		der     []byte
		wantErr string
		want    []byte
	}{
		{"certificate for the Hello key", good, "", good},
		{"certificate for another key", other, "not for the Hello key", good},
		{"not a certificate", []byte{0x30, 0x01}, "x509", good},
		{"clear slot", nil, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := u.SetCertificate(tt.der, rand.Reader)
			if (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("SetCertificate = %v, want %q", err, tt.wantErr)
			}
			reopened, err := Open(dir, "alice")
			if err != nil {
				t.Fatal(err)
			}
			got, err := mustUnlock(t, reopened, "2580").Certificate()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tt.want) {
				t.Fatalf("stored certificate differs")
			}
		})
	}
}

func TestClosedUnlocked(t *testing.T) {
	c := mustProvision(t, t.TempDir(), "alice", "2580")
	u := mustUnlock(t, c, "2580")
	u.Close()
	digest := sha256.Sum256(nil)
	if _, err := u.Sign(digest[:]); !errors.Is(err, ErrClosed) {
		t.Fatalf("Sign after Close: %v", err)
	}
	if _, err := u.Certificate(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Certificate after Close: %v", err)
	}
	if err := u.ChangePIN("9999", PINPolicy{}, rand.Reader); !errors.Is(err, ErrClosed) {
		t.Fatalf("ChangePIN after Close: %v", err)
	}
}

func TestSignRejectsBadDigest(t *testing.T) {
	u := mustUnlock(t, mustProvision(t, t.TempDir(), "alice", "2580"), "2580")
	if _, err := u.Sign([]byte("short")); err == nil {
		t.Fatal("Sign accepted a 5-byte digest")
	}
}
