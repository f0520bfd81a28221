package device

import (
	"fmt"
	"strings"
	"time"

	"github.com/hellomdm/hellomdm/device/certs"
	"github.com/hellomdm/hellomdm/device/enroll"
	"github.com/hellomdm/hellomdm/device/hello"
	"github.com/hellomdm/hellomdm/device/identity"
)

// Status renders a `dsregcmd /status`-style report: the Device State block, while enrolled an
// MDM Certificate block (expiry and automatic renewal), the User State block of the enrolled
// user (device/hello FormatUserState: NgcSet, NgcKeyId, CanReset, …), a PIN Reset block saying
// whether the PIN reset protector exists or why not, and a Policy block with the reset
// agent's policy.
func (a *Agent) Status() (string, error) {
	id, enr, pol := a.Identity(), a.Enrollment(), a.Policy()
	st, err := a.hm.HelloState()
	if err != nil {
		return "", err
	}
	prot, err := a.ProtectorStatus()
	if err != nil {
		return "", err
	}
	var b strings.Builder
	join := a.Join()
	// The three join lines of dsregcmd's Device State: AzureAdJoined for Entra joined and
	// hybrid joined devices, DomainJoined for hybrid and on-premises domain joined ones;
	// EnterpriseJoined is the on-premises AD FS device registration, which hellomdm does not
	// simulate (MDM enrollment is EnrollmentState below). An Entra registered device shows
	// NO in all three and WorkplaceJoined : YES in User State.
	azureAD := join.Join == hello.AzureADJoined || join.Join == hello.HybridJoined
	domain := join.Join == hello.HybridJoined || join.Join == hello.OnPremises
	section(&b, "Device State", [][2]string{
		{"AzureAdJoined", yesNo(azureAD)},
		{"EnterpriseJoined", "NO"},
		{"DomainJoined", yesNo(domain)},
		{"DeviceId", id.DeviceID},
		{"DeviceName", id.DeviceName},
		{"OSVersion", id.OSVersion + " (" + id.OSPlatform() + ")"},
		{"TenantId", enr.TenantID},
		{"MdmUrl", enr.ManagementURL},
		{"EnrollmentState", enr.State},
	})
	if enr.State == enroll.StateEnrolled {
		section(&b, "MDM Certificate", a.certificateStatus(enr))
	}
	b.WriteString(hello.FormatUserState(userStateReport(st, join)))
	b.WriteString("\n")
	nd := "available"
	if st.NgcSet && st.CanReset != hello.CanResetDestructiveAndNonDestructive {
		nd = "unavailable: " + st.CanResetReason
	} else if !st.NgcSet {
		nd = "-"
	}
	svc := a.ServiceAvailability()
	if svc == "" {
		svc = "not known yet (learned at the next sync)"
	}
	section(&b, "PIN Reset", [][2]string{
		{"TrustType", join.Trust.String()},
		{"AccountType", join.Account.String()},
		{"NonDestructiveReset", nd},
		{"PinResetService", svc},
		{"PinResetProtector", prot.String()},
	})
	pc := pol.PINComplexity.Effective()
	section(&b, "Policy", [][2]string{
		{"EnablePinRecovery", yesNo(pol.PINRecoveryEnabled)},
		{"UsePassportForWork", yesNo(pol.UsePassportForWork)},
		{"RequireSecurityDevice", yesNo(pol.RequireSecurityDevice)},
		{"ConfigureWebSignInAllowedUrls", strings.Join(pol.WebSignInAllowedURLs, ";")},
		{"PINLength", fmt.Sprintf("%d-%d", pc.MinimumPINLength, pc.MaximumPINLength)},
		{"PINUppercaseLetters", pc.UppercaseLetters.String()},
		{"PINLowercaseLetters", pc.LowercaseLetters.String()},
		{"PINSpecialCharacters", pc.SpecialCharacters.String()},
		{"PINDigits", pc.Digits.String()},
		{"PINHistory", fmt.Sprint(pc.History)},
		{"PINExpiration", fmt.Sprint(pc.Expiration)},
	})
	return b.String(), nil
}

// userStateReport fills the dsregcmd User State lines that follow from the join state:
// WorkplaceJoined is YES on an Entra registered device (a work account added to it); the
// default web account (WamDefault*) is the work account's Entra provider on Entra joined and
// hybrid joined devices and the Microsoft account provider for a Microsoft account; on an
// Entra registered device with a work account, and on a device joined only to an on-premises
// domain, no default web account is set.
func userStateReport(st hello.UserState, j identity.JoinState) hello.UserStateReport {
	r := hello.UserStateReport{UserState: st, WorkplaceJoined: j.Join == hello.EntraRegistered}
	switch {
	case j.Account == hello.MicrosoftAccount:
		r.WamDefaultSet, r.WamDefaultAuthority, r.WamDefaultID = true, "consumers", "https://login.microsoft.com"
	case j.Join == hello.AzureADJoined || j.Join == hello.HybridJoined:
		r.WamDefaultSet, r.WamDefaultAuthority, r.WamDefaultID = true, "organizations", "https://login.microsoft.com"
		r.WamDefaultGUID = "{B16898C6-A4DD-4E4C-A8B3-3B9B4B2D8D1F} (AzureAd)"
	}
	return r
}

// section writes a dsregcmd-style boxed block with right-aligned names.
func section(b *strings.Builder, title string, fields [][2]string) {
	border := "+" + strings.Repeat("-", 70) + "+\n"
	b.WriteString(border)
	fmt.Fprintf(b, "| %-69s|\n", title)
	b.WriteString(border)
	b.WriteString("\n")
	for _, f := range fields {
		fmt.Fprintf(b, "%30s : %s\n", f[0], f[1])
	}
	b.WriteString("\n")
	b.WriteString(border)
	b.WriteString("\n")
}

// certificateStatus lists the enrollment certificate's expiry and its automatic renewal
// (certs.Plan) for the MDM Certificate block.
func (a *Agent) certificateStatus(enr enroll.Enrollment) [][2]string {
	cert, err := a.currentCertificate()
	if err != nil {
		return [][2]string{{"CertExpiry", "unknown: " + err.Error()}}
	}
	s, now := enr.RenewSchedule(), a.opts.Now()
	state, next := certs.Plan(now, cert.NotBefore, cert.NotAfter, s, enr.LastRenewalFailure)
	renewal := fmt.Sprintf("on (from %d days before expiry, retry every %d days)", s.RenewPeriod, s.RetryInterval)
	var nextText string
	switch state {
	case certs.Off:
		renewal, nextText = "off (ROBOSupport false)", "-"
	case certs.Waiting:
		nextText = next.UTC().Format(time.RFC3339)
	case certs.Due:
		nextText = "due now"
	case certs.Stopped:
		nextText = "none before expiry"
		if !now.Before(cert.NotAfter) {
			nextText = "none: the certificate has expired"
		}
	}
	lastFailure := "-"
	if !enr.LastRenewalFailure.IsZero() {
		lastFailure = enr.LastRenewalFailure.UTC().Format(time.RFC3339)
	}
	return [][2]string{
		{"CertThumbprint", enr.CertThumbprint},
		{"CertExpiry", cert.NotAfter.UTC().Format(time.RFC3339)},
		{"AutoRenewal", renewal},
		{"NextRenewal", nextText},
		{"LastRenewalFailure", lastFailure},
	}
}

func yesNo(v bool) string {
	if v {
		return "YES"
	}
	return "NO"
}
