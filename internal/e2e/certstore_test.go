package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/audit"
	"github.com/hellomdm/hellomdm/device/enroll"
	"github.com/hellomdm/hellomdm/device/identity"
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
)

// The server manages the device's MDM certificate through CertificateStore My/WSTEP/Renew,
// as it would a Windows device's: the schedule nodes read and change what automatic renewal
// follows, an inconsistent schedule is refused, and Exec of RenewNow renews the certificate
// after the session, with Status, ErrorCode and LastRenewalAttemptTime reporting it.
func TestCertificateStoreRenewNodes(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	a := e.agent(newIdentity(t, identity.OSVersionWindows11v23H2, identity.EditionPro))
	e.enroll(a, "alice@contoso.com", enroll.CSRWindows)
	did := a.Identity().DeviceID
	const renew = "./Vendor/MSFT/CertificateStore/My/WSTEP/Renew/"

	// run queues cmds, runs one session and returns the commands as the server recorded them.
	run := func(cmds ...wire.CommandRequest) []wire.Command {
		t.Helper()
		var ids []string
		for _, c := range cmds {
			ids = append(ids, e.queue(contosoTenant, did, c))
		}
		if _, err := a.Sync(ctx); err != nil {
			t.Fatalf("sync: %v", err)
		}
		var out []wire.Command
		for _, id := range ids {
			out = append(out, e.command(contosoTenant, did, id))
		}
		return out
	}
	get := func(leaf string) wire.CommandRequest {
		return wire.CommandRequest{Verb: "Get", LocURI: renew + leaf}
	}
	value := func(v wire.Command) string {
		if len(v.Results) != 1 {
			return "<" + v.State + ", " + v.StatusText + ">"
		}
		return v.Results[0].Data
	}

	got := run(get("RenewPeriod"), get("RetryInterval"), get("ROBOSupport"), get("ServerURL"), get("Status"))
	if value(got[0]) != "60" || value(got[1]) != "4" || value(got[2]) != "true" ||
		!strings.HasSuffix(value(got[3]), "/EnrollmentServer/Enrollment.svc") || value(got[4]) != "0" {
		t.Fatalf("provisioned schedule read back as RenewPeriod %s, RetryInterval %s, ROBOSupport %s, ServerURL %s, Status %s",
			value(got[0]), value(got[1]), value(got[2]), value(got[3]), value(got[4]))
	}

	got = run(wire.CommandRequest{Verb: "Replace", LocURI: renew + "RetryInterval", Format: "int", Data: "10"},
		wire.CommandRequest{Verb: "Replace", LocURI: renew + "RenewPeriod", Format: "int", Data: "5"})
	if got[0].StatusCode != 200 || got[1].StatusCode == 200 {
		t.Fatalf("Replace RetryInterval 10 answered %d, RenewPeriod 5 (below it) answered %d; want 200 and a refusal", got[0].StatusCode, got[1].StatusCode)
	}
	if s := a.Enrollment().RenewSchedule(); s.RetryInterval != 10 || s.RenewPeriod != 60 {
		t.Fatalf("agent schedule after the Replaces: %+v, want RetryInterval 10 and RenewPeriod still 60", s)
	}

	old := tlsCertOf(t, a)
	before := time.Now().UTC().Truncate(time.Second)
	got = run(wire.CommandRequest{Verb: "Exec", LocURI: renew + "RenewNow"})
	if got[0].StatusCode != 202 {
		t.Fatalf("Exec RenewNow answered %d (%s), want 202", got[0].StatusCode, got[0].StatusText)
	}
	renewed := tlsCertOf(t, a)
	if renewed.Leaf.SerialNumber.Cmp(old.Leaf.SerialNumber) == 0 {
		t.Fatal("RenewNow did not renew the certificate after the session")
	}
	if evs := e.auditOf(contosoTenant, audit.KindRenewed, did); len(evs) != 1 {
		t.Errorf("%d renewal events, want 1", len(evs))
	}
	got = run(get("Status"), get("ErrorCode"), get("LastRenewalAttemptTime"))
	at, err := time.Parse(time.RFC3339, value(got[2]))
	if value(got[0]) != "2" || value(got[1]) != "0" || err != nil || at.Before(before) {
		t.Fatalf("after RenewNow: Status %s, ErrorCode %s, LastRenewalAttemptTime %s (%v); want 2, 0 and a time after %v",
			value(got[0]), value(got[1]), value(got[2]), err, before)
	}
}
