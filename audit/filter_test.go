package audit

import (
	"errors"
	"testing"
	"time"
)

func TestFilterMatch(t *testing.T) {
	t0 := time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC)
	e := sampleEvent(0, "t", t0)
	e.Kind = KindPINResetRequested
	e.DeviceID, e.ProfileID, e.Actor.ID = "dev-1", "prof-1", "alice"
	tests := []struct {
		name string
		f    Filter
		want bool
	}{
		{"zero filter", Filter{}, true},
		{"at From included", Filter{From: t0}, true},
		{"just before From", Filter{From: t0.Add(time.Nanosecond)}, false},
		{"at To excluded", Filter{To: t0}, false},
		{"just before To", Filter{To: t0.Add(time.Nanosecond)}, true},
		{"inside range", Filter{From: t0.Add(-time.Hour), To: t0.Add(time.Hour)}, true},
		{"From in other zone same instant", Filter{From: t0.In(time.FixedZone("X", -7200))}, true},
		{"kind listed", Filter{Kinds: []Kind{KindAdminWrite, KindPINResetRequested}}, true},
		{"kind not listed", Filter{Kinds: []Kind{KindPINResetSucceeded}}, false},
		{"device match", Filter{DeviceID: "dev-1"}, true},
		{"device mismatch", Filter{DeviceID: "dev-2"}, false},
		{"profile mismatch", Filter{ProfileID: "prof-2"}, false},
		{"actor match", Filter{ActorID: "alice"}, true},
		{"actor mismatch", Filter{ActorID: "bob"}, false},
		{"all conditions", Filter{From: t0, To: t0.Add(1), Kinds: []Kind{KindPINResetRequested}, DeviceID: "dev-1", ProfileID: "prof-1", ActorID: "alice"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.f.Match(&e); got != tt.want {
				t.Fatalf("Match = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestFilterValidate(t *testing.T) {
	t0 := time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		f    Filter
		ok   bool
	}{
		{"zero", Filter{}, true},
		{"range", Filter{From: t0, To: t0.Add(1)}, true},
		{"empty range", Filter{From: t0, To: t0}, false},
		{"inverted", Filter{From: t0.Add(1), To: t0}, false},
		{"unknown kind", Filter{Kinds: []Kind{"nope"}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.f.Validate()
			if (err == nil) != tt.ok || (err != nil && !errors.Is(err, ErrBadFilter)) {
				t.Fatalf("Validate = %v, want ok %v", err, tt.ok)
			}
		})
	}
}
