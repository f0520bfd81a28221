package audit

import (
	"errors"
	"slices"
	"time"
)

// Filter selects events for export. Zero fields select everything.
type Filter struct {
	From      time.Time // inclusive; zero = open
	To        time.Time // exclusive; zero = open
	Kinds     []Kind    // any of these; empty = all
	DeviceID  string
	ProfileID string
	ActorID   string
}

// ErrBadFilter is wrapped by Filter.Validate errors.
var ErrBadFilter = errors.New("bad audit filter")

// Validate rejects an empty or inverted time range and unknown kinds.
func (f Filter) Validate() error {
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		return &EventError{"filter.time", ErrBadFilter}
	}
	for _, k := range f.Kinds {
		if !k.Valid() {
			return &EventError{"filter.kind", errors.Join(ErrBadFilter, ErrUnknownKind)}
		}
	}
	return nil
}

// Match reports whether e passes every condition of f: From <= Time < To,
// Kind in Kinds, and equal DeviceID, ProfileID and Actor.ID where set.
func (f Filter) Match(e *Event) bool {
	switch {
	case !f.From.IsZero() && e.Time.Before(f.From),
		!f.To.IsZero() && !e.Time.Before(f.To),
		f.DeviceID != "" && e.DeviceID != f.DeviceID,
		f.ProfileID != "" && e.ProfileID != f.ProfileID,
		f.ActorID != "" && e.Actor.ID != f.ActorID,
		len(f.Kinds) > 0 && !slices.Contains(f.Kinds, e.Kind):
		return false
	}
	return true
}
