package e2e

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hellomdm/hellomdm/device/enroll"
	"github.com/hellomdm/hellomdm/device/hello"
	"github.com/hellomdm/hellomdm/device/identity"
	"github.com/hellomdm/hellomdm/internal/testpki"
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
	"github.com/hellomdm/hellomdm/store"
)

// zipFolder zips a folder's files with paths relative to it, as `hellomdm admin gpo` uploads
// a GPMC backup folder.
func zipFolder(t *testing.T, dir string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		w, err := zw.Create(filepath.ToSlash(rel))
		if err != nil {
			return err
		}
		data, err := os.ReadFile(p)
		if err == nil {
			_, err = w.Write(data)
		}
		return err
	})
	if err == nil {
		err = zw.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// uploadGPO posts a GPO to the import endpoint and returns the answer.
func (e *env) uploadGPO(query string, body []byte) (int, wire.GroupPolicyImport) {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.url+"/api/v1/tenants/"+contosoTenant+"/groupPolicy/import?"+query, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := testpki.HTTPClient(testpki.ClientTLS(e.app.CA.Pool(), nil, nil)).Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var v wire.GroupPolicyImport
	if resp.StatusCode < 300 {
		if err := json.Unmarshal(raw, &v); err != nil {
			e.t.Fatalf("decoding %s: %v", raw, err)
		}
	} else {
		e.t.Logf("import: HTTP %d %s", resp.StatusCode, raw)
	}
	return resp.StatusCode, v
}

// Issue 21 acceptance: a GPO that sets "Use PIN Recovery" (the GPMC backup of
// policy/gpo/testdata, with the rest of a typical WHfB GPO) is imported, its profile
// assigned, a device syncs: all 13 imported settings land (one under ./User), EnablePinRecovery
// is succeeded,
// and once Hello is provisioned the device reports CanReset : DestructiveAndNonDestructive.
func TestGroupPolicyImportEndToEnd(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	e.consent(contosoTenant, true)
	id := newIdentity(t, identity.OSVersionWindows11v23H2, identity.EditionEnterprise)
	a := e.pinAgent(id)
	e.enroll(a, "alice@contoso.com", enroll.CSRWindows)
	did := id.DeviceID

	backup := zipFolder(t, filepath.Join("..", "..", "policy", "gpo", "testdata", "backup"))
	st, imp := e.uploadGPO("fileName=WHfB-backup.zip&name=WHfB%20from%20Group%20Policy", backup)
	if st != http.StatusCreated || imp.ID == "" {
		t.Fatalf("import: HTTP %d %+v", st, imp)
	}
	if imp.Source.GPOName != "WHfB - PIN recovery" || imp.Summary.Supported != 13 {
		t.Fatalf("import analysed %+v, %+v", imp.Source, imp.Summary)
	}
	gid := e.groupWith(contosoTenant, "GPO pilot", did)
	e.assign("deviceConfigurations", imp.ID, groupTarget(gid))
	e.syncUntilState(a, contosoTenant, pinRecoveryNode, store.SettingSucceeded)
	if !a.Policy().PINRecoveryEnabled {
		t.Fatalf("device policy after the GPO's profile landed: %+v", a.Policy())
	}
	// Every setting of the GPO reached the device and was verified, the User half's
	// UsePassportForWork under the enrolled user's ./User node.
	e.syncUntil(a, func() bool {
		for _, s := range e.settingStatesIn(contosoTenant, did) {
			if s.State == store.SettingPending {
				return false
			}
		}
		return true
	})
	states := e.settingStatesIn(contosoTenant, did)
	for _, s := range states {
		if s.State != store.SettingSucceeded {
			t.Errorf("%s: %s (%d %s)", s.LocURI, s.State, s.ErrorCode, s.ErrorDetail)
		}
	}
	user := ""
	for _, s := range states {
		if s.LocURI == "./User/Vendor/MSFT/PassportForWork/"+contosoTenant+"/Policies/UsePassportForWork" {
			user = s.State
		}
	}
	if len(states) != 13 || user != store.SettingSucceeded || stateOf(states, "/Policy/Config/CredentialProviders/AllowPINLogon") != store.SettingSucceeded {
		t.Errorf("%d settings from the GPO (want 13), the User half's %q: %+v", len(states), user, states)
	}

	// Hello under the GPO's PIN complexity (6+ characters, a digit, no upper case), then the
	// status a user sees.
	const upn = "alice@contoso.com"
	if _, err := a.ProvisionHello(ctx, upn, "ABCDEF12"); err == nil {
		t.Fatal("provisioning accepted upper-case letters the GPO does not allow")
	}
	res, err := a.ProvisionHello(ctx, upn, "2468013579")
	if err != nil {
		t.Fatalf("provision: %v", err)
	}
	if res.CanReset != hello.CanResetDestructiveAndNonDestructive {
		t.Fatalf("provision: %+v", res)
	}
	if s := status(t, a); !strings.Contains(s, "CanReset : DestructiveAndNonDestructive") {
		t.Fatalf("status:\n%s", s)
	}
	e.sync(a)
	if ids := e.devicesWith(contosoTenant, hello.CanResetDestructiveAndNonDestructive); !contains(ids, did) {
		t.Errorf("devices with DestructiveAndNonDestructive = %v, want %s", ids, did)
	}
}
