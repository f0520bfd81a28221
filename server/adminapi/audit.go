package adminapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/hellomdm/hellomdm/audit"
	"github.com/hellomdm/hellomdm/internal/eventid"
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
	"github.com/hellomdm/hellomdm/store"
)

// Audit export, verification and the compliance report (issue #8).
//
// Who sees what: any role may export a tenant it can see (tenant-bound tokens get 404 on
// other tenants). A token with scope tags sees an event only through the object it is about:
// an event with a DeviceID is visible when that device exists in this tenant and its current
// ScopeTags pass Principal.SeesTags; an event with only a ProfileID, likewise through the
// profile's tags. Events about neither (tenant, token and audit-log events, refusals) and
// events about devices or profiles that no longer exist are hidden from scoped tokens, since
// nothing establishes a tag for them. Verification covers the whole chain, so it needs a
// token without scope tags. The compliance report follows the same device rule.

func (s *API) auditRoutes(api *mux.Router) {
	api.HandleFunc("/tenants/{tid}/audit", s.exportAudit).Methods(http.MethodGet)
	api.HandleFunc("/tenants/{tid}/audit/verify", s.verifyAudit).Methods(http.MethodGet)
	api.HandleFunc("/tenants/{tid}/audit/events", s.auditEvents).Methods(http.MethodGet)
	api.HandleFunc("/tenants/{tid}/reports/compliance", s.exportCompliance).Methods(http.MethodGet)
}

// auditQuery is a parsed export request.
type auditQuery struct {
	Filter audit.Filter
	Format audit.Format
}

// QueryError is a bad query parameter of an audit or report request.
type QueryError struct {
	Param string
	Err   error
}

func (e *QueryError) Error() string { return fmt.Sprintf("query parameter %q: %v", e.Param, e.Err) }
func (e *QueryError) Unwrap() error { return e.Err }

// maxQueryID bounds device, profile and actor values (store IDs are at most 1,024 bytes).
const maxQueryID = 1024

// parseAuditQuery reads from and to (RFC 3339; from inclusive, to exclusive), kind
// (repeatable and/or comma-separated, each one of audit.Kinds), device, profile, actor and
// format (csv, json or ndjson; default json). Empty values count as absent; unknown or
// repeated single-valued parameters are errors.
func parseAuditQuery(q url.Values) (auditQuery, error) {
	out := auditQuery{Format: audit.FormatJSON}
	for name, vals := range q {
		switch name {
		case "kind":
			for _, v := range vals {
				for k := range strings.SplitSeq(v, ",") {
					k = strings.TrimSpace(k)
					if k == "" {
						continue
					}
					if !audit.Kind(k).Valid() {
						return auditQuery{}, &QueryError{name, fmt.Errorf("unknown event kind %q", k)}
					}
					if !slices.Contains(out.Filter.Kinds, audit.Kind(k)) {
						out.Filter.Kinds = append(out.Filter.Kinds, audit.Kind(k))
					}
				}
			}
			continue
		case "from", "to", "device", "profile", "actor", "format":
		default:
			return auditQuery{}, &QueryError{name, errors.New("unknown parameter")}
		}
		if len(vals) > 1 {
			return auditQuery{}, &QueryError{name, errors.New("given more than once")}
		}
		v := strings.TrimSpace(vals[0])
		if v == "" {
			continue
		}
		var err error
		switch name {
		case "from":
			out.Filter.From, err = parseQueryTime(v)
		case "to":
			out.Filter.To, err = parseQueryTime(v)
		case "device":
			out.Filter.DeviceID, err = queryID(v)
		case "profile":
			out.Filter.ProfileID, err = queryID(v)
		case "actor":
			out.Filter.ActorID, err = queryID(v)
		case "format":
			out.Format, err = audit.ParseFormat(v)
		}
		if err != nil {
			return auditQuery{}, &QueryError{name, err}
		}
	}
	if f := out.Filter; !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		return auditQuery{}, &QueryError{"to", errors.New("must be after from")}
	}
	if err := out.Filter.Validate(); err != nil {
		return auditQuery{}, &QueryError{"kind", err}
	}
	return out, nil
}

func parseQueryTime(v string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time (e.g. 2025-03-01T12:00:00Z)", v)
	}
	return t.UTC(), nil
}

func queryID(v string) (string, error) {
	if len(v) > maxQueryID || strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return "", errors.New("not a valid identifier")
	}
	return v, nil
}

// formatOnly parses a request that takes only format (the compliance report).
func formatOnly(q url.Values) (audit.Format, error) {
	f := audit.FormatJSON
	for name, vals := range q {
		if name != "format" {
			return "", &QueryError{name, errors.New("unknown parameter")}
		}
		if len(vals) > 1 {
			return "", &QueryError{name, errors.New("given more than once")}
		}
		if v := strings.TrimSpace(vals[0]); v != "" {
			var err error
			if f, err = audit.ParseFormat(v); err != nil {
				return "", &QueryError{name, err}
			}
		}
	}
	return f, nil
}

// scopeStore is what scope checks read.
type scopeStore interface {
	Device(ctx context.Context, id string) (store.Device, error)
	Profile(ctx context.Context, tenantID, id string) (store.Profile, error)
}

// deviceScope decides, for a scope-tagged principal, which devices' and profiles' records it
// sees; it caches one answer per object for the request. A nil *deviceScope sees everything.
type deviceScope struct {
	ctx      context.Context
	st       scopeStore
	p        Principal
	tenantID string
	seen     map[string]bool // "device:"+device ID or "profile:"+profile ID
}

func (s *API) scopeFor(ctx context.Context, p Principal, tenantID string) *deviceScope {
	if len(p.ScopeTags) == 0 {
		return nil
	}
	return &deviceScope{ctx: ctx, st: s.cfg.Store, p: p, tenantID: tenantID, seen: map[string]bool{}}
}

// device reports whether the device is visible: it exists in the tenant and carries one of
// the principal's tags.
func (d *deviceScope) device(id string) (bool, error) {
	return d.visible("device", id, func() (bool, error) {
		dev, err := d.st.Device(d.ctx, id)
		return err == nil && strings.EqualFold(dev.TenantID, d.tenantID) && d.p.SeesTags(dev.ScopeTags), err
	})
}

// profile reports whether the tenant's profile exists and carries one of the principal's tags.
func (d *deviceScope) profile(id string) (bool, error) {
	return d.visible("profile", id, func() (bool, error) {
		pr, err := d.st.Profile(d.ctx, d.tenantID, id)
		return err == nil && d.p.SeesTags(pr.ScopeTags), err
	})
}

// visible answers for the kind's object id from the cache, or from look once: an object the
// store does not have is not visible; another lookup failure is returned and not cached.
func (d *deviceScope) visible(kind, id string, look func() (bool, error)) (bool, error) {
	if d == nil {
		return true, nil
	}
	if id == "" {
		return false, nil
	}
	key := kind + ":" + id
	if v, ok := d.seen[key]; ok {
		return v, nil
	}
	v, err := look()
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return false, fmt.Errorf("looking up %s %s: %w", kind, id, err)
	}
	d.seen[key] = v
	return v, nil
}

// event reports whether an audit event is visible (see the rule at the top of this file).
func (d *deviceScope) event(e *audit.Event) (bool, error) {
	if d == nil {
		return true, nil
	}
	if e.DeviceID != "" {
		return d.device(e.DeviceID)
	}
	return d.profile(e.ProfileID)
}

// scopedExporter drops the events a scoped principal may not see and counts the rest.
type scopedExporter struct {
	audit.Exporter
	scope *deviceScope
	n     uint64
}

func (x *scopedExporter) Write(e *audit.Event) error {
	ok, err := x.scope.event(e)
	if err != nil || !ok {
		return err
	}
	x.n++
	return x.Exporter.Write(e)
}

// streamWriter writes an export to the response: it flushes each chunk the exporter hands
// it (about 32 KiB) and pushes the write deadline forward, so an export of any size streams
// without buffering and outlives the server's WriteTimeout while it makes progress.
type streamWriter struct {
	w     http.ResponseWriter
	rc    *http.ResponseController
	bytes int64
}

// streamIdle is how long one chunk of an export may take to reach the client.
const streamIdle = time.Minute

func newStreamWriter(w http.ResponseWriter) *streamWriter {
	return &streamWriter{w: w, rc: http.NewResponseController(w)}
}

func (sw *streamWriter) Write(b []byte) (int, error) {
	if err := sw.rc.SetWriteDeadline(time.Now().Add(streamIdle)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return 0, err
	}
	n, err := sw.w.Write(b)
	sw.bytes += int64(n)
	if err != nil {
		return n, err
	}
	if err := sw.rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return n, err
	}
	return n, nil
}

// startDownload sets the headers of a streamed attachment (no Content-Length).
func startDownload(w http.ResponseWriter, f audit.Format, name string) {
	h := w.Header()
	h.Set("Content-Type", f.ContentType())
	safe := strings.Map(func(r rune) rune {
		if r == '-' || r == '.' || r == '_' || r < 0x80 && (r >= '0' && r <= '9' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z') {
			return r
		}
		return '_'
	}, name)
	h.Set("Content-Disposition", "attachment; filename="+safe+"."+f.Extension())
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
}

// failStream ends a streamed response that failed: before any byte went out it answers a JSON
// error; after, it aborts the response so the client sees a broken transfer instead of a
// complete-looking file.
func (s *API) failStream(w http.ResponseWriter, r *http.Request, sw *streamWriter, what string, err error) {
	if r.Context().Err() != nil {
		s.log.Info(what+" stopped: client went away", "path", r.URL.Path, "bytes", sw.bytes)
		return
	}
	s.log.Error(what+" failed", "path", r.URL.Path, "bytes", sw.bytes, "err", err)
	if sw.bytes == 0 {
		w.Header().Del("Content-Disposition")
		writeError(w, http.StatusServiceUnavailable, "unavailable", what+" failed")
		return
	}
	panic(http.ErrAbortHandler)
}

// recordAudit appends an event about the audit log itself (audit.exported, audit.verified),
// even when the request's context has ended.
func (s *API) recordAudit(ctx context.Context, p Principal, tenantID string, kind audit.Kind, action string, details any) {
	ev := &audit.Event{ID: eventid.New(), Time: s.cfg.Now().UTC(), TenantID: tenantID, Kind: kind,
		Actor:   audit.Actor{Type: audit.ActorAdmin, ID: p.Name, TokenID: p.TokenID, Role: p.Role, SourceAddr: p.Addr},
		Subject: audit.Subject{Type: audit.SubjectAuditLog, ID: tenantID}, Action: action, Details: mustJSON(details)}
	if err := s.cfg.Store.AppendAudit(context.WithoutCancel(ctx), ev); err != nil {
		s.log.Error("recording audit event", "kind", kind, "tenant", tenantID, "err", err)
	}
}

// exportAudit streams GET /tenants/{tid}/audit.
func (s *API) exportAudit(w http.ResponseWriter, r *http.Request) {
	q, err := parseAuditQuery(r.URL.Query())
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalidParameter", err.Error())
		return
	}
	t, ok := s.tenantOf(w, r)
	if !ok {
		return
	}
	p, _ := PrincipalFrom(r.Context())
	startDownload(w, q.Format, "audit-"+t.ID)
	sw := newStreamWriter(w)
	exp, err := audit.NewExporter(sw, q.Format)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal", "creating the exporter failed")
		return
	}
	se := &scopedExporter{Exporter: exp, scope: s.scopeFor(r.Context(), p, t.ID)}
	reader := s.cfg.Store.AuditReader()
	_, err = audit.Export(r.Context(), reader, t.ID, q.Filter, se)
	details := map[string]any{
		"report": "audit", "format": q.Format, "count": se.n, "bytes": sw.bytes, "complete": err == nil,
		"scopeTags": p.ScopeTags, "filter": filterView(q.Filter),
	}
	// The reader sealed every event committed before the export began; events committed
	// while it ran are still unsealed and follow in the next export: recorded, not hidden.
	if ur, ok := reader.(audit.UnsealedReader); ok && err == nil {
		if u, uerr := ur.AuditUnsealed(r.Context(), t.ID); uerr == nil {
			details["unsealed"] = unsealedView(u)
		}
	}
	s.recordAudit(r.Context(), p, t.ID, audit.KindExported, "export", details)
	if err != nil {
		s.failStream(w, r, sw, "audit export", err)
	}
}

// filterView is how an export's filter is recorded.
func filterView(f audit.Filter) map[string]any {
	v := map[string]any{}
	if !f.From.IsZero() {
		v["from"] = f.From
	}
	if !f.To.IsZero() {
		v["to"] = f.To
	}
	if len(f.Kinds) > 0 {
		v["kinds"] = f.Kinds
	}
	for k, s := range map[string]string{"device": f.DeviceID, "profile": f.ProfileID, "actor": f.ActorID} {
		if s != "" {
			v[k] = s
		}
	}
	return v
}

func unsealedView(u audit.Unsealed) wire.AuditUnsealed {
	v := wire.AuditUnsealed{Count: u.Count}
	if !u.Oldest.IsZero() {
		o := u.Oldest.UTC()
		v.Oldest = &o
	}
	return v
}

// verifyAudit answers GET /tenants/{tid}/audit/verify.
func (s *API) verifyAudit(w http.ResponseWriter, r *http.Request) {
	p, _ := PrincipalFrom(r.Context())
	if len(p.ScopeTags) > 0 {
		s.refuseAdmin(w, r, &p, http.StatusForbidden, "forbidden", "verifying covers the whole log: it needs a token without scope tags")
		return
	}
	for name := range r.URL.Query() {
		writeError(w, http.StatusBadRequest, "invalidParameter", (&QueryError{name, errors.New("unknown parameter")}).Error())
		return
	}
	t, ok := s.tenantOf(w, r)
	if !ok {
		return
	}
	rep, err := audit.VerifyTenant(r.Context(), s.cfg.Store.AuditReader(), t.ID)
	if err != nil && !errors.Is(err, audit.ErrChainBroken) {
		s.log.Error("audit verify failed", "tenant", t.ID, "err", err)
		writeError(w, http.StatusServiceUnavailable, "unavailable", "reading the audit log failed")
		return
	}
	v := wire.AuditVerification{OK: rep.OK(), Checked: rep.Checked, Start: wire.AuditAnchor(rep.Start), Head: wire.AuditAnchor(rep.Head),
		Unsealed: unsealedView(rep.Unsealed)}
	if b := rep.Broken; b != nil {
		v.Broken = &wire.AuditBreak{Seq: b.Seq, EventID: b.EventID, Reason: string(b.Reason), Detail: b.Detail}
		s.log.Warn("audit chain broken", "tenant", t.ID, "seq", b.Seq, "reason", b.Reason)
	}
	s.recordAudit(r.Context(), p, t.ID, audit.KindVerified, "verify", v)
	writeJSON(w, http.StatusOK, v)
}

// exportCompliance streams GET /tenants/{tid}/reports/compliance: one row per profile ×
// device × setting (a setting set by no profile any more has an empty profile), with its
// current state and when it last changed.
func (s *API) exportCompliance(w http.ResponseWriter, r *http.Request) {
	format, err := formatOnly(r.URL.Query())
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalidParameter", err.Error())
		return
	}
	t, ok := s.tenantOf(w, r)
	if !ok {
		return
	}
	p, _ := PrincipalFrom(r.Context())
	profiles, err := s.cfg.Store.ListProfiles(r.Context(), t.ID)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "unavailable", "listing profiles failed")
		return
	}
	names := make(map[string]string, len(profiles))
	for _, pr := range profiles {
		names[pr.ID] = pr.Name
	}
	startDownload(w, format, "compliance-"+t.ID)
	sw := newStreamWriter(w)
	exp, err := audit.NewTableExporter(sw, format, audit.ComplianceColumns())
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal", "creating the exporter failed")
		return
	}
	scope := s.scopeFor(r.Context(), p, t.ID)
	var rows uint64
	row := make([]string, len(audit.ComplianceColumns()))
	err = s.cfg.Store.ListSettingStates(r.Context(), t.ID, func(st store.SettingState) (bool, error) {
		if err := r.Context().Err(); err != nil {
			return false, err
		}
		if ok, err := scope.device(st.DeviceID); err != nil || !ok {
			return err == nil, err
		}
		sources := st.Sources
		if len(sources) == 0 {
			sources = []string{""}
		}
		for _, pid := range sources {
			code := ""
			if st.ErrorCode != 0 {
				code = strconv.Itoa(st.ErrorCode)
			}
			row = append(row[:0], pid, names[pid], st.DeviceID, st.LocURI, st.State, code, st.Value,
				st.LastChanged.UTC().Format(time.RFC3339Nano))
			if err := exp.WriteRow(row); err != nil {
				return false, err
			}
			rows++
		}
		return true, nil
	})
	if err == nil {
		err = exp.Close()
	}
	s.recordAudit(r.Context(), p, t.ID, audit.KindExported, "export", map[string]any{
		"report": "compliance", "format": format, "count": rows, "bytes": sw.bytes, "complete": err == nil, "scopeTags": p.ScopeTags,
	})
	if err != nil {
		s.failStream(w, r, sw, "compliance export", err)
	}
}
