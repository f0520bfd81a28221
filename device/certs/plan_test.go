package certs

import (
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/device/enroll"
)

const day = 24 * time.Hour

func TestRenewalPlan(t *testing.T) {
	t0 := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	nb, na := t0.Add(-300*day), t0.Add(65*day) // a one-year certificate, 65 days left at t0
	hellomdm := enroll.RenewSchedule{ROBOSupport: true, RenewPeriod: 60, RetryInterval: 4}
	start := na.Add(-60 * day) // t0 + 5 days
	for _, tc := range []struct {
		name        string
		now, nb, na time.Time
		s           enroll.RenewSchedule
		lastFailure time.Time
		wantState   State
		wantNext    time.Time
	}{
		{"outside the renewal period", t0, nb, na, hellomdm, time.Time{}, Waiting, start},
		{"first moment of the renewal period", start, nb, na, hellomdm, time.Time{}, Due, start},
		{"inside the renewal period", start.Add(20 * day), nb, na, hellomdm, time.Time{}, Due, start},
		{"failure within RetryInterval", start.Add(3 * day), nb, na, hellomdm, start.Add(day), Waiting, start.Add(5 * day)},
		{"failure RetryInterval ago", start.Add(5 * day), nb, na, hellomdm, start.Add(day), Due, start.Add(5 * day)},
		{"failure before the certificate was issued does not count", start.Add(day), nb, na, hellomdm, nb.Add(-time.Hour), Due, start},
		{"retry would come after expiry", na.Add(-2 * day), nb, na, hellomdm, na.Add(-3 * day), Stopped, time.Time{}},
		{"expired", na.Add(time.Second), nb, na, hellomdm, time.Time{}, Stopped, time.Time{}},
		{"expired at NotAfter", na, nb, na, hellomdm, time.Time{}, Stopped, time.Time{}},
		{"ROBOSupport off inside the renewal period", start.Add(20 * day), nb, na, enroll.RenewSchedule{RenewPeriod: 60, RetryInterval: 4}, time.Time{}, Off, time.Time{}},
		{"ROBOSupport off after expiry", na.Add(day), nb, na, enroll.RenewSchedule{RenewPeriod: 60, RetryInterval: 4}, time.Time{}, Off, time.Time{}},
		{"period longer than a 30-day lifetime: not before the middle", t0.Add(5 * day), t0, t0.Add(30 * day), hellomdm, time.Time{}, Waiting, t0.Add(15 * day)},
		{"period longer than a 30-day lifetime: after the middle", t0.Add(16 * day), t0, t0.Add(30 * day), hellomdm, time.Time{}, Due, t0.Add(15 * day)},
		{"RetryInterval 0 is taken as 1 day", start.Add(12 * time.Hour), nb, na, enroll.RenewSchedule{ROBOSupport: true, RenewPeriod: 60}, start, Waiting, start.Add(day)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			state, next := Plan(tc.now, tc.nb, tc.na, tc.s, tc.lastFailure)
			if state != tc.wantState || !next.Equal(tc.wantNext) {
				t.Errorf("Plan = %s, %v; want %s, %v", state, next, tc.wantState, tc.wantNext)
			}
		})
	}
}
