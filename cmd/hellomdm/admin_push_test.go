package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/server/adminapi/wire"
)

var updatePushGolden = flag.Bool("update-push", false, "rewrite testdata/push_table.txt")

// TestPushTableGolden holds the table (and -q) output of "device push" and "device sync" to
// testdata/push_table.txt: a device with every push field set, one on hellomdm's channel
// without a wake-up yet, and one that never had a channel (CHANNEL reads "none", where the
// API leaves "channel" out). A column renamed, dropped or emptied changes the file; when
// that is meant, run go test ./cmd/hellomdm -run TestPushTableGolden -update-push.
func TestPushTableGolden(t *testing.T) {
	at := func(min int) time.Time { return time.Date(2026, 12, 6, 9, min, 0, 0, time.UTC) }
	full := wire.PushStatus{Channel: "wns", Connected: false, ConnectedSince: at(1), DisconnectedAt: at(2), Replica: "replica-b",
		LastWakeAt: at(3), LastWakeReason: "policy", LastWakeResult: "failed", LastWakeChannel: "wns",
		LastWakeDetail: "410 Gone", LastWakeReplica: "replica-a"}
	builtin := wire.PushStatus{Channel: "builtin", Connected: true, ConnectedSince: at(4), Replica: "replica-a"}
	var out bytes.Buffer
	for _, output := range []string{"table", "id"} {
		c := &adminClient{output: output, stdout: &out}
		for _, row := range []struct {
			id, name, wake string
			p              wire.PushStatus
			columns        []string
		}{
			{"d-full", "ALICE-PC", "", full, pushColumns},
			{"d-builtin", "BOB-PC", "", builtin, pushColumns},
			{"d-none", "", "", wire.PushStatus{}, pushColumns},
			{"d-sync", "", "notConnected", wire.PushStatus{}, append([]string{"id", "wake"}, pushColumns[2:]...)},
			{"d-synced", "", "delivered", builtin, append([]string{"id", "wake"}, pushColumns[2:]...)},
		} {
			out.WriteString("-- " + output + " " + row.id + "\n")
			if err := c.print(newPushRow(row.id, row.name, row.wake, row.p), row.columns...); err != nil {
				t.Fatal(err)
			}
		}
	}
	path := filepath.Join("testdata", "push_table.txt")
	if *updatePushGolden {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), want) {
		t.Errorf("push table output differs from %s:\n%s\nwant:\n%s", path, out.Bytes(), want)
	}
}
