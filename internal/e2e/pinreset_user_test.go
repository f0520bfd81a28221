package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/device"
	"github.com/hellomdm/hellomdm/device/enroll"
	"github.com/hellomdm/hellomdm/device/hello"
	"github.com/hellomdm/hellomdm/device/identity"
	devreset "github.com/hellomdm/hellomdm/device/pinreset"
	"github.com/hellomdm/hellomdm/pinreset"
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
	"github.com/hellomdm/hellomdm/store"
)

// TestProtectorLabelsAgree: the agent (hello.ProtectorLabel) and the PIN reset service
// (pinreset.Label) build the same RSA-OAEP label from a tenant and a UPN, whatever the case
// of the UPN; otherwise no protector would ever decrypt.
func TestProtectorLabelsAgree(t *testing.T) {
	tests := []struct {
		name, tenant, upn string
	}{
		{"lower case", contosoTenant, "alice@contoso.com"},
		{"mixed case", contosoTenant, "Alice@Contoso.COM"},
		{"non-ASCII", fabrikamTen, "ÅSA.Öberg@fabrikam.com"},
		{"down-level name", contosoTenant, `CONTOSO\alice`},
		{"empty", contosoTenant, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dev, svc := hello.ProtectorLabel(tt.tenant, tt.upn), pinreset.Label(tt.tenant, tt.upn)
			if !bytes.Equal(dev, svc) {
				t.Errorf("device label %q, service label %q", dev, svc)
			}
			if got, want := pinreset.TenantLabelPrefix(tt.tenant), hello.ProtectorLabelPrefix(tt.tenant); got != want {
				t.Errorf("service label prefix %q, device %q", got, want)
			}
			if !bytes.Equal(pinreset.Label(tt.tenant, tt.upn), pinreset.Label(tt.tenant, strings.ToUpper(tt.upn))) {
				t.Error("the label depends on the case of the UPN")
			}
		})
	}
}

// pinRecoveryFor assigns the catalog PIN recovery profile to a group of the given devices
// and syncs each agent until the node is set.
func (e *env) pinRecoveryFor(agents ...*device.Agent) {
	e.t.Helper()
	gid := e.groupWith(contosoTenant, "WHfB PIN recovery", agents[0].Identity().DeviceID)
	for _, a := range agents[1:] {
		if st := e.api(http.MethodPost, "/tenants/"+contosoTenant+"/groups/"+gid+"/members", map[string]string{"id": a.Identity().DeviceID}, nil); st != http.StatusNoContent {
			e.t.Fatalf("adding %s to the group: HTTP %d", a.Identity().DeviceID, st)
		}
	}
	profile := e.importProfile("configurationPolicies", catalogPinRecoveryExport)
	e.assign("configurationPolicies", profile, groupTarget(gid))
	for _, a := range agents {
		e.syncUntilState(a, contosoTenant, pinRecoveryNode, store.SettingSucceeded)
	}
}

// protectorCiphertext reads the escrowed ciphertext of a container file.
func protectorCiphertext(t *testing.T, file []byte) []byte {
	t.Helper()
	var ct []byte
	rewriteCiphertext(t, file, func(b []byte) []byte { ct = bytes.Clone(b); return b })
	return ct
}

// A PIN reset protector is bound to its user: carol, another user of alice's tenant, signs in
// with MFA and presents alice's ciphertext (copied from alice's Hello container, as a local
// administrator of a shared device could), from her own enrolled device and from alice's;
// the service refuses it as an opaque bad ciphertext and audits the refusal, while alice's
// own non-destructive reset still works.
func TestPinResetProtectorBoundToUser(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	var carol wire.User
	if st := e.api(http.MethodPost, "/tenants/"+contosoTenant+"/users", map[string]any{"userPrincipalName": "carol@contoso.com",
		"passwordProfile": map[string]string{"password": password}}, &carol); st != http.StatusCreated {
		t.Fatalf("creating carol: HTTP %d", st)
	}
	// Alice enrolled with her UPN in another case than the directory's: the label
	// lower-cases it on both sides.
	const aliceUPN, carolUPN = "Alice@Contoso.com", "carol@contoso.com"
	alice := e.pinAgent(newIdentity(t, identity.OSVersionWindows11v23H2, identity.EditionPro))
	e.enroll(alice, aliceUPN, enroll.CSRWindows)
	carolDev := e.pinAgent(newIdentity(t, identity.OSVersionWindows11v23H2, identity.EditionPro))
	e.enroll(carolDev, carolUPN, enroll.CSRWindows)
	e.pinRecoveryFor(alice, carolDev)
	e.consent(contosoTenant, true)

	aliceRes, err := alice.ProvisionHello(ctx, aliceUPN, firstPIN)
	if err != nil || aliceRes.CanReset != hello.CanResetDestructiveAndNonDestructive {
		t.Fatalf("provisioning alice: %+v, %v", aliceRes, err)
	}
	if res, err := carolDev.ProvisionHello(ctx, carolUPN, firstPIN); err != nil || res.CanReset != hello.CanResetDestructiveAndNonDestructive {
		t.Fatalf("provisioning carol: %+v, %v", res, err)
	}
	aliceOTP := e.enrollTOTP(contosoTenant, "u-alice")
	carolOTP := e.enrollTOTP(contosoTenant, carol.ID)
	alicePath, carolPath := containerFile(t, alice), containerFile(t, carolDev)
	aliceCT := protectorCiphertext(t, readFile(t, alicePath))

	// Carol's device, carol's MFA sign-in, alice's ciphertext.
	carolOrig := readFile(t, carolPath)
	stolen := rewriteCiphertext(t, carolOrig, func([]byte) []byte { return aliceCT })
	if err := os.WriteFile(carolPath, stolen, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = carolDev.ResetPIN(ctx, devreset.Request{UPN: carolUPN, EntryPoint: hello.AboveLock, Kind: hello.NonDestructive,
		Password: password, OTP: carolOTP.next(), NewPIN: "13572468"})
	wantServiceCode(t, err, "bad_ciphertext")
	if !bytes.Equal(stolen, readFile(t, carolPath)) {
		t.Error("refused reset changed carol's container")
	}
	e.wantAuditedUser(carolDev.Identity().DeviceID, carolUPN, "ciphertext does not decrypt")

	// Alice's (shared) device, alice's own container, carol's MFA token.
	aliceBefore := readFile(t, alicePath)
	_, err = alice.ResetPIN(ctx, devreset.Request{UPN: aliceUPN, EntryPoint: hello.AboveLock, Kind: hello.NonDestructive,
		AccessToken: e.mint(time.Now(), contosoTenant, carol.ID, carolUPN, true), NewPIN: "13572468"})
	wantServiceCode(t, err, "bad_ciphertext")
	if !bytes.Equal(aliceBefore, readFile(t, alicePath)) {
		t.Error("refused reset changed alice's container")
	}
	e.wantAuditedUser(alice.Identity().DeviceID, carolUPN, "ciphertext does not decrypt")
	if evs := e.audit(contosoTenant, "pinreset.succeeded"); len(evs) != 0 {
		t.Fatalf("pinreset.succeeded events after the refusals: %+v", evs)
	}

	// Carol's own protector still works for carol, and alice's for alice.
	if err := os.WriteFile(carolPath, carolOrig, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := carolDev.ResetPIN(ctx, devreset.Request{UPN: carolUPN, EntryPoint: hello.AboveLock, Kind: hello.NonDestructive,
		Password: password, OTP: carolOTP.next(), NewPIN: "13572468"}); err != nil {
		t.Fatalf("carol's non-destructive reset of her own container: %v", err)
	}
	res, err := alice.ResetPIN(ctx, devreset.Request{UPN: aliceUPN, EntryPoint: hello.Settings, Kind: hello.NonDestructive,
		Password: password, OTP: aliceOTP.next(), NewPIN: "97531864"})
	if err != nil {
		t.Fatalf("alice's non-destructive reset: %v", err)
	}
	if res.NgcKeyID != aliceRes.NgcKeyID || res.CanReset != hello.CanResetDestructiveAndNonDestructive {
		t.Errorf("after alice's reset: %+v, want NgcKeyId %s kept", res, aliceRes.NgcKeyID)
	}
	if _, err := alice.UnlockHello(ctx, aliceUPN, "97531864"); err != nil {
		t.Errorf("alice's new PIN: %v", err)
	}
}

// wantAuditedUser fails unless a pinreset.refused event of the device names upn and reason.
func (e *env) wantAuditedUser(deviceID, upn, reason string) {
	e.t.Helper()
	for _, ev := range e.audit(contosoTenant, "pinreset.refused") {
		d := strings.ToLower(string(ev.Details))
		if ev.DeviceID == deviceID && strings.Contains(d, strings.ToLower(upn)) && strings.Contains(d, reason) {
			return
		}
	}
	e.t.Errorf("no pinreset.refused audit event of %s names %s and %q", deviceID, upn, reason)
}

// A protector made under the tenant-only label of earlier releases (a container file without
// a label version) no longer counts for non-destructive reset; the next sign-in with the PIN
// replaces it with one bound to the user, after which non-destructive reset works.
func TestPinResetReplacesV1Protector(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	const upn = "alice@contoso.com"
	a := e.pinAgent(newIdentity(t, identity.OSVersionWindows11v23H2, identity.EditionPro))
	e.enroll(a, upn, enroll.CSRWindows)
	e.pinRecoveryFor(a)
	e.consent(contosoTenant, true)
	if res, err := a.ProvisionHello(ctx, upn, firstPIN); err != nil || res.CanReset != hello.CanResetDestructiveAndNonDestructive {
		t.Fatalf("provisioning: %+v, %v", res, err)
	}
	otp := e.enrollTOTP(contosoTenant, "u-alice")

	// Turn the file into one an earlier agent wrote: no label version.
	path := containerFile(t, a)
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(readFile(t, path), &raw); err != nil {
		t.Fatal(err)
	}
	var rp map[string]any
	if err := json.Unmarshal(raw["resetProtector"], &rp); err != nil {
		t.Fatal(err)
	}
	if rp["labelVersion"] != float64(hello.ProtectorLabelVersion) {
		t.Fatalf("new protector's label version = %v", rp["labelVersion"])
	}
	delete(rp, "labelVersion")
	raw["resetProtector"], _ = json.Marshal(rp)
	v1, _ := json.Marshal(raw)
	if err := os.WriteFile(path, v1, 0o600); err != nil {
		t.Fatal(err)
	}
	oldCT := protectorCiphertext(t, v1)

	if s := status(t, a); !strings.Contains(s, "CanReset : DestructiveOnly") || !strings.Contains(s, "PinResetProtector : outdated") {
		t.Errorf("status with a version 1 protector:\n%s", s)
	}
	_, err := a.ResetPIN(ctx, devreset.Request{UPN: upn, EntryPoint: hello.Settings, Kind: hello.NonDestructive,
		Password: password, OTP: otp.next(), NewPIN: "13572468"})
	var ref *hello.RefusalError
	if !errors.As(err, &ref) || ref.Row != hello.RowProtectorMissing {
		t.Fatalf("non-destructive reset with a version 1 protector: %v, want row %s", err, hello.RowProtectorMissing)
	}
	if !bytes.Equal(v1, readFile(t, path)) {
		t.Error("refused reset changed the container")
	}

	// Sign-in with the PIN replaces the protector.
	res, err := a.UnlockHello(ctx, upn, firstPIN)
	if err != nil || res.CanReset != hello.CanResetDestructiveAndNonDestructive || res.ProtectorIssue != "" {
		t.Fatalf("unlock with a version 1 protector: %+v, %v", res, err)
	}
	after := readFile(t, path)
	if bytes.Equal(protectorCiphertext(t, after), oldCT) || !bytes.Contains(after, []byte(`"labelVersion"`)) {
		t.Fatal("unlock did not replace the version 1 protector")
	}
	if s := status(t, a); !strings.Contains(s, "PinResetProtector : present") {
		t.Errorf("status after the replacement:\n%s", s)
	}
	if _, err := a.ResetPIN(ctx, devreset.Request{UPN: upn, EntryPoint: hello.Settings, Kind: hello.NonDestructive,
		Password: password, OTP: otp.next(), NewPIN: "13572468"}); err != nil {
		t.Fatalf("non-destructive reset after the replacement: %v", err)
	}
}
