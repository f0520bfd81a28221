package device

import (
	"context"
	"errors"
	"time"
)

// nextPoll returns the wait before poll number n (0-based, after the first session) under
// the DMClient schedule (dmclient-csp Poll): NumberOfFirstRetries at the first interval, then
// NumberOfSecondRetries at the second, then NumberOfRemainingScheduledRetries (0 = forever)
// at the third. ok=false when the schedule is spent. Intervals below one minute count as one
// (docs/protocol.md A.9).
func (p PollSchedule) nextPoll(n int) (minutes int, ok bool) {
	steps := []struct{ count, interval int }{
		{p.NumberOfFirstRetries, p.IntervalForFirstSetOfRetries},
		{p.NumberOfSecondRetries, p.IntervalForSecondSetOfRetries},
		{p.NumberOfRemainingScheduledRetries, p.IntervalForRemainingScheduledRetries},
	}
	for i, st := range steps {
		if i == len(steps)-1 && st.count == 0 {
			return max(st.interval, 1), true
		}
		if n < st.count {
			return max(st.interval, 1), true
		}
		n -= st.count
	}
	return 0, false
}

// Run syncs now and then on the DMClient poll schedule until ctx is done (it then returns
// nil) or the server refuses the device (a *RefusedError, or ErrNotEnrolled after an
// unenrollment). Failed sessions are logged and retried at the next poll. Before each
// session it renews the certificate when the enrollment's RenewSchedule says so (ROBO
// renewal; see renewalPlan); a failed renewal is logged and the session goes ahead with the
// current certificate.
func (a *Agent) Run(ctx context.Context) error {
	a.log.Info("checking in on the DMClient poll schedule until interrupted", "device", a.Identity().DeviceID)
	for n := -1; ; n++ {
		if n >= 0 {
			minutes, ok := a.PollSchedule().nextPoll(n)
			if !ok {
				a.log.Info("poll schedule spent")
				<-ctx.Done()
				return nil
			}
			t := time.NewTimer(time.Duration(minutes) * a.opts.PollUnit)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil
			case <-t.C:
			}
		}
		a.autoRenew(ctx) // before the session, so that it presents the renewed certificate
		rep, err := a.Sync(ctx)
		var refused *RefusedError
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, ErrNotEnrolled), errors.As(err, &refused):
			a.log.Error("session refused; stopping", "err", err)
			return err
		case err != nil:
			a.log.Warn("session failed; retrying at the next poll", "err", err)
		default:
			a.log.Info("session done", "session", rep.SessionID, "commands", len(rep.Applied), "changed", len(rep.Changed))
		}
		if rep.Unenrolled {
			return nil
		}
	}
}
