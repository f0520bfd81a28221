package core

import (
	"context"
	"encoding/binary"
	"errors"
	"path/filepath"
	"testing"

	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/store/bolt"
	"github.com/hellomdm/hellomdm/store/kv"
)

// A database of format version 4 has no 'w' entries: opening it indexes the devices
// holding a WNS channel, so the WNS fan-out of the next policy change finds them.
func TestFormatV4IndexesWNSChannels(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v4.db")
	ctx := context.Background()
	s, err := OpenBolt(path, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []store.Device{
		{ID: "a", TenantID: "t", State: store.DeviceEnrolled, WNS: &store.WNSChannel{PFN: "p", ChannelURI: "https://x.notify.windows.com/?t=a"}},
		{ID: "b", TenantID: "t", State: store.DeviceEnrolled, WNS: &store.WNSChannel{PFN: "p"}},
	} {
		if _, err := s.RegisterDevice(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	// Make it a version 4 database: no 'w' entry, no WNS flag in the summary.
	err = s.kv.Update(ctx, func(tx kv.Tx) error {
		sum := summarize(store.Device{ID: "a", TenantID: "t", State: store.DeviceEnrolled})
		return errors.Join(tx.Delete(bDevIndex, indexKey("t", kindWNS, "a")), putJSON(tx, bDevSummary, []byte("a"), &sum),
			tx.Put(bMeta, metaSchema, binary.BigEndian.AppendUint64(nil, 4)))
	})
	if err := errors.Join(err, s.Close()); err != nil {
		t.Fatal(err)
	}
	s, err = OpenBolt(path, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	list, err := s.ListWNSDevices(ctx, "t")
	if err != nil || len(list) != 1 || list[0].ID != "a" {
		t.Fatalf("ListWNSDevices after the migration = %+v, %v; want device a", list, err)
	}
	// The summary says so too: dropping the channel removes the entry.
	if err := s.UpdateDevice(ctx, "a", func(d *store.Device) error { d.WNS.ChannelURI = ""; return nil }); err != nil {
		t.Fatal(err)
	}
	if list, err := s.ListWNSDevices(ctx, "t"); err != nil || len(list) != 0 {
		t.Fatalf("ListWNSDevices after the channel was dropped = %+v, %v", list, err)
	}
}
