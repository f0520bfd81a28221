package e2e

import (
	"net/http"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/hellomdm/hellomdm/device"
	"github.com/hellomdm/hellomdm/device/enroll"
	"github.com/hellomdm/hellomdm/device/identity"
	"github.com/hellomdm/hellomdm/pinreset/idp"
	"github.com/hellomdm/hellomdm/policy"
	"github.com/hellomdm/hellomdm/server"
	"github.com/hellomdm/hellomdm/store"
)

// settingStateGauge reads hellomdm_setting_states{state} from a registry, for every state
// it reports; a state missing from the answer is a test failure (the gauge always lists
// the six states, zeros included).
func settingStateGauge(t *testing.T, reg prometheus.Gatherer) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "hellomdm_setting_states" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "state" {
					got[lp.GetValue()] = m.GetGauge().GetValue()
				}
			}
		}
	}
	for _, s := range policy.States() {
		if _, ok := got[s]; !ok {
			t.Errorf("hellomdm_setting_states has no series for state %s: %v", s, got)
		}
	}
	return got
}

func wantGauge(t *testing.T, what string, got map[string]float64, want map[string]float64) {
	t.Helper()
	for _, s := range policy.States() {
		if got[s] != want[s] {
			t.Errorf("%s: hellomdm_setting_states{state=%q} = %v, want %v (all: %v)", what, s, got[s], want[s], got)
		}
	}
}

// hellomdm_setting_states{state} is the number of device × setting states in each state
// now, counted from the store: it follows transitions (succeeded, then removed when a device
// leaves the group, conflict when two profiles disagree), covers every tenant, and a fresh
// set of metrics on the same store (a restarted server, another replica) reports the same.
func TestSettingStatesGauge(t *testing.T) {
	e := start(t)
	const (
		pinSuffix   = "/PassportForWork/" + contosoTenant + "/Policies/EnablePinRecovery"
		allowSuffix = "/Policy/Config/Authentication/ConfigureWebSignInAllowedUrls"
	)
	fresh := func() map[string]float64 { return settingStateGauge(t, server.NewMetrics(e.app.Store, nil).Registry()) }
	wantGauge(t, "no profiles", fresh(), nil)

	agents := make([]*device.Agent, 2)
	ids := make([]string, 2)
	for i := range agents {
		agents[i] = e.agent(newIdentity(t, identity.OSVersionWindows11v23H2, identity.EditionPro))
		e.enroll(agents[i], "alice@contoso.com", enroll.CSRWindows)
		ids[i] = agents[i].Identity().DeviceID
	}
	g := e.groupWith(contosoTenant, "WHfB pilot", ids[0])
	if st := e.api(http.MethodPost, "/tenants/"+contosoTenant+"/groups/"+g+"/members", map[string]string{"id": ids[1]}, nil); st != http.StatusNoContent {
		t.Fatalf("adding the second device: HTTP %d", st)
	}
	pin := e.importProfile("configurationPolicies", catalogPinRecoveryExport)
	allow := e.importProfile("deviceConfigurations", customAllowListExport)
	e.assign("configurationPolicies", pin, groupTarget(g))
	e.assign("deviceConfigurations", allow, groupTarget(g))
	for _, a := range agents {
		e.syncUntilState(a, contosoTenant, pinSuffix, store.SettingSucceeded)
		e.syncUntilState(a, contosoTenant, allowSuffix, store.SettingSucceeded)
	}
	wantGauge(t, "both devices configured", fresh(), map[string]float64{store.SettingSucceeded: 4})

	// The second device leaves the group: its two settings are deleted on it and verified.
	if st := e.api(http.MethodDelete, "/tenants/"+contosoTenant+"/groups/"+g+"/members/"+ids[1], nil, nil); st != http.StatusNoContent {
		t.Fatalf("removing the second device: HTTP %d", st)
	}
	e.syncUntilState(agents[1], contosoTenant, pinSuffix, store.SettingRemoved)
	e.syncUntilState(agents[1], contosoTenant, allowSuffix, store.SettingRemoved)
	wantGauge(t, "second device left the group", fresh(), map[string]float64{store.SettingSucceeded: 2, store.SettingRemoved: 2})

	// A profile turning PIN recovery off for every device conflicts with the catalog one on
	// the first device, and gives the second device the value (a write, then its check).
	off := e.importProfile("deviceConfigurations", customPinRecoveryOff)
	e.assign("deviceConfigurations", off, `{"assignments":[{"target":{"@odata.type":"#microsoft.graph.allDevicesAssignmentTarget"}}]}`)
	e.syncUntilState(agents[0], contosoTenant, pinSuffix, store.SettingConflict)
	e.syncUntilState(agents[1], contosoTenant, pinSuffix, store.SettingSucceeded)
	want := map[string]float64{store.SettingConflict: 1, store.SettingSucceeded: 2, store.SettingRemoved: 1}
	wantGauge(t, "conflict", fresh(), want)

	// Another tenant's device counts too.
	b := e.agent(newIdentity(t, identity.OSVersionWindows11v23H2, identity.EditionPro))
	e.enroll(b, "bob@fabrikam.com", enroll.CSRWindows)
	fab := e.importProfileIn(fabrikamTen, "deviceConfigurations", customAllowListExport)
	e.assignIn(fabrikamTen, "deviceConfigurations", fab, `{"assignments":[{"target":{"@odata.type":"#microsoft.graph.allDevicesAssignmentTarget"}}]}`)
	e.syncUntilState(b, fabrikamTen, allowSuffix, store.SettingSucceeded)
	want[store.SettingSucceeded]++
	wantGauge(t, "two tenants", fresh(), want)
	// The server's own metrics (computed at its first scrape) agree with a fresh set.
	wantGauge(t, "the running server", settingStateGauge(t, e.app.Metrics.Registry()), want)
}

// counter is the value of the counter name{label=value} in the server's metrics (0 when the
// series is absent).
func (e *env) counter(name, label, value string) float64 {
	e.t.Helper()
	mfs, err := e.app.Metrics.Registry().Gather()
	if err != nil {
		e.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name || mf.GetType() != dto.MetricType_COUNTER {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == label && lp.GetValue() == value {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// Enrollments by event (enrolled, refused, retired) and sign-ins by outcome are counted as
// they happen, refusals included: a wrong password at Policy.svc, a domain no tenant has,
// a wrong password at the identity provider.
func TestEnrollmentAndSignInMetrics(t *testing.T) {
	e := start(t)
	want := func(name, label, value string, n float64) {
		t.Helper()
		if got := e.counter(name, label, value); got != n {
			t.Errorf("%s{%s=%q} = %v, want %v", name, label, value, got, n)
		}
	}
	a := e.agent(newIdentity(t, identity.OSVersionWindows11v23H2, identity.EditionPro))
	e.enroll(a, "alice@contoso.com", enroll.CSRWindows)
	want("hellomdm_enrollments_total", "event", "enrolled", 1)
	want("hellomdm_enrollments_total", "event", "refused", 0)

	if f := e.getPolicies("alice@contoso.com", "wrong password", ""); f.policiesDelivered {
		t.Fatal("a wrong password got the enrollment policies")
	}
	if f := e.getPolicies("carol@nowhere.example", password, ""); f.policiesDelivered {
		t.Fatal("a domain no tenant has got the enrollment policies")
	}
	want("hellomdm_enrollments_total", "event", "refused", 2)

	if st, _ := e.idpToken("alice@contoso.com", "wrong password", idp.AudienceEnrollment); st == http.StatusOK {
		t.Fatal("the identity provider took a wrong password")
	}
	want("hellomdm_signins_total", "outcome", "refused", 1)
	want("hellomdm_auth_refusals_total", "actor", "user", 1)
	if st, tok := e.idpToken("alice@contoso.com", password, idp.AudienceEnrollment); st != http.StatusOK || tok == "" {
		t.Fatalf("sign-in with the right password: HTTP %d", st)
	}
	want("hellomdm_signins_total", "outcome", "ok", 1)
	want("hellomdm_signins_total", "outcome", "refused", 1)

	if st := e.api(http.MethodPost, "/tenants/"+contosoTenant+"/devices/"+a.Identity().DeviceID+"/retire", nil, nil); st != http.StatusOK {
		t.Fatalf("retire: HTTP %d", st)
	}
	want("hellomdm_enrollments_total", "event", "retired", 1)
	want("hellomdm_enrollments_total", "event", "enrolled", 1)
}
