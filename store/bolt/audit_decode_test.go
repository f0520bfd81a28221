package bolt

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/audit"
)

// decodeCases are stored records: what encodeEvent writes, and variants that must take the
// encoding/json fallback.
var decodeCases = []struct {
	name string
	ev   audit.Event
	raw  string // used instead of encoding ev when set
	fast bool   // whether the fast path must take it
}{
	{name: "typical", fast: true, ev: audit.Event{ID: "0195a1b2-c3d4-7e5f-8a9b-000000000001", Seq: 42,
		Time: time.Date(2025, 3, 1, 12, 0, 0, 123456000, time.UTC), TenantID: "t1", Kind: audit.KindCommandDelivered,
		Actor:   audit.Actor{Type: audit.ActorAdmin, ID: "=HYPERLINK(x)", TokenID: "tok", Role: "admin", SourceAddr: "192.0.2.1"},
		Subject: audit.Subject{Type: audit.SubjectCommand, ID: "c1"}, DeviceID: "D1", ProfileID: "P1", Action: "status",
		Details: json.RawMessage(`{"a":"b \"q\" \\ \u2028","n":[1,2,{"x":null}]}`), PrevHash: "ab", Hash: "cd"}},
	{name: "minimal", fast: true, ev: audit.Event{ID: "e", Seq: 1, TenantID: "t", Kind: audit.KindDeviceAlert, Actor: audit.Actor{Type: audit.ActorDevice}}},
	{name: "escaped string", ev: audit.Event{ID: "e", Seq: 1, TenantID: "t", Kind: audit.KindDeviceAlert, Actor: audit.Actor{Type: audit.ActorAdmin, ID: "a \"quoted\" <name> é\n"}}},
	{name: "unknown key", raw: `{"id":"e","seq":1,"time":"2025-03-01T12:00:00Z","tenant_id":"t","kind":"device.alert","actor":{"type":"device"},"subject":{},"extra":1,"prev_hash":"","hash":""}`},
	{name: "null details", raw: `{"id":"e","seq":1,"time":"2025-03-01T12:00:00Z","tenant_id":"t","kind":"device.alert","actor":{"type":"device"},"subject":{},"details":null,"prev_hash":"","hash":""}`},
	{name: "time with offset", fast: true, raw: `{"id":"e","seq":7,"time":"2025-03-01T13:00:00.5+01:00","tenant_id":"t","kind":"device.alert","actor":{"type":"device"},"subject":{},"prev_hash":"","hash":""}`},
}

// decodeEvent gives what json.Unmarshal gives, taking the fast path for what encodeEvent writes.
func TestDecodeEvent(t *testing.T) {
	for _, tc := range decodeCases {
		t.Run(tc.name, func(t *testing.T) {
			raw := []byte(tc.raw)
			if tc.raw == "" {
				var buf bytes.Buffer
				if err := encodeEvent(&buf, &tc.ev); err != nil {
					t.Fatal(err)
				}
				raw = buf.Bytes()
			}
			var fast audit.Event
			if got := fastDecodeEvent(raw, &fast); got != tc.fast {
				t.Fatalf("fast path taken = %v, want %v", got, tc.fast)
			}
			compareDecoders(t, raw)
		})
	}
}

func compareDecoders(t *testing.T, raw []byte) {
	t.Helper()
	var want, got audit.Event
	werr := json.Unmarshal(raw, &want)
	gerr := decodeEvent(raw, &got)
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("json.Unmarshal error %v, decodeEvent error %v", werr, gerr)
	}
	if werr != nil {
		return
	}
	if !got.Time.Equal(want.Time) {
		t.Fatalf("time %v, json.Unmarshal gives %v", got.Time, want.Time)
	}
	got.Time, want.Time = time.Time{}, time.Time{}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("decodeEvent = %+v\njson.Unmarshal = %+v", got, want)
	}
}

// FuzzDecodeEvent checks the fast decoder against encoding/json on arbitrary records (a
// tampered database file may hold anything).
func FuzzDecodeEvent(f *testing.F) {
	for _, tc := range decodeCases {
		if tc.raw != "" {
			f.Add([]byte(tc.raw))
		}
	}
	f.Fuzz(func(t *testing.T, raw []byte) { compareDecoders(t, raw) })
}
