package certs

import (
	"fmt"
	"time"

	"github.com/hellomdm/hellomdm/device/enroll"
)

// Automatic certificate renewal (Renew On Behalf Of): when the device renews by itself.

// State is where a certificate stands in automatic renewal.
type State int

const (
	Off     State = iota // ROBOSupport is false: the device does not renew by itself
	Waiting              // renewal is due later (renewal period not reached, or a retry pending)
	Due                  // renew now
	Stopped              // the certificate expires before the next attempt, or has expired
)

func (s State) String() string {
	switch s {
	case Off:
		return "off"
	case Waiting:
		return "waiting"
	case Due:
		return "due"
	case Stopped:
		return "stopped"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// Plan decides the automatic renewal of a certificate valid from notBefore to notAfter,
// at time now, under schedule s, lastFailure being the last failed automatic attempt (zero:
// none). next is when renewal is due (states waiting and due), zero otherwise.
//
//   - ROBOSupport false: off (certificatestore-csp ROBOSupport).
//   - Renewal starts RenewPeriod days before notAfter (certificatestore-csp RenewPeriod), but
//     not before the middle of the certificate's lifetime. That floor is hellomdm's choice: a
//     RenewPeriod longer than the lifetime would otherwise renew every new certificate at once,
//     at every poll.
//   - After a failure the next attempt is RetryInterval days later, not at the next poll
//     (certificatestore-csp RetryInterval). A failure before notBefore was for an earlier
//     certificate and does not count.
//   - Attempts stop at notAfter: retries stop at the certificate's expiration and Windows does
//     not renew an expired certificate automatically (certificate-renewal-windows-mdm,
//     "Certificate renewal schedule configuration"; hellomdm provisions no
//     RetryAfterExpiryInterval).
//
// RenewPeriod and RetryInterval outside the CSP range 1–1000 are clamped into it.
func Plan(now, notBefore, notAfter time.Time, s enroll.RenewSchedule, lastFailure time.Time) (state State, next time.Time) {
	if !s.ROBOSupport {
		return Off, time.Time{}
	}
	days := func(n int) time.Duration { return time.Duration(min(max(n, 1), enroll.MaxRenewDays)) * 24 * time.Hour }
	next = notAfter.Add(-days(s.RenewPeriod))
	if mid := notBefore.Add(notAfter.Sub(notBefore) / 2); next.Before(mid) {
		next = mid
	}
	if !lastFailure.IsZero() && !lastFailure.Before(notBefore) {
		if retry := lastFailure.Add(days(s.RetryInterval)); retry.After(next) {
			next = retry
		}
	}
	switch {
	case !now.Before(notAfter) || !next.Before(notAfter):
		return Stopped, time.Time{}
	case now.Before(next):
		return Waiting, next
	}
	return Due, next
}
