package core

import (
	"bytes"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/store/kv"
)

// goldenCommand has every part of a command's stored form: an Atomic payload with a Meta
// and children (one with an Item whose Data is XML, escaped as encoding/json escapes it),
// Items with and without Meta, Results, child statuses and every bookkeeping field.
func goldenCommand() store.Command {
	at := time.Date(2026, 12, 6, 15, 4, 5, 123456789, time.UTC)
	return store.Command{ID: "c-golden", TenantID: "t1", DeviceID: "d1", Seq: 1, Source: "admin:tok-1", State: store.CommandFailed,
		Payload: store.Payload{Verb: "Atomic", NoResp: true, Meta: &store.Meta{Format: "chr", Type: "text/plain", Size: 42}, Commands: []store.Payload{
			{Verb: "Replace", Items: []store.Item{{Target: "./Device/Vendor/MSFT/Policy/Config/Update/ActiveHoursEnd",
				Meta: &store.Meta{Format: "int"}, Data: "30"}}},
			{Verb: "Add", Items: []store.Item{{Target: "./Vendor/MSFT/WiFi/Profile/Contoso/WlanXml",
				DataXML: `<WLANProfile xmlns="http://www.microsoft.com/networking/WLAN/profile/v1"><name>Contoso &amp; Co</name></WLANProfile>`}}},
			{Verb: "Get", Items: []store.Item{{Target: "./DevDetail/SwV"}}},
		}},
		Attempts: 3, MaxAttempts: 3, NextAttemptAt: at.Add(time.Hour), StatusCode: 507, ChildStatus: []int{500, 216, 215},
		Results:      []store.Item{{Source: "./DevDetail/SwV", Meta: &store.Meta{Format: "chr", Type: "text/plain"}, Data: "10.0.26100.2605"}, {Source: "./DevDetail/Ext/Microsoft/DeviceName", Data: "PC-1", MoreData: true}},
		ClaimSession: "k-2", ClaimUntil: at.Add(time.Minute), LastSession: "k-2", SentCount: 3, ResentAs: "c-next",
		CreatedAt: at, UpdatedAt: at.Add(2 * time.Minute)}
}

// A command record is stored byte for byte as testdata/stored-command.json, which the
// previous release (its codec's structs under encoding/json) wrote for the same command:
// store.Payload and store.Item are the stored format, and a renamed, dropped or omitempty
// field fails here. Changing that file means a new FormatVersion and a migration of every
// stored command (see store.Payload). The record reads back as the command it was.
func TestCommandStoredForm(t *testing.T) {
	want, err := os.ReadFile("testdata/stored-command.json")
	if err != nil {
		t.Fatal(err)
	}
	s := openTestStore(t)
	ctx := t.Context()
	if err := s.CreateTenant(ctx, store.Tenant{ID: "t1", AuthPolicy: store.AuthOnPremise}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RegisterDevice(ctx, store.Device{ID: "d1", TenantID: "t1", HWDevID: "hw", State: store.DeviceEnrolled, CertSerial: "AA"}); err != nil {
		t.Fatal(err)
	}
	c := goldenCommand()
	if err := s.Enqueue(ctx, c); err != nil {
		t.Fatal(err)
	}
	var got []byte
	err = s.view(ctx, func(tx kv.Tx) error {
		raw, err := tx.Get(bCommands, seqKey("d1", 1))
		got = bytes.Clone(raw)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("stored command:\n%s\nwant (testdata/stored-command.json):\n%s", got, want)
	}
	back, err := s.Command(ctx, "d1", "c-golden")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, c) {
		t.Errorf("read back:\n%+v\nwant\n%+v", back, c)
	}
	// The golden record decodes to the command whichever decoder reads it.
	compareRecordDecoders(t, "command", want)
}
