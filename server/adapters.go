package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hellomdm/hellomdm/audit"
	"github.com/hellomdm/hellomdm/enrollment"
	"github.com/hellomdm/hellomdm/pinreset/idp"
	"github.com/hellomdm/hellomdm/store"
)

func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }

// unavailableAs marks a store outage (store.ErrUnavailable: down, full, refusing
// connections) with target, the sentinel the calling package (enrollment, idp, pinreset)
// answers with "try again later" instead of an internal error.
func unavailableAs(target, err error) error {
	if err != nil && errors.Is(err, store.ErrUnavailable) && !errors.Is(err, target) {
		return fmt.Errorf("%w: %w", target, err)
	}
	return err
}

// enrollmentDirectory adapts the store to enrollment.Directory.
type enrollmentDirectory struct {
	st        store.Store
	passwords *idp.PasswordChecker
	// limit, when set, puts every password check under the identity provider's per-user
	// failed sign-in limit (idp.Service.LimitPasswordCheck).
	limit *idp.Service
}

func (d enrollmentDirectory) TenantForDomain(ctx context.Context, domain string) (enrollment.Tenant, error) {
	t, err := d.st.TenantByDomain(ctx, domain)
	if isNotFound(err) {
		return enrollment.Tenant{}, enrollment.ErrUnknownDomain
	}
	if err != nil {
		return enrollment.Tenant{}, unavailableAs(enrollment.ErrUnavailable, err)
	}
	return enrollment.Tenant{ID: t.ID, DisplayName: t.DisplayName, AuthPolicy: t.AuthPolicy}, nil
}

func (d enrollmentDirectory) CheckPassword(ctx context.Context, tenantID, upn, password string) (string, error) {
	if d.limit == nil {
		return d.checkPassword(ctx, tenantID, upn, password)
	}
	var uid string
	err := d.limit.LimitPasswordCheck(ctx, upn, func(ctx context.Context) error {
		var err error
		uid, err = d.checkPassword(ctx, tenantID, upn, password)
		return err
	})
	var rl *idp.RateLimitError
	if errors.As(err, &rl) {
		return "", &enrollment.LockedOutError{RetryAfter: rl.RetryAfter}
	}
	return uid, err
}

func (d enrollmentDirectory) checkPassword(ctx context.Context, tenantID, upn, password string) (string, error) {
	u, err := d.st.UserByUPN(ctx, tenantID, upn)
	if err == nil && u.Disabled {
		err = store.ErrNotFound // a disabled user enrolls nothing, and is not told why
	}
	if isNotFound(err) {
		// Spend the same work as a real check so timing does not reveal who exists.
		_ = d.passwords.Check(ctx, dummyHash, password)
		return "", enrollment.ErrBadCredentials
	}
	if err != nil {
		return "", unavailableAs(enrollment.ErrUnavailable, err)
	}
	if u.PasswordHash == "" || d.passwords.Check(ctx, u.PasswordHash, password) != nil {
		return "", enrollment.ErrBadCredentials
	}
	return u.ID, nil
}

// dummyHash is an argon2id hash of a random password, checked for unknown users.
const dummyHash = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Jm0tbtYDJ5n9+3t0ZHMhbKq2k3G1oVrZk3sGmJYBzNc"

// enrollmentRegistry adapts the store to enrollment.Registry and records enrollment events.
type enrollmentRegistry struct {
	st  store.Store
	now func() time.Time
}

func (r enrollmentRegistry) toDevice(e enrollment.Enrollment) store.Device {
	d := store.Device{ID: e.DeviceID, TenantID: e.TenantID, HWDevID: e.HWDevID, UserID: e.UserID, UPN: e.UPN, DeviceName: e.DeviceName,
		OSVersion: e.OSVersion, EnrollmentType: e.EnrollmentType, State: store.DeviceEnrolled, CertSerial: strings.ToUpper(e.CertSerial),
		CertThumbprint: e.CertThumbprint, CertNotAfter: e.CertNotAfter, EnrolledAt: e.EnrolledAt, UpdatedAt: r.now().UTC(), PolicyDirty: true}
	d.OSEdition = atoiOr(e.OSEdition, 0)
	return d
}

// Register stores the device, its certificate serial (revoking a replaced one) and its
// enrollment audit event in one transaction: an enrollment refused because the store failed
// leaves nothing behind, so no device is enrolled with a certificate nobody received.
func (r enrollmentRegistry) Register(ctx context.Context, e enrollment.Enrollment) error {
	err := r.st.Write(ctx, func(tx store.Writer) error {
		reg, err := tx.RegisterDevice(r.toDevice(e))
		if err != nil {
			return err
		}
		details := map[string]any{"hwDevId": e.HWDevID, "upn": e.UPN, "osVersion": e.OSVersion, "osEdition": e.OSEdition,
			"enrollmentType": e.EnrollmentType, "certSerial": e.CertSerial, "certThumbprint": e.CertThumbprint, "deviceName": e.DeviceName}
		if reg.Previous != nil {
			details["replacedCertSerial"] = reg.Previous.CertSerial
		}
		return tx.Audit(r.event(e, audit.KindEnrolled, "enroll", details))
	})
	if errors.Is(err, store.ErrConflict) {
		return enrollment.ErrOtherTenant
	}
	if err != nil {
		return unavailableAs(enrollment.ErrUnavailable, err)
	}
	// A tenant deleted while this enrollment was under way (after its domain was resolved)
	// refuses devices that registered before the delete committed (store.DeleteTenant's
	// ErrConflict), and this check retires one that registered after it: either way no
	// device is left enrolled in a deleted tenant.
	if _, err := r.st.Tenant(context.WithoutCancel(ctx), e.TenantID); isNotFound(err) {
		if err := r.st.UpdateDevice(context.WithoutCancel(ctx), e.DeviceID, func(d *store.Device) error {
			d.State = store.DeviceRetired
			return nil
		}); err != nil {
			return unavailableAs(enrollment.ErrUnavailable, err)
		}
		return enrollment.ErrUnknownDomain
	}
	return nil
}

// Renew replaces the device's certificate serial (revoking the old one) and records the
// renewal event in one transaction.
func (r enrollmentRegistry) Renew(ctx context.Context, deviceID, oldSerial string, e enrollment.Enrollment) error {
	err := r.st.Write(ctx, func(tx store.Writer) error {
		_, err := tx.UpdateDevice(deviceID, func(d *store.Device) error {
			if d.State != store.DeviceEnrolled {
				return enrollment.ErrNotEnrolled
			}
			if !strings.EqualFold(d.CertSerial, oldSerial) {
				return enrollment.ErrSerialMismatch
			}
			d.CertSerial, d.CertThumbprint, d.CertNotAfter = strings.ToUpper(e.CertSerial), e.CertThumbprint, e.CertNotAfter
			d.UpdatedAt = r.now().UTC()
			return nil
		})
		if err != nil {
			return err
		}
		return tx.Audit(r.event(e, audit.KindRenewed, "renew", map[string]any{"oldCertSerial": oldSerial, "certSerial": e.CertSerial}))
	})
	if isNotFound(err) {
		return enrollment.ErrNotEnrolled
	}
	return unavailableAs(enrollment.ErrUnavailable, err)
}

func (r enrollmentRegistry) Device(ctx context.Context, deviceID string) (enrollment.Enrollment, error) {
	d, err := r.st.Device(ctx, deviceID)
	if isNotFound(err) || err == nil && d.State != store.DeviceEnrolled {
		return enrollment.Enrollment{}, enrollment.ErrNotEnrolled
	}
	if err != nil {
		return enrollment.Enrollment{}, unavailableAs(enrollment.ErrUnavailable, err)
	}
	return enrollment.Enrollment{DeviceID: d.ID, HWDevID: d.HWDevID, TenantID: d.TenantID, UserID: d.UserID, UPN: d.UPN, DeviceName: d.DeviceName,
		OSVersion: d.OSVersion, EnrollmentType: d.EnrollmentType, CertSerial: d.CertSerial, CertThumbprint: d.CertThumbprint,
		CertNotAfter: d.CertNotAfter, EnrolledAt: d.EnrolledAt}, nil
}

// event builds a device's enrollment or renewal event. It is called inside the store's
// transaction, possibly more than once (store.Writes), and builds a fresh event each time.
func (r enrollmentRegistry) event(e enrollment.Enrollment, kind audit.Kind, action string, details map[string]any) *audit.Event {
	raw, _ := json.Marshal(details)
	return &audit.Event{ID: newEventID(), Time: r.now().UTC(), TenantID: e.TenantID, Kind: kind,
		Actor:   audit.Actor{Type: audit.ActorDevice, ID: e.DeviceID, TokenID: e.CertSerial},
		Subject: audit.Subject{Type: audit.SubjectDevice, ID: e.DeviceID}, DeviceID: e.DeviceID, Action: action, Details: raw}
}

// idpUsers adapts the store to idp.UserStore. For the identity provider a tenant is
// "federated" when its sign-in belongs to a third-party host (FederationHost); the MS-MDE2
// Federated auth policy (token-based enrollment through this identity provider) is another matter.
type idpUsers struct{ st store.Store }

func (u idpUsers) TenantForDomain(ctx context.Context, domain string) (idp.Tenant, error) {
	t, err := u.st.TenantByDomain(ctx, domain)
	if isNotFound(err) {
		return idp.Tenant{}, idp.ErrNotFound
	}
	if err != nil {
		return idp.Tenant{}, unavailableAs(idp.ErrUnavailable, err)
	}
	return idp.Tenant{ID: t.ID, Domains: t.VerifiedDomains, Federated: t.FederationHost != "", FederationHost: t.FederationHost, GovCloud: t.GovCloud,
		ReturnURIs: t.EnrollmentReturnURIs}, nil
}

func (u idpUsers) UserByUPN(ctx context.Context, tenantID, upn string) (idp.User, error) {
	x, err := u.st.UserByUPN(ctx, tenantID, upn)
	if err == nil && x.Disabled {
		err = store.ErrNotFound // a disabled user signs in nowhere (and so resets no PIN)
	}
	if isNotFound(err) {
		return idp.User{}, idp.ErrNotFound
	}
	if err != nil {
		return idp.User{}, unavailableAs(idp.ErrUnavailable, err)
	}
	return idp.User{ID: x.ID, TenantID: x.TenantID, UPN: x.UPN, PasswordHash: x.PasswordHash, TOTPSecret: x.TOTPSecret, TOTPLastStep: x.TOTPLastStep}, nil
}

func (u idpUsers) UseTOTPStep(ctx context.Context, tenantID, userID string, step int64) error {
	err := u.st.UpdateUser(ctx, tenantID, userID, func(x *store.User) error {
		if step <= x.TOTPLastStep {
			return idp.ErrTOTPReplayed
		}
		x.TOTPLastStep = step
		return nil
	})
	if isNotFound(err) {
		return idp.ErrNotFound
	}
	return unavailableAs(idp.ErrUnavailable, err)
}

// CompleteSignIn records a successful sign-in: the TOTP step it used (when it used one) and
// its auth.signin event in one Write, or the event alone (one write) for a sign-in without a
// second factor. Only then does the identity provider hand out the token.
func (u idpUsers) CompleteSignIn(ctx context.Context, tenantID, userID string, step int64, e idp.SignInEvent) error {
	event := func() *audit.Event {
		ev := signInEvent(e)
		ev.ID, ev.Time = newEventID(), time.Now().UTC()
		return ev
	}
	if step <= 0 {
		return unavailableAs(idp.ErrUnavailable, u.st.AppendAudit(ctx, event()))
	}
	err := u.st.Write(ctx, func(tx store.Writer) error {
		_, err := tx.UpdateUser(tenantID, userID, func(x *store.User) error {
			if step <= x.TOTPLastStep {
				return idp.ErrTOTPReplayed
			}
			x.TOTPLastStep = step
			return nil
		})
		if err != nil {
			return err
		}
		return tx.Audit(event())
	})
	if isNotFound(err) {
		return idp.ErrNotFound
	}
	return unavailableAs(idp.ErrUnavailable, err)
}

// idpFailures adapts the store's failed sign-in counters (store.SignInLimits) to
// idp.FailureCounter, so every replica on one database counts a UPN's failures together.
// The keys are the identity provider's lower-cased UPNs, which the store bounds (CheckID).
type idpFailures struct{ st store.SignInLimits }

func (f idpFailures) FailedSignIns(ctx context.Context, key string, now time.Time) (int, time.Time, error) {
	return f.st.FailedSignIns(ctx, key, now)
}

func (f idpFailures) RecordFailedSignIn(ctx context.Context, key string, now time.Time, window time.Duration) (int, time.Time, error) {
	return f.st.RecordFailedSignIn(ctx, key, now, window)
}

func (f idpFailures) ResetFailedSignIns(ctx context.Context, key string) error {
	return f.st.ResetFailedSignIns(ctx, key)
}

func atoiOr(s string, def int) int {
	n := 0
	if s == "" {
		return def
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return def
		}
		n = n*10 + int(c-'0')
		if n > 1<<20 {
			return def
		}
	}
	return n
}
