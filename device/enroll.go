package device

import (
	"context"
	"fmt"

	"github.com/hellomdm/hellomdm/device/certs"
	"github.com/hellomdm/hellomdm/device/enroll"
	"github.com/hellomdm/hellomdm/device/omadm"
	"github.com/hellomdm/hellomdm/device/resetpolicy"
)

// Enroll runs MS-MDE2 enrollment (enroll.Enroll: GET probe, Discover, (Federated: web
// sign-in), GetPolicies, RequestSecurityToken with a fresh key and CSR, checks of the
// provisioning document); then it seeds the DMClient nodes and persists everything. Nothing
// is persisted when any step fails. SOAP faults come back as *enroll.FaultError.
func (a *Agent) Enroll(ctx context.Context, req enroll.Request) error {
	a.syncMu.Lock()
	defer a.syncMu.Unlock()
	if a.Enrollment().State == enroll.StateEnrolled {
		return fmt.Errorf("enrolling: %w", enroll.ErrEnrolled)
	}
	res, err := enroll.Enroll(ctx, enroll.Config{Identity: a.Identity(), Rand: a.opts.Rand, Log: a.log, Timeout: a.opts.HTTPTimeout}, req)
	if err != nil {
		return err
	}
	return a.commitEnrollment(res)
}

// commitEnrollment persists the enrollment: key, certificates, CSP seeds, DMClient state,
// and last the enrollment record, which is the commit point (a crash before it leaves the
// device not enrolled).
func (a *Agent) commitEnrollment(res *enroll.Result) error {
	enr, p := res.Enrollment, res.Provisioning
	if err := certs.Save(a.dir, res.Key, p.ClientCert, p.RootCA); err != nil {
		return fmt.Errorf("enrolling: %w", err)
	}
	id := a.Identity()
	prov := omadm.DMClientRoot + "/Provider/" + enr.ProviderID
	seeds := [][2]string{{prov + "/EntDMID", orDefault(p.EntDMID, id.DeviceID)}, {prov + "/UPN", enr.UPN}}
	if p.EntDeviceName != "" {
		seeds = append(seeds, [2]string{prov + "/EntDeviceName", p.EntDeviceName})
	}
	poll := p.Poll
	if p.HasPoll {
		for _, kv := range [][2]any{
			{"NumberOfFirstRetries", poll.NumberOfFirstRetries}, {"IntervalForFirstSetOfRetries", poll.IntervalForFirstSetOfRetries},
			{"NumberOfSecondRetries", poll.NumberOfSecondRetries}, {"IntervalForSecondSetOfRetries", poll.IntervalForSecondSetOfRetries},
			{"NumberOfRemainingScheduledRetries", poll.NumberOfRemainingScheduledRetries},
			{"IntervalForRemainingScheduledRetries", poll.IntervalForRemainingScheduledRetries},
			{"PollOnLogin", poll.PollOnLogin},
		} {
			seeds = append(seeds, [2]string{prov + "/Poll/" + kv[0].(string), fmt.Sprint(kv[1])})
		}
	}
	seeds = append(seeds, certs.Seeds(enr)...)
	if enr.TenantID != "" {
		// The tenant's PassportForWork node exists on a device registered to it, so the
		// server can Replace its policies directly (a Replace under a never-added dynamic
		// node answers 405, docs/protocol.md B.6); so does the enrolled user's, under ./User
		// (user-scope policies, e.g. imported from a GPO's User Configuration).
		seeds = append(seeds, [2]string{resetpolicy.PassportDevice + "/" + enr.TenantID + "/Policies", ""},
			[2]string{resetpolicy.PassportUser + "/" + enr.TenantID + "/Policies", ""})
	}
	for _, kv := range seeds {
		if err := a.tree.Set(kv[0], kv[1]); err != nil {
			return fmt.Errorf("enrolling: seeding %s: %w", kv[0], err)
		}
	}
	a.pol.SetTenant(enr.TenantID)
	a.mu.Lock()
	defer a.mu.Unlock()
	if p.HasPoll {
		a.dm.Poll = poll
	}
	if err := a.saveDMClientLocked(); err != nil {
		return fmt.Errorf("enrolling: %w", err)
	}
	enr.State = enroll.StateEnrolled
	enr.EnrolledAt = a.opts.Now().UTC()
	prev := a.enr
	a.enr = enr
	if err := a.saveEnrollmentLocked(); err != nil {
		a.enr = prev
		return fmt.Errorf("enrolling: %w", err)
	}
	a.log.Info("enrolled", "device", id.DeviceID, "server", enr.ManagementURL, "provider", enr.ProviderID, "tenant", enr.TenantID)
	return nil
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
