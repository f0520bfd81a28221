package server

import "github.com/hellomdm/hellomdm/internal/eventid"

// newEventID returns a time-ordered UUIDv7 for an audit event (eventid.New).
func newEventID() string { return eventid.New() }
