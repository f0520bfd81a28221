package device

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/hellomdm/hellomdm/device/enroll"
	"github.com/hellomdm/hellomdm/device/internal/httpx"
	"github.com/hellomdm/hellomdm/device/omadm"
)

// Sync runs one OMA-DM session to completion (MS-MDM; docs/protocol.md B): package 1, then one
// message per server reply, executing each command through the CSP tree and answering with
// Status and Results, until a reply carries no new commands. A malformed reply or an HTTP
// error ends the session with an error; changes already applied stay applied, as on
// Windows.
func (a *Agent) Sync(ctx context.Context) (omadm.Report, error) {
	rep, err := a.session(ctx, false)
	if a.takeRenewNow() && err == nil && !rep.Unenrolled {
		a.renewRequested(ctx)
	}
	return rep, err
}

// Unenroll tells the server in a new session (Alert 1226 com.microsoft:mdm.unenrollment.userrequest,
// MS-MDM; docs/protocol.md B.9) and marks the device unenrolled. Windows does this best effort
// without retry, and so does the agent: the device is unenrolled locally even when the
// server cannot be told, and the error says so.
func (a *Agent) Unenroll(ctx context.Context) error {
	_, err := a.session(ctx, true)
	if errors.Is(err, enroll.ErrNotEnrolled) {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.enr.State == enroll.StateEnrolled {
		if uerr := a.markUnenrolledLocked(); uerr != nil {
			return errors.Join(err, uerr)
		}
	}
	if err != nil {
		return fmt.Errorf("unenrolled locally; telling the server failed: %w", err)
	}
	return nil
}

func (a *Agent) markUnenrolledLocked() error {
	prev := a.enr
	a.enr.State = enroll.StateUnenrolled
	a.enr.UnenrolledAt = a.opts.Now().UTC()
	if err := a.saveEnrollmentLocked(); err != nil {
		a.enr = prev
		return err
	}
	a.log.Info("unenrolled", "device", a.id.DeviceID)
	return nil
}

// session runs one OMA-DM session (omadm.Run); unenroll adds the unenrollment alert to
// package 1. The SessionID counter advances when the session starts, also when it then fails.
func (a *Agent) session(ctx context.Context, unenroll bool) (omadm.Report, error) {
	a.syncMu.Lock()
	defer a.syncMu.Unlock()
	cert, roots, err := a.credentials()
	if err != nil {
		return omadm.Report{}, fmt.Errorf("starting session: %w", err)
	}
	a.mu.Lock()
	a.dm.SessionCounter++
	a.unenroll = false
	if err := a.saveDMClientLocked(); err != nil {
		a.dm.SessionCounter--
		a.mu.Unlock()
		return omadm.Report{}, fmt.Errorf("starting session: %w", err)
	}
	cfg := omadm.Session{
		Client: httpx.Client(roots, &cert, a.opts.HTTPTimeout), ManagementURL: a.enr.ManagementURL,
		SessionID: strconv.Itoa(a.dm.SessionCounter), Identity: a.id, Tree: a.tree,
		MaxMsgSize: a.opts.MaxMsgSize, LoginStatus: a.opts.LoginStatus, Unenroll: unenroll,
		Reported: a.hm.Reported, Rand: a.opts.Rand, Now: a.opts.Now, Log: a.log,
	}
	a.mu.Unlock()
	rep, runErr := omadm.Run(ctx, cfg)

	a.mu.Lock()
	defer a.mu.Unlock()
	if runErr == nil && (a.unenroll || unenroll) && a.enr.State == enroll.StateEnrolled {
		if err := a.markUnenrolledLocked(); err != nil {
			return rep, err
		}
		rep.Unenrolled = true
	}
	return rep, runErr
}
