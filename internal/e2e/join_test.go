package e2e

import (
	"net/http"
	"testing"

	"github.com/hellomdm/hellomdm/device/enroll"
	"github.com/hellomdm/hellomdm/device/hello"
	"github.com/hellomdm/hellomdm/device/identity"
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
	"github.com/hellomdm/hellomdm/syncml"
)

// Issue 13 item 4: the join type, trust type and account type are device facts: chosen
// before enrollment, reported at check-in, carried by the server's device record and list,
// readable with a Get, and changed on the device.
func TestJoinStateReachesServer(t *testing.T) {
	e := start(t)
	a := e.agent(newIdentity(t, identity.OSVersionWindows11v23H2, identity.EditionPro))
	if err := a.SetJoin(identity.JoinState{Join: hello.EntraRegistered, Trust: hello.CertTrust, Account: hello.Enterprise}); err != nil {
		t.Fatal(err)
	}
	e.enroll(a, "alice@contoso.com", enroll.CSRWindows)
	e.sync(a)
	did := a.Identity().DeviceID
	view := func() wire.Device {
		t.Helper()
		var v struct {
			Value []wire.Device `json:"value"`
		}
		if st := e.api(http.MethodGet, "/tenants/"+contosoTenant+"/devices", nil, &v); st != http.StatusOK {
			t.Fatalf("listing devices: HTTP %d", st)
		}
		var one wire.Device
		if st := e.api(http.MethodGet, "/tenants/"+contosoTenant+"/devices/"+did, nil, &one); st != http.StatusOK {
			t.Fatalf("getting the device: HTTP %d", st)
		}
		for _, d := range v.Value {
			if d.ID == did {
				if d.JoinType != one.JoinType || d.TrustType != one.TrustType || d.AccountType != one.AccountType {
					t.Errorf("list %+v and device %+v disagree", d, one)
				}
				return one
			}
		}
		t.Fatalf("device %s not listed", did)
		return one
	}
	if v := view(); v.JoinType != "azureADRegistered" || v.TrustType != "certificate" || v.AccountType != "workOrSchool" {
		t.Errorf("after enrollment: join %q trust %q account %q", v.JoinType, v.TrustType, v.AccountType)
	}

	if err := a.SetJoin(identity.JoinState{Join: hello.HybridJoined, Trust: hello.CloudTrust, Account: hello.Enterprise}); err != nil {
		t.Fatal(err)
	}
	e.sync(a)
	if v := view(); v.JoinType != "hybridAzureADJoined" || v.TrustType != "cloudKerberos" {
		t.Errorf("after the change: join %q trust %q", v.JoinType, v.TrustType)
	}
	// The server can also read them with a Get.
	id := e.queue(contosoTenant, did, wire.CommandRequest{Verb: "Get", LocURI: "./Device/Vendor/MSFT/hellomdm/DeviceState/JoinType"})
	e.sync(a)
	if c := e.command(contosoTenant, did, id); c.StatusCode != syncml.StatusOK || len(c.Results) != 1 || c.Results[0].Data != "hybridAzureADJoined" {
		t.Errorf("Get JoinType: %+v", c)
	}
}
