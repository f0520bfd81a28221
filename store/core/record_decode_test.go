package core

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/store"
)

var (
	t0 = time.Date(2025, 3, 1, 12, 0, 0, 123456789, time.UTC)
	t1 = time.Date(2025, 3, 1, 13, 0, 0, 0, time.FixedZone("", 3600))
)

// recordCases are stored records: what json.Marshal writes for the check-in records, and
// variants that must take the encoding/json fallback.
var recordCases = []struct {
	name string
	v    any    // a *store.Device, *store.Command or *store.Session, encoded with json.Marshal
	raw  string // used instead, decoded as kind, when set
	kind string // "device", "command" or "session" for raw cases
	fast bool   // whether the fast path must take it
}{
	{name: "device typical", fast: true, v: &store.Device{ID: "0123456789ABCDEF", TenantID: "t1", HWDevID: "AB", UserID: "u1", UPN: "a@contoso.com",
		DeviceName: "PC-1", OSVersion: "10.0.22631.1", OSEdition: 4, EnrollmentType: "Full", State: store.DeviceEnrolled, CertSerial: "0A",
		CertThumbprint: "FF", CertNotAfter: t1, EnrolledAt: t0, UpdatedAt: t0, LastSeenAt: t0,
		Nodes: map[string]string{"./DevInfo/Man": "Contoso Ltd.", "./DevInfo/Lang": "en-US"}, PolicyDirty: true, ScopeTags: []string{"0", "7"}}},
	{name: "device minimal", fast: true, v: &store.Device{ID: "d", TenantID: "t"}},
	{name: "device empty collections", fast: true, v: &store.Device{ID: "d", TenantID: "t", Nodes: map[string]string{}, ScopeTags: []string{}}},
	{name: "device html characters", v: &store.Device{ID: "d", TenantID: "t", DeviceName: "<R&D>"}},
	{name: "device escaped node", v: &store.Device{ID: "d", TenantID: "t", Nodes: map[string]string{"k": "a \"b\"\n"}}},
	{name: "device unknown key", kind: "device", raw: `{"id":"d","tenantId":"t","extra":1}`},
	{name: "device other case key", kind: "device", raw: `{"ID":"d","tenantId":"t"}`},
	{name: "device repeated nodes", kind: "device", raw: `{"id":"d","nodes":{"a":"1"},"nodes":{"b":"2"}}`},
	{name: "device repeated node key", kind: "device", raw: `{"id":"d","nodes":{"a":"1","a":"2"}}`},
	{name: "device nulls", fast: true, kind: "device", raw: `{"id":null,"osEdition":null,"certNotAfter":null,"nodes":null,"policyDirty":null,"scopeTags":null}`},
	{name: "device wns channel", fast: true, v: &store.Device{ID: "d", TenantID: "t", WNS: &store.WNSChannel{PFN: "Contoso.App_8wekyb3d8bbwe",
		ChannelURI: "https://wns2-by3p.notify.windows.com/w/?token=AwYAAAB", Status: new(404), ExpiresAt: t0, ReadAt: t1, Refused: "x",
		NeedsRead: true, LastWakeAt: t0, LastWakeResult: "received"}}},
	{name: "device wns minimal", fast: true, v: &store.Device{ID: "d", TenantID: "t", WNS: &store.WNSChannel{PFN: "p"}}},
	{name: "device wns null status", fast: true, kind: "device", raw: `{"id":"d","wns":{"pfn":"p","status":null}}`},
	{name: "device wns unknown key", kind: "device", raw: `{"id":"d","wns":{"pfn":"p","uri":"x"}}`},
	{name: "device many nodes", fast: true, v: &store.Device{ID: "d", TenantID: "t", Nodes: manyNodes(40)}},
	{name: "device keys out of order", kind: "device", raw: `{"tenantId":"t","id":"d"}`},
	{name: "device nodes out of order", kind: "device", raw: `{"id":"d","nodes":{"b":"1","a":"2"}}`},
	{name: "device empty node key twice", kind: "device", raw: `{"id":"d","nodes":{"":"1","":"2"}}`},
	{name: "device float edition", kind: "device", raw: `{"id":"d","osEdition":4.0}`},
	{name: "device negative edition", fast: true, kind: "device", raw: ` { "id" : "d" , "osEdition" : -4 } `},
	{name: "device huge edition", kind: "device", raw: `{"id":"d","osEdition":99999999999999999999999}`},
	{name: "device bad time", kind: "device", raw: `{"id":"d","enrolledAt":"yesterday"}`},
	{name: "device trailing garbage", kind: "device", raw: `{"id":"d"} x`},
	{name: "device not an object", kind: "device", raw: `[1]`},
	{name: "session typical", fast: true, v: &store.Session{DeviceID: "d", SessionID: "D", Key: "k", ClientMsgID: 2, ServerMsgID: 2,
		Sent:            map[string]store.SentRef{"2:3": {CommandID: "c1", Verb: "Atomic"}, "2:4": {CommandID: "c1", Child: []int{0}, Verb: "Replace"}},
		LastRequestHash: "abcd", LastReply: []byte("<SyncML>\x00\xff</SyncML>"), MaxMsgSize: 65536, Ended: true, StartedAt: t0, UpdatedAt: t1}},
	{name: "session minimal", fast: true, v: &store.Session{DeviceID: "d", SessionID: "0"}},
	{name: "session empty reply", fast: true, v: &store.Session{DeviceID: "d", SessionID: "0", LastReply: []byte{}, Sent: map[string]store.SentRef{}}},
	{name: "session bad base64", kind: "session", raw: `{"deviceId":"d","lastReply":"***"}`},
	{name: "session ref keys out of order", kind: "session", raw: `{"deviceId":"d","sent":{"1:2":{"verb":"Get","commandId":"c"}}}`},
	{name: "session unknown ref key", kind: "session", raw: `{"deviceId":"d","sent":{"1:2":{"commandId":"c","x":1}}}`},
	{name: "command typical", fast: true, v: &store.Command{ID: "c1", TenantID: "t", DeviceID: "d", Seq: 7, Source: "policy:p1", State: store.CommandSent,
		Payload:  store.Payload{Verb: "Replace", CmdID: "3", Items: []store.Item{{Target: "./Device/Vendor/MSFT/Policy/Config/X", Meta: &store.Meta{Format: "bool", Type: "text/plain"}, Data: "true"}}},
		Attempts: 1, MaxAttempts: 3, NextAttemptAt: t0, StatusCode: 500, ChildStatus: []int{200, 500},
		Results:      []store.Item{{Source: "./DevDetail/SwV", Data: "10.0", MoreData: true}},
		ClaimSession: "s", ClaimUntil: t1, LastSession: "s", SentCount: 2, CreatedAt: t0, UpdatedAt: t0}},
	{name: "command nested", fast: true, v: &store.Command{ID: "c2", DeviceID: "d", Payload: store.Payload{Verb: "Atomic", NoResp: true,
		Meta:      &store.Meta{Size: 3, MaxMsgSize: 4, MaxObjSize: 5, Mark: "m", NextNonce: "n"},
		TargetRef: []string{"a"}, SourceRef: []string{}, Chal: &store.Chal{Format: "b64", Type: "syncml:auth-md5", NextNonce: "x"},
		Commands: []store.Payload{{Verb: "Add", Items: []store.Item{{Target: "./A", DataXML: "x"}}}, {Verb: "Sequence", Commands: []store.Payload{{Verb: "Get"}}}}}}},
	{name: "command xml data", v: &store.Command{ID: "c3", DeviceID: "d", Payload: store.Payload{Verb: "Add", Items: []store.Item{{DataXML: "<a b=\"c\"/>"}}}}},
	{name: "command lower-case payload key", kind: "command", raw: `{"id":"c","payload":{"verb":"Get"}}`},
	{name: "command fractional seq", kind: "command", raw: `{"id":"c","seq":1.5}`},
	{name: "command negative seq", kind: "command", raw: `{"id":"c","seq":-1}`},
	{name: "command leading zero", kind: "command", raw: `{"id":"c","attempts":01}`},
	{name: "command deep nesting", kind: "command", raw: `{"id":"c","payload":{"Commands":[{"Commands":[{"Commands":[{"Commands":[{"Commands":[{"Commands":[{"Commands":[{"Commands":[{"Commands":[{"Commands":[{"Commands":[{"Commands":[{"Commands":[{"Commands":[{"Commands":[{"Commands":[{"Commands":[{"Commands":[]}]}]}]}]}]}]}]}]}]}]}]}]}]}]}]}]}]}}`},
	{name: "command invalid utf8", kind: "command", raw: "{\"id\":\"\xff\"}"},
	{name: "policy typical", fast: true, v: &store.DevicePolicy{Version: 42, OSVersion: "10.0.22631.2428", OSEdition: 48, UserID: "u1", ResolvedAt: t1}},
	{name: "policy minimal", fast: true, v: &store.DevicePolicy{}},
	{name: "policy negative version", kind: "policy", raw: `{"version":-1}`},
	{name: "policy unknown key", kind: "policy", raw: `{"version":1,"dirty":true}`},
	{name: "policy escaped user", kind: "policy", raw: `{"version":1,"userId":"a\u0026b"}`},
}

// manyNodes is a device's nodes map of n entries.
func manyNodes(n int) map[string]string {
	m := make(map[string]string, n)
	for i := range n {
		m[fmt.Sprintf("./Vendor/MSFT/Node%02d", i)] = fmt.Sprint(i)
	}
	return m
}

// The fast decoders' key orders are those of the types' fields, the order encoding/json
// writes them in: a list that disagrees would send every record to the fallback.
func TestFieldOrders(t *testing.T) {
	for _, tc := range []struct {
		typ  any
		keys []string
	}{
		{store.Device{}, deviceKeys}, {store.DevicePolicy{}, devicePolicyKeys}, {store.Session{}, sessionKeys},
		{store.SentRef{}, sentRefKeys}, {store.Command{}, commandKeys}, {store.Payload{}, payloadKeys},
		{store.Chal{}, chalKeys}, {store.Item{}, itemKeys}, {store.Meta{}, metaKeys}, {store.WNSChannel{}, wnsKeys},
	} {
		typ := reflect.TypeOf(tc.typ)
		var want []string
		for f := range typ.Fields() {
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "" {
				name = f.Name
			}
			want = append(want, name)
		}
		if !slices.Equal(tc.keys, want) {
			t.Errorf("keys of %s = %q, want %q", typ, tc.keys, want)
		}
	}
}

// decoders returns, for kind, the fast decoder alone, unmarshal and json.Unmarshal.
func decoders(kind string) (fast func([]byte) (any, bool), full func([]byte) (any, error), std func([]byte) (any, error)) {
	switch kind {
	case "device":
		return func(b []byte) (any, bool) { var v store.Device; ok := fastDecodeDevice(b, &v); return &v, ok },
			func(b []byte) (any, error) { var v store.Device; err := unmarshal(b, &v); return &v, err },
			func(b []byte) (any, error) { var v store.Device; err := json.Unmarshal(b, &v); return &v, err }
	case "session":
		return func(b []byte) (any, bool) { var v store.Session; ok := fastDecodeSession(b, &v); return &v, ok },
			func(b []byte) (any, error) { var v store.Session; err := unmarshal(b, &v); return &v, err },
			func(b []byte) (any, error) { var v store.Session; err := json.Unmarshal(b, &v); return &v, err }
	case "policy":
		return func(b []byte) (any, bool) {
				var v store.DevicePolicy
				ok := fastDecodeDevicePolicy(b, &v)
				return &v, ok
			},
			func(b []byte) (any, error) { var v store.DevicePolicy; err := unmarshal(b, &v); return &v, err },
			func(b []byte) (any, error) { var v store.DevicePolicy; err := json.Unmarshal(b, &v); return &v, err }
	}
	return func(b []byte) (any, bool) { var v store.Command; ok := fastDecodeCommand(b, &v); return &v, ok },
		func(b []byte) (any, error) { var v store.Command; err := unmarshal(b, &v); return &v, err },
		func(b []byte) (any, error) { var v store.Command; err := json.Unmarshal(b, &v); return &v, err }
}

func kindOf(v any) string {
	switch v.(type) {
	case *store.Device:
		return "device"
	case *store.Session:
		return "session"
	case *store.DevicePolicy:
		return "policy"
	}
	return "command"
}

// The fast decoders give what json.Unmarshal gives, and take the records json.Marshal writes.
func TestRecordDecoders(t *testing.T) {
	for _, tc := range recordCases {
		t.Run(tc.name, func(t *testing.T) {
			raw, kind := []byte(tc.raw), tc.kind
			if tc.raw == "" {
				var err error
				if raw, err = json.Marshal(tc.v); err != nil {
					t.Fatal(err)
				}
				kind = kindOf(tc.v)
			}
			fast, _, std := decoders(kind)
			got, ok := fast(raw)
			if ok != tc.fast {
				t.Fatalf("fast path taken = %v, want %v (%s)", ok, tc.fast, raw)
			}
			if want, err := std(raw); ok && (err != nil || !reflect.DeepEqual(got, want)) {
				t.Fatalf("fast decode = %+v\njson.Unmarshal = %+v, %v", got, want, err)
			}
			compareRecordDecoders(t, kind, raw)
		})
	}
}

func compareRecordDecoders(t *testing.T, kind string, raw []byte) {
	t.Helper()
	_, full, std := decoders(kind)
	want, werr := std(raw)
	got, gerr := full(raw)
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("json.Unmarshal error %v, unmarshal error %v", werr, gerr)
	}
	if werr == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("unmarshal = %+v\njson.Unmarshal = %+v", got, want)
	}
}

func fuzzRecord(f *testing.F, kind string) {
	for _, tc := range recordCases {
		switch {
		case tc.raw != "" && tc.kind == kind:
			f.Add([]byte(tc.raw))
		case tc.v != nil && kindOf(tc.v) == kind:
			raw, err := json.Marshal(tc.v)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(raw)
		}
	}
	f.Fuzz(func(t *testing.T, raw []byte) { compareRecordDecoders(t, kind, raw) })
}

// The fuzz targets check the fast decoders against encoding/json on arbitrary records (a
// damaged or tampered database file may hold anything).
func FuzzDecodeDevice(f *testing.F)       { fuzzRecord(f, "device") }
func FuzzDecodeSession(f *testing.F)      { fuzzRecord(f, "session") }
func FuzzDecodeCommand(f *testing.F)      { fuzzRecord(f, "command") }
func FuzzDecodeDevicePolicy(f *testing.F) { fuzzRecord(f, "policy") }

func BenchmarkDecodeCommand(b *testing.B) {
	var raw []byte
	for _, tc := range recordCases {
		if tc.name == "command typical" {
			var err error
			if raw, err = json.Marshal(tc.v); err != nil {
				b.Fatal(err)
			}
		}
	}
	for _, bc := range []struct {
		name string
		fn   func([]byte, any) error
	}{{"fast", unmarshal}, {"encoding-json", json.Unmarshal}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var c store.Command
				if err := bc.fn(raw, &c); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
