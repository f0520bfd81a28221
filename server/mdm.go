package server

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/hellomdm/hellomdm/audit"
	"github.com/hellomdm/hellomdm/server/adminapi"
	"github.com/hellomdm/hellomdm/server/omadm"
	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/syncml"
)

// mdm serves POST /ManagementServer/MDM.svc. Windows appends a query string
// (?mode=Maintenance&Platform=WoA); routing is on the path alone.
func (s *Server) mdm(w http.ResponseWriter, r *http.Request) {
	start, outcome := time.Now(), outcomeError
	defer func() { s.metrics.checkin(outcome, time.Since(start)) }()
	dev, err := s.identifyDevice(r)
	if err != nil {
		outcome = outcomeUnauthorized
		s.log.Warn("management request refused", "reason", err, "addr", s.sourceAddr(r))
		s.auditRefusal(r, "", "", err.Error())
		adminapi.WriteError(w, http.StatusUnauthorized, "unauthorized", "a client certificate issued at enrollment is required")
		return
	}
	limit := s.engine.Config().MaxBodyBytes
	body, err := readBody(w, r, limit)
	if err != nil {
		outcome = outcomeBadRequest
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			s.log.Warn("management message too large", "device", dev.DeviceID, "limit", limit)
			adminapi.WriteError(w, http.StatusRequestEntityTooLarge, "tooLarge", "SyncML message exceeds "+strconv.Itoa(limit)+" bytes")
			return
		}
		adminapi.WriteError(w, http.StatusBadRequest, "badRequest", "reading body: "+err.Error())
		return
	}
	msg, err := syncml.ParseWithLimits(body, syncml.Limits{MaxBytes: limit})
	if err != nil {
		outcome = outcomeBadRequest
		status := http.StatusBadRequest
		switch {
		case errors.Is(err, syncml.ErrTooLarge):
			status = http.StatusRequestEntityTooLarge
		case errors.Is(err, syncml.ErrEncoding):
			// A declared encoding other than UTF-8 (syncml.KindUnsupportedEncoding): the
			// message cannot be read, so there is no header to answer with a SyncML Status
			// 415; HTTP says the same.
			status = http.StatusUnsupportedMediaType
		}
		s.log.Warn("malformed SyncML", "device", dev.DeviceID, "err", err)
		adminapi.WriteError(w, status, "badSyncML", err.Error())
		return
	}
	reply, replayed, err := s.engine.HandleReplay(r.Context(), omadm.Request{DeviceID: dev.DeviceID, CertSerial: dev.Serial, Body: body, Message: msg, SourceAddr: s.sourceAddr(r)})
	var rf *omadm.Refusal
	switch {
	case errors.As(err, &rf):
		outcome = outcomeRefused
		s.auditRefusal(r, dev.DeviceID, dev.Serial, rf.Reason)
		if rf.Reply == nil {
			adminapi.WriteError(w, http.StatusForbidden, "refused", rf.Reason)
			return
		}
		writeSyncML(w, rf.Reply)
		return
	case errors.Is(err, store.ErrUnavailable):
		outcome = outcomeUnavailable
		// Nothing was recorded: the device retries later (a failed session costs only a retry).
		w.Header().Set("Retry-After", "30")
		adminapi.WriteError(w, http.StatusServiceUnavailable, "unavailable", "the store is unavailable; retry later")
		return
	case err != nil:
		s.log.Error("check-in failed", "device", dev.DeviceID, "err", err)
		adminapi.WriteError(w, http.StatusInternalServerError, "internal", "check-in failed; nothing was recorded")
		return
	}
	outcome = outcomeOK
	if replayed {
		outcome = outcomeReplayed
	}
	if s.log.Enabled(r.Context(), slog.LevelDebug) {
		s.log.Debug("check-in", "device", dev.DeviceID, "session", msg.Header.SessionID, "msgId", msg.Header.MsgID)
	}
	writeSyncML(w, reply)
}

// readBody reads a management request's body, refusing more than limit bytes (a
// *http.MaxBytesError). A body that declares its length within the limit (Windows sends
// Content-Length) is read into one buffer of that size; any other is read as it comes.
func readBody(w http.ResponseWriter, r *http.Request, limit int) ([]byte, error) {
	body := http.MaxBytesReader(w, r.Body, int64(limit)+1)
	if n := r.ContentLength; n <= 0 || n > int64(limit) {
		return io.ReadAll(body)
	}
	buf := make([]byte, r.ContentLength)
	if _, err := io.ReadFull(body, buf); err != nil {
		return nil, err
	}
	return buf, nil
}

func writeSyncML(w http.ResponseWriter, b []byte) {
	w.Header().Set("Content-Type", syncml.ContentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

// auditRefusal records a refused device request in the device's tenant log when the device
// is known (a refusal from an unknown certificate has no tenant to log to; it is logged).
func (s *Server) auditRefusal(r *http.Request, deviceID, serial, reason string) {
	if deviceID == "" {
		return
	}
	d, err := s.cfg.Store.Device(r.Context(), deviceID)
	if err != nil {
		return
	}
	details, _ := json.Marshal(map[string]string{"reason": reason, "path": r.URL.Path})
	ev := &audit.Event{
		ID: newEventID(), Time: s.cfg.Now().UTC(), TenantID: d.TenantID, Kind: audit.KindAuthRefused,
		Actor:   audit.Actor{Type: audit.ActorDevice, ID: deviceID, TokenID: serial, SourceAddr: s.sourceAddr(r)},
		Subject: audit.Subject{Type: audit.SubjectDevice, ID: deviceID}, DeviceID: deviceID, Action: "checkin", Details: details,
	}
	if err := s.cfg.Store.AppendAudit(r.Context(), ev); err != nil {
		s.log.Error("recording refusal", "err", err)
	}
}
