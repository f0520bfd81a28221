package device

import (
	"errors"
	"testing"

	"github.com/hellomdm/hellomdm/device/enroll"
	"github.com/hellomdm/hellomdm/device/hello"
	"github.com/hellomdm/hellomdm/device/pinreset"
)

func TestHelloNeedsEnrollment(t *testing.T) {
	a, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.ProvisionHello(t.Context(), "a@b", "1357"); !errors.Is(err, enroll.ErrNotEnrolled) {
		t.Errorf("ProvisionHello = %v, want enroll.ErrNotEnrolled", err)
	}
	if _, err := a.ResetPIN(t.Context(), pinreset.Request{UPN: "a@b", EntryPoint: hello.Settings, Kind: hello.Destructive, Password: "p", NewPIN: "1357"}); !errors.Is(err, enroll.ErrNotEnrolled) {
		t.Errorf("ResetPIN = %v, want enroll.ErrNotEnrolled", err)
	}
	if st, err := a.ProtectorStatus(); err != nil || st.State != pinreset.ProtectorNotUsed {
		t.Errorf("pinreset.ProtectorStatus = %+v, %v", st, err)
	}
	// The policy hook runs without an enrolled user.
	if err := a.hm.PinRecoveryChanged(true); err != nil {
		t.Errorf("hook: %v", err)
	}
}
