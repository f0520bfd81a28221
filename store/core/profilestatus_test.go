package core

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/store/kv"
)

// A database of format version 5 (setting states, no profile status index) opens as version
// 6 with the index built: every setting state naming a profile is listed and counted under
// it, in device then LocURI order, and a later write moves what the migration wrote.
func TestFormatV5BuildsProfileStatus(t *testing.T) {
	ctx := t.Context()
	states := []store.SettingState{
		{TenantID: "t", DeviceID: "d2", LocURI: "./A", State: store.SettingError, Sources: []string{"p1", "p2"}},
		{TenantID: "t", DeviceID: "d1", LocURI: "./B", State: store.SettingSucceeded, Sources: []string{"p1"}},
		{TenantID: "t", DeviceID: "d1", LocURI: "./A", State: store.SettingSucceeded, Sources: []string{"p1", "p1"}},
		{TenantID: "t", DeviceID: "d1", LocURI: "./C", State: store.SettingPending},
		{TenantID: "u", DeviceID: "e1", LocURI: "./A", State: store.SettingError, Sources: []string{"p1"}},
	}
	s := openAtFormat(t, 5, func(tx kv.Tx) error {
		var errs []error
		for _, id := range []string{"d1", "d2"} {
			dev, _ := json.Marshal(store.Device{ID: id, TenantID: "t", DeviceName: "PC-" + id, State: store.DeviceEnrolled})
			sum, _ := json.Marshal(devSummary{Name: "PC-" + id})
			errs = append(errs, tx.Put(bDevices, []byte(id), dev), tx.Put(bDevSummary, []byte(id), sum))
		}
		for _, st := range states {
			js, _ := json.Marshal(st)
			errs = append(errs, tx.Put(bSettings, append(prefix2(st.TenantID, st.DeviceID, 0), st.LocURI...), js))
		}
		return errors.Join(errs...)
	})
	rows := func(profile, state string) string {
		t.Helper()
		page, err := s.QueryProfileStatus(ctx, store.ProfileStatusQuery{TenantID: "t", ProfileID: profile, State: state})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range page.Rows {
			out = append(out, r.DeviceName+" "+r.LocURI+" "+r.State)
		}
		return fmt.Sprint(out)
	}
	counts := func(profile string) string {
		t.Helper()
		c, err := s.ProfileStatusCounts(ctx, "t", profile)
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("%d succeeded, %d error", c[store.SettingSucceeded], c[store.SettingError])
	}
	for _, c := range []struct{ got, want string }{
		{rows("p1", ""), "[PC-d1 ./A succeeded PC-d1 ./B succeeded PC-d2 ./A error]"},
		{rows("p2", ""), "[PC-d2 ./A error]"},
		{rows("p1", store.SettingError), "[PC-d2 ./A error]"},
		{counts("p1"), "2 succeeded, 1 error"},
		{counts("p2"), "0 succeeded, 1 error"},
	} {
		if c.got != c.want {
			t.Errorf("after the migration: %s, want %s", c.got, c.want)
		}
	}
	err := s.Checkin(ctx, "d2", func(tx store.DeviceTx) error {
		return tx.PutSettingState(store.SettingState{LocURI: "./A", State: store.SettingSucceeded, Sources: []string{"p1"}})
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := rows("p2", ""), "[]"; got != want {
		t.Errorf("p2 after d2 dropped it: %s, want %s", got, want)
	}
	if got, want := counts("p1"), "3 succeeded, 0 error"; got != want {
		t.Errorf("p1 after d2 succeeded: %s, want %s", got, want)
	}
	err = s.kv.View(ctx, func(tx kv.Tx) error {
		v, err := tx.Get(bMeta, metaSchema)
		if err != nil || binary.BigEndian.Uint64(v) != FormatVersion {
			return fmt.Errorf("format version %x, %v; want %d", v, err, FormatVersion)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
