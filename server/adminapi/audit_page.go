package adminapi

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/hellomdm/hellomdm/audit"
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
)

// Browsing the audit log: GET /tenants/{tid}/audit/events answers one page of the tenant's
// events, newest first, with the export's filters (from, to, kind, device, profile, actor)
// and the scope-tag rule of this package's audit.go, plus
//
//	top     the page size, 1 to 500 (default 50)
//	before  the previous answer's nextBefore: the page of older events
//
// The answer is {"value":[events],"nextBefore":n,"unsealed":{...}}: nextBefore is absent when
// the oldest stored event was read. A page reads back at most auditPageBudget stored events,
// so a filter that matches little answers in bounded time with fewer events (even none) and
// a nextBefore to continue from. Reading a page is not itself an audit event (no GET is);
// exports, whose files leave the server, and verifications are.

// auditPageBudget bounds the stored events one page reads.
const auditPageBudget = 1 << 14

// parseAuditPageQuery reads top and before, and the export's filters (format excepted).
func parseAuditPageQuery(r *http.Request) (auditQuery, int, uint64, error) {
	q := r.URL.Query()
	top, before := 50, uint64(0)
	for _, name := range []string{"top", "before", "format"} {
		vals, ok := q[name]
		if !ok {
			continue
		}
		delete(q, name)
		if name == "format" {
			return auditQuery{}, 0, 0, &QueryError{name, errors.New("unknown parameter: pages are JSON; use the export for CSV or NDJSON")}
		}
		if len(vals) > 1 {
			return auditQuery{}, 0, 0, &QueryError{name, errors.New("given more than once")}
		}
		n, err := strconv.ParseUint(strings.TrimSpace(vals[0]), 10, 64)
		switch {
		case name == "top" && (err != nil || n < 1 || n > 500):
			return auditQuery{}, 0, 0, &QueryError{name, errors.New("a page size from 1 to 500")}
		case name == "before" && (err != nil || n < 1):
			return auditQuery{}, 0, 0, &QueryError{name, errors.New("a sequence number (the previous page's nextBefore)")}
		case name == "top":
			top = int(n)
		default:
			before = n
		}
	}
	aq, err := parseAuditQuery(q)
	return aq, top, before, err
}

// auditEvents answers GET /tenants/{tid}/audit/events.
func (s *API) auditEvents(w http.ResponseWriter, r *http.Request) {
	q, top, before, err := parseAuditPageQuery(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalidParameter", err.Error())
		return
	}
	t, ok := s.tenantOf(w, r)
	if !ok {
		return
	}
	reader := s.cfg.Store.AuditReader()
	pr, ok := reader.(audit.PageReader)
	if !ok {
		writeError(w, http.StatusNotImplemented, "notImplemented", "this store cannot read the audit log page by page; use the export")
		return
	}
	p, _ := PrincipalFrom(r.Context())
	scope := s.scopeFor(r.Context(), p, t.ID)
	page, err := pr.AuditPage(r.Context(), t.ID, q.Filter, before, top, auditPageBudget)
	if err != nil {
		s.log.Error("reading an audit page failed", "tenant", t.ID, "err", err)
		writeError(w, http.StatusServiceUnavailable, "unavailable", "reading the audit log failed")
		return
	}
	out := wire.AuditPage{Value: make([]wire.AuditEvent, 0, len(page.Events)), NextBefore: page.Next}
	for i := range page.Events {
		visible, err := scope.event(&page.Events[i])
		if err != nil {
			s.log.Error("reading an audit page failed", "tenant", t.ID, "err", err)
			writeError(w, http.StatusServiceUnavailable, "unavailable", "reading the audit log failed")
			return
		}
		if visible {
			out.Value = append(out.Value, auditEventView(page.Events[i]))
		}
	}
	if ur, ok := reader.(audit.UnsealedReader); ok {
		u, err := ur.AuditUnsealed(r.Context(), t.ID)
		if err != nil {
			writeError(w, http.StatusServiceUnavailable, "unavailable", "reading the audit log failed")
			return
		}
		out.Unsealed = unsealedView(u)
	}
	writeJSON(w, http.StatusOK, out)
}

// auditEventView is e as the API shows it: the audit package's JSON of it.
func auditEventView(e audit.Event) wire.AuditEvent {
	return wire.AuditEvent{ID: e.ID, Seq: e.Seq, Time: e.Time, TenantID: e.TenantID, Kind: string(e.Kind),
		Actor: wire.AuditActor(e.Actor), Subject: wire.AuditSubject(e.Subject), DeviceID: e.DeviceID, ProfileID: e.ProfileID,
		Action: e.Action, Details: e.Details, PrevHash: e.PrevHash, Hash: e.Hash}
}
