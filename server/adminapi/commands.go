package adminapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/mux"

	"github.com/hellomdm/hellomdm/audit"
	"github.com/hellomdm/hellomdm/internal/eventid"
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
	"github.com/hellomdm/hellomdm/server/internal/delivery"
	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/syncml"
)

var leafVerbs = map[string]bool{syncml.VerbGet: true, syncml.VerbAdd: true, syncml.VerbReplace: true, syncml.VerbDelete: true, syncml.VerbExec: true}

var knownFormats = map[string]bool{"": true, "b64": true, "bin": true, "bool": true, "chr": true, "int": true, "node": true, "null": true, "xml": true, "date": true, "time": true, "float": true}

// toPayload validates a command request and turns it into the SyncML command to queue, in its stored form.
func toPayload(c wire.CommandRequest, depth int) (store.Payload, error) {
	verb := canonicalVerb(c.Verb)
	switch {
	case verb == syncml.VerbAtomic || verb == syncml.VerbSequence:
		if depth > 0 && verb == syncml.VerbAtomic {
			return store.Payload{}, errors.New("an Atomic cannot be nested (Windows answers 500)")
		}
		if depth > 2 {
			return store.Payload{}, errors.New("commands nested too deep")
		}
		if len(c.Commands) == 0 || len(c.Commands) > 100 {
			return store.Payload{}, fmt.Errorf("%s needs 1 to 100 commands", verb)
		}
		out := store.Payload{Verb: verb}
		for i, child := range c.Commands {
			if verb == syncml.VerbAtomic && canonicalVerb(child.Verb) == syncml.VerbGet {
				return store.Payload{}, fmt.Errorf("commands[%d]: Get is not allowed inside Atomic", i)
			}
			p, err := toPayload(child, depth+1)
			if err != nil {
				return store.Payload{}, fmt.Errorf("commands[%d]: %w", i, err)
			}
			out.Commands = append(out.Commands, p)
		}
		return out, nil
	case leafVerbs[verb]:
		uri := strings.TrimSpace(c.LocURI)
		if uri == "" {
			return store.Payload{}, errors.New("locUri is required")
		}
		if strings.HasPrefix(uri, "/") || strings.ContainsAny(uri, "\x00\r\n") || len(uri) > 1024 {
			return store.Payload{}, fmt.Errorf("locUri %q is not a valid OMA-DM URI (it must be relative, e.g. ./Device/Vendor/MSFT/...)", uri)
		}
		if !knownFormats[c.Format] {
			return store.Payload{}, fmt.Errorf("format %q is not an OMA-DM format", c.Format)
		}
		item := store.Item{Target: uri}
		if verb == syncml.VerbAdd || verb == syncml.VerbReplace || verb == syncml.VerbExec {
			item.Data = c.Data
			if c.Format != "" || c.Type != "" {
				item.Meta = &store.Meta{Format: c.Format, Type: c.Type}
			}
		} else if c.Data != "" {
			return store.Payload{}, fmt.Errorf("%s carries no data", verb)
		}
		return store.Payload{Verb: verb, Items: []store.Item{item}}, nil
	}
	return store.Payload{}, fmt.Errorf("verb %q is not one of Get, Add, Replace, Delete, Exec, Atomic, Sequence", c.Verb)
}

func canonicalVerb(v string) string {
	for _, k := range []string{syncml.VerbGet, syncml.VerbAdd, syncml.VerbReplace, syncml.VerbDelete, syncml.VerbExec, syncml.VerbAtomic, syncml.VerbSequence} {
		if strings.EqualFold(v, k) {
			return k
		}
	}
	return v
}

// deviceInTenant loads a device the principal may see, or answers 404.
func (s *API) deviceInTenant(w http.ResponseWriter, r *http.Request) (store.Device, bool) {
	vars := mux.Vars(r)
	d, err := s.cfg.Store.Device(r.Context(), vars["did"])
	p, _ := PrincipalFrom(r.Context())
	return d, lookedUp(w, "device", err, strings.EqualFold(d.TenantID, vars["tid"]) && p.SeesTags(d.ScopeTags))
}

func (s *API) enqueueCommand(w http.ResponseWriter, r *http.Request) {
	d, ok := s.deviceInTenant(w, r)
	if !ok {
		return
	}
	var req wire.CommandRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 256<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "badRequest", "invalid JSON: "+err.Error())
		return
	}
	payload, err := toPayload(req, 0)
	if err != nil {
		writeError(w, http.StatusUnprocessableEntity, "invalidCommand", err.Error())
		return
	}
	p, _ := PrincipalFrom(r.Context())
	now := s.cfg.Now().UTC()
	source := "admin:" + p.TokenID
	if p.TokenID == "" { // a console user (ActingAs)
		source = "admin:" + p.Name
	}
	cmd := store.Command{ID: uuid.NewString(), TenantID: d.TenantID, DeviceID: d.ID, Payload: payload, Source: source,
		State: store.CommandQueued, MaxAttempts: s.cfg.MaxAttempts, CreatedAt: now, UpdatedAt: now}
	after := commandView(cmd)
	err = s.cfg.Store.Checkin(r.Context(), d.ID, func(tx store.DeviceTx) error {
		if err := tx.Enqueue(cmd); err != nil {
			return err
		}
		return tx.Audit(
			s.adminEvent(p, d.TenantID, "create", audit.Subject{Type: audit.SubjectCommand, ID: cmd.ID}, d.ID, nil, after),
			&audit.Event{ID: eventid.New(), Time: now, TenantID: d.TenantID, Kind: audit.KindCommandQueued,
				Actor:   audit.Actor{Type: audit.ActorAdmin, ID: p.Name, TokenID: p.TokenID, Role: p.Role, SourceAddr: p.Addr},
				Subject: audit.Subject{Type: audit.SubjectCommand, ID: cmd.ID}, DeviceID: d.ID, Action: "queue", Details: mustJSON(after)},
		)
	})
	if err != nil {
		s.log.Error("enqueue failed", "device", d.ID, "err", err)
		writeError(w, http.StatusServiceUnavailable, "unavailable", "the command could not be queued; nothing was stored")
		return
	}
	s.wake(r.Context(), d, "command")
	stored, err := s.cfg.Store.Command(r.Context(), d.ID, cmd.ID)
	if err == nil {
		cmd = stored
	}
	writeJSON(w, http.StatusCreated, commandView(cmd))
}

func (s *API) listCommands(w http.ResponseWriter, r *http.Request) {
	d, ok := s.deviceInTenant(w, r)
	if !ok {
		return
	}
	cmds, err := s.cfg.Store.ListCommands(r.Context(), d.ID)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "unavailable", "listing commands failed")
		return
	}
	out := make([]wire.Command, 0, len(cmds))
	now := s.cfg.Now()
	for _, c := range cmds {
		out = append(out, commandViewAt(c, now))
	}
	writeJSON(w, http.StatusOK, map[string]any{"value": out})
}

func (s *API) getCommand(w http.ResponseWriter, r *http.Request) {
	d, ok := s.deviceInTenant(w, r)
	if !ok {
		return
	}
	c, err := s.cfg.Store.Command(r.Context(), d.ID, mux.Vars(r)["id"])
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, "notFound", "no such command")
		return
	}
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "unavailable", "loading the command failed")
		return
	}
	writeJSON(w, http.StatusOK, commandViewAt(c, s.cfg.Now()))
}

// commandViewAt is commandView as of now: an at-most-once command whose claim has run out
// without a Status shows as unknown even before the device's next session stores that state
// (nothing will send it again either way).
func commandViewAt(c store.Command, now time.Time) wire.Command {
	if c.State == store.CommandSent && delivery.UnknownNow(&c, now) {
		c.State = store.CommandUnknown
	}
	return commandView(c)
}

// resendCommand serves POST .../commands/{id}/resend: an admin's decision to send an
// unknown command (at-most-once, sent, no Status; see atMostOnce) again. It queues a copy as
// a new command (answered 201 with it) and records its ID in the original's resentAs, in one
// transaction with the audit events; a command that is not unknown, or was resent already,
// is a 409 and changes nothing.
func (s *API) resendCommand(w http.ResponseWriter, r *http.Request) {
	d, ok := s.deviceInTenant(w, r)
	if !ok {
		return
	}
	id := mux.Vars(r)["id"]
	p, _ := PrincipalFrom(r.Context())
	now := s.cfg.Now().UTC()
	var copyCmd store.Command
	var refusal string
	err := s.cfg.Store.Checkin(r.Context(), d.ID, func(tx store.DeviceTx) error {
		refusal = ""
		orig, err := tx.Command(id)
		if err != nil {
			return err
		}
		switch {
		case orig.ResentAs != "":
			refusal = "the command was resent already as " + orig.ResentAs
			return nil
		case !delivery.UnknownNow(&orig, now):
			refusal = "only a command in state unknown can be resent; this one is " + string(orig.State)
			if orig.State == store.CommandSent {
				refusal += " (its claim has not run out, or it is not at-most-once and goes out again by itself)"
			}
			return nil
		}
		before := commandViewAt(orig, now)
		copyCmd = store.Command{ID: uuid.NewString(), TenantID: orig.TenantID, DeviceID: orig.DeviceID, Payload: orig.Payload,
			Source: "admin:" + p.TokenID, State: store.CommandQueued, MaxAttempts: s.cfg.MaxAttempts, CreatedAt: now, UpdatedAt: now}
		orig.State = store.CommandUnknown
		orig.ClaimSession, orig.ClaimUntil = "", time.Time{}
		orig.ResentAs = copyCmd.ID
		orig.UpdatedAt = now
		if err := tx.PutCommand(orig); err != nil {
			return err
		}
		if err := tx.Enqueue(copyCmd); err != nil {
			return err
		}
		after := commandView(copyCmd)
		return tx.Audit(
			s.adminEvent(p, d.TenantID, "resend", audit.Subject{Type: audit.SubjectCommand, ID: orig.ID}, d.ID, before, commandView(orig)),
			&audit.Event{ID: eventid.New(), Time: now, TenantID: d.TenantID, Kind: audit.KindCommandQueued,
				Actor:   audit.Actor{Type: audit.ActorAdmin, ID: p.Name, TokenID: p.TokenID, Role: p.Role, SourceAddr: p.Addr},
				Subject: audit.Subject{Type: audit.SubjectCommand, ID: copyCmd.ID}, DeviceID: d.ID, Action: "resend",
				Details: mustJSON(map[string]any{"resendOf": orig.ID, "command": after})},
		)
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, "notFound", "no such command")
		return
	case err != nil:
		s.log.Error("resend failed", "device", d.ID, "command", id, "err", err)
		writeError(w, http.StatusServiceUnavailable, "unavailable", "the command could not be resent; nothing was stored")
		return
	case refusal != "":
		writeError(w, http.StatusConflict, "conflict", refusal)
		return
	}
	s.wake(r.Context(), d, "command")
	if stored, err := s.cfg.Store.Command(r.Context(), d.ID, copyCmd.ID); err == nil {
		copyCmd = stored
	}
	writeJSON(w, http.StatusCreated, commandView(copyCmd))
}

func commandView(c store.Command) wire.Command {
	v := payloadView(c.Payload)
	v.ID, v.DeviceID, v.State, v.StatusCode = c.ID, c.DeviceID, string(c.State), c.StatusCode
	v.StatusText = statusText(c.StatusCode)
	v.ChildStatus, v.Attempts, v.SentCount, v.Source, v.ResentAs = c.ChildStatus, c.Attempts, c.SentCount, c.Source, c.ResentAs
	v.CreatedAt, v.UpdatedAt = c.CreatedAt, c.UpdatedAt
	n := 0
	childStates(v.Commands, c.ChildStatus, c.State.Open(), &n)
	for _, it := range c.Results {
		rv := wire.CommandResult{LocURI: it.Source, Data: it.Data}
		if rv.LocURI == "" {
			rv.LocURI = it.Target
		}
		if it.DataXML != "" {
			rv.Data = it.DataXML
		}
		if it.Meta != nil {
			rv.Format = it.Meta.Format
		}
		v.Results = append(v.Results, rv)
	}
	return v
}

func payloadView(p store.Payload) wire.Command {
	v := wire.Command{Verb: p.Verb}
	if len(p.Items) > 0 {
		v.LocURI, v.Data = p.Items[0].Target, p.Items[0].Data
		if p.Items[0].Meta != nil {
			v.Format = p.Items[0].Meta.Format
		}
	}
	for _, c := range p.Commands {
		v.Commands = append(v.Commands, payloadView(c))
	}
	return v
}

// childStates fills the state and status of each nested command of an Atomic or Sequence from
// the Statuses the device gave them (ChildStatus, numbered depth-first), so a failed Atomic
// (507) shows which command failed and which were rolled back:
//
//	succeeded (200), accepted (202), rolledBack (216: undone because another command of the
//	Atomic failed), notExecuted (215), failed (any other code), pending (no Status yet and
//	the parent is still open), unreported (the parent is settled and the device never gave
//	this command a Status).
func childStates(views []wire.Command, codes []int, parentOpen bool, n *int) {
	for i := range views {
		v := &views[i]
		code := 0
		if *n < len(codes) {
			code = codes[*n]
		}
		*n++
		v.StatusCode, v.StatusText = code, statusText(code)
		switch {
		case code == syncml.StatusOK:
			v.State = string(store.CommandSucceeded)
		case code == syncml.StatusAccepted:
			v.State = string(store.CommandAccepted)
		case code == syncml.StatusAtomicRollbackOK:
			v.State = "rolledBack"
		case code == syncml.StatusNotExecuted:
			v.State = "notExecuted"
		case code != 0:
			v.State = string(store.CommandFailed)
		case parentOpen:
			v.State = "pending"
		default:
			v.State = "unreported"
		}
		childStates(v.Commands, codes, parentOpen, n)
	}
}

// statusText gives "404: node not found on this device" rather than a bare number.
func statusText(code int) string {
	if code == 0 {
		return ""
	}
	if t := syncml.StatusText(code); t != "" {
		return fmt.Sprintf("%d: %s", code, t)
	}
	return fmt.Sprint(code)
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return b
}

// adminEvent builds the audit event of an admin write: actor, token, role, action, object,
// before/after and source address.
func (s *API) adminEvent(p Principal, tenantID, action string, subject audit.Subject, deviceID string, before, after any) *audit.Event {
	return &audit.Event{
		ID: eventid.New(), Time: s.cfg.Now().UTC(), TenantID: tenantID, Kind: audit.KindAdminWrite,
		Actor:   audit.Actor{Type: audit.ActorAdmin, ID: p.Name, TokenID: p.TokenID, Role: p.Role, SourceAddr: p.Addr},
		Subject: subject, DeviceID: deviceID, Action: action,
		Details: mustJSON(map[string]any{"before": before, "after": after}),
	}
}
