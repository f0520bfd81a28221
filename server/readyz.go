package server

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/hellomdm/hellomdm/server/adminapi"
	"github.com/hellomdm/hellomdm/store"
)

// ReadyTimeout bounds the store read of one /readyz probe.
const ReadyTimeout = 2 * time.Second

// readyProbeKey is the config key /readyz reads: a cheap point read whose absence is fine.
const readyProbeKey = "readyz.probe"

// readiness is what /readyz knows besides the store: whether the process is serving yet and
// whether it is shutting down, and what the last probe found (to log only changes).
type readiness struct {
	// notReady is the reason the process itself is not ready ("" when serving).
	notReady atomic.Pointer[string]
	// failing is whether the last store probe failed, so that a failure and the recovery
	// are logged once each rather than at every probe.
	failing atomic.Bool
}

// SetNotReady makes /readyz answer 503 with reason (the server is starting or shutting
// down); an empty reason makes readiness depend on the store alone.
func (s *Server) SetNotReady(reason string) {
	if reason == "" {
		s.ready.notReady.Store(nil)
		return
	}
	s.ready.notReady.Store(&reason)
}

// readyBody is the JSON of /readyz.
type readyBody struct {
	Status string `json:"status"` // "ready" or "notReady"
	Store  string `json:"store"`
	Reason string `json:"reason,omitempty"`
}

// readyz is the readiness probe: 200 while this replica can serve, 503 with the reason
// while it cannot (starting, shutting down, or the store fails a cheap read within
// ReadyTimeout), so that a load balancer sends devices to another replica. /healthz stays
// the liveness probe: it answers 200 as long as the process serves HTTP at all, so an
// orchestrator does not restart a process that is only waiting for its database.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	body := readyBody{Status: "ready", Store: s.cfg.Store.Backend()}
	if reason := s.ready.notReady.Load(); reason != nil {
		body.Status, body.Reason = "notReady", *reason
		w.Header().Set("Retry-After", "5")
		adminapi.WriteJSON(w, http.StatusServiceUnavailable, body)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), ReadyTimeout)
	defer cancel()
	_, err := s.cfg.Store.GetConfig(ctx, readyProbeKey)
	if errors.Is(err, store.ErrNotFound) {
		err = nil
	}
	if err != nil {
		// The reason names the kind of failure, not the error text, which can name database
		// hosts and users: the probe answers without authentication. The log has the detail.
		switch {
		case errors.Is(err, context.DeadlineExceeded):
			body.Reason = "the store did not answer within " + ReadyTimeout.String()
		case errors.Is(err, store.ErrUnavailable):
			body.Reason = "the store is unavailable"
		default:
			body.Reason = "the store failed a read"
		}
		if !s.ready.failing.Swap(true) {
			s.log.Warn("not ready: store probe failing", "reason", body.Reason, "err", err)
		}
		body.Status = "notReady"
		w.Header().Set("Retry-After", "5")
		adminapi.WriteJSON(w, http.StatusServiceUnavailable, body)
		return
	}
	if s.ready.failing.Swap(false) {
		s.log.Info("ready again: store probe answers")
	}
	adminapi.WriteJSON(w, http.StatusOK, body)
}
