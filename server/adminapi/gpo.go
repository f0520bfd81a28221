package adminapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/google/uuid"
	"github.com/gorilla/mux"

	"github.com/hellomdm/hellomdm/audit"
	"github.com/hellomdm/hellomdm/csp"
	"github.com/hellomdm/hellomdm/internal/eventid"
	"github.com/hellomdm/hellomdm/policy/gpo"
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
	"github.com/hellomdm/hellomdm/store"
)

// Group Policy import, in the manner of Intune's Group Policy analytics: an operator uploads
// a GPO (the raw bytes of a registry.pol, a gpreport.xml or an LGPO text file, or a zip of a
// GPMC backup folder) and gets one row per registry value with its MDM mapping; import
// creates a custom OMA-URI profile from the supported rows, validated like any profile.
//
//	POST /tenants/{tid}/groupPolicy/analyze?fileName=F[&scope=machine|user]
//	POST /tenants/{tid}/groupPolicy/import?fileName=F&name=PROFILE[&scope=...][&dryRun=true]
//
// scope names the half of a bare registry.pol (machine by default; the other forms say it
// themselves). Both need the operator role (POST). An analysis and a dry run are recorded as
// gpo.analyzed; an import is the admin.write (action "import") of the profile it creates,
// in the same transaction.

// reportView is an analysis as the API shows it.
func reportView(r gpo.Report) wire.GroupPolicyReport {
	v := wire.GroupPolicyReport{Source: wire.GroupPolicySource(r.Source), Summary: wire.GroupPolicySummary(r.Summary),
		Value: make([]wire.GroupPolicyRow, 0, len(r.Value)), Instructions: make([]wire.GroupPolicyInstruction, 0, len(r.Instructions))}
	if r.Value == nil {
		v.Value = nil
	}
	if r.Instructions == nil {
		v.Instructions = nil
	}
	for _, row := range r.Value {
		v.Value = append(v.Value, wire.GroupPolicyRow{Scope: string(row.Scope), Key: row.Key, ValueName: row.ValueName, Type: row.Type,
			Data: row.Data, Setting: row.Setting, ADMX: row.ADMX, MDMSupport: row.MDMSupport, CSPMapping: row.CSPMapping,
			DataType: row.DataType, Value: row.Value, Source: row.Source, Note: row.Note})
	}
	for _, in := range r.Instructions {
		v.Instructions = append(v.Instructions, wire.GroupPolicyInstruction{Scope: string(in.Scope), Key: in.Key, ValueName: in.ValueName,
			Action: string(in.Action)})
	}
	return v
}

func (h *policyAPI) gpoRoutes(api *mux.Router) {
	a, err := gpo.NewAnalyzer(csp.Default())
	if err != nil {
		panic(err) // the table is checked against the catalog by the gpo tests
	}
	api.HandleFunc("/tenants/{tid}/groupPolicy/analyze", h.gpoAnalyze(a)).Methods(http.MethodPost)
	api.HandleFunc("/tenants/{tid}/groupPolicy/import", h.gpoImport(a)).Methods(http.MethodPost)
}

// readGPO reads and parses the uploaded file; on failure it has answered 400, 413 or 422
// (a *gpo.ParseError names the file and the byte or line).
func (h *policyAPI) readGPO(w http.ResponseWriter, r *http.Request) (*gpo.Policy, bool) {
	q := r.URL.Query()
	name := strings.TrimSpace(q.Get("fileName"))
	if name == "" {
		name = "upload"
	}
	if len(name) > 255 || strings.ContainsFunc(name, isControlNotSpace) {
		writeError(w, http.StatusBadRequest, "badRequest", "fileName must be at most 255 printable characters")
		return nil, false
	}
	var scope gpo.Scope
	switch s := strings.ToLower(q.Get("scope")); s {
	case "", "machine", "computer":
		scope = gpo.Machine
	case "user":
		scope = gpo.User
	default:
		writeError(w, http.StatusBadRequest, "badRequest", "scope must be machine or user")
		return nil, false
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, gpo.MaxInputBytes))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		writeError(w, http.StatusRequestEntityTooLarge, "tooLarge", fmt.Sprintf("a Group Policy upload is at most %d bytes", gpo.MaxInputBytes))
		return nil, false
	case err != nil:
		writeError(w, http.StatusBadRequest, "badRequest", "reading the body: "+err.Error())
		return nil, false
	}
	p, err := gpo.Parse(name, data, scope)
	if err != nil {
		writeError(w, http.StatusUnprocessableEntity, "invalidGroupPolicy", err.Error())
		return nil, false
	}
	return p, true
}

func (h *policyAPI) gpoAnalyze(a *gpo.Analyzer) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		t, ok := h.s.tenantOf(w, r)
		if !ok {
			return
		}
		p, ok := h.readGPO(w, r)
		if !ok {
			return
		}
		rep := a.Analyze(p, t.ID)
		h.recordGPOAnalysis(r, t.ID, rep, false)
		writeJSON(w, http.StatusOK, reportView(rep))
	}
}

// recordGPOAnalysis records gpo.analyzed; an analysis changes nothing, so a failure to
// record is logged (as for audit exports) rather than refusing the answer.
func (h *policyAPI) recordGPOAnalysis(r *http.Request, tenantID string, rep gpo.Report, dryRun bool) {
	p := requestPrincipal(r)
	action := "analyze"
	if dryRun {
		action = "import.dryRun"
	}
	ev := &audit.Event{ID: eventid.New(), Time: h.s.cfg.Now().UTC(), TenantID: tenantID, Kind: audit.KindGPOAnalyzed,
		Actor:   audit.Actor{Type: audit.ActorAdmin, ID: p.Name, TokenID: p.TokenID, Role: p.Role, SourceAddr: p.Addr},
		Subject: audit.Subject{Type: "groupPolicy", ID: rep.Source.GPOID}, Action: action,
		Details: mustJSON(map[string]any{"source": rep.Source, "summary": rep.Summary})}
	if err := h.s.cfg.Store.AppendAudit(context.WithoutCancel(r.Context()), ev); err != nil {
		h.s.log.Error("recording audit event", "kind", ev.Kind, "tenant", tenantID, "err", err)
	}
}

func (h *policyAPI) gpoImport(a *gpo.Analyzer) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		t, ok := h.s.tenantOf(w, r)
		if !ok {
			return
		}
		q := r.URL.Query()
		name := strings.TrimSpace(q.Get("name"))
		if name == "" {
			writeError(w, http.StatusBadRequest, "badRequest", "name (the profile's name) is required")
			return
		}
		dryRun := false
		if v := q.Get("dryRun"); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				writeError(w, http.StatusBadRequest, "badRequest", "dryRun must be true or false")
				return
			}
			dryRun = b
		}
		p, ok := h.readGPO(w, r)
		if !ok {
			return
		}
		rep := a.Analyze(p, t.ID)
		doc, err := rep.Profile(name)
		if err != nil {
			writeError(w, http.StatusUnprocessableEntity, "nothingToImport", err.Error())
			return
		}
		// Validated like any imported profile (catalog, formats, scope tags).
		prof, ok := h.parseFor(w, r, profileKind{routeCustom, store.ProfileCustom}, doc)
		if !ok {
			return
		}
		view := wire.GroupPolicyImport{DryRun: dryRun, GroupPolicyReport: reportView(rep)}
		if dryRun {
			view.Profile = prof.Raw
			h.recordGPOAnalysis(r, t.ID, rep, true)
			writeJSON(w, http.StatusOK, view)
			return
		}
		now := h.s.cfg.Now().UTC()
		prof.TenantID, prof.ID, prof.Version, prof.CreatedAt, prof.UpdatedAt = t.ID, uuid.NewString(), 1, now, now
		err = h.s.cfg.Store.Write(r.Context(), func(tx store.Writer) error {
			stored, err := tx.CreateProfile(prof)
			if err != nil {
				return err
			}
			view.Profile = profileJSON(stored)
			ev := h.s.adminEvent(requestPrincipal(r), t.ID, "import", audit.Subject{Type: audit.SubjectProfile, ID: stored.ID}, "", nil, view.Profile)
			ev.ProfileID = stored.ID
			ev.Details = mustJSON(map[string]any{"before": nil, "after": view.Profile, "groupPolicy": map[string]any{"source": rep.Source, "summary": rep.Summary}})
			return tx.Audit(ev)
		})
		if err != nil {
			h.writeFailed(w, "profile", err)
			return
		}
		view.ID = prof.ID
		writeJSON(w, http.StatusCreated, view)
	}
}
