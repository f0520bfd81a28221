package console_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/hellomdm/hellomdm/internal/consoletest"
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
)

const auditPath = "/console/t/" + consoletest.TenantID + "/audit"

// fetched is an answer fetched from the page with the browser's session.
type fetched struct {
	Status      int    `json:"status"`
	Disposition string `json:"disposition"`
	Type        string `json:"type"`
	Body        string `json:"body"`
}

// fetchFrom fetches the href of the element matching css with the page's session, as the
// browser does when the link is followed, and returns the answer (a synchronous request:
// the harness's Eval does not wait for promises).
func fetchFrom(t *testing.T, b *consoletest.Browser, css string) fetched {
	t.Helper()
	js := fmt.Sprintf(`(function(){ const a = document.querySelector(%q); const x = new XMLHttpRequest();
		x.open("GET", a.href, false); x.send();
		return {status: x.status, disposition: x.getResponseHeader("Content-Disposition") || "", type: x.getResponseHeader("Content-Type") || "", body: x.responseText}; })()`, css)
	raw := consoletest.Eval[json.RawMessage](b, js)
	var f fetched
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatalf("fetch %s: %v (%s)", css, err, raw)
	}
	return f
}

// seqs lists the Seq column of the events table.
func seqs(b *consoletest.Browser) []int {
	return consoletest.Eval[[]int](b, `Array.from(document.querySelectorAll("#events tbody tr td:first-child")).map(td => Number(td.innerText))`)
}

// The audit page lists the newest events first, pages to older ones, filters by kind, actor
// and time, exports with the same filters through the session (CSV and JSON downloads),
// and shows the chain verification.
func TestBrowserAuditLog(t *testing.T) {
	e := consoletest.Start(t)
	ctx := context.Background()
	ada := e.User("ada@contoso.com", "admin")
	for i := range 55 {
		if _, err := e.Admin.CreateGroup(ctx, consoletest.TenantID, wire.GroupRequest{DisplayName: fmt.Sprintf("Audit %02d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	b := consoletest.NewBrowser(t, e)
	b.SignIn(ada)
	b.Go(auditPath)
	b.CheckLabels()
	b.CheckKeyboard()
	first := seqs(b)
	if len(first) != 50 {
		t.Fatalf("the first page has %d events", len(first))
	}
	for i := 1; i < len(first); i++ {
		if first[i] != first[i-1]-1 {
			t.Fatalf("the first page is not newest first without gaps: %v", first)
		}
	}
	b.Submit("#older", "audit-older")
	older := seqs(b)
	if len(older) == 0 || older[0] != first[len(first)-1]-1 || older[len(older)-1] != 1 || b.Count("#older") != 0 {
		t.Fatalf("the older page %v after %v", older, first)
	}
	if b.Count("#newest") != 1 {
		t.Error("no link back to the newest events")
	}

	// Filter by kind: only sign-ins (ada's, to the identity provider).
	b.Go(auditPath)
	setSelect(t, b, "#kind", "auth.signin")
	b.Submit("#actor", "audit-signins")
	kinds := consoletest.Eval[[]string](b, `Array.from(document.querySelectorAll("#events tbody tr")).map(tr => tr.dataset.kind)`)
	if len(kinds) == 0 {
		t.Fatal("no sign-in events")
	}
	for _, k := range kinds {
		if k != "auth.signin" {
			t.Fatalf("kind filter shows %v", kinds)
		}
	}
	// Actor: the link of the first row's actor keeps the kind and narrows to that actor.
	actor := b.Text("#events tbody tr:first-child td:nth-child(4) a")
	b.Submit("#events tbody tr:first-child td:nth-child(4) a", "audit-actor")
	if v := consoletest.Eval[string](b, `document.querySelector("#actor").value`); v != actor || !strings.Contains(b.Location(), "kind=auth.signin") {
		t.Fatalf("actor filter %q at %s", v, b.Location())
	}
	n := b.Count("#events tbody tr")
	// The CSV export of the same filter: a download through the session, one row per event.
	csv := fetchFrom(t, b, "#export-csv")
	if csv.Status != 200 || !strings.HasPrefix(csv.Disposition, "attachment; filename=audit-") || !strings.HasSuffix(csv.Disposition, ".csv") || !strings.HasPrefix(csv.Type, "text/csv") {
		t.Fatalf("CSV export: %d %q %q", csv.Status, csv.Disposition, csv.Type)
	}
	lines := strings.Split(strings.TrimSpace(csv.Body), "\n")
	if !strings.HasPrefix(lines[0], "id,seq,time,tenant,kind") || len(lines)-1 != n {
		t.Fatalf("CSV export of %d events: %d lines, header %q", n, len(lines), lines[0])
	}
	for _, l := range lines[1:] {
		if !strings.Contains(l, ",auth.signin,") || !strings.Contains(l, actor) {
			t.Fatalf("CSV row outside the filter: %q", l)
		}
	}
	var events []map[string]any
	js := fetchFrom(t, b, "#export-json")
	if err := json.Unmarshal([]byte(js.Body), &events); err != nil || len(events) != n {
		t.Fatalf("JSON export: %d events (%v), want %d", len(events), err, n)
	}
	nd := fetchFrom(t, b, "#export-ndjson")
	if nd.Status != 200 || strings.Count(nd.Body, "\n") != n {
		t.Fatalf("NDJSON export: %d, %d lines", nd.Status, strings.Count(nd.Body, "\n"))
	}
	// A time range after every event matches nothing.
	b.Go(auditPath + "?from=2200-01-01T00:00")
	if b.Count("#events") != 0 || b.Count("#no-events") != 1 {
		t.Errorf("a future range lists %q", b.Text("main"))
	}
	b.Go(auditPath + "?from=yesterday")
	if got := b.Text("#filter-error"); !strings.Contains(got, "from must be a date") {
		t.Errorf("bad time: %q", got)
	}

	// Verification: the chain holds, every committed event checked.
	b.Go(auditPath)
	b.Submit("#verify", "audit-verify")
	if got := b.Text("#verify-result"); !strings.HasPrefix(got, "The chain holds") {
		t.Fatalf("verification: %q", got)
	}
	if got := b.Text("#verify-unsealed"); got == "" {
		t.Error("the unsealed tail is not shown")
	}
	b.CheckLabels()
	b.CheckKeyboard()
}
