package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/server/adminapi"
	"github.com/hellomdm/hellomdm/store/bolt"
	"github.com/hellomdm/hellomdm/store/kv"
	"github.com/hellomdm/hellomdm/store/postgres"

	"github.com/hellomdm/hellomdm/audit"
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
	"github.com/hellomdm/hellomdm/server/omadm"
	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/syncml"
)

const formulaName = `=HYPERLINK("http://evil.example/","click")`

// auditFixture drives real code paths of a server: admin writes and queued commands, a
// session in which the device answers 200 and 500 and raises a generic alert, a device
// claiming another's identity, a bad admin token, and an unenrollment. It returns the two
// devices' IDs.
func auditFixture(t *testing.T, ts *testServer) (dev, other string) {
	t.Helper()
	d := ts.enroll("A1A1A1A1A1A1A1A1A1A1A1A1A1A1A1A1")
	o := ts.enroll("B2B2B2B2B2B2B2B2B2B2B2B2B2B2B2B2")
	// An admin token whose name is a spreadsheet formula: it becomes the actor of its writes.
	secret := "hmdm_formula-token"
	if err := ts.app.Store.CreateToken(context.Background(), store.AdminToken{ID: "tok-formula", Hash: adminapi.HashToken(secret),
		Name: formulaName, Role: store.RoleAdmin, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	var v wire.Command
	if st := ts.apiAs(secret, http.MethodPost, "/tenants/"+testTenant+"/devices/"+d.id+"/commands",
		wire.CommandRequest{Verb: "Replace", LocURI: pinRecovery, Format: "bool", Data: "true"}, &v); st != http.StatusCreated {
		t.Fatalf("queue with the formula token: HTTP %d", st)
	}
	ts.queue(d.id, wire.CommandRequest{Verb: "Add", LocURI: "./Device/Vendor/MSFT/Nope/Node", Format: "int", Data: "1"})
	ts.queue(o.id, wire.CommandRequest{Verb: "Get", LocURI: "./DevDetail/SwV"})

	cmds := commandsOf(d.send(d.first()))
	if len(cmds) != 2 {
		t.Fatalf("session got %d commands, want 2", len(cmds))
	}
	b := d.next()
	b.Status("1", cmds[0], 200)
	b.Status("1", cmds[1], 500)
	b.Alert(syncml.AlertClientEvent, syncml.Item{Meta: &syncml.Meta{Type: "com.contoso.diagnostics"}, Source: "./Vendor/Contoso", Data: "=1+1"})
	d.send(b)

	// The device presents its certificate but claims to be the other device.
	m := d.first().Message(true)
	m.Header.Source = o.id
	raw, _ := m.Marshal()
	if st, _ := d.post(raw); st != http.StatusOK {
		t.Fatalf("spoofed check-in: HTTP %d", st)
	}
	// A bad admin token on a tenant route.
	if st := ts.apiAs("hmdm_wrong", http.MethodGet, "/tenants/"+testTenant+"/audit", nil, nil); st != http.StatusUnauthorized {
		t.Fatalf("bad token: HTTP %d", st)
	}
	// The other device leaves management (Alert 1226, MS-MDM 2.2.7.2).
	ub := o.first()
	ub.Alert(syncml.AlertGeneric, syncml.Item{Meta: &syncml.Meta{Type: syncml.TypeUnenrollUser}, Data: "0"})
	o.send(ub)
	return d.id, o.id
}

// Every kind whose code path exists is written by that code path, not by a direct call.
func TestAuditKindsWrittenByCodePaths(t *testing.T) {
	ts := startServer(t, t.TempDir(), omadm.Config{NoBackoff: true, MaxAttempts: 1})
	dev, other := auditFixture(t, ts)
	evs := ts.events(testTenant)
	cases := []struct {
		kind  audit.Kind
		what  string
		match func(e *audit.Event) bool
	}{
		{audit.KindAdminWrite, "admin queues a command", func(e *audit.Event) bool {
			return e.Actor.ID == formulaName && e.Action == "create" && e.DeviceID == dev
		}},
		{audit.KindCommandQueued, "command queued", func(e *audit.Event) bool { return e.DeviceID == other && e.Action == "queue" }},
		{audit.KindCommandSent, "command sent in a session", func(e *audit.Event) bool { return e.DeviceID == dev }},
		{audit.KindCommandDelivered, "device answers 200", func(e *audit.Event) bool { return e.DeviceID == dev }},
		{audit.KindCommandFailed, "device answers 500 with MaxAttempts 1", func(e *audit.Event) bool { return e.DeviceID == dev && strings.Contains(string(e.Details), "500") }},
		{audit.KindDeviceAlert, "generic 1224 alert", func(e *audit.Event) bool { return strings.Contains(string(e.Details), "com.contoso.diagnostics") }},
		{audit.KindAuthRefused, "device claims another device", func(e *audit.Event) bool {
			return e.Actor.Type == audit.ActorDevice && e.Actor.ID == dev && strings.Contains(string(e.Details), other)
		}},
		{audit.KindAuthRefused, "bad admin token", func(e *audit.Event) bool { return e.Actor.Type == audit.ActorAdmin && e.Actor.TokenID == "" }},
		{audit.KindUnenrolled, "alert 1226 unenrollment", func(e *audit.Event) bool { return e.Subject.ID == other }},
	}
	for _, tc := range cases {
		t.Run(string(tc.kind)+" by "+tc.what, func(t *testing.T) {
			for _, e := range evs {
				if e.Kind == tc.kind && tc.match(e) {
					return
				}
			}
			for _, e := range evs {
				t.Logf("%s actor=%+v device=%s details=%s", e.Kind, e.Actor, e.DeviceID, e.Details)
			}
			t.Fatalf("no %s event with the expected content among %d events", tc.kind, len(evs))
		})
	}
}

// download GETs an export and returns status, headers and body.
func (ts *testServer) download(token, path string) (int, http.Header, []byte) {
	ts.t.Helper()
	req, err := http.NewRequest(http.MethodGet, ts.base+"/api/v1"+path, nil)
	if err != nil {
		ts.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := ts.admin.Do(req)
	if err != nil {
		ts.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		ts.t.Fatalf("reading %s: %v", path, err)
	}
	return resp.StatusCode, resp.Header, body
}

// eventRow is an event as the exports' columns show it.
func eventRow(e *audit.Event) []string {
	return []string{e.ID, strconv.FormatUint(e.Seq, 10), e.Time.UTC().Format(time.RFC3339Nano), e.TenantID, string(e.Kind),
		e.Actor.Type, e.Actor.ID, e.Actor.TokenID, e.Actor.Role, e.Actor.SourceAddr, e.Subject.Type, e.Subject.ID,
		e.DeviceID, e.ProfileID, e.Action, string(e.Details), e.PrevHash, e.Hash}
}

// objectRow reads an exported JSON object back into column order.
func objectRow(t *testing.T, o map[string]json.RawMessage) []string {
	t.Helper()
	var out []string
	for _, c := range audit.EventColumns() {
		v := o[c]
		switch c {
		case "seq":
			out = append(out, string(v))
		case "details":
			if string(v) == "null" {
				v = nil
			}
			out = append(out, string(v))
		case "time":
			var s string
			_ = json.Unmarshal(v, &s)
			tm, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				t.Fatalf("time %s: %v", v, err)
			}
			out = append(out, tm.UTC().Format(time.RFC3339Nano))
		default:
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				t.Fatalf("column %s = %s: %v", c, v, err)
			}
			out = append(out, s)
		}
	}
	return out
}

func parseExport(t *testing.T, format string, body []byte) [][]string {
	t.Helper()
	var rows [][]string
	switch format {
	case "csv":
		recs, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
		if err != nil {
			t.Fatalf("CSV does not parse: %v", err)
		}
		if strings.Join(recs[0], ",") != strings.Join(audit.EventColumns(), ",") {
			t.Fatalf("CSV header %v", recs[0])
		}
		for _, r := range recs[1:] {
			for i := range r {
				r[i] = audit.UnneutraliseCell(r[i])
			}
			tm, err := time.Parse(time.RFC3339Nano, r[2])
			if err != nil {
				t.Fatalf("CSV time %q: %v", r[2], err)
			}
			r[2] = tm.UTC().Format(time.RFC3339Nano)
			rows = append(rows, r)
		}
	case "json":
		var objs []map[string]json.RawMessage
		if err := json.Unmarshal(body, &objs); err != nil {
			t.Fatalf("JSON does not parse: %v", err)
		}
		for _, o := range objs {
			rows = append(rows, objectRow(t, o))
		}
	case "ndjson":
		sc := bufio.NewScanner(bytes.NewReader(body))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var o map[string]json.RawMessage
			if err := json.Unmarshal(sc.Bytes(), &o); err != nil {
				t.Fatalf("NDJSON line %q: %v", sc.Text(), err)
			}
			rows = append(rows, objectRow(t, o))
		}
	}
	return rows
}

func TestAuditExport(t *testing.T) {
	ts := startServer(t, t.TempDir(), omadm.Config{NoBackoff: true, MaxAttempts: 1})
	dev, _ := auditFixture(t, ts)
	base := "/tenants/" + testTenant + "/audit"
	for _, format := range []string{"csv", "json", "ndjson"} {
		t.Run("format "+format, func(t *testing.T) {
			want := ts.events(testTenant)
			st, h, body := ts.download(testToken, base+"?format="+format)
			if st != http.StatusOK {
				t.Fatalf("HTTP %d: %s", st, body)
			}
			f, _ := audit.ParseFormat(format)
			if h.Get("Content-Type") != f.ContentType() || h.Get("Content-Disposition") != "attachment; filename=audit-"+testTenant+"."+format || h.Get("Content-Length") != "" {
				t.Fatalf("headers %v", h)
			}
			rows := parseExport(t, format, body)
			if len(rows) != len(want) {
				t.Fatalf("%d rows, want %d", len(rows), len(want))
			}
			for i, e := range want {
				if got, exp := strings.Join(rows[i], "|"), strings.Join(eventRow(e), "|"); got != exp {
					t.Fatalf("row %d:\n got %s\nwant %s", i, got, exp)
				}
			}
			if format == "csv" && !bytes.Contains(body, []byte(`,"'=HYPERLINK(""http://evil.example/"",""click"")",`)) {
				t.Fatalf("formula cell not neutralised:\n%s", body)
			}
			last := ts.events(testTenant)
			if e := last[len(last)-1]; e.Kind != audit.KindExported || !strings.Contains(string(e.Details), fmt.Sprintf(`"count":%d`, len(want))) {
				t.Fatalf("last event after the export: %+v %s", e, e.Details)
			}
		})
	}
	t.Run("default format is json", func(t *testing.T) {
		if _, h, _ := ts.download(testToken, base); h.Get("Content-Type") != "application/json" {
			t.Fatalf("Content-Type %q", h.Get("Content-Type"))
		}
	})

	evs := ts.events(testTenant)
	mid := evs[len(evs)/2].Time
	rfc := func(tm time.Time) string { return url.QueryEscape(tm.UTC().Format(time.RFC3339Nano)) }
	filters := []struct {
		name   string
		query  string
		filter audit.Filter
		check  func(rows [][]string) bool
	}{
		{"from is inclusive", "from=" + rfc(mid), audit.Filter{From: mid}, func(r [][]string) bool { return r[0][2] == mid.UTC().Format(time.RFC3339Nano) }},
		{"to is exclusive", "to=" + rfc(mid), audit.Filter{To: mid}, func(r [][]string) bool { return r[len(r)-1][2] != mid.UTC().Format(time.RFC3339Nano) }},
		{"kind list and repeat", "kind=command.sent,command.failed&kind=device.alert", audit.Filter{Kinds: []audit.Kind{audit.KindCommandSent, audit.KindCommandFailed, audit.KindDeviceAlert}}, nil},
		{"device", "device=" + dev, audit.Filter{DeviceID: dev}, nil},
		{"actor", "actor=" + url.QueryEscape(formulaName), audit.Filter{ActorID: formulaName}, nil},
	}
	for _, tc := range filters {
		t.Run(tc.name, func(t *testing.T) {
			var want []*audit.Event
			for _, e := range evs {
				if tc.filter.Match(e) {
					want = append(want, e)
				}
			}
			q := tc.query
			if tc.filter.To.IsZero() { // leave out the audit.exported events of earlier subtests
				q += "&to=" + rfc(evs[len(evs)-1].Time.Add(time.Microsecond))
			}
			st, _, body := ts.download(testToken, base+"?format=ndjson&"+q)
			if st != http.StatusOK {
				t.Fatalf("HTTP %d: %s", st, body)
			}
			rows := parseExport(t, "ndjson", body)
			if len(want) == 0 || len(rows) != len(want) || (tc.check != nil && !tc.check(rows)) {
				t.Fatalf("%d rows, want %d: %q", len(rows), len(want), body)
			}
			for i := range want {
				if rows[i][0] != want[i].ID {
					t.Fatalf("row %d is event %s, want %s", i, rows[i][0], want[i].ID)
				}
			}
		})
	}

	bad := []struct{ query, param string }{
		{"kind=no.such.kind", "kind"},
		{"from=yesterday", "from"},
		{"to=2025-13-01T00:00:00Z", "to"},
		{"format=xml", "format"},
		{"colour=red", "colour"},
		{"device=a&device=b", "device"},
		{"from=2025-03-02T00:00:00Z&to=2025-03-01T00:00:00Z", "to"},
	}
	for _, tc := range bad {
		t.Run("bad "+tc.query, func(t *testing.T) {
			st, _, body := ts.download(testToken, base+"?"+tc.query)
			var e apiError
			if st != http.StatusBadRequest || json.Unmarshal(body, &e) != nil || !strings.Contains(e.Error.Message, `"`+tc.param+`"`) {
				t.Fatalf("HTTP %d: %s", st, body)
			}
		})
	}
}

func TestAuditAccess(t *testing.T) {
	ts := startIdentityServer(t)
	berlin := ts.enroll("C3C3C3C3C3C3C3C3C3C3C3C3C3C3C3C3")
	paris := ts.enroll("D4D4D4D4D4D4D4D4D4D4D4D4D4D4D4D4")
	if err := ts.app.Store.UpdateDevice(context.Background(), berlin.id, func(d *store.Device) error { d.ScopeTags = []string{"Berlin"}; return nil }); err != nil {
		t.Fatal(err)
	}
	ts.queue(berlin.id, wire.CommandRequest{Verb: "Get", LocURI: "./DevDetail/SwV"})
	ts.queue(paris.id, wire.CommandRequest{Verb: "Get", LocURI: "./DevDetail/SwV"})
	reader := ts.newToken(store.RoleReader, testTenant)
	readerB := ts.newToken(store.RoleReader, tenantB)
	scoped := ts.newToken(store.RoleReader, testTenant, "Berlin")
	path := "/tenants/" + testTenant + "/audit?format=ndjson"
	cases := []struct {
		name   string
		token  string
		path   string
		status int
		check  func(t *testing.T, body []byte)
	}{
		{"reader exports its tenant", reader, path, http.StatusOK, func(t *testing.T, body []byte) {
			if len(parseExport(t, "ndjson", body)) < 4 {
				t.Fatalf("reader export: %s", body)
			}
		}},
		{"other tenant's token gets 404", readerB, path, http.StatusNotFound, nil},
		{"unknown tenant gets 404", testToken, "/tenants/" + newTenant + "/audit", http.StatusNotFound, nil},
		{"scoped token sees only its devices", scoped, path, http.StatusOK, func(t *testing.T, body []byte) {
			rows := parseExport(t, "ndjson", body)
			if len(rows) < 2 {
				t.Fatalf("scoped export has %d rows", len(rows))
			}
			for _, r := range rows {
				if r[12] != berlin.id {
					t.Fatalf("scoped export shows an event about %q: %v", r[12], r)
				}
			}
		}},
		{"scoped token cannot verify the whole chain", scoped, "/tenants/" + testTenant + "/audit/verify", http.StatusForbidden, nil},
		{"reader verifies", reader, "/tenants/" + testTenant + "/audit/verify", http.StatusOK, nil},
		{"other tenant's token cannot verify", readerB, "/tenants/" + testTenant + "/audit/verify", http.StatusNotFound, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, _, body := ts.download(tc.token, tc.path)
			if st != tc.status {
				t.Fatalf("HTTP %d, want %d: %s", st, tc.status, body)
			}
			if tc.check != nil {
				tc.check(t, body)
			}
		})
	}
}

// verify calls the verify route.
func (ts *testServer) verify() wire.AuditVerification {
	ts.t.Helper()
	var v wire.AuditVerification
	if st := ts.api(http.MethodGet, "/tenants/"+testTenant+"/audit/verify", nil, &v); st != http.StatusOK {
		ts.t.Fatalf("verify: HTTP %d", st)
	}
	return v
}

// tamperAudit rewrites the action of one stored event behind the server's back (stopped),
// through the backend's kv layer: the bbolt file or the PostgreSQL tables.
func (ts *testServer) tamperAudit(tenantID string, seq uint64) {
	ts.t.Helper()
	ctx := context.Background()
	var (
		b   kv.Backend
		err error
	)
	if ts.pg.DSN != "" {
		b, err = postgres.OpenKV(ctx, ts.pg.DSN, postgres.Options{})
	} else {
		b, err = bolt.OpenKV(filepath.Join(ts.dir, DatabaseFile), bolt.Options{})
	}
	if err != nil {
		ts.t.Fatal(err)
	}
	err = b.Update(ctx, func(tx kv.Tx) error {
		prefix := binary.BigEndian.AppendUint16(nil, uint16(len(tenantID)))
		prefix = append(prefix, tenantID...)
		// The event is the record under its Seq, or inside the batch record under the first
		// key after it (PostgreSQL's sequencer stores what one transaction sealed as one
		// record per segment, keyed by its last Seq: store/core/auditbatch.go).
		var k, v []byte
		err := tx.Scan("audit", kv.Span{Prefix: prefix, Start: binary.BigEndian.AppendUint64(slices.Clone(prefix), seq)}, func(key, val []byte) (bool, error) {
			k, v = slices.Clone(key), slices.Clone(val)
			return false, nil
		})
		if err != nil || v == nil {
			return fmt.Errorf("no event %d: %v", seq, err)
		}
		records, batch := [][]byte{v}, len(v) > 0 && v[0] == 0x01
		if batch {
			records = nil
			for rest := v[1:]; len(rest) > 0; {
				n, w := binary.Uvarint(rest)
				if w <= 0 || n > uint64(len(rest)-w) {
					return fmt.Errorf("a malformed batch record under seq %d", seq)
				}
				records, rest = append(records, rest[w:w+int(n)]), rest[w+int(n):]
			}
		}
		found := false
		for i, r := range records {
			var m map[string]any
			if err := json.Unmarshal(r, &m); err != nil {
				return err
			}
			if m["seq"] != float64(seq) {
				continue
			}
			m["action"] = "tampered"
			records[i], _ = json.Marshal(m)
			found = true
		}
		if !found {
			return fmt.Errorf("no event %d in the record under %x", seq, k)
		}
		nv := records[0]
		if batch {
			nv = []byte{0x01}
			for _, r := range records {
				nv = append(binary.AppendUvarint(nv, uint64(len(r))), r...)
			}
		}
		return tx.Put("audit", k, nv)
	})
	if cerr := b.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		ts.t.Fatal(err)
	}
}

// Altering one stored event in the database (bbolt file or PostgreSQL row) is reported at
// that event's seq.
func TestAuditVerifyDetectsTampering(t *testing.T) {
	ts := startServer(t, t.TempDir(), omadm.Config{NoBackoff: true})
	dev := ts.enroll("E5E5E5E5E5E5E5E5E5E5E5E5E5E5E5E5")
	for range 3 {
		ts.queue(dev.id, wire.CommandRequest{Verb: "Get", LocURI: "./DevDetail/SwV"})
	}
	v := ts.verify()
	if !v.OK || v.Checked < 6 || v.Broken != nil {
		t.Fatalf("intact chain: %+v", v)
	}
	last := ts.events(testTenant)
	if e := last[len(last)-1]; e.Kind != audit.KindVerified {
		t.Fatalf("verify was not recorded: last event %s", e.Kind)
	}
	const target = 3
	ts.stop()
	ts.tamperAudit(testTenant, target)
	ts.start()
	v = ts.verify()
	if v.OK || v.Broken == nil || v.Broken.Seq != target || v.Broken.Reason != string(audit.ReasonHashMismatch) || v.Checked != target-1 {
		t.Fatalf("tampered chain: %+v broken %+v", v, v.Broken)
	}
}

// The retention loop drops whole old segments while serving and records the drop; the chain
// still verifies.
func TestAuditRetentionLoop(t *testing.T) {
	dir := t.TempDir()
	ts := &testServer{t: t, dir: dir, opts: Options{DataDir: dir, Addr: "127.0.0.1:0", Hostname: "localhost", AdminToken: testToken,
		AuditRetention: 24 * time.Hour, AuditRetentionInterval: 20 * time.Millisecond}}
	ts.opts.OpenStore, ts.pg = testBackend(t)
	ts.start()
	t.Cleanup(ts.stop)
	old := time.Now().Add(-48 * time.Hour)
	batch := make([]*audit.Event, 0, 1500)
	for i := range cap(batch) {
		batch = append(batch, &audit.Event{ID: newEventID(), Time: old.Add(time.Duration(i) * time.Millisecond), TenantID: testTenant,
			Kind: audit.KindDeviceAlert, Actor: audit.Actor{Type: audit.ActorDevice, ID: "old"}})
	}
	if err := ts.app.Store.AppendAudit(context.Background(), batch...); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		a, err := ts.app.Store.AuditAnchor(context.Background(), testTenant)
		if err != nil {
			t.Fatal(err)
		}
		if a.Seq > 0 {
			if a.Seq != 1000 {
				t.Fatalf("anchor at seq %d, want the first whole segment (1000)", a.Seq)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the retention loop dropped nothing")
		}
		time.Sleep(20 * time.Millisecond)
	}
	evs := ts.events(testTenant)
	if len(evs) != 501 || evs[len(evs)-1].Kind != audit.KindRetention || evs[len(evs)-1].Actor != retentionActor {
		t.Fatalf("%d events left, last %+v", len(evs), evs[len(evs)-1])
	}
	if v := ts.verify(); !v.OK || v.Start.Seq != 1000 || v.Checked != 501 {
		t.Fatalf("after retention: %+v", v)
	}
}
