package device

import (
	"context"
	"errors"
	"time"

	"github.com/hellomdm/hellomdm/device/enroll"
	"github.com/hellomdm/hellomdm/device/omadm"
)

// Run syncs now and then on the DMClient poll schedule until ctx is done (it then returns
// nil) or the server refuses the device (an *omadm.RefusedError, or enroll.ErrNotEnrolled after an
// unenrollment). Failed sessions are logged and retried at the next poll. Before each
// session it renews the certificate when the enrollment's RenewSchedule says so (ROBO
// renewal; see certs.Plan); a failed renewal is logged and the session goes ahead with the
// current certificate.
func (a *Agent) Run(ctx context.Context) error {
	a.log.Info("checking in on the DMClient poll schedule until interrupted", "device", a.Identity().DeviceID)
	for n := -1; ; n++ {
		if n >= 0 {
			minutes, ok := a.PollSchedule().Next(n)
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
		var refused *omadm.RefusedError
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, enroll.ErrNotEnrolled), errors.As(err, &refused):
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
