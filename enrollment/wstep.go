package enrollment

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/hellomdm/hellomdm/enrollment/ca"
	"github.com/hellomdm/hellomdm/enrollment/mde2"
)

// handleRST serves MS-WSTEP RequestSecurityToken: Issue (MS-MDE2 3.4) or
// Renew (MS-MDE2 3.5).
func (s *Service) handleRST(ctx context.Context, r *http.Request, env *mde2.Envelope) (reply, error) {
	req, err := parseRST(env)
	if err != nil {
		return reply{}, err
	}
	if req.Renew {
		return s.renew(ctx, r, req)
	}
	return s.issue(ctx, env.Header.Security, req)
}

// issue authenticates the user, checks the CSR, signs the device certificate,
// builds the provisioning document and only then registers the device, so a
// refused request stores nothing.
func (s *Service) issue(ctx context.Context, creds *mde2.Security, req rstRequest) (reply, error) {
	p, err := s.authenticate(ctx, creds)
	if err != nil {
		return reply{}, err
	}
	csr, err := parseCSR(req.CSR)
	if err != nil {
		return reply{}, csrFault(err)
	}
	if csr.DeviceID != "" && !strings.EqualFold(csr.DeviceID, req.Ctx.DeviceID) {
		s.log.WarnContext(ctx, "CSR DeviceID extension differs from AdditionalContext",
			"csr_device_id", csr.DeviceID, "device_id", req.Ctx.DeviceID)
	}
	now := s.cfg.Now()
	cert, err := s.sign(csr, req.Ctx.DeviceID, now)
	if err != nil {
		return reply{}, err
	}
	prov := provisioning{
		CA: s.ca.Certificate(), Client: cert, EnrollmentType: req.Ctx.EnrollmentType,
		DeviceID: req.Ctx.DeviceID, UPN: p.UPN, DeviceName: req.Ctx.DeviceName, Full: true,
	}
	for _, dst := range []*string{&prov.ServerSecret, &prov.ServerNonce, &prov.DeviceSecret, &prov.DeviceNonce} {
		if *dst, err = s.randomToken(24); err != nil {
			return reply{}, receiverFault(mde2.SubcodeInternalServiceFault, "internal error", err)
		}
	}
	doc, err := s.provisioningDoc(prov)
	if err != nil {
		return reply{}, receiverFault(mde2.SubcodeInternalServiceFault, "internal error", err)
	}
	if p.token != nil {
		// A Federated token is single-use: the client presents it to Policy.svc
		// (GetPolicies) and then here (MS-MDE2 3.3.4 and 3.4.4 carry the same
		// BinarySecurityToken), and only this certificate issuance redeems it, after every
		// check of the request passed and before anything is stored or sent. A token that
		// already enrolled a device cannot enroll another one (or the same one again).
		if err := s.tokens.RedeemEnrollmentToken(ctx, *p.token, req.Ctx.DeviceID); err != nil {
			if errors.Is(err, ErrTokenUsed) {
				f := senderFault(mde2.SubcodeAuthentication, "the enrollment token was already used; sign in again", err)
				f.upn, f.detail = p.UPN, err.Error()
				return reply{}, f
			}
			return reply{}, receiverFault(mde2.SubcodeInternalServiceFault, "could not redeem the enrollment token", fmt.Errorf("redeeming token: %w", err))
		}
	}
	c := req.Ctx
	e := Enrollment{
		DeviceID: c.DeviceID, HWDevID: c.HWDevID, TenantID: p.Tenant.ID, UserID: p.UserID, UPN: p.UPN,
		DeviceName: c.DeviceName, OSVersion: c.OSVersion, OSEdition: c.OSEdition,
		EnrollmentType: c.EnrollmentType, DeviceType: c.DeviceType, ApplicationVersion: c.ApplicationVersion,
		NotInOobe: c.NotInOobe, CertSerial: SerialHex(cert), CertThumbprint: mde2.Thumbprint(cert),
		CertNotAfter: cert.NotAfter, EnrolledAt: now, MACs: c.MACs, Locale: c.Locale,
	}
	if err := s.reg.Register(ctx, e); err != nil {
		if errors.Is(err, ErrOtherTenant) {
			return reply{}, senderFault(mde2.SubcodeAuthorization, "device is enrolled in another organisation", err)
		}
		return reply{}, receiverFault(mde2.SubcodeEnrollmentServer, "could not record the enrollment", fmt.Errorf("registering device: %w", err))
	}
	s.log.InfoContext(ctx, "device enrolled", "device_id", e.DeviceID, "tenant", e.TenantID,
		"user", e.UserID, "serial", e.CertSerial, "type", e.EnrollmentType)
	return reply{body: rstrBody(doc), timestamp: true}, nil
}

// renew re-issues the certificate of an enrolled device. The device proves
// itself with its current certificate on the TLS connection (MS-MDE2 3.5.4.1.1.1:
// "the enrollment client uses the existing certificate to perform client TLS").
func (s *Service) renew(ctx context.Context, r *http.Request, req rstRequest) (reply, error) {
	now := s.cfg.Now()
	peer := s.cfg.PeerCertificate(r)
	if peer == nil {
		return reply{}, senderFault(mde2.SubcodeAuthentication, "renewal requires the current device certificate", nil)
	}
	deviceID, err := s.ca.VerifyDevice(peer, now)
	if err != nil {
		return reply{}, senderFault(mde2.SubcodeAuthentication, "device certificate not accepted", err)
	}
	if req.Ctx.DeviceID != "" && req.Ctx.DeviceID != deviceID {
		return reply{}, senderFault(mde2.SubcodeAuthorization, "DeviceID does not match the device certificate", nil)
	}
	if err := checkRequestVersion(&req.Ctx); err != nil {
		return reply{}, err
	}
	old, err := s.reg.Device(ctx, deviceID)
	if errors.Is(err, ErrNotEnrolled) {
		return reply{}, notEligible("device is not enrolled", err)
	}
	if err != nil {
		return reply{}, receiverFault(mde2.SubcodeEnrollmentServer, "could not read the enrollment", fmt.Errorf("reading device: %w", err))
	}
	oldSerial := SerialHex(peer)
	if !strings.EqualFold(old.CertSerial, oldSerial) {
		return reply{}, notEligible("certificate is not the device's current one", nil)
	}
	csr, err := parseCSR(req.CSR)
	if err != nil {
		return reply{}, csrFault(err)
	}
	cert, err := s.sign(csr, deviceID, now)
	if err != nil {
		return reply{}, err
	}
	doc, err := s.provisioningDoc(provisioning{
		CA: s.ca.Certificate(), Client: cert, EnrollmentType: old.EnrollmentType, DeviceID: deviceID,
	})
	if err != nil {
		return reply{}, receiverFault(mde2.SubcodeInternalServiceFault, "internal error", err)
	}
	e := old
	e.CertSerial, e.CertThumbprint, e.CertNotAfter = SerialHex(cert), mde2.Thumbprint(cert), cert.NotAfter
	for dst, v := range map[*string]string{&e.OSVersion: req.Ctx.OSVersion, &e.OSEdition: req.Ctx.OSEdition,
		&e.DeviceName: req.Ctx.DeviceName, &e.ApplicationVersion: req.Ctx.ApplicationVersion, &e.Locale: req.Ctx.Locale} {
		if v != "" {
			*dst = v
		}
	}
	if err := s.reg.Renew(ctx, deviceID, old.CertSerial, e); err != nil {
		if errors.Is(err, ErrNotEnrolled) || errors.Is(err, ErrSerialMismatch) {
			return reply{}, notEligible("device is not eligible to renew", err)
		}
		return reply{}, receiverFault(mde2.SubcodeEnrollmentServer, "could not record the renewal", fmt.Errorf("renewing device: %w", err))
	}
	s.log.InfoContext(ctx, "device certificate renewed", "device_id", deviceID, "old_serial", old.CertSerial, "serial", e.CertSerial)
	return reply{body: rstrBody(doc), timestamp: true}, nil
}

func notEligible(reason string, err error) *Fault {
	f := senderFault(mde2.SubcodeAuthorization, reason, err)
	f.ErrorType = mde2.ErrorTypeNotEligibleToRenew
	return f
}

func csrFault(err error) *Fault {
	f := senderFault(mde2.SubcodeCertificateRequest, "certificate request refused", err)
	f.ErrorType = mde2.ErrorTypeInvalidEnrollmentData
	return f
}

// SerialHex is the upper-case hex serial number used in Enrollment.CertSerial.
func SerialHex(cert *x509.Certificate) string {
	return strings.ToUpper(cert.SerialNumber.Text(16))
}

// sign issues the device certificate, backdated a little for client clock skew.
func (s *Service) sign(csr *csrInfo, deviceID string, now time.Time) (*x509.Certificate, error) {
	cert, err := s.ca.IssueDevice(ca.DeviceCertRequest{
		PublicKey: csr.PublicKey, DeviceID: deviceID,
		NotBefore: now.Add(-certBackdate), Validity: s.cfg.CertValidity,
	})
	if errors.Is(err, ca.ErrUnsupportedKey) || errors.Is(err, ca.ErrInvalidRequest) {
		return nil, csrFault(err)
	}
	if err != nil {
		return nil, receiverFault(mde2.SubcodeCertificateRequest, "certificate authority failed", fmt.Errorf("signing device certificate: %w", err))
	}
	return cert, nil
}

// rstrBody wraps the provisioning document in a RequestSecurityTokenResponseCollection
// (MS-WSTEP 3.1.4.1.2.2; MS-MDE2 3.4.4.1.1.2).
func rstrBody(provDoc []byte) *mde2.RequestSecurityTokenResponse {
	return &mde2.RequestSecurityTokenResponse{ProvisioningDoc: provDoc, RequestID: "0"}
}
