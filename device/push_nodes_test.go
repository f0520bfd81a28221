package device

import (
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/device/enroll"
	"github.com/hellomdm/hellomdm/device/identity"
	"github.com/hellomdm/hellomdm/syncml"
)

// The DMClient Push nodes as the agent answers them (docs/protocol.md C.7): nothing before a
// PFN; with a PFN and no WNS client, Status 4 (no channel URI assigned) and no ChannelURI;
// with a WNS client, its channel and Status 0. The PFN survives a restart, and a Delete
// removes it.
func TestPushNodes(t *testing.T) {
	f := newRenewFake(t)
	id, err := identity.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	dir, _ := renewableState(t, f, id, enroll.CSRClean, time.Now().Add(-time.Hour), time.Now().Add(365*day), nil)
	a, err := Open(dir, Options{Identity: &id})
	if err != nil {
		t.Fatal(err)
	}
	push := "./Device/Vendor/MSFT/DMClient/Provider/" + a.Enrollment().ProviderID + "/Push/"
	status := func(a *Agent, verb, leaf, data string) int {
		t.Helper()
		cmd := syncml.Command{Verb: verb, CmdID: "2", Items: []syncml.Item{{Target: push + leaf, Data: data}}}
		if data != "" {
			cmd.Items[0].Meta = &syncml.Meta{Format: "chr"}
		}
		out := a.tree.Execute(cmd)
		if len(out) != 1 {
			t.Fatalf("%s %s: %+v", verb, leaf, out)
		}
		return out[0].Status
	}
	for _, leaf := range []string{"ChannelURI", "Status", "PFN"} {
		if got := status(a, syncml.VerbGet, leaf, ""); got != syncml.StatusNotFound {
			t.Errorf("Get %s before a PFN: %d, want 404", leaf, got)
		}
	}
	if got := status(a, syncml.VerbReplace, "ChannelURI", "https://x.notify.windows.com/"); got != syncml.StatusCommandNotAllowed {
		t.Errorf("Replace of the read-only ChannelURI: %d, want 405", got)
	}
	const pfn = "Contoso.MDM_8wekyb3d8bbwe"
	// (The fixture's state has no Provider/{ProviderID} node, which enrollment adds: Add
	// creates the parents, a Replace after it changes the value.)
	if got := status(a, syncml.VerbAdd, "PFN", "Other.App_8wekyb3d8bbwe"); got != syncml.StatusOK {
		t.Fatalf("Add PFN: %d", got)
	}
	if got := status(a, syncml.VerbReplace, "PFN", pfn); got != syncml.StatusOK {
		t.Fatalf("Replace PFN: %d", got)
	}
	if got := getValue(t, a, push+"Status"); got != "4" {
		t.Errorf("Status with a PFN and no WNS client = %q, want 4", got)
	}
	if got := status(a, syncml.VerbGet, "ChannelURI", ""); got != syncml.StatusNotFound {
		t.Errorf("Get ChannelURI without a channel: %d, want 404", got)
	}

	// Reopened with a WNS client: the PFN was kept, and the channel is answered.
	b, err := Open(dir, Options{Identity: &id, WNSChannel: func(p string) string {
		if p != pfn {
			return ""
		}
		return "https://db5p.notify.windows.com/?token=abc"
	}})
	if err != nil {
		t.Fatal(err)
	}
	if got := getValue(t, b, push+"PFN"); got != pfn {
		t.Errorf("PFN after reopening = %q", got)
	}
	if got := getValue(t, b, push+"ChannelURI"); got != "https://db5p.notify.windows.com/?token=abc" {
		t.Errorf("ChannelURI = %q", got)
	}
	if got := getValue(t, b, push+"Status"); got != "0" {
		t.Errorf("Status with a channel = %q, want 0", got)
	}
	if got := status(b, syncml.VerbDelete, "PFN", ""); got != syncml.StatusOK {
		t.Fatalf("Delete PFN: %d", got)
	}
	for _, leaf := range []string{"ChannelURI", "Status"} {
		if got := status(b, syncml.VerbGet, leaf, ""); got != syncml.StatusNotFound {
			t.Errorf("Get %s after the PFN was deleted: %d, want 404", leaf, got)
		}
	}
}
