package hello

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"os"
	"testing"
)

// protected provisions a container for alice with PIN 2580 and a PIN reset protector.
func protected(t *testing.T) (dir string, c *Container) {
	t.Helper()
	dir = t.TempDir()
	c = mustProvision(t, dir, "alice", "2580")
	u := mustUnlock(t, c, "2580")
	if err := u.CreateProtector(&mustServiceKey(t).PublicKey, testTenant, rand.Reader); err != nil {
		t.Fatalf("CreateProtector: %v", err)
	}
	return dir, c
}

func TestProtectorLifecycleAndStatus(t *testing.T) {
	dir := t.TempDir()
	st, err := Status(dir, "alice")
	if err != nil || st != (UserState{}) {
		t.Fatalf("Status without container = %+v, %v", st, err)
	}
	c := mustProvision(t, dir, "alice", "2580")
	checkStatus := func(want string) {
		t.Helper()
		st, err := Status(dir, "alice")
		if err != nil {
			t.Fatal(err)
		}
		if !st.NgcSet || st.NgcKeyID != c.NgcKeyID() || st.CanReset != want {
			t.Fatalf("Status = %+v, want NgcSet, %s, CanReset %s", st, c.NgcKeyID(), want)
		}
	}
	checkStatus(CanResetDestructiveOnly)
	if _, _, err := c.ProtectorCiphertext(); !errors.Is(err, ErrNoProtector) {
		t.Fatalf("ProtectorCiphertext without protector: %v", err)
	}

	u := mustUnlock(t, c, "2580")
	pub := &mustServiceKey(t).PublicKey
	if err := u.CreateProtector(pub, testTenant, rand.Reader); err != nil {
		t.Fatalf("CreateProtector: %v", err)
	}
	if !c.HasProtector() {
		t.Fatal("HasProtector false after CreateProtector")
	}
	checkStatus(CanResetDestructiveAndNonDestructive)

	ct, tenant, err := c.ProtectorCiphertext()
	if err != nil || tenant != testTenant || len(ct) != 3072/8 {
		t.Fatalf("ProtectorCiphertext = %d bytes, %q, %v", len(ct), tenant, err)
	}
	if bytes.Contains(mustReadFile(t, dir, "alice"), escrowedProtector(t, c)) {
		t.Fatal("file contains the plaintext protector")
	}
	info, err := c.Protector()
	if err != nil {
		t.Fatal(err)
	}
	fp, _ := KeyFingerprint(pub)
	if !bytes.Equal(info.KeyFingerprint, fp) || info.TenantID != testTenant || !info.CreatedAt.Equal(testNow) ||
		info.LabelVersion != ProtectorLabelVersion || c.ProtectorOutdated() {
		t.Fatalf("Protector() = %+v, outdated %v", info, c.ProtectorOutdated())
	}
	// The label binds the tenant and the user: the service can't open it under another
	// tenant's or another user's label, nor under the old tenant-only label.
	for _, label := range [][]byte{
		ProtectorLabel("other-tenant", "alice"),
		ProtectorLabel(testTenant, "bob"),
		[]byte("hellomdm-pin-reset:" + testTenant),
	} {
		if _, err := rsa.DecryptOAEP(sha256.New(), nil, mustServiceKey(t), ct, label); err == nil {
			t.Fatalf("protector decrypts under label %q", label)
		}
	}

	if err := c.DestroyProtector(); err != nil {
		t.Fatalf("DestroyProtector: %v", err)
	}
	checkStatus(CanResetDestructiveOnly)
	if err := c.DestroyProtector(); err != nil {
		t.Fatalf("second DestroyProtector: %v", err)
	}
	reopened, err := Open(dir, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if reopened.HasProtector() {
		t.Fatal("protector survived DestroyProtector on disk")
	}
}

// TestProtectorLabel pins the label format that pinreset.Label must reproduce (the two are
// run against each other in internal/e2e).
func TestProtectorLabel(t *testing.T) {
	tests := []struct {
		name, tenant, upn, want string
	}{
		{"lower case", testTenant, "alice@contoso.com", "hellomdm-pin-reset:v2:" + testTenant + ":alice@contoso.com"},
		{"upn lower-cased", testTenant, "Alice@Contoso.COM", "hellomdm-pin-reset:v2:" + testTenant + ":alice@contoso.com"},
		{"non-ASCII upn lower-cased", testTenant, "ÅSA@contoso.com", "hellomdm-pin-reset:v2:" + testTenant + ":åsa@contoso.com"},
		{"empty upn is the prefix", testTenant, "", ProtectorLabelPrefix(testTenant)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(ProtectorLabel(tt.tenant, tt.upn)); got != tt.want {
				t.Errorf("ProtectorLabel(%q, %q) = %q, want %q", tt.tenant, tt.upn, got, tt.want)
			}
		})
	}
}

// testdata/container_without_attempts.json was written by an agent that used the tenant-only
// (version 1) label and recorded no label version (PIN 2580, user alice@contoso.com). It
// must load, report its protector as outdated (CanReset DestructiveOnly), and take a
// version 2 protector at CreateProtector.
func TestV1ProtectorOutdated(t *testing.T) {
	c, dir := openLegacyContainer(t, "labelVersion")
	info, err := c.Protector()
	if err != nil || info.LabelVersion != 1 || !c.HasProtector() || !c.ProtectorOutdated() {
		t.Fatalf("Protector() = %+v, %v; HasProtector %v, ProtectorOutdated %v; want a present, outdated version 1 protector",
			info, err, c.HasProtector(), c.ProtectorOutdated())
	}
	if st, err := Status(dir, legacyUser); err != nil || st.CanReset != CanResetDestructiveOnly {
		t.Fatalf("Status = %+v, %v; want CanReset %s", st, err, CanResetDestructiveOnly)
	}

	u := mustUnlock(t, c, legacyPIN)
	if err := u.CreateProtector(&mustServiceKey(t).PublicKey, info.TenantID, rand.Reader); err != nil {
		t.Fatalf("CreateProtector: %v", err)
	}
	reopened, err := Open(dir, legacyUser, testOpts()...)
	if err != nil {
		t.Fatal(err)
	}
	if info, _ := reopened.Protector(); info.LabelVersion != ProtectorLabelVersion || reopened.ProtectorOutdated() {
		t.Fatalf("after CreateProtector: %+v, outdated %v", info, reopened.ProtectorOutdated())
	}
	if st, err := Status(dir, legacyUser); err != nil || st.CanReset != CanResetDestructiveAndNonDestructive {
		t.Fatalf("Status = %+v, %v; want CanReset %s", st, err, CanResetDestructiveAndNonDestructive)
	}
	if f, err := decodeFile(mustReadFile(t, dir, legacyUser)); err != nil || f.Reset == nil || f.Reset.LabelVersion != ProtectorLabelVersion {
		t.Fatalf("file after CreateProtector: %+v, %v; want label version %d recorded", f.Reset, err, ProtectorLabelVersion)
	}
	plain := escrowedProtector(t, reopened)
	if err := ResetWithProtector(reopened, plain, "1470", PINPolicy{}, &mustServiceKey(t).PublicKey, rand.Reader); err != nil {
		t.Fatalf("ResetWithProtector with the new protector: %v", err)
	}
}

// TestProtectorLabelVersionField: the decoder accepts a missing version and the known ones
// and refuses others as corrupt.
func TestProtectorLabelVersionField(t *testing.T) {
	old, err := os.ReadFile("testdata/container_without_attempts.json")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		version any // nil = field absent
		want    int // 0 = refused
	}{
		{"absent", nil, 1},
		{"one", 1, 1},
		{"two", 2, 2},
		{"zero", 0, 1},
		{"negative", -1, 0},
		{"future", ProtectorLabelVersion + 1, 0},
		{"fractional", 1.5, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m map[string]any
			if err := json.Unmarshal(old, &m); err != nil {
				t.Fatal(err)
			}
			if tt.version != nil {
				m["resetProtector"].(map[string]any)["labelVersion"] = tt.version
			}
			data, _ := json.Marshal(m)
			f, err := decodeFile(data)
			if tt.want == 0 {
				wantErrIs(t, err, ErrCorrupt)
				return
			}
			if err != nil {
				t.Fatalf("decodeFile: %v", err)
			}
			if got := f.Reset.labelVersion(); got != tt.want {
				t.Fatalf("label version = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestCreateProtectorErrors(t *testing.T) {
	c := mustProvision(t, t.TempDir(), "alice", "2580")
	u := mustUnlock(t, c, "2580")
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	pub := &mustServiceKey(t).PublicKey
	tests := []struct {
		name   string
		pub    *rsa.PublicKey
		tenant string
	}{
		{"nil key", nil, testTenant},
		{"short key", &small.PublicKey, testTenant},
		{"empty tenant", pub, ""},
		{"NUL in tenant", pub, "a\x00b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := u.CreateProtector(tt.pub, tt.tenant, rand.Reader); err == nil {
				t.Fatal("CreateProtector succeeded")
			}
			if c.HasProtector() {
				t.Fatal("failed CreateProtector left a protector")
			}
		})
	}
}

func TestResetWithProtector(t *testing.T) {
	dir, c := protected(t)
	before := mustUnlock(t, c, "2580")
	digest := sha256.Sum256([]byte("made before the reset"))
	sig, err := before.Sign(digest[:])
	if err != nil {
		t.Fatal(err)
	}
	oldID := c.NgcKeyID()
	oldCT, _, _ := c.ProtectorCiphertext()

	plain := escrowedProtector(t, c)
	if err := ResetWithProtector(c, plain, "7777", PINPolicy{}, &mustServiceKey(t).PublicKey, rand.Reader); err != nil {
		t.Fatalf("ResetWithProtector: %v", err)
	}
	if !bytes.Equal(plain, make([]byte, ProtectorSize)) {
		t.Fatal("plaintext protector not cleared")
	}

	reopened, err := Open(dir, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reopened.Unlock("2580"); !errors.Is(err, ErrWrongPIN) {
		t.Fatalf("old PIN after reset: %v", err)
	}
	after := mustUnlock(t, reopened, "7777")
	if after.NgcKeyID() != oldID {
		t.Fatalf("NgcKeyId changed: %s → %s", oldID, after.NgcKeyID())
	}
	if !ecdsa.VerifyASN1(after.PublicKey(), digest[:], sig) {
		t.Fatal("signature made before the reset does not verify with the key after")
	}
	sig2, err := after.Sign(digest[:])
	if err != nil || !ecdsa.VerifyASN1(before.PublicKey(), digest[:], sig2) {
		t.Fatalf("key after the reset is not the key before: %v", err)
	}
	if !reopened.HasProtector() {
		t.Fatal("no fresh protector after reset")
	}
	newCT, _, _ := reopened.ProtectorCiphertext()
	if bytes.Equal(oldCT, newCT) {
		t.Fatal("protector ciphertext not renewed")
	}
	if !reopened.PINSetAt().Equal(testNow) {
		t.Fatalf("PINSetAt = %v", reopened.PINSetAt())
	}
	// An Unlocked handle from before the reset still works and sees the new state.
	if err := before.ChangePIN("4444", PINPolicy{}, rand.Reader); err != nil {
		t.Fatalf("ChangePIN through a handle from before the reset: %v", err)
	}
	mustUnlock(t, c, "4444")
	if !c.HasProtector() {
		t.Fatal("ChangePIN dropped the fresh protector")
	}
}

func TestResetWithOldProtectorFails(t *testing.T) {
	dir, c := protected(t)
	old := escrowedProtector(t, c)
	keep := bytes.Clone(old)
	if err := ResetWithProtector(c, old, "7777", PINPolicy{}, &mustServiceKey(t).PublicKey, rand.Reader); err != nil {
		t.Fatal(err)
	}
	snapshot := mustReadFile(t, dir, "alice")
	err := ResetWithProtector(c, keep, "9999", PINPolicy{}, &mustServiceKey(t).PublicKey, rand.Reader)
	wantErrIs(t, err, ErrWrongProtector)
	if !bytes.Equal(snapshot, mustReadFile(t, dir, "alice")) {
		t.Fatal("refused reset changed the file")
	}
}

func TestResetWithProtectorRefusals(t *testing.T) {
	pub := &mustServiceKey(t).PublicKey
	tests := []struct {
		name    string
		mangle  func(p []byte) []byte
		pin     string
		policy  PINPolicy
		pub     *rsa.PublicKey
		wantErr error
		rule    string
	}{
		{"random protector", func([]byte) []byte { b := make([]byte, ProtectorSize); rand.Read(b); return b }, "7777", PINPolicy{}, pub, ErrWrongProtector, ""},
		{"flipped bit", func(p []byte) []byte { p[0] ^= 1; return p }, "7777", PINPolicy{}, pub, ErrWrongProtector, ""},
		{"truncated", func(p []byte) []byte { return p[:31] }, "7777", PINPolicy{}, pub, ErrWrongProtector, ""},
		{"too long", func(p []byte) []byte { return append(p, 0) }, "7777", PINPolicy{}, pub, ErrWrongProtector, ""},
		{"nil", func([]byte) []byte { return nil }, "7777", PINPolicy{}, pub, ErrWrongProtector, ""},
		{"new PIN breaks policy", func(p []byte) []byte { return p }, "77", PINPolicy{}, pub, nil, "MinimumPINLength"},
		{"new PIN in history", func(p []byte) []byte { return p }, "2580", PINPolicy{History: 1}, pub, nil, "History"},
		{"no service key", func(p []byte) []byte { return p }, "7777", PINPolicy{}, nil, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, c := protected(t)
			before := mustReadFile(t, dir, "alice")
			err := ResetWithProtector(c, tt.mangle(escrowedProtector(t, c)), tt.pin, tt.policy, tt.pub, rand.Reader)
			if err == nil {
				t.Fatal("ResetWithProtector succeeded")
			}
			if tt.wantErr != nil {
				wantErrIs(t, err, tt.wantErr)
			}
			if tt.rule != "" {
				var pe *PolicyError
				if !errors.As(err, &pe) || pe.Rule != tt.rule {
					t.Fatalf("error = %v, want rule %s", err, tt.rule)
				}
			}
			if !bytes.Equal(before, mustReadFile(t, dir, "alice")) {
				t.Fatal("refused reset changed the file")
			}
			mustUnlock(t, c, "2580")
		})
	}
}

func TestResetWithTamperedFileProtector(t *testing.T) {
	dir, c := protected(t)
	plain := escrowedProtector(t, c)
	// Tamper the wrapped key in memory as a modified file would after Open.
	c.mu.Lock()
	r := *c.f.Reset
	r.Wrapped = bytes.Clone(r.Wrapped)
	r.Wrapped[nonceSize] ^= 0x80
	c.f.Reset = &r
	c.mu.Unlock()
	before := mustReadFile(t, dir, "alice")
	err := ResetWithProtector(c, plain, "7777", PINPolicy{}, &mustServiceKey(t).PublicKey, rand.Reader)
	wantErrIs(t, err, ErrWrongProtector)
	if !bytes.Equal(before, mustReadFile(t, dir, "alice")) {
		t.Fatal("refused reset changed the file")
	}
}

func TestResetWithoutProtector(t *testing.T) {
	c := mustProvision(t, t.TempDir(), "alice", "2580")
	err := ResetWithProtector(c, make([]byte, ProtectorSize), "7777", PINPolicy{}, &mustServiceKey(t).PublicKey, rand.Reader)
	wantErrIs(t, err, ErrNoProtector)
}

func TestResetDestructive(t *testing.T) {
	dir, c := protected(t)
	oldID := c.NgcKeyID()
	oldPub := c.PublicKey()

	// A new PIN that breaks policy is refused before anything is erased.
	snapshot := mustReadFile(t, dir, "alice")
	if _, err := ResetDestructive(dir, "alice", "1", PINPolicy{}, rand.Reader, testOpts()...); err == nil {
		t.Fatal("ResetDestructive accepted a 1-digit PIN")
	}
	if !bytes.Equal(snapshot, mustReadFile(t, dir, "alice")) {
		t.Fatal("refused destructive reset changed the file")
	}

	nc, err := ResetDestructive(dir, "alice", "2580", PINPolicy{History: 5}, rand.Reader, testOpts()...)
	if err != nil {
		t.Fatalf("ResetDestructive: %v", err)
	}
	if nc.NgcKeyID() == oldID {
		t.Fatal("NgcKeyId unchanged by destructive reset")
	}
	if nc.PublicKey().Equal(oldPub) {
		t.Fatal("key pair unchanged by destructive reset")
	}
	if nc.HasProtector() {
		t.Fatal("protector survived destructive reset")
	}
	st, err := Status(dir, "alice")
	if err != nil || st.NgcKeyID != nc.NgcKeyID() || st.CanReset != CanResetDestructiveOnly {
		t.Fatalf("Status after destructive reset = %+v, %v", st, err)
	}
	u := mustUnlock(t, nc, "2580")
	if cert, _ := u.Certificate(); cert != nil {
		t.Fatal("certificate survived destructive reset")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("%d files after destructive reset, want 1", len(entries))
	}
}

func TestStaleContainerCannotResurrect(t *testing.T) {
	dir, c := protected(t)
	u := mustUnlock(t, c, "2580")
	if _, err := ResetDestructive(dir, "alice", "1470", PINPolicy{}, rand.Reader, testOpts()...); err != nil {
		t.Fatal(err)
	}
	after := mustReadFile(t, dir, "alice")
	if err := c.DestroyProtector(); !errors.Is(err, ErrReplaced) {
		t.Fatalf("DestroyProtector on a replaced container: %v", err)
	}
	if err := u.ChangePIN("9630", PINPolicy{}, rand.Reader); !errors.Is(err, ErrReplaced) {
		t.Fatalf("ChangePIN on a replaced container: %v", err)
	}
	if !bytes.Equal(after, mustReadFile(t, dir, "alice")) {
		t.Fatal("stale container overwrote the new one")
	}
	if err := Delete(dir, "alice"); err != nil {
		t.Fatal(err)
	}
	if err := u.SetCertificate(nil, rand.Reader); !errors.Is(err, ErrReplaced) {
		t.Fatalf("SetCertificate on a deleted container: %v", err)
	}
	if ok, _ := Exists(dir, "alice"); ok {
		t.Fatal("stale container resurrected a deleted one")
	}
}
