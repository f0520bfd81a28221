package audit

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// nastyChain is a sealed chain whose fields hold what CSV and JSON
// encoders get wrong.
func nastyChain(t *testing.T) []Event {
	t.Helper()
	values := []string{
		"=SUM(A1:A9)", "+1", "-1", "@x", "\tx", "\rx", "'quoted", "''two",
		"a,b", `say "hi"`, "line\nbreak", "crlf\r\nin", " leading space",
		"héllo wörld ✓", "bad\xffutf8", "\u2028sep", "ctl\x01\x1f", `back\slash`, "", "normal",
	}
	t0 := time.Date(2025, 2, 3, 4, 5, 6, 7000, time.UTC)
	var out []Event
	var prev *Event
	for i, v := range values {
		e := sampleEvent(i, v+"tenant", t0.Add(time.Duration(i)*time.Millisecond))
		e.TenantID = "tenant-a"
		e.Actor.ID = v
		e.Actor.Role = v
		e.Subject.ID = v
		e.DeviceID = v
		e.Action = v
		if i%4 == 3 {
			e.Details = nil
		} else {
			d, _ := json.Marshal(map[string]string{"v": v})
			e.Details = d
		}
		if err := Seal(prev, &e); err != nil {
			t.Fatalf("seal %q: %v", v, err)
		}
		out = append(out, e)
		prev = &out[len(out)-1]
	}
	return out
}

func export(t *testing.T, f Format, events []Event) []byte {
	t.Helper()
	var buf bytes.Buffer
	x, err := NewExporter(&buf, f)
	if err != nil {
		t.Fatal(err)
	}
	for i := range events {
		if err := x.Write(&events[i]); err != nil {
			t.Fatalf("Write: %v", err)
		}
	}
	if err := x.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return buf.Bytes()
}

// eventFromCells rebuilds an event from the EventColumns cells.
func eventFromCells(t *testing.T, c []string) Event {
	t.Helper()
	seq, err := strconv.ParseUint(c[1], 10, 64)
	if err != nil {
		t.Fatalf("seq %q: %v", c[1], err)
	}
	ts, err := time.Parse(time.RFC3339Nano, c[2])
	if err != nil {
		t.Fatalf("time %q: %v", c[2], err)
	}
	var details json.RawMessage
	if c[15] != "" {
		details = json.RawMessage(c[15])
	}
	return Event{ID: c[0], Seq: seq, Time: ts, TenantID: c[3], Kind: Kind(c[4]),
		Actor:    Actor{Type: c[5], ID: c[6], TokenID: c[7], Role: c[8], SourceAddr: c[9]},
		Subject:  Subject{Type: c[10], ID: c[11]},
		DeviceID: c[12], ProfileID: c[13], Action: c[14], Details: details, PrevHash: c[16], Hash: c[17]}
}

func TestExportCSVRoundTrip(t *testing.T) {
	events := nastyChain(t)
	out := export(t, FormatCSV, events)
	if !bytes.HasPrefix(out, []byte("id,seq,time,tenant,kind,actor_type,")) || !bytes.HasSuffix(out, []byte("\r\n")) {
		t.Fatalf("unexpected framing:\n%s", out)
	}
	recs, err := csv.NewReader(bytes.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatalf("encoding/csv cannot read export: %v", err)
	}
	if !reflect.DeepEqual(recs[0], EventColumns()) {
		t.Fatalf("header %q", recs[0])
	}
	if len(recs) != len(events)+1 {
		t.Fatalf("%d records, want %d", len(recs), len(events)+1)
	}
	for i, rec := range recs[1:] {
		for j := range rec {
			rec[j] = UnneutraliseCell(rec[j])
		}
		got := eventFromCells(t, rec)
		want := events[i]
		// encoding/csv turns a quoted CRLF into LF: the one lossy case of the reader.
		if strings.Contains(want.Actor.ID, "\r\n") {
			got = want
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("row %d:\n got %+v\nwant %+v", i, got, want)
		}
		if ComputeHash(&got) != want.Hash {
			t.Errorf("row %d: re-hash of exported row differs", i)
		}
	}
}

func TestCSVNeutralisesFormulaCells(t *testing.T) {
	tests := []struct {
		name, in, cell string
	}{
		{"sum", "=SUM(A1:A2)", "'=SUM(A1:A2)"},
		{"plus", "+1", "'+1"},
		{"minus", "-1", "'-1"},
		{"at", "@x", "'@x"},
		{"tab", "\tcmd", "'\tcmd"},
		{"cr", "\rcmd", "'\rcmd"},
		{"apostrophe", "'x", "''x"},
		{"normal", "device-1", "device-1"},
		{"inner equals", "a=b", "a=b"},
		{"empty", "", ""},
		{"quoted formula", `=HYPERLINK("http://x","y")`, `'=HYPERLINK("http://x","y")`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := NeutraliseCell(tt.in); got != tt.cell {
				t.Fatalf("NeutraliseCell = %q, want %q", got, tt.cell)
			}
			var buf bytes.Buffer
			x, err := NewTableExporter(&buf, FormatCSV, []string{"v", "w"})
			if err != nil {
				t.Fatal(err)
			}
			if err := x.WriteRow([]string{tt.in, "z"}); err != nil {
				t.Fatal(err)
			}
			if err := x.Close(); err != nil {
				t.Fatal(err)
			}
			recs, err := csv.NewReader(&buf).ReadAll()
			if err != nil {
				t.Fatalf("read back: %v", err)
			}
			if recs[1][0] != tt.cell {
				t.Fatalf("CSV cell = %q, want %q", recs[1][0], tt.cell)
			}
			if got := UnneutraliseCell(recs[1][0]); got != tt.in {
				t.Fatalf("UnneutraliseCell = %q, want %q", got, tt.in)
			}
		})
	}
}

// exportRow is the JSON/NDJSON shape of an event export.
type exportRow struct {
	ID          string          `json:"id"`
	Seq         uint64          `json:"seq"`
	Time        time.Time       `json:"time"`
	Tenant      string          `json:"tenant"`
	Kind        Kind            `json:"kind"`
	ActorType   string          `json:"actor_type"`
	ActorID     string          `json:"actor_id"`
	ActorToken  string          `json:"actor_token"`
	ActorRole   string          `json:"actor_role"`
	ActorAddr   string          `json:"actor_addr"`
	SubjectType string          `json:"subject_type"`
	SubjectID   string          `json:"subject_id"`
	Device      string          `json:"device"`
	Profile     string          `json:"profile"`
	Action      string          `json:"action"`
	Details     json.RawMessage `json:"details"`
	PrevHash    string          `json:"prev_hash"`
	Hash        string          `json:"hash"`
}

func (r exportRow) event() Event {
	d := r.Details
	if string(d) == "null" {
		d = nil
	}
	return Event{ID: r.ID, Seq: r.Seq, Time: r.Time, TenantID: r.Tenant, Kind: r.Kind,
		Actor:    Actor{Type: r.ActorType, ID: r.ActorID, TokenID: r.ActorToken, Role: r.ActorRole, SourceAddr: r.ActorAddr},
		Subject:  Subject{Type: r.SubjectType, ID: r.SubjectID},
		DeviceID: r.Device, ProfileID: r.Profile, Action: r.Action, Details: d, PrevHash: r.PrevHash, Hash: r.Hash}
}

// validUTF8 replaces invalid bytes as JSON encoding does.
func validUTF8(e Event) Event {
	fix := func(s string) string { return strings.ToValidUTF8(s, "\ufffd") }
	e.Actor.ID, e.Actor.Role, e.Subject.ID, e.DeviceID, e.Action = fix(e.Actor.ID), fix(e.Actor.Role), fix(e.Subject.ID), fix(e.DeviceID), fix(e.Action)
	return e
}

func TestExportNDJSONLinesParse(t *testing.T) {
	events := nastyChain(t)
	out := export(t, FormatNDJSON, events)
	sc := bufio.NewScanner(bytes.NewReader(out))
	i := 0
	for sc.Scan() {
		var r exportRow
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("line %d %q: %v", i, sc.Text(), err)
		}
		if got, want := r.event(), validUTF8(events[i]); !reflect.DeepEqual(got, want) {
			t.Errorf("line %d:\n got %+v\nwant %+v", i, got, want)
		}
		i++
	}
	if i != len(events) {
		t.Fatalf("%d lines, want %d", i, len(events))
	}
}

func TestExportJSONArrayParses(t *testing.T) {
	events := nastyChain(t)
	var rows []exportRow
	if err := json.Unmarshal(export(t, FormatJSON, events), &rows); err != nil {
		t.Fatalf("JSON export does not parse: %v", err)
	}
	if len(rows) != len(events) {
		t.Fatalf("%d rows, want %d", len(rows), len(events))
	}
	for i, r := range rows {
		if got, want := r.event(), validUTF8(events[i]); !reflect.DeepEqual(got, want) {
			t.Errorf("row %d:\n got %+v\nwant %+v", i, got, want)
		}
	}
}

func TestExportEmpty(t *testing.T) {
	tests := []struct {
		f    Format
		want string
	}{
		{FormatCSV, strings.Join(EventColumns(), ",") + "\r\n"},
		{FormatJSON, "[]\n"},
		{FormatNDJSON, ""},
	}
	for _, tt := range tests {
		t.Run(string(tt.f), func(t *testing.T) {
			if got := string(export(t, tt.f, nil)); got != tt.want {
				t.Fatalf("empty export = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestTableExporterFormats(t *testing.T) {
	rows := [][]string{
		{"p1", "PIN recovery", "dev-1", "./Device/Vendor/MSFT/PassportForWork/x/Policies/EnablePinRecovery", "compliant", "", "true", "2025-01-01T00:00:00Z"},
		{"p1", "=cmd|' /C calc'!A0", "dev-2", "./Vendor/MSFT/Policy/Config/Authentication/ConfigureWebSignInAllowedUrls", "error", "-2016345612", "a;b", "2025-01-02T00:00:00Z"},
	}
	for _, f := range []Format{FormatCSV, FormatJSON, FormatNDJSON} {
		t.Run(string(f), func(t *testing.T) {
			var buf bytes.Buffer
			x, err := NewTableExporter(&buf, f, ComplianceColumns())
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range rows {
				if err := x.WriteRow(r); err != nil {
					t.Fatal(err)
				}
			}
			if err := x.WriteRow([]string{"short"}); err == nil {
				t.Error("short row accepted")
			}
			if err := x.Close(); err != nil {
				t.Fatal(err)
			}
			var got [][]string
			switch f {
			case FormatCSV:
				recs, err := csv.NewReader(&buf).ReadAll()
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range recs[1:] {
					for j := range r {
						r[j] = UnneutraliseCell(r[j])
					}
					got = append(got, r)
				}
			case FormatJSON, FormatNDJSON:
				var objs []map[string]string
				if f == FormatJSON {
					if err := json.Unmarshal(buf.Bytes(), &objs); err != nil {
						t.Fatal(err)
					}
				} else {
					dec := json.NewDecoder(&buf)
					for {
						var m map[string]string
						if err := dec.Decode(&m); err == io.EOF {
							break
						} else if err != nil {
							t.Fatal(err)
						}
						objs = append(objs, m)
					}
				}
				for _, m := range objs {
					var r []string
					for _, c := range ComplianceColumns() {
						r = append(r, m[c])
					}
					got = append(got, r)
				}
			}
			if !reflect.DeepEqual(got, rows) {
				t.Fatalf("rows = %q, want %q", got, rows)
			}
		})
	}
}

func TestExporterErrors(t *testing.T) {
	if _, err := NewExporter(io.Discard, "xml"); !errors.Is(err, ErrUnknownFormat) {
		t.Errorf("NewExporter(xml) = %v", err)
	}
	if _, err := NewExporter(nil, FormatCSV); err == nil {
		t.Error("nil writer accepted")
	}
	for _, cols := range [][]string{nil, {"a", "a"}, {"a", ""}} {
		if _, err := NewTableExporter(io.Discard, FormatCSV, cols); err == nil {
			t.Errorf("columns %q accepted", cols)
		}
	}
	// A failing writer's error is returned and sticks.
	x, _ := NewExporter(failWriter{}, FormatNDJSON)
	e := sealedChain(t, 1)[0]
	var err error
	for i := 0; i < 1000 && err == nil; i++ {
		err = x.Write(&e)
	}
	if err == nil || x.Write(&e) == nil || x.Close() == nil {
		t.Errorf("write error not reported: %v", err)
	}
	// Bad details cannot break a JSON export.
	y, _ := NewExporter(io.Discard, FormatJSON)
	bad := e
	bad.Details = []byte(`{"a":`)
	if err := y.Write(&bad); !errors.Is(err, ErrBadDetails) {
		t.Errorf("bad details = %v", err)
	}
	if err := y.Close(); err != nil {
		t.Fatal(err)
	}
	if err := y.Write(&e); !errors.Is(err, ErrClosed) {
		t.Errorf("write after close = %v", err)
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("pipe closed") }

func TestParseFormat(t *testing.T) {
	tests := []struct {
		in   string
		want Format
		ok   bool
	}{
		{"csv", FormatCSV, true}, {" JSON ", FormatJSON, true}, {"ndjson", FormatNDJSON, true},
		{"jsonl", FormatNDJSON, true}, {"xml", "", false}, {"", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseFormat(tt.in)
			if got != tt.want || (err == nil) != tt.ok || (err != nil && !errors.Is(err, ErrUnknownFormat)) {
				t.Fatalf("ParseFormat(%q) = %q, %v", tt.in, got, err)
			}
		})
	}
}

func FuzzJSONString(f *testing.F) {
	for _, s := range []string{"", "plain", "quote\"back\\", "\x00\x1f\x7f", "\xff\xfe", "\u2028\u2029", "é✓😀"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b := appendJSONString(nil, s)
		var got string
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("%q encodes to invalid JSON %s: %v", s, b, err)
		}
		// Invalid bytes become U+FFFD one by one, as with encoding/json.
		std, _ := json.Marshal(s)
		var want string
		if err := json.Unmarshal(std, &want); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("%q round-trips to %q, encoding/json gives %q", s, got, want)
		}
	})
}

func FuzzCSVCell(f *testing.F) {
	for _, s := range []string{"", "=1+1", "a,b", "\"", "'x", " x", "a\nb", "\r"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if strings.Contains(s, "\r") {
			return // encoding/csv's reader normalises CR in quoted fields
		}
		line := appendCSVCell(nil, s)
		line = append(line, ",end\r\n"...)
		r := csv.NewReader(bytes.NewReader(line))
		r.LazyQuotes = false
		rec, err := r.Read()
		if err != nil {
			t.Fatalf("%q -> %q unreadable: %v", s, line, err)
		}
		if len(rec) != 2 || UnneutraliseCell(rec[0]) != s {
			t.Fatalf("%q -> %q -> %q", s, line, rec)
		}
	})
}
