package store

import (
	"context"
	"time"
)

// Idempotency-Key records of the admin API (server's idempotency middleware). A client that
// retries a creating POST after a lost reply sends the same Idempotency-Key; the server then
// answers the first request's result instead of creating a second object.
//
// A record is keyed on (Scope, Key): Scope names the principal (its tenant and token), so two
// principals never share a key. It moves reserved → done:
//
//   - ReserveIdempotencyKey inserts it, reserved, before the request runs. The admin write
//     the request makes marks it Committed in the write's own transaction (WithIdempotency),
//     so a record outlives a crash knowing whether the write took effect.
//   - CompleteIdempotencyKey stores the answer (status, content type, body): done.
//   - ReleaseIdempotencyKey deletes a reserved record whose request failed without a write,
//     so the client may retry with the same key.
//
// Records expire at ExpiresAt; an expired record is as good as absent, and backends delete
// up to MaxIdempotencyPrune expired records each time they reserve one.
type IdempotencyKeys interface {
	// ReserveIdempotencyKey stores rec (State IdemReserved) unless a live record holds
	// (rec.Scope, rec.Key), and returns the record that holds the key afterwards and whether
	// it is rec. A record is live until its ExpiresAt; a reserved record that is not Committed
	// and whose LeaseUntil has passed (its request died before writing) with the same
	// RequestHash is taken over by rec. It is one atomic step across replicas.
	ReserveIdempotencyKey(ctx context.Context, rec IdempotencyRecord, now time.Time) (IdempotencyRecord, bool, error)
	// CompleteIdempotencyKey stores the answer of the request that reserved (scope, key).
	CompleteIdempotencyKey(ctx context.Context, scope, key string, ans IdempotencyAnswer) error
	// ReleaseIdempotencyKey deletes the reservation of (scope, key) unless a write committed
	// under it; no error when there is none.
	ReleaseIdempotencyKey(ctx context.Context, scope, key string) error
}

// Idempotency record states.
const (
	IdemReserved = "reserved"
	IdemDone     = "done"
)

// MaxIdempotencyPrune is how many expired idempotency records a backend deletes, at most,
// while reserving one.
const MaxIdempotencyPrune = 64

// IdempotencyAnswer is the stored answer of a request.
type IdempotencyAnswer struct {
	Status      int
	ContentType string
	Body        []byte
	// Withheld: the answer held a secret shown only once (Cache-Control: no-store), so its
	// body is not stored; a retry is told so instead of getting the secret again.
	Withheld bool
}

// IdempotencyRecord is one Idempotency-Key of one principal.
type IdempotencyRecord struct {
	Scope string `json:"scope"`
	Key   string `json:"key"`
	// RequestHash identifies the request: SHA-256 hex of method, path and body.
	RequestHash string `json:"requestHash"`
	State       string `json:"state"`
	// Committed is set by the request's admin write, in its transaction.
	Committed bool `json:"committed,omitempty"`
	// LeaseUntil bounds how long a reserved, uncommitted record blocks a retry.
	LeaseUntil  time.Time `json:"leaseUntil"`
	Status      int       `json:"status,omitempty"`
	ContentType string    `json:"contentType,omitempty"`
	Body        []byte    `json:"body,omitempty"`
	Withheld    bool      `json:"withheld,omitempty"`
	CreatedAt   time.Time `json:"createdAt"`
	ExpiresAt   time.Time `json:"expiresAt"`
}

// IdempotencyTakeover reports whether a new reservation rec replaces old, the record holding
// its key at now: old has expired, or old is a reservation of the same request that wrote
// nothing (not Committed) and whose lease has run out, so its request died.
func IdempotencyTakeover(old, rec IdempotencyRecord, now time.Time) bool {
	if !now.Before(old.ExpiresAt) {
		return true
	}
	return old.State == IdemReserved && !old.Committed && !now.Before(old.LeaseUntil) && old.RequestHash == rec.RequestHash
}

// idempotencyKey is the context key of WithIdempotency.
type idempotencyKey struct{}

// IdempotencyRef names the record an admin write marks Committed.
type IdempotencyRef struct{ Scope, Key string }

// WithIdempotency returns a copy of ctx whose admin writes (Store.Write and the one-call
// admin writes, and DeviceTx.Audit in a Checkin) mark the idempotency record (scope, key)
// Committed in their own transaction.
func WithIdempotency(ctx context.Context, scope, key string) context.Context {
	return context.WithValue(ctx, idempotencyKey{}, IdempotencyRef{Scope: scope, Key: key})
}

// IdempotencyFrom returns the record WithIdempotency put in ctx. Backends call it.
func IdempotencyFrom(ctx context.Context) (IdempotencyRef, bool) {
	r, ok := ctx.Value(idempotencyKey{}).(IdempotencyRef)
	return r, ok
}
