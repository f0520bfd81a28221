package hello

import (
	"crypto/rand"
	"testing"
)

// BenchmarkUnlockDefaultKDF measures one PIN attempt at production cost (Argon2id t=3,
// m=64 MiB, p=4): the work an attacker with the file pays per guess.
func BenchmarkUnlockDefaultKDF(b *testing.B) {
	c, err := Provision(b.TempDir(), "alice", "2580", PINPolicy{}, rand.Reader, WithKDFParams(DefaultKDFParams()))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		u, err := c.Unlock("2580")
		if err != nil {
			b.Fatal(err)
		}
		u.Close()
	}
}
