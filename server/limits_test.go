package server

import (
	"net/http"
	"strings"
	"testing"

	"github.com/hellomdm/hellomdm/enrollment"
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/syncml"
)

// TestEnrollmentLimitsFitTheStore: what enrollment accepts the store takes, so a device is
// refused with enrollment's fault, not with the store's error after its certificate is signed.
func TestEnrollmentLimitsFitTheStore(t *testing.T) {
	if enrollment.MaxDeviceNameLen > store.MaxDeviceTextLen {
		t.Errorf("enrollment takes device names of %d bytes, the store %d", enrollment.MaxDeviceNameLen, store.MaxDeviceTextLen)
	}
}

// Values from the network that the store builds keys from are refused where they arrive,
// with the API's JSON error or a SyncML status, when too long for the store: never with the
// store's (or the database's) error after the fact.
func TestLongInputsRefused(t *testing.T) {
	ts := startIdentityServer(t)
	tp := "/tenants/" + testTenant
	long := func(n int) string { return strings.Repeat("a", n) }
	for _, c := range []struct {
		name, method, path, body string
		status                   int
	}{
		// Tenant IDs are GUIDs, 36 bytes, as store/core TestKeyBudget counts them.
		{"tenant ID", http.MethodPost, "/tenants", `{"id":"` + long(store.MaxIDLen) + `","displayName":"x","verifiedDomains":["x.example"]}`, http.StatusUnprocessableEntity},
		{"UPN", http.MethodPost, tp + "/users", `{"userPrincipalName":"` + long(300) + `@contoso.com","passwordProfile":{"password":"Correct horse 1"}}`, http.StatusUnprocessableEntity},
		{"group name", http.MethodPost, tp + "/groups", `{"displayName":"` + long(257) + `"}`, http.StatusUnprocessableEntity},
		{"OMA-URI", http.MethodPost, tp + "/deviceConfigurations", `{"@odata.type":"#microsoft.graph.windows10CustomConfiguration","displayName":"long",
"omaSettings":[{"@odata.type":"#microsoft.graph.omaSettingString","displayName":"x","omaUri":"./Vendor/MSFT/Policy/Config/` + long(3000) + `","value":"v"}]}`, http.StatusUnprocessableEntity},
		{"device ID", http.MethodGet, tp + "/devices/" + long(3000), "", http.StatusNotFound},
		{"member ID", http.MethodPost, tp + "/groups/" + long(3000) + "/members", `{"id":"` + long(3000) + `"}`, http.StatusNotFound},
	} {
		st, code := ts.raw(testToken, c.method, c.path, c.body)
		if st != c.status || code == "" {
			t.Errorf("%s too long: HTTP %d %q, want %d with a JSON error", c.name, st, code, c.status)
		}
	}
	var group wire.Group
	if st := ts.api(http.MethodPost, tp+"/groups", wire.GroupRequest{DisplayName: long(256)}, &group); st != http.StatusCreated {
		t.Errorf("a group name of 256 bytes: HTTP %d", st)
	}

	// A device reporting an OS version or CanReset too long for the device index: the
	// Replace is answered 413 and the value is not kept; the check-in goes on.
	dev := ts.enroll("DEV-LONG-TEXT-0001")
	b := dev.first()
	ok := b.Command(syncml.Command{Verb: syncml.VerbReplace, Items: []syncml.Item{{Source: "./DevDetail/SwV", Data: "10.0.26100.1742"}}})
	osRef := b.Command(syncml.Command{Verb: syncml.VerbReplace, Items: []syncml.Item{{Source: "./DevDetail/SwV", Data: long(store.MaxDeviceTextLen + 1)}}})
	crRef := b.Command(syncml.Command{Verb: syncml.VerbReplace, Items: []syncml.Item{{Source: store.CanResetNodeUnscoped, Data: long(store.MaxDeviceTextLen + 1)}}})
	m := dev.send(b)
	for ref, want := range map[string]int{ok: syncml.StatusOK, osRef: syncml.StatusRequestTooLarge, crRef: syncml.StatusRequestTooLarge} {
		if st, found := statusFor(m, ref); !found || st != want {
			t.Errorf("Status of Replace %s: %d (found %v), want %d", ref, st, found, want)
		}
	}
	var v wire.Device
	if st := ts.api(http.MethodGet, tp+"/devices/"+dev.id, nil, &v); st != http.StatusOK || v.OSVersion != "10.0.26100.1742" || v.CanReset != "" {
		t.Errorf("after the check-in: HTTP %d osVersion %q canReset %q", st, v.OSVersion, v.CanReset)
	}

	// A SessionID longer than the store's IDs: the message is refused with SyncHdr status 400.
	hdr := dev.header(1)
	hdr.SessionID = long(store.MaxIDLen + 1)
	lb := syncml.NewBuilder(hdr, 2)
	lb.Alert(syncml.AlertClientInitiated)
	raw, err := lb.Bytes(true)
	if err != nil {
		t.Fatal(err)
	}
	httpStatus, body := dev.post(raw)
	reply, err := syncml.Parse(body)
	if err != nil {
		t.Fatalf("a long SessionID: HTTP %d, %v\n%s", httpStatus, err, body)
	}
	if st, found := statusFor(reply, "0"); httpStatus != http.StatusOK || !found || st != syncml.StatusBadRequest {
		t.Errorf("a long SessionID: HTTP %d, SyncHdr status %d (found %v), want 400", httpStatus, st, found)
	}
}
