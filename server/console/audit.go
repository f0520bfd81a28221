package console

import (
	"errors"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hellomdm/hellomdm/audit"
	adminclient "github.com/hellomdm/hellomdm/server/adminapi/client"
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
)

// The audit log (Intune's Tenant administration > Audit logs): the tenant's events newest
// first, filtered by time, kind, device and actor, a page at a time through the API's
// GET .../audit/events; export buttons that download the API's export (CSV, JSON, NDJSON)
// with the same filters through this session (the console streams the API's answer, so the
// browser never holds an API token); and the hash chain's verification with its unsealed
// tail. Times in the form are UTC.

func init() {
	RegisterFuncs(template.FuncMap{"auditWhen": func(t *time.Time) string {
		if t == nil {
			return "never"
		}
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	}})
	Register(&Section{Title: "Audit log", Path: "/audit", Order: 70},
		Route{Method: http.MethodGet, Path: "/audit", Handle: auditPage},
		Route{Method: http.MethodGet, Path: "/audit/export", Handle: auditExport},
		Route{Method: http.MethodGet, Path: "/audit/verify", Handle: auditVerify},
	)
}

// auditPageSize is how many events a page shows.
const auditPageSize = 50

// formTime is the format of <input type="datetime-local"> (seconds optional).
const formTime = "2006-01-02T15:04"

// auditFilter is the audit page's filter form as submitted.
type auditFilter struct {
	From, To, Kind, Device, Actor string
}

// readAuditFilter reads the filter form: from and to as datetime-local in UTC.
func readAuditFilter(q url.Values) (auditFilter, adminclient.AuditQuery, error) {
	f := auditFilter{From: strings.TrimSpace(q.Get("from")), To: strings.TrimSpace(q.Get("to")),
		Kind: strings.TrimSpace(q.Get("kind")), Device: strings.TrimSpace(q.Get("device")), Actor: strings.TrimSpace(q.Get("actor"))}
	aq := adminclient.AuditQuery{Device: f.Device, Actor: f.Actor}
	if f.Kind != "" {
		aq.Kinds = []string{f.Kind}
	}
	for _, t := range []struct {
		name, v string
		out     *string
	}{{"from", f.From, &aq.From}, {"to", f.To, &aq.To}} {
		if t.v == "" {
			continue
		}
		tm, err := time.Parse(formTime, t.v)
		if err != nil {
			if tm, err = time.Parse(formTime+":05", t.v); err != nil {
				return f, aq, &StatusError{Status: http.StatusBadRequest, Message: t.name + " must be a date and time such as 2026-03-01T12:00 (UTC)"}
			}
		}
		*t.out = tm.UTC().Format(time.RFC3339)
	}
	return f, aq, nil
}

// values is the filter as a query string, for links that keep it.
func (f auditFilter) values() url.Values {
	v := url.Values{}
	for k, s := range map[string]string{"from": f.From, "to": f.To, "kind": f.Kind, "device": f.Device, "actor": f.Actor} {
		if s != "" {
			v.Set(k, s)
		}
	}
	return v
}

// auditData is the audit page.
type auditData struct {
	Filter  auditFilter
	Kinds   []string
	Events  []auditRow
	Older   string // address of the next, older page
	Newest  string // address of the first page, on a later one
	Exports []exportLink
	// Unsealed is the tail of the log committed but not sealed yet when the page was read.
	Unsealed wire.AuditUnsealed
	// FilterError is the API's refusal of the filter (shown beside the form).
	FilterError string
}

type exportLink struct{ Format, Label, Href string }

// auditRow is an event as the table shows it.
type auditRow struct {
	wire.AuditEvent
	When, DeviceHref, ActorHref string
	Details                     string
}

func auditPage(c *Ctx) error {
	q := c.R.URL.Query()
	f, aq, err := readAuditFilter(q)
	d := auditData{Filter: f}
	for _, k := range audit.Kinds() {
		d.Kinds = append(d.Kinds, string(k))
	}
	base := c.Path("/audit")
	for _, x := range []struct{ format, label string }{{"csv", "Export CSV"}, {"json", "Export JSON"}, {"ndjson", "Export NDJSON"}} {
		v := f.values()
		v.Set("format", x.format)
		d.Exports = append(d.Exports, exportLink{Format: x.format, Label: x.label, Href: base + "/export?" + v.Encode()})
	}
	if se, ok := errors.AsType[*StatusError](err); ok {
		d.FilterError = se.Message
		return c.RenderStatus(se.Status, "audit.html", d)
	}
	before, _ := strconv.ParseUint(q.Get("before"), 10, 64)
	page, err := c.API.AuditEvents(c.R.Context(), c.Tenant, adminclient.AuditPageQuery{AuditQuery: aq, Top: auditPageSize, Before: before})
	if ae, ok := errors.AsType[*adminclient.Error](err); ok && ae.Status == http.StatusBadRequest {
		d.FilterError = ae.Message
		return c.RenderStatus(http.StatusBadRequest, "audit.html", d)
	}
	if err != nil {
		return err
	}
	d.Unsealed = page.Unsealed
	for _, e := range page.Value {
		row := auditRow{AuditEvent: e, When: e.Time.UTC().Format("2006-01-02 15:04:05 UTC")}
		if len(e.Details) > 0 && string(e.Details) != "{}" {
			row.Details = string(e.Details)
		}
		if e.DeviceID != "" {
			v := f.values()
			v.Set("device", e.DeviceID)
			row.DeviceHref = base + "?" + v.Encode()
		}
		if e.Actor.ID != "" {
			v := f.values()
			v.Set("actor", e.Actor.ID)
			row.ActorHref = base + "?" + v.Encode()
		}
		d.Events = append(d.Events, row)
	}
	if page.NextBefore != 0 {
		v := f.values()
		v.Set("before", strconv.FormatUint(page.NextBefore, 10))
		d.Older = base + "?" + v.Encode()
	}
	if before != 0 {
		d.Newest = base
		if v := f.values(); len(v) > 0 {
			d.Newest += "?" + v.Encode()
		}
	}
	return c.Render("audit.html", d)
}

// auditExport streams the API's export with the page's filters to the browser as a file.
func auditExport(c *Ctx) error {
	q := c.R.URL.Query()
	_, aq, err := readAuditFilter(q)
	if err != nil {
		return err
	}
	aq.Format = q.Get("format")
	switch aq.Format {
	case "csv", "json", "ndjson":
	default:
		return &StatusError{Status: http.StatusBadRequest, Message: "format must be csv, json or ndjson"}
	}
	dl, err := c.API.ExportAudit(c.R.Context(), c.Tenant, aq)
	if err != nil {
		return err
	}
	defer dl.Body.Close()
	h := c.W.Header()
	h.Set("Content-Type", dl.ContentType)
	h.Set("Content-Disposition", "attachment; filename=audit-"+safeFileName(c.Tenant)+"."+aq.Format)
	h.Set("Cache-Control", "no-store")
	if c.R.Method == http.MethodHead {
		return nil
	}
	// The export streams; a failure after the first byte can only break the download off
	// (the API does the same), which the browser reports as a failed download.
	if _, err := io.Copy(c.W, dl.Body); err != nil {
		panic(http.ErrAbortHandler)
	}
	return nil
}

// safeFileName keeps letters, digits, '-', '.' and '_' of s.
func safeFileName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '-' || r == '.' || r == '_' || r < 0x80 && (r >= '0' && r <= '9' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z') {
			return r
		}
		return '_'
	}, s)
}

// verifyData is the chain verification page.
type verifyData struct {
	Result  *wire.AuditVerification
	Refused string
}

func auditVerify(c *Ctx) error {
	v, err := c.API.VerifyAudit(c.R.Context(), c.Tenant)
	if ae, ok := errors.AsType[*adminclient.Error](err); ok && ae.Status == http.StatusForbidden {
		return c.RenderStatus(http.StatusForbidden, "audit_verify.html", verifyData{Refused: ae.Message})
	}
	if err != nil {
		return err
	}
	return c.Render("audit_verify.html", verifyData{Result: &v})
}
