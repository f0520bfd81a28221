package adminapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hellomdm/hellomdm/policy"
	"github.com/hellomdm/hellomdm/policy/gpo"
	"github.com/hellomdm/hellomdm/store"
)

// Idempotency-Key on the admin API (the IETF draft "The Idempotency-Key HTTP Header Field",
// as Stripe and others use it). A client that may retry a POST after a lost reply sends a
// unique key with it; the rules:
//
//   - Every POST under /api/v1 accepts the header; other methods ignore it (GET, PATCH, PUT
//     and DELETE are idempotent already, or say what they change).
//   - A key is 1 to 255 printable ASCII characters and belongs to the principal that sent it
//     (its token, within its tenant): two tokens never see each other's keys.
//   - The first request with a key runs; its answer (status code, Content-Type, body) is
//     stored with the key for IdempotencyKeyLifetime. A retry with the same key, method, path
//     and body gets that answer again, byte for byte, with Idempotency-Replayed: true, and
//     changes nothing. The same key with another method, path or body is a 409.
//   - While the first request runs, a retry is a 409 with Retry-After. The admin write the
//     request makes marks the key committed in its own transaction, so if the server stops
//     between the write and storing the answer, a retry learns that the first request took
//     effect (409 naming that) rather than running again; if it stopped before the write,
//     the reservation lapses after idempotencyLease and a retry runs the request.
//   - An answer of 500 or more is not stored (the key is freed when nothing was written), so
//     a retry runs again.
//   - Keys live in the store, so every replica sees them; expired keys are deleted as new
//     ones are reserved.

// IdempotencyKeyLifetime is how long an Idempotency-Key and its answer are kept.
const IdempotencyKeyLifetime = 24 * time.Hour

// idempotencyLease is how long a request that has reserved a key, and written nothing yet,
// blocks a retry with the same key.
const idempotencyLease = 2 * time.Minute

// maxIdempotentBody bounds the request body the middleware reads (the largest any admin POST
// accepts: a profile document).
const maxIdempotentBody = max(policy.MaxProfileBytes, gpo.MaxInputBytes)

// maxIdempotencyKey bounds the header's length.
const maxIdempotencyKey = 255

func validIdempotencyKey(k string) bool {
	if k == "" || len(k) > maxIdempotencyKey {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x20 || k[i] > 0x7e {
			return false
		}
	}
	return true
}

// idempotency is the admin API middleware implementing the rules above. It runs after
// adminAuth, so the principal is known.
func (s *API) idempotency(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("Idempotency-Key")
		if r.Method != http.MethodPost || key == "" {
			next.ServeHTTP(w, r)
			return
		}
		if !validIdempotencyKey(key) {
			writeError(w, http.StatusBadRequest, "badRequest", "Idempotency-Key must be 1 to 255 printable ASCII characters")
			return
		}
		p, ok := PrincipalFrom(r.Context())
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxIdempotentBody))
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				writeError(w, http.StatusRequestEntityTooLarge, "tooLarge", "request body too large")
				return
			}
			writeError(w, http.StatusBadRequest, "badRequest", "reading body: "+err.Error())
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		h := sha256.New()
		h.Write([]byte(r.Method + "\n" + r.URL.RequestURI() + "\n"))
		h.Write(body)
		now := s.cfg.Now().UTC()
		scope := "token:" + p.TokenID
		if p.TokenID == "" { // a console user (ActingAs): one scope per user
			scope = "user:" + p.TenantID + ":" + p.Name
		}
		rec := store.IdempotencyRecord{Scope: scope, Key: key, RequestHash: hex.EncodeToString(h.Sum(nil)),
			LeaseUntil: now.Add(idempotencyLease), CreatedAt: now, ExpiresAt: now.Add(IdempotencyKeyLifetime)}
		held, mine, err := s.cfg.Store.ReserveIdempotencyKey(r.Context(), rec, now)
		if err != nil {
			s.log.Error("reserving idempotency key failed", "err", err)
			w.Header().Set("Retry-After", "30")
			writeError(w, http.StatusServiceUnavailable, "unavailable", "the store is unavailable; nothing was done, retry later")
			return
		}
		if !mine {
			s.answerHeld(w, held, rec.RequestHash, now)
			return
		}
		rw := &bufferedResponse{header: http.Header{}}
		next.ServeHTTP(rw, r.WithContext(store.WithIdempotency(r.Context(), scope, key)))
		if rw.status == 0 {
			rw.status = http.StatusOK
		}
		// A detached context: the answer is stored even if the client has gone.
		ctx := context.WithoutCancel(r.Context())
		if rw.status >= 500 {
			if err := s.cfg.Store.ReleaseIdempotencyKey(ctx, scope, key); err != nil {
				s.log.Warn("releasing idempotency key failed", "err", err)
			}
		} else if err := s.cfg.Store.CompleteIdempotencyKey(ctx, scope, key, answerOf(rw)); err != nil {
			s.log.Warn("storing the answer of an idempotency key failed", "err", err)
		}
		for k, v := range rw.header {
			w.Header()[k] = v
		}
		w.WriteHeader(rw.status)
		_, _ = w.Write(rw.body.Bytes())
	})
}

// answerOf is what is stored of an answer: all of it, unless it carries a secret shown once
// (Cache-Control: no-store, as POST /tokens and the TOTP enrollment answer), whose body is
// withheld.
func answerOf(rw *bufferedResponse) store.IdempotencyAnswer {
	ans := store.IdempotencyAnswer{Status: rw.status, ContentType: rw.header.Get("Content-Type"), Body: rw.body.Bytes()}
	if strings.Contains(strings.ToLower(rw.header.Get("Cache-Control")), "no-store") {
		ans.ContentType, ans.Body, ans.Withheld = "", nil, true
	}
	return ans
}

// answerHeld answers a request whose key another request holds.
func (s *API) answerHeld(w http.ResponseWriter, held store.IdempotencyRecord, hash string, now time.Time) {
	switch {
	case held.RequestHash != hash:
		writeError(w, http.StatusConflict, "idempotencyKeyReused", "this Idempotency-Key was used for a different request (method, path or body); use a new key")
	case held.State == store.IdemDone && held.Withheld:
		writeError(w, http.StatusConflict, "idempotencyKeyWithheld", fmt.Sprintf("the first request with this Idempotency-Key succeeded (HTTP %d); its answer held a secret that is shown only once and not kept, so look the object up instead of retrying", held.Status))
	case held.State == store.IdemDone:
		if held.ContentType != "" {
			w.Header().Set("Content-Type", held.ContentType)
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(held.Body)))
		w.Header().Set("Idempotency-Replayed", "true")
		w.WriteHeader(held.Status)
		_, _ = w.Write(held.Body)
	case held.Committed:
		writeError(w, http.StatusConflict, "idempotencyKeyCommitted", "the first request with this Idempotency-Key took effect, but the server stopped before its answer was stored; look the object up instead of retrying")
	default:
		secs := int(held.LeaseUntil.Sub(now).Seconds()) + 1
		w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
		writeError(w, http.StatusConflict, "idempotencyKeyInProgress", "a request with this Idempotency-Key is still in progress; retry later")
	}
}

// bufferedResponse holds a handler's answer until it is stored with its Idempotency-Key.
type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header { return b.header }

func (b *bufferedResponse) WriteHeader(status int) {
	if b.status == 0 {
		b.status = status
	}
}

func (b *bufferedResponse) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}
