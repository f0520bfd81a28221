package pinreset

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/hellomdm/hellomdm/device/hello"
	"github.com/hellomdm/hellomdm/device/resetpolicy"
	"github.com/hellomdm/hellomdm/device/webauth"
)

// PIN reset client (docs/protocol.md D.3; Learn "PIN reset"): "I forgot my PIN" from Settings or
// above the lock screen. The flow is
//
//  1. check the support matrix (hello.CheckSupport) for the device's edition and version,
//     its join, trust and account type (Device.Join), the policy, the protector and the tenant's onboarding; a
//     refusal (*hello.RefusalError) names the row and changes nothing;
//  2. sign in with MFA at the identity provider; for a federated tenant this is web sign-in,
//     which opens only hosts in ConfigureWebSignInAllowedUrls or the server's own host
//     (*WebSignInError: "We can't open that page right now");
//  3. non-destructive: the PIN reset service releases the protector (mutual TLS with the
//     device certificate), which re-wraps the container key under the new PIN and is wiped;
//     a fresh protector is escrowed; NgcKeyId and keys are unchanged. Destructive: a new
//     container, key and NgcKeyId, then a protector if EnablePinRecovery is true.
//
// Every refusal happens before the container is touched, so the file stays byte-identical.

// ErrResetRequest is wrapped by every malformed Request.
var ErrResetRequest = errors.New("invalid PIN reset request")

// ErrProtectorTenant: the escrowed protector belongs to another tenant than the device.
var ErrProtectorTenant = errors.New("the PIN reset protector belongs to another tenant")

// WebSignInError is the web sign-in refusing to open a host that is neither in
// Policy/Authentication ConfigureWebSignInAllowedUrls nor the server's own (Learn "PIN
// reset", Configure allowed URLs for federated identity providers). When the support matrix
// refused (row web-sign-in-allowlist), Refusal holds that row.
type WebSignInError struct {
	Host    string
	Refusal *hello.RefusalError
}

func (e *WebSignInError) Error() string {
	msg := fmt.Sprintf("We can't open that page right now (%s is not in ConfigureWebSignInAllowedUrls)", e.Host)
	if e.Refusal != nil {
		msg += ": " + e.Refusal.Error()
	}
	return msg
}

// Unwrap returns the support matrix refusal, if any.
func (e *WebSignInError) Unwrap() error {
	if e.Refusal == nil {
		return nil
	}
	return e.Refusal
}

// Request is one "I forgot my PIN" attempt. The join type, trust type and account
// type the support matrix needs are the device's (Device.Join), not the request's.
type Request struct {
	UPN        string
	EntryPoint hello.EntryPoint // hello.Settings or hello.AboveLock
	Kind       hello.ResetKind  // hello.NonDestructive or hello.Destructive

	DCReachable         bool // line of sight to a domain controller (hybrid)
	FederationReachable bool // line of sight to the on-premises federation service
	ADFSOnPrem          bool // the deployment uses on-premises AD FS

	// Password and OTP are the user's sign-in credentials (the OTP is the MFA step).
	Password, OTP string
	// AccessToken, when set, is a PIN reset token the user already obtained (for example by
	// another broker); the sign-in step is skipped but web sign-in rules still apply.
	AccessToken string
	NewPIN      string
}

func (r *Request) normalise() error {
	var errs []error
	if r.EntryPoint != hello.Settings && r.EntryPoint != hello.AboveLock {
		errs = append(errs, errors.New("entry point must be Settings or above the lock screen"))
	}
	if r.Kind != hello.Destructive && r.Kind != hello.NonDestructive {
		errs = append(errs, errors.New("kind must be destructive or non-destructive"))
	}
	if r.NewPIN == "" {
		errs = append(errs, errors.New("a new PIN is required"))
	}
	if r.AccessToken == "" && r.Password == "" {
		errs = append(errs, errors.New("a password (or an access token) is required"))
	}
	if len(r.AccessToken) > webauth.MaxTokenLen {
		errs = append(errs, errors.New("access token too long"))
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrResetRequest, errors.Join(errs...))
	}
	return nil
}

// ResetPIN runs "I forgot my PIN" for the enrolled user. It returns the new Hello state;
// HelloResult.ProtectorIssue says why a protector owed by EnablePinRecovery could not be
// made afterwards. Refusals: *hello.RefusalError (support matrix), *WebSignInError,
// *ServiceError (identity provider or PIN reset service), *hello.PolicyError (the new PIN),
// ErrMFARequired/ErrTokenExpired/ErrTokenTenant (destructive reset), hello.ErrNoContainer.
// On any refusal the container is unchanged. A successful reset of either kind also ends a
// PIN lockout (hello.ErrPINLocked).
func (m *Manager) ResetPIN(ctx context.Context, req Request) (HelloResult, error) {
	res, err := m.resetPIN(ctx, req)
	if err != nil {
		m.log.Info("PIN reset refused", "upn", req.UPN, "kind", req.Kind.String(), "from", req.EntryPoint.String(), "err", err)
		return HelloResult{}, fmt.Errorf("resetting the PIN: %w", err)
	}
	return res, nil
}

func (m *Manager) resetPIN(ctx context.Context, req Request) (HelloResult, error) {
	if err := req.normalise(); err != nil {
		return HelloResult{}, err
	}
	upn, err := m.helloUser(req.UPN)
	if err != nil {
		return HelloResult{}, err
	}
	pol, id, tenant, join := m.dev.Policy(), m.dev.Identity(), m.dev.Enrollment().TenantID, m.dev.Join() // before helloMu
	if err := pol.PINComplexity.Check(req.NewPIN); err != nil {
		return HelloResult{}, fmt.Errorf("checking the new PIN: %w", err)
	}
	svc, err := m.newClient()
	if err != nil {
		return HelloResult{}, err
	}
	m.helloMu.Lock()
	defer m.helloMu.Unlock()
	c, err := hello.Open(m.HelloDir(), upn, m.helloOptions()...)
	if err != nil {
		return HelloResult{}, err
	}
	info, err := svc.signInInfo(ctx, upn)
	if err != nil {
		return HelloResult{}, err
	}
	if info.GovCloud {
		// The identity provider knows the tenant's cloud; so does the device from now on.
		if err := m.learnService(ServiceGovernmentCloud, "service"); err != nil {
			m.log.Warn("recording the PIN reset service state", "err", err)
		}
	}
	webAllowed := !info.Federated || strings.EqualFold(info.SignInHost, svc.host()) || pol.WebSignInAllowed(info.SignInHost)
	// The same facts as CanReset (supportFacts), except that the tenant's consent is asked
	// of the service itself below, and the cloud comes from the identity provider.
	rr := m.supportFacts(pol, c.HasProtector() && !c.ProtectorOutdated())
	rr.Join, rr.Trust, rr.Account, rr.Edition, rr.OSVersion = join.Join, join.Trust, join.Account, id.OSEdition, id.OSVersion
	rr.EntryPoint, rr.Kind = req.EntryPoint, req.Kind
	rr.DCReachable, rr.FederationReachable, rr.ADFSOnPrem = req.DCReachable, req.FederationReachable, req.ADFSOnPrem
	rr.TenantOnboarded, rr.GovCloud = true, info.GovCloud
	rr.FederatedIdP, rr.IdPAllowListed = info.Federated, webAllowed
	pub, err := m.checkSupport(ctx, svc, rr, tenant)
	if err != nil {
		var ref *hello.RefusalError
		if errors.As(err, &ref) && ref.Row == hello.RowWebSignInAllowList {
			return HelloResult{}, &WebSignInError{Host: info.SignInHost, Refusal: ref}
		}
		if errors.As(err, &ref) && ref.Row == hello.RowGovWebSignInAllowList {
			return HelloResult{}, &WebSignInError{Host: hello.GovSignInHost, Refusal: ref}
		}
		return HelloResult{}, err
	}
	if !webAllowed {
		return HelloResult{}, &WebSignInError{Host: info.SignInHost}
	}

	token := req.AccessToken
	if token == "" {
		via := ""
		if info.Federated {
			via = info.SignInHost // web sign-in reached the federated identity provider
		}
		if token, err = svc.token(ctx, upn, req.Password, req.OTP, via); err != nil {
			return HelloResult{}, err
		}
	}

	if req.Kind == hello.NonDestructive {
		return m.resetNonDestructiveLocked(ctx, svc, c, upn, tenant, token, req.NewPIN, pol, pub)
	}
	return m.resetDestructiveLocked(ctx, svc, upn, tenant, token, req.NewPIN, pol)
}

// checkSupport evaluates the support matrix. For a non-destructive reset it also asks the
// service whether it serves the tenant (consent, government cloud), by fetching the key it
// needs anyway, when no row before government-cloud refuses, so that the refusal names the
// first row that really applies (the same one CanReset names once the device learned the
// same facts); it returns that key.
func (m *Manager) checkSupport(ctx context.Context, svc *client, rr hello.ResetRequest, tenant string) (*rsa.PublicKey, error) {
	err := hello.CheckSupport(rr)
	if rr.Kind != hello.NonDestructive {
		return nil, err
	}
	var ref *hello.RefusalError
	if err != nil && (!errors.As(err, &ref) || rowIndex(ref.Row) < rowIndex(hello.RowGovCloud)) {
		return nil, err
	}
	pub, kerr := svc.publicKey(ctx, tenant)
	m.learnFromKeyAnswer(kerr)
	var se *ServiceError
	switch {
	case errors.As(kerr, &se) && se.Code == "consent_required":
		rr.TenantOnboarded = false
		if err := hello.CheckSupport(rr); err != nil {
			return nil, err
		}
		return nil, kerr
	case errors.As(kerr, &se) && se.Code == "service_unavailable":
		rr.GovCloud = true
		if err := hello.CheckSupport(rr); err != nil {
			return nil, err
		}
		return nil, kerr
	case err != nil:
		return nil, err
	case kerr != nil:
		return nil, kerr
	}
	return pub, nil
}

// rowIndex is the position of a support matrix row in evaluation order.
func rowIndex(id string) int {
	return slices.IndexFunc(hello.SupportRules(), func(r hello.SupportRule) bool { return r.ID == id })
}

func (m *Manager) resetNonDestructiveLocked(ctx context.Context, svc *client, c *hello.Container, upn, tenant, token, newPIN string, pol resetpolicy.Policy, pub *rsa.PublicKey) (HelloResult, error) {
	ciphertext, ptenant, err := c.ProtectorCiphertext()
	if err != nil {
		return HelloResult{}, err
	}
	if ptenant != tenant {
		return HelloResult{}, fmt.Errorf("%w: protector of %q, device of %q", ErrProtectorTenant, ptenant, tenant)
	}
	protector, err := svc.decrypt(ctx, tenant, token, ciphertext)
	if err != nil {
		return HelloResult{}, err
	}
	// ResetWithProtector wipes the protector whatever happens, and writes nothing on error.
	if err := hello.ResetWithProtector(c, protector, newPIN, pol.PINComplexity, pub, m.cfg.Rand); err != nil {
		return HelloResult{}, err
	}
	if err := m.saveHelloState(helloAgentState{UPN: upn}); err != nil {
		return HelloResult{}, err
	}
	m.log.Info("PIN reset (non-destructive)", "upn", upn, "ngcKeyId", c.NgcKeyID())
	st, err := m.userStateLocked(upn, pol)
	if err != nil {
		return HelloResult{}, err
	}
	return HelloResult{UserState: st}, nil
}

// The destructive reset checks the sign-in token on the device before deleting anything.
var (
	// ErrMFARequired: the sign-in token does not record multi-factor authentication
	// (checked on the device for destructive reset; the service checks it otherwise).
	ErrMFARequired = errors.New("PIN reset needs a multi-factor sign-in")
	// ErrTokenExpired: the supplied token's expiry has passed.
	ErrTokenExpired = errors.New("the sign-in token has expired")
	// ErrTokenTenant: the token was issued for another tenant or user.
	ErrTokenTenant = errors.New("the sign-in token is for another tenant or user")
)

func (m *Manager) resetDestructiveLocked(ctx context.Context, svc *client, upn, tenant, token, newPIN string, pol resetpolicy.Policy) (HelloResult, error) {
	f, err := readToken(token)
	if err != nil {
		return HelloResult{}, err
	}
	switch {
	case !f.MFA:
		return HelloResult{}, ErrMFARequired
	case f.Expiry.IsZero() || !m.cfg.Now().Before(f.Expiry):
		return HelloResult{}, ErrTokenExpired
	case tenant != "" && !strings.EqualFold(f.TenantID, tenant), !strings.EqualFold(f.UPN, upn):
		return HelloResult{}, fmt.Errorf("%w: token of %q in %q", ErrTokenTenant, f.UPN, f.TenantID)
	}
	c, err := hello.ResetDestructive(m.HelloDir(), upn, newPIN, pol.PINComplexity, m.cfg.Rand, m.helloOptions()...)
	if err != nil {
		return HelloResult{}, err
	}
	m.log.Info("PIN reset (destructive)", "upn", upn, "ngcKeyId", c.NgcKeyID())
	return m.afterUnlockLocked(ctx, c, upn, newPIN, pol, svc)
}
