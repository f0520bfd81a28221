package audit

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// RetentionDetails is the Details object of an audit.retention event.
type RetentionDetails struct {
	// Dropped is how many events this drop removed.
	Dropped uint64 `json:"dropped"`
	// UpTo is the last dropped event's position: the new retention anchor.
	UpTo Anchor `json:"up_to"`
	// Before is the retention cut-off: segments whose newest event is older
	// were dropped.
	Before time.Time `json:"before"`
}

// ErrNotRetention is returned by ParseRetention for other kinds of event.
var ErrNotRetention = errors.New("not an audit.retention event")

// RetentionEvent builds the (unsealed, unidentified) event recording that
// dropped events of tenantID up to and including upTo were removed because
// they were older than before. Log.Retain builds it for the store; use
// Log.Prepare to give it an ID and time.
func RetentionEvent(tenantID string, dropped uint64, upTo Anchor, before time.Time, actor Actor) (Event, error) {
	d, err := Details(RetentionDetails{Dropped: dropped, UpTo: upTo, Before: before.UTC()})
	if err != nil {
		return Event{}, fmt.Errorf("building retention event: %w", err)
	}
	return Event{
		TenantID: tenantID,
		Kind:     KindRetention,
		Actor:    actor,
		Subject:  Subject{Type: SubjectAuditLog, ID: tenantID},
		Action:   "delete",
		Details:  d,
	}, nil
}

// ParseRetention decodes the Details of an audit.retention event.
func ParseRetention(e *Event) (RetentionDetails, error) {
	if e.Kind != KindRetention {
		return RetentionDetails{}, ErrNotRetention
	}
	var d RetentionDetails
	if err := json.Unmarshal(e.Details, &d); err != nil {
		return RetentionDetails{}, fmt.Errorf("decoding retention details: %w", err)
	}
	return d, nil
}
