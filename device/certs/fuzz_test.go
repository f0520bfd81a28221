package certs

import (
	"testing"

	"github.com/hellomdm/hellomdm/device/enroll"
)

// The renewal answer's reader must never panic.

func FuzzRenewedCertificate(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte) {
		env, err := enroll.ParseResponse("renew", 200, body)
		if err != nil {
			return
		}
		if cert, err := renewedCertificate(env); err == nil && cert == nil {
			t.Fatal("nil certificate without error")
		}
	})
}
