package core

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hellomdm/hellomdm/store"
)

// An idempotency record is stored as JSON under subKey(scope, key) in bIdempotency, and
// indexed by its expiry in bIdemExpiry (expiry.go), so expired records are found in expiry
// order without a scan.

func idemKey(scope, key string) []byte { return subKey(scope, key) }

func checkIdem(scope, key string) error {
	if err := checkID("idempotency scope", scope); err != nil {
		return err
	}
	return checkID("idempotency key", key)
}

// idemExpiry prunes expired idempotency records. A record replaced by a new reservation
// (takeover) has another expiry, so the entry of the record it replaced leaves it alone.
var idemExpiry = expiryIndex{
	recs: bIdempotency, index: bIdemExpiry, max: store.MaxIdempotencyPrune, what: "idempotency",
	owns: func(stamp, raw []byte) bool {
		var rec store.IdempotencyRecord
		if jsonUnmarshal(raw, &rec) != nil {
			return false
		}
		return string(expiryKey(rec.ExpiresAt, nil)) == string(stamp)
	},
}

// idemRecord is the stored form of an idempotency record. Answers can hold secrets (POST
// /tokens answers the new token's secret once), so when the store has a secret key
// (Options.SecretKey) a record's Body is sealed with it (secrets.go), bound to its scope and
// key as additional data, and BodySealed says so; records without the field (every record
// of the bbolt store of earlier releases) hold their Body plain.
type idemRecord struct {
	store.IdempotencyRecord
	BodySealed bool `json:"bodySealed,omitempty"`
}

func idemAAD(scope, key string) string { return "idempotency/" + scope + "\x00" + key }

// IdempotencyRecordValue returns the stored record of data, the JSON of a
// store.IdempotencyRecord whose Body is sealed (as the PostgreSQL store of earlier releases
// sealed it: nonce ‖ ciphertext ‖ tag, "idempotency/"+scope+NUL+key as additional data,
// with the same 32-byte key as Options.SecretKey) or plain: what a migration writes for a
// row of that store's idempotency table.
func IdempotencyRecordValue(data []byte, bodySealed bool) ([]byte, error) {
	var r idemRecord
	if err := jsonUnmarshal(data, &r.IdempotencyRecord); err != nil {
		return nil, err
	}
	r.BodySealed = bodySealed && len(r.Body) > 0
	return json.Marshal(r)
}

// storeIdem returns the stored form of rec, its Body sealed when the store has a key.
func (s *Store) storeIdem(rec store.IdempotencyRecord) (idemRecord, error) {
	r := idemRecord{IdempotencyRecord: rec}
	if s.sec == nil || len(rec.Body) == 0 {
		return r, nil
	}
	b, err := s.sec.seal(idemAAD(rec.Scope, rec.Key), rec.Body)
	if err != nil {
		return r, fmt.Errorf("sealing the stored answer: %w", err)
	}
	r.Body, r.BodySealed = b, true
	return r, nil
}

// openIdem returns the record of its stored form, its Body opened.
func (s *Store) openIdem(r idemRecord) (store.IdempotencyRecord, error) {
	rec := r.IdempotencyRecord
	if !r.BodySealed {
		return rec, nil
	}
	if s.sec == nil {
		return rec, errors.New("the stored answer is sealed and the store has no secret key")
	}
	b, err := s.sec.open(idemAAD(rec.Scope, rec.Key), rec.Body)
	if err != nil {
		return rec, fmt.Errorf("opening the stored answer: %w", err)
	}
	rec.Body = b
	return rec, nil
}

// getIdem reads the stored record at k, locked until the transaction ends (GetForUpdate).
func getIdem(w *wtx, k []byte) (idemRecord, bool, error) {
	var r idemRecord
	raw, err := w.GetForUpdate(bIdempotency, k)
	if err != nil || raw == nil {
		return r, false, err
	}
	if err := jsonUnmarshal(raw, &r); err != nil {
		return r, false, fmt.Errorf("decoding idempotency record: %w", err)
	}
	return r, true, nil
}

// ReserveIdempotencyKey stores rec unless a live record holds its key (store.IdempotencyKeys):
// it reads the record of the key with GetForUpdate and creates it with Insert, so concurrent
// reservations on any number of servers agree on one winner; a record there is taken over or
// returned as store.IdempotencyTakeover decides. The same transaction deletes up to
// store.MaxIdempotencyPrune expired records.
func (s *Store) ReserveIdempotencyKey(ctx context.Context, rec store.IdempotencyRecord, now time.Time) (store.IdempotencyRecord, bool, error) {
	if err := checkIdem(rec.Scope, rec.Key); err != nil {
		return store.IdempotencyRecord{}, false, fmt.Errorf("reserving idempotency key: %w", err)
	}
	rec.State, rec.Committed = store.IdemReserved, false
	stored, err := s.storeIdem(rec)
	if err != nil {
		return store.IdempotencyRecord{}, false, fmt.Errorf("reserving idempotency key: %w", err)
	}
	var (
		held store.IdempotencyRecord
		mine bool
	)
	err = s.writeRetrying(ctx, false, func(w *wtx) error {
		k := idemKey(rec.Scope, rec.Key)
		old, ok, err := getIdem(w, k)
		if err != nil {
			return err
		}
		if ok && !store.IdempotencyTakeover(old.IdempotencyRecord, rec, now) {
			held, mine = store.IdempotencyRecord{}, false
			if held, err = s.openIdem(old); err != nil {
				return err
			}
			return idemExpiry.prune(w, now)
		}
		held, mine = rec, true
		if ok {
			err = putJSON(w, bIdempotency, k, stored)
		} else {
			err = lostRace(insertJSON(w, bIdempotency, k, stored), "idempotency record")
		}
		if err == nil {
			err = addExpiry(w, bIdemExpiry, rec.ExpiresAt, k)
		}
		if err != nil {
			return err
		}
		return idemExpiry.prune(w, now)
	})
	if err != nil {
		return store.IdempotencyRecord{}, false, fmt.Errorf("reserving idempotency key: %w", err)
	}
	return held, mine, nil
}

// CompleteIdempotencyKey stores the answer of the request that reserved (scope, key).
func (s *Store) CompleteIdempotencyKey(ctx context.Context, scope, key string, ans store.IdempotencyAnswer) error {
	if err := checkIdem(scope, key); err != nil {
		return fmt.Errorf("completing idempotency key: %w", err)
	}
	err := s.update(ctx, func(w *wtx) error {
		k := idemKey(scope, key)
		r, ok, err := getIdem(w, k)
		if err != nil {
			return err
		}
		if !ok {
			return store.ErrNotFound
		}
		rec := r.IdempotencyRecord
		rec.State, rec.Status, rec.ContentType, rec.Body, rec.Withheld = store.IdemDone, ans.Status, ans.ContentType, ans.Body, ans.Withheld
		if r, err = s.storeIdem(rec); err != nil {
			return err
		}
		return putJSON(w, bIdempotency, k, r)
	})
	if err != nil {
		return fmt.Errorf("completing idempotency key: %w", err)
	}
	return nil
}

// ReleaseIdempotencyKey deletes an uncommitted reservation of (scope, key). Its expiry
// entry stays until the pruner reaches it (expiry.go).
func (s *Store) ReleaseIdempotencyKey(ctx context.Context, scope, key string) error {
	if err := checkIdem(scope, key); err != nil {
		return fmt.Errorf("releasing idempotency key: %w", err)
	}
	err := s.update(ctx, func(w *wtx) error {
		k := idemKey(scope, key)
		rec, ok, err := getIdem(w, k)
		if err != nil || !ok || rec.State != store.IdemReserved || rec.Committed {
			return err
		}
		return w.Delete(bIdempotency, k)
	})
	if err != nil {
		return fmt.Errorf("releasing idempotency key: %w", err)
	}
	return nil
}

// markIdem marks the idempotency record of w's context (store.WithIdempotency) Committed in
// w, the transaction of the admin write it belongs to. Nothing when the context has none,
// names no possible record, or the record is gone.
func (w *wtx) markIdem() error {
	ref, ok := store.IdempotencyFrom(w.ctx)
	if !ok || checkIdem(ref.Scope, ref.Key) != nil {
		return nil
	}
	k := idemKey(ref.Scope, ref.Key)
	rec, found, err := getIdem(w, k)
	if err != nil || !found || rec.Committed {
		return err
	}
	rec.Committed = true
	return putJSON(w, bIdempotency, k, rec)
}
