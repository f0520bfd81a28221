package core

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
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
	{name: "details numbers and literals", fast: true, raw: `{"id":"e","seq":1,"time":"2025-03-01T12:00:00Z","tenant_id":"t","kind":"device.alert","actor":{"type":"device"},"subject":{},"details":{"a":-0.5e+3,"b":[true,false,null],"c":{},"d":[],"e":0,"f":12.25E-2},"prev_hash":"","hash":""}`},
	{name: "details nested whitespace", fast: true, raw: `{"id":"e","seq":1,"time":"2025-03-01T12:00:00Z","tenant_id":"t","kind":"device.alert","actor":{"type":"device"},"subject":{},"details":{ "a" : [ 1 , { "b" : "c" } ] },"prev_hash":"","hash":""}`},
	{name: "details escapes", fast: true, raw: `{"id":"e","seq":1,"time":"2025-03-01T12:00:00Z","tenant_id":"t","kind":"device.alert","actor":{"type":"device"},"subject":{},"details":{"a":"\u00e9\n\/\"","b":"\uD83D\uDE00"},"prev_hash":"","hash":""}`},
	{name: "details raw utf8", fast: true, raw: `{"id":"e","seq":1,"time":"2025-03-01T12:00:00Z","tenant_id":"t","kind":"device.alert","actor":{"type":"device"},"subject":{},"details":{"a":"é €"},"prev_hash":"","hash":""}`},
	{name: "details bad escape", raw: `{"id":"e","seq":1,"time":"2025-03-01T12:00:00Z","tenant_id":"t","kind":"device.alert","actor":{"type":"device"},"subject":{},"details":{"a":"\x"},"prev_hash":"","hash":""}`},
	{name: "details bad unicode escape", raw: `{"id":"e","seq":1,"time":"2025-03-01T12:00:00Z","tenant_id":"t","kind":"device.alert","actor":{"type":"device"},"subject":{},"details":{"a":"\u12G4"},"prev_hash":"","hash":""}`},
	{name: "details leading zero", raw: `{"id":"e","seq":1,"time":"2025-03-01T12:00:00Z","tenant_id":"t","kind":"device.alert","actor":{"type":"device"},"subject":{},"details":{"a":01},"prev_hash":"","hash":""}`},
	{name: "details trailing comma", raw: `{"id":"e","seq":1,"time":"2025-03-01T12:00:00Z","tenant_id":"t","kind":"device.alert","actor":{"type":"device"},"subject":{},"details":[1,],"prev_hash":"","hash":""}`},
	{name: "details bare minus", raw: `{"id":"e","seq":1,"time":"2025-03-01T12:00:00Z","tenant_id":"t","kind":"device.alert","actor":{"type":"device"},"subject":{},"details":[-],"prev_hash":"","hash":""}`},
	{name: "details bad literal", raw: `{"id":"e","seq":1,"time":"2025-03-01T12:00:00Z","tenant_id":"t","kind":"device.alert","actor":{"type":"device"},"subject":{},"details":[tru],"prev_hash":"","hash":""}`},
	{name: "details string", raw: `{"id":"e","seq":1,"time":"2025-03-01T12:00:00Z","tenant_id":"t","kind":"device.alert","actor":{"type":"device"},"subject":{},"details":"x","prev_hash":"","hash":""}`},
	{name: "details deep", fast: true, raw: `{"id":"e","seq":1,"time":"2025-03-01T12:00:00Z","tenant_id":"t","kind":"device.alert","actor":{"type":"device"},"subject":{},"details":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]],"prev_hash":"","hash":""}`},
	{name: "details too deep for the fast path", raw: `{"id":"e","seq":1,"time":"2025-03-01T12:00:00Z","tenant_id":"t","kind":"device.alert","actor":{"type":"device"},"subject":{},"details":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]],"prev_hash":"","hash":""}`},
	{name: "details unterminated", raw: `{"id":"e","seq":1,"time":"2025-03-01T12:00:00Z","tenant_id":"t","kind":"device.alert","actor":{"type":"device"},"subject":{},"details":{"a":"b},"prev_hash":"","hash":""}`},
	{name: "leap day", fast: true, raw: `{"id":"e","seq":1,"time":"2024-02-29T23:59:59.999999999Z","tenant_id":"t","kind":"device.alert","actor":{"type":"device"},"subject":{},"prev_hash":"","hash":""}`},
	{name: "not a leap day", raw: `{"id":"e","seq":1,"time":"2025-02-29T00:00:00Z","tenant_id":"t","kind":"device.alert","actor":{"type":"device"},"subject":{},"prev_hash":"","hash":""}`},
	{name: "second 60", raw: `{"id":"e","seq":1,"time":"2025-03-01T12:00:60Z","tenant_id":"t","kind":"device.alert","actor":{"type":"device"},"subject":{},"prev_hash":"","hash":""}`},
	{name: "ten fraction digits", fast: true, raw: `{"id":"e","seq":1,"time":"2025-03-01T12:00:00.1234567891Z","tenant_id":"t","kind":"device.alert","actor":{"type":"device"},"subject":{},"prev_hash":"","hash":""}`},
	{name: "empty fraction", raw: `{"id":"e","seq":1,"time":"2025-03-01T12:00:00.Z","tenant_id":"t","kind":"device.alert","actor":{"type":"device"},"subject":{},"prev_hash":"","hash":""}`},
	{name: "month 13", raw: `{"id":"e","seq":1,"time":"2025-13-01T12:00:00Z","tenant_id":"t","kind":"device.alert","actor":{"type":"device"},"subject":{},"prev_hash":"","hash":""}`},
	{name: "lower-case z", raw: `{"id":"e","seq":1,"time":"2025-03-01T12:00:00z","tenant_id":"t","kind":"device.alert","actor":{"type":"device"},"subject":{},"prev_hash":"","hash":""}`},
	{name: "year zero", fast: true, raw: `{"id":"e","seq":1,"time":"0000-01-01T00:00:00.5Z","tenant_id":"t","kind":"device.alert","actor":{"type":"device"},"subject":{},"prev_hash":"","hash":""}`},
	{name: "trailing newline", fast: true, raw: `{"id":"e","seq":1,"time":"2025-03-01T12:00:00Z","tenant_id":"t","kind":"device.alert","actor":{"type":"device"},"subject":{},"prev_hash":"","hash":""}` + "\n" + ``},
	{name: "tab between tokens", fast: true, raw: `{"id":"e",	"seq":1,"time":"2025-03-01T12:00:00Z","tenant_id":"t","kind":"device.alert","actor":{"type":"device"},"subject":{},"prev_hash":"","hash":""}`},
	{name: "invalid utf8 in id", raw: "{\"id\":\"e\xff\",\"seq\":1,\"time\":\"2025-03-01T12:00:00Z\",\"tenant_id\":\"t\",\"kind\":\"device.alert\",\"actor\":{\"type\":\"device\"},\"subject\":{},\"prev_hash\":\"\",\"hash\":\"\"}"},
	{name: "invalid utf8 in details", fast: true, raw: "{\"id\":\"e\",\"seq\":1,\"time\":\"2025-03-01T12:00:00Z\",\"tenant_id\":\"t\",\"kind\":\"device.alert\",\"actor\":{\"type\":\"device\"},\"subject\":{},\"details\":[\"\xff\"],\"prev_hash\":\"\",\"hash\":\"\"}"},
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
	if !got.Time.Equal(want.Time) || got.Time.Location().String() != want.Time.Location().String() {
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
	f.Fuzz(func(t *testing.T, raw []byte) {
		compareDecoders(t, raw)
		if got, want := plainASCII(raw), !bytes.ContainsFunc(raw, func(r rune) bool { return r < 0x20 || r >= 0x80 || r == '\\' }); got != want {
			t.Fatalf("plainASCII(%q) = %v, want %v", raw, got, want)
		}
	})
}

// An event decoded from an owned buffer aliases it without letting the caller's edits of
// Details reach the strings, and appending to Details copies.
func TestDecodeOwnedEventAliasing(t *testing.T) {
	raw := []byte(`{"id":"e1","seq":3,"time":"2025-03-01T12:00:00Z","tenant_id":"t","kind":"device.alert","actor":{"type":"device","id":"a"},"subject":{},"details":{"k":"v"},"prev_hash":"p","hash":"h"}` + "\n")
	var ev audit.Event
	if !fastDecodeEvent(raw, &ev) {
		t.Fatal("fast path not taken")
	}
	if cap(ev.Details) != len(ev.Details) {
		t.Fatalf("Details capacity %d, want %d (clipped)", cap(ev.Details), len(ev.Details))
	}
	before := fmt.Sprintf("%q %q %q %q %q", ev.ID, ev.TenantID, ev.Actor.ID, ev.PrevHash, ev.Hash)
	for i := range ev.Details {
		ev.Details[i] = 'X'
	}
	ev.Details = append(ev.Details, "more"...)
	if after := fmt.Sprintf("%q %q %q %q %q", ev.ID, ev.TenantID, ev.Actor.ID, ev.PrevHash, ev.Hash); after != before {
		t.Fatalf("strings changed by editing Details: %s, were %s", after, before)
	}
	if !bytes.HasSuffix(raw, []byte(`"prev_hash":"p","hash":"h"}`+"\n")) {
		t.Fatalf("append to Details wrote past it: %s", raw)
	}
}

// parseUTC agrees with time.Parse wherever it answers, and answers for what
// time.Time.MarshalJSON writes for UTC times.
func TestParseUTC(t *testing.T) {
	cases := []struct {
		in string
		ok bool
	}{
		{"2025-03-01T12:00:00Z", true},
		{"2025-03-01T12:00:00.1Z", true},
		{"2025-03-01T12:00:00.123456789Z", true},
		{"2024-02-29T23:59:59Z", true},
		{"2025-12-31T23:59:59.000001Z", true},
		{"2025-02-29T00:00:00Z", false},
		{"2025-04-31T00:00:00Z", false},
		{"2025-00-01T00:00:00Z", false},
		{"2025-01-00T00:00:00Z", false},
		{"2025-01-01T24:00:00Z", false},
		{"2025-01-01T00:60:00Z", false},
		{"2025-01-01T00:00:60Z", false},
		{"2025-01-01T00:00:00.Z", false},
		{"2025-01-01T00:00:00.1234567890Z", false},
		{"2025-01-01T00:00:00+01:00", false},
		{"2025-01-01 00:00:00Z", false},
		{"2025-1-01T00:00:00Z", false},
		{"+025-01-01T00:00:00Z", false},
		{"2025-01-01T00:00:0aZ", false},
		{"", false},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			got, ok := parseUTC(tc.in)
			if ok != tc.ok {
				t.Fatalf("parseUTC ok = %v, want %v", ok, tc.ok)
			}
			if !ok {
				return
			}
			want, err := time.Parse(time.RFC3339Nano, tc.in)
			if err != nil || !got.Equal(want) || got.Location() != want.Location() {
				t.Fatalf("parseUTC = %v, time.Parse = %v, %v", got, want, err)
			}
		})
	}
}

// plainASCII matches the byte-at-a-time definition, including at every offset within a
// word.
func TestPlainASCII(t *testing.T) {
	naive := func(b []byte) bool {
		for _, c := range b {
			if c < 0x20 || c >= 0x80 || c == '\\' {
				return false
			}
		}
		return true
	}
	for _, c := range []byte{0x00, 0x1f, 0x20, '"', '[', '\\', ']', 0x7e, 0x7f, 0x80, 0xc3, 0xff} {
		for n := 1; n <= 19; n++ {
			for at := range n {
				b := []byte(strings.Repeat("a", n))
				b[at] = c
				if got, want := plainASCII(b), naive(b); got != want {
					t.Fatalf("plainASCII(%q) = %v, want %v", b, got, want)
				}
			}
		}
	}
}
