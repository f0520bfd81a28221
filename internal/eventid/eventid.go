// Package eventid makes the identifiers of audit events, shared by every package that appends
// them (the session engine, the admin API, the service adapters).
package eventid

import "github.com/google/uuid"

// New returns a time-ordered UUIDv7 for an audit event (RFC 9562 §5.7).
func New() string {
	id, err := uuid.NewV7()
	if err != nil {
		return uuid.NewString()
	}
	return id.String()
}
