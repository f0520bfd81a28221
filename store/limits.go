package store

import "fmt"

// Limits every backend applies the same way (the conformance suite checks them).
const (
	// MaxSessions is how many OMA-DM sessions are kept per device; writing a new one
	// deletes the least recently updated beyond this many.
	MaxSessions = 8
	// AuditSegmentSize is the retention unit of an audit chain, in sequence numbers: a
	// segment is dropped only when it is complete and every event in it is old enough.
	AuditSegmentSize = 1000
	// MaxIDLen bounds identifiers (tenant, device, user, command IDs) in bytes.
	MaxIDLen = 1024
)

// CheckID refuses an empty identifier or one longer than MaxIDLen; what names it in the
// error ("device id").
func CheckID(what, id string) error {
	switch {
	case id == "":
		return fmt.Errorf("empty %s", what)
	case len(id) > MaxIDLen:
		return fmt.Errorf("%s longer than %d bytes", what, MaxIDLen)
	}
	return nil
}
