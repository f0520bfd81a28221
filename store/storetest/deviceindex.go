package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/store"
)

// testDeviceIndex: QueryDevices pages, searches and filters from the index kept with every
// device write, and CountDevices adds up the counts and recent check-ins, for all devices
// and for a scope tag.
func testDeviceIndex(t *testing.T, open opener) {
	s := open(t)
	ctx := t.Context()
	now := t0.Add(10 * time.Hour)
	seedDeviceIndex(t, s, now)

	names := func(p store.DevicePage) []string {
		var out []string
		for _, d := range p.Devices {
			out = append(out, d.DeviceName)
		}
		return out
	}
	query := func(q store.DeviceQuery) store.DevicePage {
		t.Helper()
		q.TenantID = "t1"
		p, err := s.QueryDevices(ctx, q)
		must(t, "QueryDevices", err)
		return p
	}
	// Pages of 12 in name order, continued by Next, end with an empty Next.
	var all []string
	q := store.DeviceQuery{Limit: 12}
	for range 5 {
		p := query(q)
		all = append(all, names(p)...)
		if p.Next == "" {
			break
		}
		q.After = p.Next
	}
	if len(all) != 30 || all[0] != "PC-00" || all[29] != "PC-29" || !slices.IsSorted(all) {
		t.Fatalf("paged listing: %v", all)
	}
	if _, err := s.QueryDevices(ctx, store.DeviceQuery{TenantID: "t1", After: "bm9wZQ"}); err == nil {
		t.Error("a cursor of another listing was accepted")
	}
	cases := []struct {
		name string
		q    store.DeviceQuery
		want []string
	}{
		{"search name prefix", store.DeviceQuery{Search: "pc-2"}, []string{"PC-20", "PC-21", "PC-22", "PC-23", "PC-24", "PC-25", "PC-26", "PC-27", "PC-28", "PC-29"}},
		{"search UPN prefix", store.DeviceQuery{Search: "U03@"}, []string{"PC-03", "PC-13", "PC-23"}},
		{"CanReset", store.DeviceQuery{CanReset: []string{"DestructiveOnly"}}, []string{"PC-05", "PC-10", "PC-20", "PC-25"}},
		{"not reported and state", store.DeviceQuery{CanReset: []string{""}, State: store.DeviceRetired}, []string{"PC-07"}},
		{"OS version prefix and edition", store.DeviceQuery{OSVersion: "10.0.22631", OSEdition: 48, CanReset: []string{"DestructiveAndNonDestructive"}}, []string{"PC-21", "PC-24", "PC-27"}},
		{"seen in the last hour", store.DeviceQuery{SeenSince: now.Add(-time.Hour), State: store.DeviceEnrolled}, []string{"PC-00", "PC-01", "PC-02", "PC-03", "PC-04", "PC-05", "PC-06", "PC-08", "PC-09"}},
		{"not seen for a day", store.DeviceQuery{NotSeenSince: now.Add(-2 * time.Hour), Search: "pc-1"}, []string{"PC-10", "PC-11", "PC-12", "PC-13", "PC-14", "PC-15", "PC-16", "PC-17", "PC-18", "PC-19"}},
		{"scope tag", store.DeviceQuery{Visible: func(tags []string) bool { return slices.Contains(tags, "7") }}, []string{"PC-25", "PC-26", "PC-27", "PC-28", "PC-29"}},
	}
	for _, tc := range cases {
		if got := names(query(tc.q)); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	// A rename moves the device in the name order and the search.
	must(t, "rename", s.UpdateDevice(ctx, "dev-00", func(x *store.Device) error { x.DeviceName = "ZZ-LAPTOP"; return nil }))
	if got := names(query(store.DeviceQuery{Search: "zz"})); !slices.Equal(got, []string{"ZZ-LAPTOP"}) {
		t.Errorf("after a rename: %v", got)
	}
	if got := names(query(store.DeviceQuery{Search: "pc-00"})); len(got) != 0 {
		t.Errorf("the old name still found: %v", got)
	}
	deviceIndexCounts(t, s, now)
}

// seedDeviceIndex registers 30 devices of t1: PC-00..PC-29, users u00..u09@contoso.com,
// every third reporting DestructiveAndNonDestructive, every fifth DestructiveOnly, devices
// 20..29 on build 22631, device 7 retired, 0..9 seen in the last hour, 10..14 seen
// yesterday, tags on 25..29; and one device of t2.
func seedDeviceIndex(t *testing.T, s store.Store, now time.Time) {
	ctx := t.Context()
	for i := range 30 {
		d := device("t1", fmt.Sprintf("dev-%02d", i), fmt.Sprintf("%04X", i+1))
		d.DeviceName, d.UPN, d.OSVersion, d.OSEdition = fmt.Sprintf("PC-%02d", i), fmt.Sprintf("u%02d@contoso.com", i%10), "10.0.26100.1742", 4
		if i >= 20 {
			d.OSVersion, d.OSEdition = "10.0.22631.4037", 48
		}
		if i >= 25 {
			d.ScopeTags = []string{"7"}
		}
		_, err := s.RegisterDevice(ctx, d)
		must(t, "RegisterDevice", err)
		must(t, "UpdateDevice", s.UpdateDevice(ctx, d.ID, func(x *store.Device) error {
			switch {
			case i%3 == 0:
				x.Nodes[store.CanResetNode] = "DestructiveAndNonDestructive"
			case i%5 == 0:
				x.Nodes[store.CanResetNodeUnscoped] = "DestructiveOnly"
			}
			switch {
			case i < 10:
				x.LastSeenAt = now.Add(-time.Duration(i) * time.Minute)
			case i < 15:
				x.LastSeenAt = now.Add(-24 * time.Hour)
			}
			if i == 7 {
				x.State = store.DeviceRetired
			}
			return nil
		}))
	}
	_, err := s.RegisterDevice(ctx, device("t2", "other", "FFFF"))
	must(t, "RegisterDevice t2", err)
}

// deviceIndexCounts checks the counts the index keeps by state, CanReset, scope tag and
// last check-in, before and after a check-in that moves a device between them.
func deviceIndexCounts(t *testing.T, s store.Store, now time.Time) {
	ctx := t.Context()
	c, err := s.CountDevices(ctx, "t1", now.Add(-time.Hour), nil)
	must(t, "CountDevices", err)
	want := store.DeviceCounts{ByState: map[string]int{store.DeviceEnrolled: 29, store.DeviceRetired: 1},
		ByCanReset: map[string]int{"DestructiveAndNonDestructive": 10, "DestructiveOnly": 4, "": 15}, SeenSince: 10}
	if fmt.Sprint(c) != fmt.Sprint(want) {
		t.Errorf("CountDevices = %v, want %v", c, want)
	}
	c, err = s.CountDevices(ctx, "t1", now.Add(-48*time.Hour), func(tags []string) bool { return slices.Contains(tags, "7") })
	must(t, "CountDevices tag 7", err)
	want = store.DeviceCounts{ByState: map[string]int{store.DeviceEnrolled: 5}, ByCanReset: map[string]int{"DestructiveAndNonDestructive": 1, "DestructiveOnly": 1, "": 3}, SeenSince: 0}
	if fmt.Sprint(c) != fmt.Sprint(want) {
		t.Errorf("CountDevices tag 7 = %v, want %v", c, want)
	}
	// A check-in that changes CanReset and the scope tags moves the device's counts (the
	// check-in keeps only part of the stored device: the index must still know what it was).
	must(t, "Checkin", s.Checkin(ctx, "dev-01", func(tx store.DeviceTx) error {
		d, err := tx.Device()
		if err != nil {
			return err
		}
		d.Nodes[store.CanResetNode], d.ScopeTags = "DestructiveOnly", []string{"7"}
		return tx.PutDevice(d)
	}))
	c, err = s.CountDevices(ctx, "t1", now.Add(-48*time.Hour), func(tags []string) bool { return slices.Contains(tags, "7") })
	must(t, "CountDevices after a check-in", err)
	want = store.DeviceCounts{ByState: map[string]int{store.DeviceEnrolled: 6}, ByCanReset: map[string]int{"DestructiveAndNonDestructive": 1, "DestructiveOnly": 2, "": 3}, SeenSince: 1}
	if fmt.Sprint(c) != fmt.Sprint(want) {
		t.Errorf("CountDevices tag 7 after a check-in = %v, want %v", c, want)
	}
	c, err = s.CountDevices(ctx, "t1", time.Time{}, nil)
	must(t, "CountDevices all", err)
	if c.ByCanReset[""] != 14 || c.ByCanReset["DestructiveOnly"] != 5 {
		t.Errorf("CountDevices after a check-in = %v", c)
	}
}

// testSettingTroubles: the per-profile counts of settings in error and conflict follow every
// setting state write and delete, across sources.
func testSettingTroubles(t *testing.T, open opener) {
	s := open(t)
	ctx := t.Context()
	for i := range 3 {
		_, err := s.RegisterDevice(ctx, device("t1", fmt.Sprintf("d%d", i), fmt.Sprintf("0%d", i+1)))
		must(t, "RegisterDevice", err)
	}
	put := func(dev, loc, state string, sources ...string) {
		t.Helper()
		must(t, "PutSettingState", s.Checkin(ctx, dev, func(tx store.DeviceTx) error {
			return tx.PutSettingState(store.SettingState{LocURI: loc, State: state, Sources: sources, LastChanged: t0})
		}))
	}
	want := func(w map[string]store.SettingTrouble) {
		t.Helper()
		got, err := s.SettingTroubles(ctx, "t1")
		must(t, "SettingTroubles", err)
		if fmt.Sprint(got) != fmt.Sprint(w) {
			t.Fatalf("SettingTroubles = %v, want %v", got, w)
		}
	}
	put("d0", "./A", store.SettingError, "p1")
	put("d1", "./A", store.SettingError, "p1")
	put("d2", "./A", store.SettingConflict, "p1", "p2")
	put("d0", "./B", store.SettingSucceeded, "p2")
	want(map[string]store.SettingTrouble{"p1": {Error: 2, Conflict: 1}, "p2": {Conflict: 1}})
	put("d0", "./A", store.SettingSucceeded, "p1")
	put("d2", "./A", store.SettingConflict, "p2")
	want(map[string]store.SettingTrouble{"p1": {Error: 1}, "p2": {Conflict: 1}})
	must(t, "DeleteSettingState", s.Checkin(ctx, "d1", func(tx store.DeviceTx) error { return tx.DeleteSettingState("./A") }))
	want(map[string]store.SettingTrouble{"p2": {Conflict: 1}})
	got, err := s.SettingTroubles(ctx, "t2")
	must(t, "SettingTroubles t2", err)
	if len(got) != 0 {
		t.Fatalf("another tenant's troubles: %v", got)
	}
}
