package bolt

import (
	"bytes"
	"fmt"
	"time"

	bbolt "go.etcd.io/bbolt"
)

// pruneExpired walks an expiry index, whose keys are an 8-byte big-endian UnixNano moment
// followed by a record's key (signInExpiryKey), and deletes up to max entries that fell due at
// or before now, oldest first, with the record each names in recs when owns(stamp, record)
// says the record is still the one the entry was made for. what names the index in errors.
func pruneExpired(recs, expiry *bbolt.Bucket, now time.Time, max int, what string, owns func(stamp, raw []byte) bool) error {
	limit := signInExpiryKey(now, "")
	var expired [][]byte
	c := expiry.Cursor()
	for k, _ := c.First(); k != nil && len(expired) < max; k, _ = c.Next() {
		if len(k) < 8 {
			return fmt.Errorf("malformed %s expiry key", what)
		}
		if bytes.Compare(k[:8], limit) > 0 {
			break
		}
		expired = append(expired, bytes.Clone(k))
	}
	for _, k := range expired {
		if err := expiry.Delete(k); err != nil {
			return err
		}
		if raw := recs.Get(k[8:]); raw != nil && owns(k[:8], raw) {
			if err := recs.Delete(k[8:]); err != nil {
				return err
			}
		}
	}
	return nil
}
