package server

import (
	"net/http"
	"strconv"
	"testing"

	"github.com/hellomdm/hellomdm/audit"
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
	"github.com/hellomdm/hellomdm/store"
)

// The audit log reads page by page, newest first, with the export's filters; pages follow
// nextBefore to the oldest event; a tenant sees only its own log and a scoped token only
// the events of objects it may see.
func TestAuditEventsPages(t *testing.T) {
	ts := startIdentityServer(t)
	for i, name := range []string{"g1", "g2", "g3", "g4", "g5"} {
		tenant := testTenant
		if i == 4 {
			tenant = tenantB
		}
		if st := ts.api(http.MethodPost, "/tenants/"+tenant+"/groups", wire.GroupRequest{DisplayName: name}, nil); st != http.StatusCreated {
			t.Fatalf("creating %s: HTTP %d", name, st)
		}
	}
	adminB := ts.newToken(store.RoleAdmin, tenantB)
	scoped := ts.newToken(store.RoleReader, testTenant, "Berlin")
	stored := ts.events(testTenant) // oldest first
	if len(stored) < 4 {
		t.Fatalf("%d events stored", len(stored))
	}
	base := "/tenants/" + testTenant + "/audit/events"

	// walk follows nextBefore from path and returns every page's sequence numbers.
	walk := func(token, path string) [][]uint64 {
		t.Helper()
		var out [][]uint64
		next := uint64(0)
		for range 50 {
			p := path
			if next != 0 {
				p += "&before=" + strconv.FormatUint(next, 10)
			}
			var page wire.AuditPage
			if st := ts.apiAs(token, http.MethodGet, p, nil, &page); st != http.StatusOK {
				t.Fatalf("GET %s: HTTP %d", p, st)
			}
			var seqs []uint64
			for _, e := range page.Value {
				if e.TenantID != testTenant && token != adminB {
					t.Fatalf("event of tenant %s in %s", e.TenantID, testTenant)
				}
				seqs = append(seqs, e.Seq)
			}
			out = append(out, seqs)
			if page.NextBefore == 0 {
				return out
			}
			next = page.NextBefore
		}
		t.Fatal("nextBefore never ends")
		return nil
	}
	n := uint64(len(stored))
	var writes []uint64
	for i := len(stored) - 1; i >= 0; i-- {
		if stored[i].Kind == audit.KindAdminWrite {
			writes = append(writes, stored[i].Seq)
		}
	}
	cases := []struct {
		name, token, path string
		want              [][]uint64
	}{
		{"newest first, two a page", testToken, base + "?top=2", pagesOf(n, 2)},
		{"kind filter", testToken, base + "?kind=admin.write&top=500", [][]uint64{writes}},
		{"actor filter matches nothing", testToken, base + "?actor=nobody&top=5", [][]uint64{nil}},
		{"the other tenant reads its own", adminB, "/tenants/" + tenantB + "/audit/events?kind=admin.write&top=10", [][]uint64{{2, 1}}},
		{"a scoped token sees no tenant-wide events", scoped, base + "?top=500", [][]uint64{nil}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := walk(tc.token, tc.path)
			if len(got) != len(tc.want) {
				t.Fatalf("pages %v, want %v", got, tc.want)
			}
			for i := range got {
				if len(got[i]) != len(tc.want[i]) {
					t.Fatalf("pages %v, want %v", got, tc.want)
				}
				for j := range got[i] {
					if got[i][j] != tc.want[i][j] {
						t.Fatalf("pages %v, want %v", got, tc.want)
					}
				}
			}
		})
	}
	for _, tc := range []struct {
		name, token, path string
		status            int
	}{
		{"other tenant's token", adminB, base, 404},
		{"format is for exports", testToken, base + "?format=csv", 400},
		{"top 0", testToken, base + "?top=0", 400},
		{"top over 500", testToken, base + "?top=501", 400},
		{"before not a number", testToken, base + "?before=x", 400},
		{"before 0", testToken, base + "?before=0", 400},
		{"unknown kind", testToken, base + "?kind=no.such", 400},
		{"unknown parameter", testToken, base + "?page=2", 400},
		{"inverted time range", testToken, base + "?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z", 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if st, _ := ts.raw(tc.token, http.MethodGet, tc.path, ""); st != tc.status {
				t.Fatalf("HTTP %d, want %d", st, tc.status)
			}
		})
	}
}

// pagesOf is the sequence numbers n down to 1 in pages of size.
func pagesOf(n uint64, size int) [][]uint64 {
	var out [][]uint64
	for s := n; s >= 1; {
		var p []uint64
		for range size {
			if s == 0 {
				break
			}
			p = append(p, s)
			s--
		}
		out = append(out, p)
		if s == 0 {
			break
		}
	}
	return out
}
