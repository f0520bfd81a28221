package e2e

import (
	"context"
	"testing"

	"github.com/hellomdm/hellomdm/device/enroll"
	"github.com/hellomdm/hellomdm/device/identity"
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
	"github.com/hellomdm/hellomdm/syncml"
)

// hellomdm's agent answers an Atomic the way Windows does, the Atomic's Status first and its
// children's after it; the server records every child, for a success and for a 507 that
// names the command that failed.
func TestAtomicOutcomesFromAgent(t *testing.T) {
	e := start(t)
	a := e.agent(newIdentity(t, identity.OSVersionWindows11v23H2, identity.EditionPro))
	e.enroll(a, "alice@contoso.com", enroll.CSRWindows)
	did := a.Identity().DeviceID
	ok := e.queue(contosoTenant, did, wire.CommandRequest{Verb: "Atomic", Commands: []wire.CommandRequest{
		{Verb: "Replace", LocURI: pinRecoveryURI, Format: "bool", Data: "true"},
		{Verb: "Replace", LocURI: allowListURI, Format: "chr", Data: allowList},
	}})
	bad := e.queue(contosoTenant, did, wire.CommandRequest{Verb: "Atomic", Commands: []wire.CommandRequest{
		{Verb: "Replace", LocURI: pinRecoveryURI, Format: "bool", Data: "false"},
		{Verb: "Replace", LocURI: "./Device/Vendor/MSFT/NoSuchCSP/Node", Format: "int", Data: "1"},
	}})
	if _, err := a.Sync(context.Background()); err != nil {
		t.Fatalf("sync: %v", err)
	}
	v := e.command(contosoTenant, did, ok)
	if v.State != "succeeded" || len(v.Commands) != 2 || v.Commands[0].State != "succeeded" || v.Commands[1].State != "succeeded" {
		t.Fatalf("successful Atomic: %+v", v)
	}
	v = e.command(contosoTenant, did, bad)
	if v.StatusCode != syncml.StatusAtomicFailed || len(v.Commands) != 2 {
		t.Fatalf("failed Atomic: %+v", v)
	}
	if c := v.Commands[0]; c.State != "rolledBack" || c.StatusCode != syncml.StatusAtomicRollbackOK {
		t.Errorf("first child: state %s code %d, want rolledBack 216", c.State, c.StatusCode)
	}
	if c := v.Commands[1]; c.State != "failed" || c.StatusCode < 400 || c.StatusText == "" {
		t.Errorf("failing child: state %s code %d %q, want failed with its own code", c.State, c.StatusCode, c.StatusText)
	}
	if !a.Policy().PINRecoveryEnabled {
		t.Errorf("the failed Atomic's write was not rolled back on the device")
	}
}
