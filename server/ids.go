package server

import "github.com/google/uuid"

// newEventID returns a time-ordered UUIDv7 for an audit event (RFC 9562 §5.7).
func newEventID() string {
	id, err := uuid.NewV7()
	if err != nil {
		return uuid.NewString()
	}
	return id.String()
}
