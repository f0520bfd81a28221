package idp

import (
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/iotest"
)

func TestHashAndCheckPassword(t *testing.T) {
	h, err := HashPasswordWith("s3cret", seededRand(2), cheapPW)
	if err != nil {
		t.Fatalf("HashPasswordWith: %v", err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("hash %q lacks the PHC prefix", h)
	}
	h2, err := HashPasswordWith("s3cret", seededRand(3), cheapPW)
	if err != nil {
		t.Fatal(err)
	}
	if h == h2 {
		t.Fatalf("two salts gave the same hash")
	}
	tests := []struct {
		name string
		hash string
		pw   string
		want error
	}{
		{"match", h, "s3cret", nil},
		{"mismatch", h, "s3cret!", ErrPasswordMismatch},
		{"empty password", h, "", ErrPasswordMismatch},
		{"not phc", "s3cret", "s3cret", ErrPasswordHashMalformed},
		{"empty hash", "", "x", ErrPasswordHashMalformed},
		{"bcrypt", "$2a$10$abcdefghijklmnopqrstuv", "x", ErrPasswordHashMalformed},
		{"argon2i", strings.Replace(h, "argon2id", "argon2i", 1), "s3cret", ErrPasswordHashMalformed},
		{"version 16", strings.Replace(h, "v=19", "v=16", 1), "s3cret", ErrPasswordHashMalformed},
		{"huge memory", strings.Replace(h, "m=64", "m=4294967295", 1), "s3cret", ErrPasswordHashMalformed},
		{"zero time", strings.Replace(h, "t=1", "t=0", 1), "s3cret", ErrPasswordHashMalformed},
		{"zero threads", strings.Replace(h, "p=1", "p=0", 1), "s3cret", ErrPasswordHashMalformed},
		{"threads overflow", strings.Replace(h, "p=1", "p=257", 1), "s3cret", ErrPasswordHashMalformed},
		{"params swapped", strings.Replace(h, "m=64,t=1", "t=1,m=64", 1), "s3cret", ErrPasswordHashMalformed},
		{"padded salt", strings.Replace(h, "$"+strings.Split(h, "$")[4], "$"+strings.Split(h, "$")[4]+"==", 1), "s3cret", ErrPasswordHashMalformed},
		{"short key", h[:len(h)-30], "s3cret", ErrPasswordHashMalformed},
		{"extra field", h + "$x", "s3cret", ErrPasswordHashMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckPassword(tc.hash, tc.pw)
			if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
				t.Fatalf("CheckPassword = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestHashPasswordErrors(t *testing.T) {
	tests := []struct {
		name string
		opt  PasswordOptions
	}{
		{"zero options", PasswordOptions{}},
		{"short salt", PasswordOptions{MemoryKiB: 64, Time: 1, Threads: 1, SaltLen: 4, KeyLen: 32}},
		{"short key", PasswordOptions{MemoryKiB: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 8}},
		{"memory below 8p", PasswordOptions{MemoryKiB: 8, Time: 1, Threads: 2, SaltLen: 16, KeyLen: 32}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := HashPasswordWith("pw", seededRand(1), tc.opt); err == nil {
				t.Fatal("HashPasswordWith succeeded with bad options")
			}
		})
	}
	t.Run("rand fails", func(t *testing.T) {
		if _, err := HashPasswordWith("pw", iotest.ErrReader(errors.New("boom")), cheapPW); err == nil {
			t.Fatal("HashPasswordWith succeeded without randomness")
		}
	})
}

func TestDefaultPasswordOptionsFollowOWASP(t *testing.T) {
	o := DefaultPasswordOptions()
	if o.MemoryKiB != 19456 || o.Time != 2 || o.Threads != 1 {
		t.Fatalf("defaults %+v, want m=19456 t=2 p=1", o)
	}
	if err := o.validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
}

func BenchmarkCheckPasswordDefault(b *testing.B) {
	h, err := HashPassword("benchmark password", seededRand(9))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := CheckPassword(h, "benchmark password"); err != nil {
			b.Fatal(err)
		}
	}
}

func ExampleCheckPassword() {
	hash, err := HashPasswordWith("correct horse", rand.Reader, PasswordOptions{MemoryKiB: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32})
	if err != nil {
		panic(err)
	}
	fmt.Println(CheckPassword(hash, "correct horse"))
	fmt.Println(errors.Is(CheckPassword(hash, "wrong"), ErrPasswordMismatch))
	// Output:
	// <nil>
	// true
}
