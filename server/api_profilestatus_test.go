package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/hellomdm/hellomdm/server/adminapi/wire"
	"github.com/hellomdm/hellomdm/store"
)

// statusRows flattens a report into "device locURI state" rows.
func statusRows(rep wire.ProfileStatus) []string {
	var out []string
	for _, d := range rep.Devices {
		for _, s := range d.Settings {
			out = append(out, d.DeviceID+" "+s.LocURI+" "+s.State)
		}
	}
	return out
}

// A profile's deviceStatuses pages with top and skipToken through the same rows, in the same
// order, as the whole report; state keeps one state's rows with every state's counts; a skip
// token of another listing, a bad top or state is 422. A deleted profile's report pages the
// same way, over the states its removal shows.
func TestProfileStatusPages(t *testing.T) {
	ts := startIdentityServer(t)
	reader := ts.newToken(store.RoleReader, testTenant)
	admin := ts.newToken(store.RoleAdmin, testTenant)
	catalog := "/tenants/" + testTenant + "/configurationPolicies"
	st, cat := ts.call(admin, "POST", catalog, catalogPinRecovery)
	if st != http.StatusCreated {
		t.Fatalf("import: %d %v", st, cat)
	}
	pid := cat["id"].(string)
	pin := "./Device/Vendor/MSFT/PassportForWork/" + testTenant + "/Policies/EnablePinRecovery"
	for i := range 5 {
		id := fmt.Sprintf("dev-%d", i)
		ts.enroll(id)
		err := ts.app.Store.UpdateDevice(context.Background(), id, func(d *store.Device) error {
			d.DeviceName = "PC-" + id
			if d.Nodes == nil {
				d.Nodes = map[string]string{}
			}
			d.Nodes[store.CanResetNode] = "DestructiveOnly"
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		err = ts.app.Store.Checkin(context.Background(), id, func(tx store.DeviceTx) error {
			state := store.SettingSucceeded
			if i%2 == 1 {
				state = store.SettingError
			}
			return errors.Join(
				tx.PutSettingState(store.SettingState{LocURI: pin, Format: "bool", Value: "true", State: state, Sources: []string{pid}}),
				tx.PutSettingState(store.SettingState{LocURI: "./Device/Vendor/MSFT/Policy/Config/X/Y", State: store.SettingPending, Sources: []string{pid, "other"}}),
				tx.PutSettingState(store.SettingState{LocURI: "./Device/Vendor/MSFT/Policy/Config/X/Z", State: store.SettingError, Sources: []string{"other"}}))
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	path := catalog + "/" + pid + "/deviceStatuses"
	var all wire.ProfileStatus
	if st := ts.apiAs(reader, "GET", path, nil, &all); st != http.StatusOK || all.NextSkipToken != "" {
		t.Fatalf("deviceStatuses: %d %+v", st, all)
	}
	want := fmt.Sprint(map[string]int{"conflict": 0, "error": 2, "notApplicable": 0, "pending": 5, "removed": 0, "succeeded": 3})
	if got := fmt.Sprint(all.Counts); got != want || len(all.Devices) != 5 || len(statusRows(all)) != 10 {
		t.Fatalf("deviceStatuses: counts %s, want %s; %d devices, rows %v", got, want, len(all.Devices), statusRows(all))
	}
	if d := all.Devices[1]; d.DeviceID != "dev-1" || d.CanReset != "DestructiveOnly" || d.DeviceName != "PC-dev-1" {
		t.Errorf("a device of a PIN recovery profile: %+v, want its name and CanReset", d)
	}
	pages := func(query url.Values, top int) ([]string, []wire.ProfileStatus) {
		t.Helper()
		var rows []string
		var reps []wire.ProfileStatus
		query.Set("top", fmt.Sprint(top))
		for range 20 {
			var rep wire.ProfileStatus
			if st := ts.apiAs(reader, "GET", path+"?"+query.Encode(), nil, &rep); st != http.StatusOK {
				t.Fatalf("%s: %d", query.Encode(), st)
			}
			rows, reps = append(rows, statusRows(rep)...), append(reps, rep)
			if rep.NextSkipToken == "" {
				return rows, reps
			}
			query.Set("skipToken", rep.NextSkipToken)
		}
		t.Fatal("the pages never end")
		return nil, nil
	}
	for _, top := range []int{1, 3, 10} {
		rows, reps := pages(url.Values{}, top)
		if fmt.Sprint(rows) != fmt.Sprint(statusRows(all)) || len(reps) != (10+top-1)/top {
			t.Errorf("top %d: %d pages of %v, want %v", top, len(reps), rows, statusRows(all))
		}
		if fmt.Sprint(reps[len(reps)-1].Counts) != want {
			t.Errorf("top %d: counts %v on the last page", top, reps[len(reps)-1].Counts)
		}
	}
	rows, _ := pages(url.Values{"state": {"error"}}, 1)
	if fmt.Sprint(rows) != fmt.Sprint([]string{"dev-1 " + pin + " error", "dev-3 " + pin + " error"}) {
		t.Errorf("state=error: %v", rows)
	}
	_, first := pages(url.Values{}, 1)
	for _, q := range []string{"top=0", "top=1001", "state=bogus", "skipToken=" + first[0].NextSkipToken, "top=1&state=error&skipToken=" + first[0].NextSkipToken} {
		if st, out := ts.call(reader, "GET", path+"?"+q, ""); st != http.StatusUnprocessableEntity {
			t.Errorf("%s: %d %v, want 422", q, st, out)
		}
	}

	// Deleted: the removal's states (all pending: nothing was deleted yet), paged the same way.
	if st, _ := ts.call(admin, "DELETE", catalog+"/"+pid, ""); st != http.StatusNoContent {
		t.Fatalf("delete: %d", st)
	}
	rows, reps := pages(url.Values{}, 2)
	if fmt.Sprint(rows) != strings.ReplaceAll(strings.ReplaceAll(fmt.Sprint(statusRows(all)), "succeeded", "pending"), "error", "pending") ||
		!reps[0].Deleted || reps[0].Counts["pending"] != 10 || len(reps) != 5 {
		t.Errorf("deleted profile: %v %+v", rows, reps[0])
	}
	if rows, _ := pages(url.Values{"state": {"error"}}, 2); len(rows) != 0 {
		t.Errorf("deleted profile, state=error: %v", rows)
	}
}
