package device

import (
	"context"
	"errors"
	"time"

	"github.com/hellomdm/hellomdm/device/enroll"
	"github.com/hellomdm/hellomdm/device/omadm"
	"github.com/hellomdm/hellomdm/device/push"
)

// DefaultPushCoalesce is how long Run waits after a wake-up for more before it starts the
// session (Options.PushCoalesce).
const DefaultPushCoalesce = 200 * time.Millisecond

// Run syncs now and then on the DMClient poll schedule until ctx is done (it then returns
// nil) or the server refuses the device (an *omadm.RefusedError, or enroll.ErrNotEnrolled after an
// unenrollment). Failed sessions are logged and retried at the next poll. Before each
// session it renews the certificate when the enrollment's RenewSchedule says so (ROBO
// renewal; see certs.Plan); a failed renewal is logged and the session goes ahead with the
// current certificate.
//
// With Options.PushChannel it also holds the server's built-in push channel (device/push)
// and starts a session when woken, as Windows does on a WNS notification: wake-ups that
// arrive within Options.PushCoalesce of each other, or while a session runs, make one
// session. A woken session does not move the poll schedule, which stays the fallback.
func (a *Agent) Run(ctx context.Context) error {
	a.log.Info("checking in on the DMClient poll schedule until interrupted", "device", a.Identity().DeviceID, "push", a.opts.PushChannel)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wake := a.holdPushChannel(ctx)
	var poll <-chan time.Time
	var pollTimer *time.Timer
	defer func() {
		if pollTimer != nil {
			pollTimer.Stop()
		}
	}()
	for n := 0; ; {
		if err, stop := a.runSession(ctx); stop {
			return err
		}
		if poll == nil {
			minutes, ok := a.PollSchedule().Next(n)
			if ok {
				pollTimer = time.NewTimer(time.Duration(minutes) * a.opts.PollUnit)
				poll = pollTimer.C
			} else {
				a.log.Info("poll schedule spent")
				poll = make(chan time.Time) // never fires; wake-ups still do
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-poll:
			poll, n = nil, n+1
		case reason := <-wake:
			a.log.Info("woken by the server", "reason", reason)
			a.coalesce(ctx, wake)
		}
	}
}

// runSession renews when due and runs one session; stop says Run must return err.
func (a *Agent) runSession(ctx context.Context) (error, bool) {
	a.autoRenew(ctx) // before the session, so that it presents the renewed certificate
	rep, err := a.Sync(ctx)
	var refused *omadm.RefusedError
	switch {
	case ctx.Err() != nil:
		return nil, true
	case errors.Is(err, enroll.ErrNotEnrolled), errors.As(err, &refused):
		a.log.Error("session refused; stopping", "err", err)
		return err, true
	case err != nil:
		a.log.Warn("session failed; retrying at the next poll", "err", err)
	default:
		a.log.Info("session done", "session", rep.SessionID, "commands", len(rep.Applied), "changed", len(rep.Changed))
	}
	return nil, rep.Unenrolled
}

// coalesce waits PushCoalesce for further wake-ups and drops them: one session serves all.
func (a *Agent) coalesce(ctx context.Context, wake <-chan string) {
	t := time.NewTimer(a.opts.PushCoalesce)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-wake:
		case <-t.C:
			return
		}
	}
}

// holdPushChannel starts holding the push channel when Options.PushChannel is set, and
// returns the channel its wake-ups arrive on (nil, which never delivers, otherwise). The
// channel holds one wake-up: those arriving while one waits are the same wake-up.
func (a *Agent) holdPushChannel(ctx context.Context) <-chan string {
	if !a.opts.PushChannel {
		return nil
	}
	enr := a.Enrollment()
	u, err := push.ChannelURL(enr.ManagementURL, enr.TenantID)
	if err != nil {
		a.log.Warn("no push channel; polling only", "err", err)
		return nil
	}
	wake := make(chan string, 1)
	c := &push.Client{URL: u, Credentials: a.credentials, Log: a.log, MinBackoff: a.opts.PushMinBackoff,
		OnWake: func(reason string) {
			select {
			case wake <- reason:
			default:
			}
		},
		OnConnected: func(up bool) { a.log.Debug("push channel", "up", up) },
	}
	go func() { _ = c.Run(ctx) }()
	return wake
}
