package device

import (
	"errors"
	"strings"
	"testing"

	"github.com/hellomdm/hellomdm/device/hello"
	"github.com/hellomdm/hellomdm/device/identity"
) // The join state is a persisted, changeable fact that Status shows where dsregcmd /status
// shows it and the DeviceState nodes report.
func TestJoinStateStatusAndNodes(t *testing.T) {
	dir := t.TempDir()
	a, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := a.Join(); got != identity.DefaultJoinState {
		t.Fatalf("new device: %+v, want %+v", got, identity.DefaultJoinState)
	}
	tests := []struct {
		j                                         identity.JoinState
		azureAD, domain, workplace, wamSet, nodes string
	}{
		{identity.JoinState{Join: hello.AzureADJoined, Trust: hello.KeyTrust, Account: hello.Enterprise}, "YES", "NO", "NO", "YES", "azureADJoined key workOrSchool"},
		{identity.JoinState{Join: hello.HybridJoined, Trust: hello.CloudTrust, Account: hello.Enterprise}, "YES", "YES", "NO", "YES", "hybridAzureADJoined cloudKerberos workOrSchool"},
		{identity.JoinState{Join: hello.EntraRegistered, Trust: hello.CertTrust, Account: hello.Enterprise}, "NO", "NO", "YES", "NO", "azureADRegistered certificate workOrSchool"},
		{identity.JoinState{Join: hello.EntraRegistered, Trust: hello.KeyTrust, Account: hello.MicrosoftAccount}, "NO", "NO", "YES", "YES", "azureADRegistered key microsoftAccount"},
		{identity.JoinState{Join: hello.OnPremises, Trust: hello.CertTrust, Account: hello.Enterprise}, "NO", "YES", "NO", "NO", "domainJoined certificate workOrSchool"},
	}
	for _, tc := range tests {
		t.Run(tc.j.Join.Name()+"/"+tc.j.Trust.Name()+"/"+tc.j.Account.Name(), func(t *testing.T) {
			if err := a.SetJoin(tc.j); err != nil {
				t.Fatal(err)
			}
			b, err := Open(dir, Options{}) // persisted
			if err != nil {
				t.Fatal(err)
			}
			if got := b.Join(); got != tc.j {
				t.Fatalf("after reopening: %+v, want %+v", got, tc.j)
			}
			s := squeezedStatus(t, b)
			for _, want := range []string{
				"AzureAdJoined : " + tc.azureAD, "EnterpriseJoined : NO", "DomainJoined : " + tc.domain,
				"WorkplaceJoined : " + tc.workplace, "WamDefaultSet : " + tc.wamSet, "TrustType : " + tc.j.Trust.String(),
			} {
				if !strings.Contains(s, want) {
					t.Errorf("status lacks %q:\n%s", want, s)
				}
			}
			// dsregcmd order: the join lines open Device State; WorkplaceJoined follows the
			// Hello lines in User State.
			if strings.Index(s, "AzureAdJoined") > strings.Index(s, "DeviceId") || strings.Index(s, "User State") > strings.Index(s, "WorkplaceJoined") {
				t.Errorf("join lines out of place:\n%s", s)
			}
			got := strings.Join([]string{getValue(t, b, identity.NodeJoinType), getValue(t, b, identity.NodeTrustType), getValue(t, b, identity.NodeAccountType)}, " ")
			if got != tc.nodes {
				t.Errorf("DeviceState nodes = %q, want %q", got, tc.nodes)
			}
		})
	}
	// A Microsoft account cannot sign in on an Entra joined device; nothing changes.
	before := a.Join()
	if err := a.SetJoin(identity.JoinState{Join: hello.AzureADJoined, Trust: hello.KeyTrust, Account: hello.MicrosoftAccount}); !errors.Is(err, identity.ErrJoinState) {
		t.Errorf("MSA on an Entra joined device: %v", err)
	}
	if err := a.SetJoin(identity.JoinState{Join: hello.JoinType(9), Trust: hello.KeyTrust, Account: hello.Enterprise}); !errors.Is(err, identity.ErrJoinState) {
		t.Errorf("unknown join type: %v", err)
	}
	if a.Join() != before {
		t.Errorf("a refused SetJoin changed the state: %+v", a.Join())
	}
}
