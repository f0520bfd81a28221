package idp

import (
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"io"
	"strconv"
	"strings"

	"context"
	"golang.org/x/crypto/argon2"
	"runtime"
)

// PasswordOptions are the argon2id parameters (RFC 9106 §3.1) used when hashing. The
// defaults follow the OWASP Password Storage Cheat Sheet minimum for argon2id: 19 MiB of
// memory, 2 passes, 1 lane. Tests use cheaper values; CheckPassword always reads the
// parameters back from the encoded hash, so hashes made with different options coexist.
type PasswordOptions struct {
	MemoryKiB uint32 // m, in KiB
	Time      uint32 // t, passes over memory
	Threads   uint8  // p, lanes
	SaltLen   uint32 // bytes of random salt
	KeyLen    uint32 // bytes of derived key
}

// DefaultPasswordOptions returns m=19456 (19 MiB), t=2, p=1, 16-byte salt, 32-byte key.
func DefaultPasswordOptions() PasswordOptions {
	return PasswordOptions{MemoryKiB: 19 * 1024, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}
}

// Bounds accepted for parameters, both when hashing and when reading a stored hash, so a
// corrupted or hostile hash string cannot make a check allocate gigabytes or spin forever.
const (
	maxMemoryKiB = 1 << 20 // 1 GiB
	maxTime      = 64
	maxThreads   = 64
	minSaltLen   = 8 // RFC 9106 §3.1 recommends 16; 8 is the PHC minimum
	maxSaltLen   = 64
	minKeyLen    = 16
	maxKeyLen    = 64
)

// argon2Version is the only algorithm version argon2 produces (0x13, RFC 9106 §3.1).
const argon2Version = argon2.Version

var phcB64 = base64.RawStdEncoding.Strict()

func (o PasswordOptions) validate() error {
	switch {
	case o.MemoryKiB < 8*uint32(o.Threads) || o.MemoryKiB > maxMemoryKiB:
		return fmt.Errorf("memory %d KiB out of range", o.MemoryKiB)
	case o.Time < 1 || o.Time > maxTime:
		return fmt.Errorf("time %d out of range", o.Time)
	case o.Threads < 1 || o.Threads > maxThreads:
		return fmt.Errorf("threads %d out of range", o.Threads)
	case o.SaltLen < minSaltLen || o.SaltLen > maxSaltLen:
		return fmt.Errorf("salt length %d out of range", o.SaltLen)
	case o.KeyLen < minKeyLen || o.KeyLen > maxKeyLen:
		return fmt.Errorf("key length %d out of range", o.KeyLen)
	}
	return nil
}

// HashPassword hashes pw with argon2id and DefaultPasswordOptions, drawing the salt from
// rnd, and returns the PHC string `$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>` (salt and
// hash in unpadded standard base64, as the PHC string format specifies).
func HashPassword(pw string, rnd io.Reader) (string, error) {
	return HashPasswordWith(pw, rnd, DefaultPasswordOptions())
}

// HashPasswordWith is HashPassword with explicit parameters.
func HashPasswordWith(pw string, rnd io.Reader, o PasswordOptions) (string, error) {
	if err := o.validate(); err != nil {
		return "", fmt.Errorf("hashing password: %w", err)
	}
	salt := make([]byte, o.SaltLen)
	if _, err := io.ReadFull(rnd, salt); err != nil {
		return "", fmt.Errorf("hashing password: reading salt: %w", err)
	}
	key := argon2.IDKey([]byte(pw), salt, o.Time, o.MemoryKiB, o.Threads, o.KeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2Version, o.MemoryKiB, o.Time, o.Threads,
		phcB64.EncodeToString(salt), phcB64.EncodeToString(key)), nil
}

// CheckPassword reports whether pw matches the PHC argon2id hash: nil on a match,
// ErrPasswordMismatch on a mismatch, ErrPasswordHashMalformed (wrapped) when hash cannot be
// parsed or its parameters are out of bounds. The comparison is constant-time.
func CheckPassword(hash, pw string) error {
	o, salt, want, err := parsePHC(hash)
	if err != nil {
		return fmt.Errorf("checking password: %w: %v", ErrPasswordHashMalformed, err)
	}
	got := argon2.IDKey([]byte(pw), salt, o.Time, o.MemoryKiB, o.Threads, o.KeyLen)
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return ErrPasswordMismatch
	}
	return nil
}

// parsePHC splits `$argon2id$v=19$m=..,t=..,p=..$salt$hash`.
func parsePHC(s string) (PasswordOptions, []byte, []byte, error) {
	var o PasswordOptions
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" {
		return o, nil, nil, fmt.Errorf("want 5 $-separated fields")
	}
	if parts[1] != "argon2id" {
		return o, nil, nil, fmt.Errorf("algorithm %q is not argon2id", parts[1])
	}
	if parts[2] != "v="+strconv.Itoa(argon2Version) {
		return o, nil, nil, fmt.Errorf("unsupported version %q", parts[2])
	}
	params := strings.Split(parts[3], ",")
	if len(params) != 3 {
		return o, nil, nil, fmt.Errorf("want m,t,p parameters")
	}
	var vals [3]uint64
	for i, name := range []string{"m=", "t=", "p="} {
		v, ok := strings.CutPrefix(params[i], name)
		if !ok {
			return o, nil, nil, fmt.Errorf("parameter %d is not %s", i, name)
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return o, nil, nil, fmt.Errorf("parameter %s: %w", name, err)
		}
		vals[i] = n
	}
	if vals[2] > maxThreads {
		return o, nil, nil, fmt.Errorf("threads %d out of range", vals[2])
	}
	salt, err := phcB64.DecodeString(parts[4])
	if err != nil {
		return o, nil, nil, fmt.Errorf("salt: %w", err)
	}
	key, err := phcB64.DecodeString(parts[5])
	if err != nil {
		return o, nil, nil, fmt.Errorf("hash: %w", err)
	}
	o = PasswordOptions{
		MemoryKiB: uint32(vals[0]), Time: uint32(vals[1]), Threads: uint8(vals[2]),
		SaltLen: uint32(len(salt)), KeyLen: uint32(len(key)),
	}
	if err := o.validate(); err != nil {
		return o, nil, nil, err
	}
	return o, salt, key, nil
}

// PasswordChecker runs CheckPassword with at most a fixed number of checks at once. Each
// argon2id check holds MemoryKiB of memory (19 MiB by default) for tens of milliseconds, so an
// unbounded burst of sign-ins or enrollments would grow the process by that much per request;
// bounded, the memory is fixed and excess requests wait their turn (or give up with ctx).
type PasswordChecker struct {
	sem chan struct{}
}

// NewPasswordChecker allows n concurrent checks (runtime.GOMAXPROCS(0) when n ≤ 0).
func NewPasswordChecker(n int) *PasswordChecker {
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	return &PasswordChecker{sem: make(chan struct{}, n)}
}

// Check is CheckPassword under the concurrency bound; it returns ctx's error if the wait for
// a slot is cancelled.
func (p *PasswordChecker) Check(ctx context.Context, hash, pw string) error {
	select {
	case p.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-p.sem }()
	return CheckPassword(hash, pw)
}
