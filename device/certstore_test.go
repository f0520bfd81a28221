package device

import (
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/csp"
	"github.com/hellomdm/hellomdm/device/certs"
	"github.com/hellomdm/hellomdm/device/enroll"
	"github.com/hellomdm/hellomdm/device/identity"
	"github.com/hellomdm/hellomdm/syncml"
) // A state directory written before the agent kept My/WSTEP/Renew in its tree gets the
// schedule nodes from its enrollment record on Open, and a Replace through the tree changes
// the schedule (persisted), while one that would make RetryInterval exceed RenewPeriod is
// refused and changes nothing.
func TestCertStoreRenewNodes(t *testing.T) {
	f := newRenewFake(t)
	id, err := identity.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	dir, _ := renewableState(t, f, id, enroll.CSRClean, time.Now().Add(-time.Hour), time.Now().Add(365*day), &enroll.RenewSchedule{ROBOSupport: true, RenewPeriod: 30, RetryInterval: 5})
	a, err := Open(dir, Options{Identity: &id})
	if err != nil {
		t.Fatal(err)
	}
	renew := certs.WSTEPRoot + "/Renew/"
	for leaf, want := range map[string]string{"RenewPeriod": "30", "RetryInterval": "5", "ROBOSupport": "true",
		"ServerURL": f.ts.URL + "/EnrollmentServer/enroll.Enrollment.svc", "Status": "0", "ErrorCode": "0"} {
		if got := getValue(t, a, renew+leaf); got != want {
			t.Errorf("Get %s = %q, want %q", leaf, got, want)
		}
	}

	for _, tc := range []struct {
		leaf, data string
		wantCode   int
		want       enroll.RenewSchedule
	}{
		{"RetryInterval", "12", syncml.StatusOK, enroll.RenewSchedule{ROBOSupport: true, RenewPeriod: 30, RetryInterval: 12}},
		{"RenewPeriod", "10", syncml.StatusCommandFailed, enroll.RenewSchedule{ROBOSupport: true, RenewPeriod: 30, RetryInterval: 12}},
		{"RenewPeriod", "1001", syncml.StatusBadRequest, enroll.RenewSchedule{ROBOSupport: true, RenewPeriod: 30, RetryInterval: 12}},
		{"ROBOSupport", "false", syncml.StatusOK, enroll.RenewSchedule{ROBOSupport: false, RenewPeriod: 30, RetryInterval: 12}},
		{"RenewPeriod", "90", syncml.StatusOK, enroll.RenewSchedule{ROBOSupport: false, RenewPeriod: 90, RetryInterval: 12}},
	} {
		format := "int"
		if tc.leaf == "ROBOSupport" {
			format = "bool"
		}
		out := a.tree.Execute(syncml.Command{Verb: syncml.VerbReplace, CmdID: "2", Items: []syncml.Item{{Target: renew + tc.leaf, Data: tc.data, Meta: &syncml.Meta{Format: format}}}})
		if len(out) != 1 || out[0].Status != tc.wantCode {
			t.Fatalf("Replace %s %s: %+v, want status %d", tc.leaf, tc.data, out, tc.wantCode)
		}
		if got := a.Enrollment().RenewSchedule(); got != tc.want {
			t.Fatalf("after Replace %s %s the schedule is %+v, want %+v", tc.leaf, tc.data, got, tc.want)
		}
	}
	// The schedule is the enrollment record's: it survives a restart.
	b, err := Open(dir, Options{Identity: &id})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := b.Enrollment().RenewSchedule(), (enroll.RenewSchedule{ROBOSupport: false, RenewPeriod: 90, RetryInterval: 12}); got != want {
		t.Fatalf("after reopening: %+v, want %+v", got, want)
	}
	if got := getValue(t, b, renew+"RenewPeriod"); got != "90" {
		t.Fatalf("RenewPeriod after reopening: %q", got)
	}
}

func getValue(t *testing.T, a *Agent, uri string) string {
	t.Helper()
	out := a.tree.Execute(syncml.Command{Verb: syncml.VerbGet, CmdID: "3", Items: []syncml.Item{{Target: uri}}})
	if len(out) != 1 || out[0].Status != syncml.StatusOK || len(out[0].Results) != 1 {
		t.Fatalf("Get %s: %+v", uri, out)
	}
	return out[0].Results[0].Data
}

var _ csp.Handler = certs.Handler{}
