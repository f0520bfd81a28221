package audit

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestUUIDv7Monotonic(t *testing.T) {
	tests := []struct {
		name string
		step time.Duration // clock change between IDs
	}{
		{"advancing clock", time.Millisecond},
		{"stalled clock", 0},
		{"sub-millisecond steps", 7 * time.Microsecond},
		{"clock going backwards", -time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			g := NewIDGenerator(clock.Now, seededRand(2))
			start := clock.Now()
			prev := ""
			for i := 0; i < 10000; i++ { // > 4096: the counter overflows on a stalled clock
				id, err := g.New()
				if err != nil {
					t.Fatal(err)
				}
				u, ts, err := ParseUUIDv7(id)
				if err != nil {
					t.Fatalf("ParseUUIDv7(%q): %v", id, err)
				}
				if u[6]>>4 != 7 || u[8]>>6 != 2 {
					t.Fatalf("%s: version/variant bits wrong", id)
				}
				if id <= prev {
					t.Fatalf("id %d %s not above %s", i, id, prev)
				}
				if tt.step > 0 && ts.After(clock.Now()) {
					t.Fatalf("timestamp %v ahead of clock %v", ts, clock.Now())
				}
				if ts.Before(start.Truncate(time.Millisecond)) {
					t.Fatalf("timestamp %v before start %v", ts, start)
				}
				prev = id
				clock.Advance(tt.step)
			}
		})
	}
}

func TestUUIDv7Timestamp(t *testing.T) {
	clock := newFakeClock()
	g := NewIDGenerator(clock.Now, seededRand(3))
	id, err := g.New()
	if err != nil {
		t.Fatal(err)
	}
	_, ts, err := ParseUUIDv7(id)
	if err != nil || !ts.Equal(clock.Now().Truncate(time.Millisecond)) {
		t.Fatalf("ts = %v, %v; want %v", ts, err, clock.Now())
	}
}

type failReader struct{}

func (failReader) Read([]byte) (int, error) { return 0, errors.New("no entropy") }

func TestUUIDv7Errors(t *testing.T) {
	if _, err := NewIDGenerator(time.Now, failReader{}).New(); err == nil {
		t.Error("no error on failing randomness")
	}
	past := func() time.Time { return time.Unix(-1, 0) }
	if _, err := NewIDGenerator(past, seededRand(1)).New(); err == nil {
		t.Error("no error on pre-1970 clock")
	}
}

func TestParseUUIDv7(t *testing.T) {
	tests := []struct {
		name, in string
		ok       bool
	}{
		{"valid", "0195ee3e-9a5c-7b2d-8f00-0123456789ab", true},
		{"upper case", "0195EE3E-9A5C-7B2D-8F00-0123456789AB", true},
		{"version 4", "0195ee3e-9a5c-4b2d-8f00-0123456789ab", false},
		{"bad variant", "0195ee3e-9a5c-7b2d-cf00-0123456789ab", false},
		{"no dashes", "0195ee3e9a5c7b2d8f000123456789ab", false},
		{"short", "0195ee3e-9a5c-7b2d-8f00-0123456789a", false},
		{"not hex", "0195ee3e-9a5c-7b2d-8f00-0123456789ag", false},
		{"empty", "", false},
		{"dash moved", "0195ee3e9-a5c-7b2d-8f00-0123456789ab", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := ParseUUIDv7(tt.in)
			if (err == nil) != tt.ok {
				t.Fatalf("ParseUUIDv7(%q) = %v, want ok %v", tt.in, err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrBadUUID) {
				t.Fatalf("error %v does not wrap ErrBadUUID", err)
			}
		})
	}
}

func FuzzParseUUIDv7(f *testing.F) {
	f.Add("0195ee3e-9a5c-7b2d-8f00-0123456789ab")
	f.Add("0195ee3e-9a5c-4b2d-8f00-0123456789ab")
	f.Fuzz(func(t *testing.T, s string) {
		u, _, err := ParseUUIDv7(s)
		if err != nil {
			return
		}
		if got := formatUUID(u); got != strings.ToLower(s) {
			t.Fatalf("round trip %q -> %q", s, got)
		}
	})
}
