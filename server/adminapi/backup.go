package adminapi

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/hellomdm/hellomdm/store"
)

// BackupFile is the file name a backup download suggests: the bbolt file in --data
// (server.DatabaseFile).
const BackupFile = "hellomdm.db"

// backup streams a consistent copy of the store (GET /api/v1/backup) to a global admin:
// bbolt copies itself from one read transaction while check-ins and writes go on. The
// download carries Content-Length, so a copy cut short is visibly incomplete. PostgreSQL is
// backed up with pg_dump (501).
func (s *API) backup(w http.ResponseWriter, r *http.Request) {
	p, ok := s.requireAdmin(w, r, true, "back up the store")
	if !ok {
		return
	}
	b, ok := s.cfg.Store.(store.Backuper)
	if !ok {
		s.noBackup(w)
		return
	}
	// A large database takes longer than the server's write timeout: this response has none.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})
	start := time.Now()
	n, err := b.Backup(r.Context(), w, func(size int64) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Disposition", `attachment; filename="`+BackupFile+`"`)
		w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
		w.WriteHeader(http.StatusOK)
	})
	if errors.Is(err, errors.ErrUnsupported) && n == 0 && w.Header().Get("Content-Length") == "" {
		s.noBackup(w)
		return
	}
	if err != nil {
		s.log.Error("backup failed", "err", err, "bytes", n, "token", p.TokenID)
		if n == 0 && w.Header().Get("Content-Length") == "" {
			writeError(w, http.StatusServiceUnavailable, "unavailable", "the backup could not be taken")
			return
		}
		// Headers are sent: break the connection so the client sees a short body.
		panic(http.ErrAbortHandler)
	}
	s.log.Info("backup streamed", "bytes", n, "token", p.TokenID, "name", p.Name, "duration", time.Since(start).Round(time.Millisecond))
}

// noBackup answers 501 for a store whose backend has no online backup (store.Backuper's
// errors.ErrUnsupported): PostgreSQL is backed up with its own tools.
func (s *API) noBackup(w http.ResponseWriter) {
	writeError(w, http.StatusNotImplemented, "notImplemented",
		"the "+s.cfg.Store.Backend()+" store is not backed up through the API: use pg_dump (see README, Operations)")
}
