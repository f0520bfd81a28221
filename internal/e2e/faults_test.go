package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"syscall"
	"testing"

	"github.com/hellomdm/hellomdm/audit"
	"github.com/hellomdm/hellomdm/device"
	"github.com/hellomdm/hellomdm/device/enroll"
	"github.com/hellomdm/hellomdm/device/identity"
	"github.com/hellomdm/hellomdm/internal/storefault"
	"github.com/hellomdm/hellomdm/internal/testpki"
	"github.com/hellomdm/hellomdm/pinreset/idp"
	"github.com/hellomdm/hellomdm/store"
)

// errDiskFull is the fault injected into the store: a full disk, as the backend reports it.
var errDiskFull = fmt.Errorf("%w: write hellomdm.db: %w", store.ErrUnavailable, syscall.ENOSPC)

// startFaulty starts the product on the test's backend behind a storefault.Store.
func startFaulty(t *testing.T) (*env, *storefault.Store) {
	t.Helper()
	var fs *storefault.Store
	e := startWith(t, func(st store.Store) store.Store {
		fs = storefault.Wrap(st)
		return fs
	})
	return e, fs
}

// faultSweep runs action with the store failing from step n on, for n = 1, 2, ... until a
// run succeeds, and calls check after each run. It fails t unless some run failed
// inside a transaction, between a change and its audit record (the step of building the
// write's audit events), which is where two separate writes used to leave half an action.
func faultSweep(t *testing.T, fs *storefault.Store, action func() error, check func(t *testing.T, n int, err error, tr storefault.Trace)) {
	t.Helper()
	between := false
	for n := 1; ; n++ {
		if n > 50 {
			t.Fatal("the action still failed a step after 50 runs")
		}
		fs.Arm(n, errDiskFull)
		err := action()
		tr := fs.Disarm()
		t.Logf("store failing from step %d: steps %v, %d failed; action: %v", n, tr.Steps, tr.Failed, err)
		if tr.Failed > 0 && err == nil && !onlyBestEffort(tr) {
			t.Fatalf("store failing from step %d (%v): the action reported success", n, tr.Steps)
		}
		check(t, n, err, tr)
		if n <= len(tr.Steps) && strings.HasSuffix(tr.Steps[n-1], "audit events") {
			between = true
		}
		if tr.Failed == 0 && err != nil {
			t.Fatalf("the action failed with the store healthy: %v", err)
		}
		if err == nil {
			break
		}
	}
	if !between {
		t.Fatal("no run failed between a change and its audit record")
	}
}

// onlyBestEffort reports whether every failed step of tr was a write an action may lose
// without losing anything of itself: the record of a refusal (AppendAudit after the action
// was refused), and the failed sign-in counter (counted before the check and reset after a
// success by design; while it fails the limit is kept per process).
func onlyBestEffort(tr storefault.Trace) bool {
	for _, s := range tr.Steps[len(tr.Steps)-tr.Failed:] {
		if s != "AppendAudit" && s != "RecordFailedSignIn" && s != "ResetFailedSignIns" {
			return false
		}
	}
	return true
}

// enrolledEvents returns the serials recorded by the device's enrollment events.
func (e *env) certSerialsOf(kind audit.Kind, deviceID string) []string {
	e.t.Helper()
	var out []string
	for _, ev := range e.auditOf(contosoTenant, kind, deviceID) {
		var d struct {
			CertSerial string `json:"certSerial"`
		}
		if err := json.Unmarshal(ev.Details, &d); err != nil {
			e.t.Fatal(err)
		}
		out = append(out, strings.ToUpper(d.CertSerial))
	}
	return out
}

// An enrollment whose store fails at any step is refused and leaves nothing: no device, no
// certificate serial, no event; one that goes through stores the device with the serial of
// the certificate the device received and one enrollment event saying so.
func TestEnrollmentAllOrNothing(t *testing.T) {
	e, fs := startFaulty(t)
	ctx := context.Background()
	var a *device.Agent
	faultSweep(t, fs, func() error {
		a = e.agent(newIdentity(t, identity.OSVersionWindows11v23H2, identity.EditionPro))
		return a.Enroll(ctx, enroll.Request{ServerURL: e.url, UPN: "alice@contoso.com", Password: password,
			RootCAs: e.app.CA.Pool(), CSRShape: enroll.CSRWindows})
	}, func(t *testing.T, n int, err error, tr storefault.Trace) {
		did := a.Identity().DeviceID
		d, derr := e.app.Store.Device(ctx, did)
		events := e.certSerialsOf(audit.KindEnrolled, did)
		if err != nil {
			if a.Enrollment().State == enroll.StateEnrolled {
				t.Fatalf("step %d: the enrollment failed (%v) but the agent holds a certificate", n, err)
			}
			if !errors.Is(derr, store.ErrNotFound) || len(events) != 0 {
				t.Fatalf("step %d: a refused enrollment left the device %+v (%v) and %d enrollment events", n, d, derr, len(events))
			}
			return
		}
		serial := strings.ToUpper(tlsCertOf(t, a).Leaf.SerialNumber.Text(16))
		if derr != nil || d.State != store.DeviceEnrolled || !strings.EqualFold(d.CertSerial, serial) {
			t.Fatalf("step %d: enrolled device stored as %+v (%v), want enrolled with serial %s", n, d, derr, serial)
		}
		if len(events) != 1 || events[0] != serial {
			t.Fatalf("step %d: enrollment events record serials %v, want [%s]", n, events, serial)
		}
	})
}

// A renewal whose store fails at any step keeps the old certificate current and unrevoked,
// with no renewal event; one that goes through switches serials, revokes the old one and
// records one renewal event.
func TestRenewalAllOrNothing(t *testing.T) {
	e, fs := startFaulty(t)
	ctx := context.Background()
	a := e.agent(newIdentity(t, identity.OSVersionWindows11v23H2, identity.EditionPro))
	e.enroll(a, "alice@contoso.com", enroll.CSRWindows)
	did := a.Identity().DeviceID
	first := strings.ToUpper(tlsCertOf(t, a).Leaf.SerialNumber.Text(16))
	faultSweep(t, fs, func() error { return a.Renew(ctx) }, func(t *testing.T, n int, err error, tr storefault.Trace) {
		d, derr := e.app.Store.Device(ctx, did)
		if derr != nil {
			t.Fatal(derr)
		}
		revoked, rerr := e.app.Store.CertRevoked(ctx, first)
		if rerr != nil {
			t.Fatal(rerr)
		}
		events := e.certSerialsOf(audit.KindRenewed, did)
		held := strings.ToUpper(tlsCertOf(t, a).Leaf.SerialNumber.Text(16))
		if err != nil {
			if !strings.EqualFold(d.CertSerial, first) || revoked || len(events) != 0 || held != first {
				t.Fatalf("step %d: a failed renewal left serial %s (revoked old: %v), %d renewal events, the agent holding %s",
					n, d.CertSerial, revoked, len(events), held)
			}
			return
		}
		if !strings.EqualFold(d.CertSerial, held) || held == first || !revoked || len(events) != 1 || events[0] != held {
			t.Fatalf("step %d: renewal stored serial %s (agent holds %s, old revoked: %v), renewal events %v", n, d.CertSerial, held, revoked, events)
		}
	})
}

// A sign-in with a second factor whose store fails at any step hands out no token, leaves
// the one-time code unused and records no sign-in; one that goes through uses the code and
// records exactly one auth.signin event.
func TestSignInAllOrNothing(t *testing.T) {
	e, fs := startFaulty(t)
	ctx := context.Background()
	otp := e.enrollTOTP(contosoTenant, "u-alice")
	signIn := func(code string) int {
		body := `{"upn":"alice@contoso.com","password":"` + password + `","otp":"` + code + `","audience":"` + idp.AudiencePINReset + `"}`
		resp, err := testpki.HTTPClient(testpki.ClientTLS(e.app.CA.Pool(), nil, nil)).Post(e.url+"/idp/token", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	// A first sign-in creates the tenant's signing key, so that the sweep's steps are the
	// sign-in's own.
	if st := signIn(otp.next()); st != http.StatusOK {
		t.Fatalf("first sign-in: HTTP %d", st)
	}
	code := otp.next()
	lastStep := func() int64 {
		u, err := e.app.Store.User(ctx, contosoTenant, "u-alice")
		if err != nil {
			t.Fatal(err)
		}
		return u.TOTPLastStep
	}
	before, signIns := lastStep(), len(e.auditOf(contosoTenant, audit.KindSignIn, ""))
	var status int
	faultSweep(t, fs, func() error {
		if status = signIn(code); status != http.StatusOK {
			return fmt.Errorf("HTTP %d", status)
		}
		return nil
	}, func(t *testing.T, n int, err error, tr storefault.Trace) {
		step, events := lastStep(), len(e.auditOf(contosoTenant, audit.KindSignIn, ""))-signIns
		if err != nil {
			if status != http.StatusServiceUnavailable || step != before || events != 0 {
				t.Fatalf("step %d: a failed sign-in (HTTP %d) left the last used TOTP step %d (was %d) and %d sign-in events", n, status, step, before, events)
			}
			return
		}
		if step <= before || events != 1 {
			t.Fatalf("step %d: a sign-in left the last used TOTP step %d (was %d) and %d sign-in events, want the step used and one event", n, step, before, events)
		}
	})
}
