package store

import (
	"context"
	"time"
)

// Redemptions records single-use credentials as they are used (the jti of a federated
// enrollment token, of a PIN reset token), so that every replica sharing the store refuses
// a second use.
//
// IDs are non-empty and at most MaxIDLen bytes (CheckID); callers prefix them with the kind
// of credential. A record is kept until the expiry given with it, the credential's own
// expiry (after it the credential is refused anyway); backends delete expired records as
// they record new ones, a bounded number per call.
type Redemptions interface {
	// Redeem records id as used by holder (who used it: a device, a certificate) until
	// expires, when no unexpired record of id exists at now, and returns "" and nil. When
	// one exists it records nothing and returns that record's holder with an error wrapping
	// ErrConflict. It is one atomic insert-if-absent: of concurrent calls for one id, from
	// any number of processes sharing the store, exactly one succeeds. expires must be
	// after now.
	Redeem(ctx context.Context, id, holder string, expires, now time.Time) (firstHolder string, err error)
}

// MaxRedemptionPrune is how many expired redemption records a backend deletes, at most,
// while recording one.
const MaxRedemptionPrune = 64
