package server

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/audit"
	"github.com/hellomdm/hellomdm/server/adminapi"
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/syncml"
)

// Where the agent reports CanReset, device-scoped and not (adminapi/devices.go reads both).
const (
	canResetNode         = "./Device/Vendor/MSFT/hellomdm/HelloStatus/CanReset"
	canResetNodeUnscoped = "./Vendor/MSFT/hellomdm/HelloStatus/CanReset"
)

func TestDeviceAPI(t *testing.T) {
	ts := startIdentityServer(t)
	ctx := context.Background()
	reader := ts.newToken(store.RoleReader, testTenant)
	operator := ts.newToken(store.RoleOperator, testTenant)
	adminB := ts.newToken(store.RoleAdmin, tenantB)
	berlin := ts.newToken(store.RoleReader, testTenant, "Berlin")

	recoverable := ts.enroll("DEV-RECOVERABLE-0001")
	destructive := ts.enroll("DEV-DESTRUCTIVE-0002")
	silent := ts.enroll("DEV-SILENT-0003")
	set := func(id string, fn func(d *store.Device)) {
		if err := ts.app.Store.UpdateDevice(ctx, id, func(d *store.Device) error { fn(d); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	set(recoverable.id, func(d *store.Device) {
		d.Nodes = map[string]string{canResetNode: adminapi.CanResetDestructiveAndNonDestructive}
		d.DeviceName, d.UPN, d.ScopeTags = "DESKTOP-1", "alice@contoso.com", []string{"Berlin"}
	})
	set(destructive.id, func(d *store.Device) {
		d.Nodes = map[string]string{canResetNodeUnscoped: adminapi.CanResetDestructiveOnly}
	})
	setTenant := func(fn func(t *store.Tenant)) {
		if err := ts.app.Store.UpdateTenant(ctx, testTenant, func(t *store.Tenant) error { fn(t); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	consented := func(t *store.Tenant) {
		now := time.Now().UTC()
		t.PinResetServiceConsentAt, t.PinResetClientConsentAt, t.GovCloud = &now, &now, false
	}
	setTenant(consented)
	devices := "/tenants/" + testTenant + "/devices"

	t.Run("list and filter", func(t *testing.T) {
		for _, c := range []struct {
			name, token, query string
			want               []string
		}{
			{"all", reader, "", []string{destructive.id, recoverable.id, silent.id}},
			{"non-destructive", reader, "?canReset=DestructiveAndNonDestructive", []string{recoverable.id}},
			{"destructive only, any case", reader, "?canReset=destructiveonly", []string{destructive.id}},
			{"not reported", reader, "?canReset=", []string{silent.id}},
			{"scope tag", berlin, "", []string{recoverable.id}},
		} {
			var out struct{ Value []wire.Device }
			if st := ts.apiAs(c.token, http.MethodGet, devices+c.query, nil, &out); st != http.StatusOK {
				t.Fatalf("%s: HTTP %d", c.name, st)
			}
			var got []string
			for _, d := range out.Value {
				got = append(got, d.ID)
			}
			if strings.Join(got, ",") != strings.Join(c.want, ",") {
				t.Errorf("%s: %v, want %v", c.name, got, c.want)
			}
		}
	})
	t.Run("get", func(t *testing.T) {
		var v wire.Device
		if st := ts.apiAs(reader, http.MethodGet, devices+"/"+recoverable.id, nil, &v); st != http.StatusOK {
			t.Fatalf("HTTP %d", st)
		}
		if v.DeviceName != "DESKTOP-1" || v.UserPrincipalName != "alice@contoso.com" || v.OSVersion != "10.0.22631.2428" ||
			v.EnrollmentState != store.DeviceEnrolled || v.CanReset != adminapi.CanResetDestructiveAndNonDestructive || v.EnrolledAt.IsZero() {
			t.Fatalf("device %+v", v)
		}
	})
	// The server knows before the device when consent is withdrawn or the tenant is a
	// government cloud: the reported DestructiveAndNonDestructive gives way, with the row.
	t.Run("tenant facts correct the reported CanReset", func(t *testing.T) {
		defer setTenant(consented)
		for _, c := range []struct {
			name string
			fn   func(*store.Tenant)
			row  string
		}{
			{"consent withdrawn", func(t *store.Tenant) { t.PinResetClientConsentAt = nil }, "tenant-not-onboarded"},
			{"government cloud", func(t *store.Tenant) { t.GovCloud = true }, "government-cloud"},
		} {
			setTenant(consented)
			setTenant(c.fn)
			var one wire.Device
			if st := ts.apiAs(reader, http.MethodGet, devices+"/"+recoverable.id, nil, &one); st != http.StatusOK {
				t.Fatalf("%s: HTTP %d", c.name, st)
			}
			if one.CanReset != adminapi.CanResetDestructiveOnly || !strings.Contains(one.CanResetReason, "("+c.row+")") {
				t.Errorf("%s: canReset %q (%q)", c.name, one.CanReset, one.CanResetReason)
			}
			var out struct{ Value []wire.Device }
			if st := ts.apiAs(reader, http.MethodGet, devices+"?canReset=DestructiveAndNonDestructive", nil, &out); st != http.StatusOK || len(out.Value) != 0 {
				t.Errorf("%s: still listed as non-destructive: HTTP %d %+v", c.name, st, out.Value)
			}
		}
	})
	t.Run("osVersion follows DevDetail", func(t *testing.T) {
		b := silent.first()
		b.Command(syncml.Command{Verb: syncml.VerbReplace, Items: []syncml.Item{{Source: "./DevDetail/SwV", Data: "10.0.26100.1742"}}})
		silent.send(b)
		var v wire.Device
		if st := ts.api(http.MethodGet, devices+"/"+silent.id, nil, &v); st != http.StatusOK || v.OSVersion != "10.0.26100.1742" || v.LastSeenAt.IsZero() {
			t.Fatalf("HTTP %d %+v", st, v)
		}
	})

	errCases := []struct {
		name, token, method, path string
		status                    int
		code                      string
	}{
		{"unknown canReset", reader, "GET", devices + "?canReset=Sometimes", 422, "invalidFilter"},
		{"other tenant lists", adminB, "GET", devices, 404, "notFound"},
		{"other tenant gets", adminB, "GET", "/tenants/" + tenantB + "/devices/" + recoverable.id, 404, "notFound"},
		{"other tenant retires", adminB, "POST", devices + "/" + recoverable.id + "/retire", 404, "notFound"},
		{"scope tag hides device", berlin, "GET", devices + "/" + destructive.id, 404, "notFound"},
		{"absent device", reader, "GET", devices + "/NOPE", 404, "notFound"},
		{"reader cannot retire", reader, "POST", devices + "/" + recoverable.id + "/retire", 403, "forbidden"},
		{"operator cannot retire", operator, "POST", devices + "/" + recoverable.id + "/retire", 403, "forbidden"},
	}
	for _, c := range errCases {
		t.Run(c.name, func(t *testing.T) {
			if st, code := ts.raw(c.token, c.method, c.path, ""); st != c.status || code != c.code {
				t.Fatalf("HTTP %d %q; want %d %q", st, code, c.status, c.code)
			}
		})
	}

	t.Run("retire", func(t *testing.T) {
		// The device checks in fine before.
		if m := recoverable.send(recoverable.first()); len(m.Body) == 0 {
			t.Fatal("empty reply")
		}
		var v wire.Device
		if st := ts.api(http.MethodPost, devices+"/"+recoverable.id+"/retire", nil, &v); st != http.StatusOK || v.EnrollmentState != store.DeviceRetired {
			t.Fatalf("HTTP %d %+v", st, v)
		}
		evs := ts.events(testTenant)
		if e := findEvent(evs, audit.KindRetired, "retire", recoverable.id); e == nil || e.DeviceID != recoverable.id || e.Actor.Type != audit.ActorAdmin {
			t.Fatalf("no %s event: %+v", audit.KindRetired, e)
		}
		if findEvent(evs, audit.KindAdminWrite, "retire", recoverable.id) == nil {
			t.Fatal("no admin.write event")
		}
		// Its certificate is refused from now on.
		raw, _ := recoverable.first().Bytes(true)
		st, body := recoverable.post(raw)
		m, err := syncml.Parse(body)
		if err != nil {
			t.Fatalf("HTTP %d: %s", st, body)
		}
		if code, _ := statusFor(m, "0"); st != http.StatusOK || code != syncml.StatusForbidden || len(commandsOf(m)) != 0 {
			t.Fatalf("retired device check-in: HTTP %d SyncHdr status %d", st, code)
		}
		if st, code := ts.raw(testToken, "POST", devices+"/"+recoverable.id+"/retire", ""); st != http.StatusConflict || code != "conflict" {
			t.Fatalf("retire twice: HTTP %d %q", st, code)
		}
		var listed struct{ Value []wire.Device }
		ts.api(http.MethodGet, devices+"?canReset=DestructiveAndNonDestructive", nil, &listed)
		if len(listed.Value) != 1 || listed.Value[0].EnrollmentState != store.DeviceRetired {
			t.Fatalf("list after retire: %+v", listed.Value)
		}
	})
}
