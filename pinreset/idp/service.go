package idp

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"
)

// User is a tenant user as the identity provider sees it.
type User struct {
	ID           string
	TenantID     string
	UPN          string
	PasswordHash string // PHC argon2id string from HashPassword
	TOTPSecret   []byte // nil or empty: no second factor enrolled
	TOTPLastStep int64  // last TOTP step accepted (replay guard)
}

// Tenant is the part of a tenant the identity provider needs.
type Tenant struct {
	ID             string
	Domains        []string
	Federated      bool
	FederationHost string // third-party IdP host name for federated tenants, e.g. "adfs.fabrikam.com"
	// GovCloud marks a tenant in a government cloud (Azure Government): /idp/signin-info says
	// so, because the device's web sign-in then opens the government sign-in host.
	GovCloud bool
	// ReturnURIs are the appru values, besides ms-app:// ones, to which the sign-in page
	// may post this tenant's enrollment tokens (configured by an admin; exact match).
	ReturnURIs []string
}

// UserStore is the storage the identity provider needs. Lookups that find nothing return an
// error wrapping ErrNotFound. UPNs and domains are passed lower-cased.
type UserStore interface {
	TenantForDomain(ctx context.Context, domain string) (Tenant, error)
	UserByUPN(ctx context.Context, tenantID, upn string) (User, error)
	// UseTOTPStep atomically records step as used if it is greater than the stored last
	// step; returns ErrTOTPReplayed otherwise.
	UseTOTPStep(ctx context.Context, tenantID, userID string, step int64) error
}

// TOTPStore stores users' TOTP secrets. The caller of Service.EnrollTOTP gives it, so that it
// can store the secret in one transaction with records of its own (the admin's audit event).
type TOTPStore interface {
	// SetTOTP stores a new TOTP secret for the user, replacing any previous one and
	// forgetting the last step used; an error wrapping ErrNotFound if there is no such user.
	SetTOTP(ctx context.Context, tenantID, userID string, secret []byte) error
}

// SignInRecorder is implemented by a UserStore that records a successful sign-in together
// with its writes. The service then calls CompleteSignIn instead of UseTOTPStep, once the
// credentials are verified and the token is signed, and hands out the token only when it
// returns nil: a sign-in is never left half-recorded (a used code without its record, or a
// token without one). Config.OnSignIn is still told, with SignInEvent.Recorded set.
type SignInRecorder interface {
	// CompleteSignIn atomically records step as used (when step > 0; ErrTOTPReplayed when it
	// is not greater than the stored last step) and the sign-in e, or neither.
	CompleteSignIn(ctx context.Context, tenantID, userID string, step int64, e SignInEvent) error
}

// Config configures a Service. Zero values take the documented defaults.
type Config struct {
	// ServerHost is this server's host name, reported by /idp/signin-info for tenants that
	// are not federated. When empty the request's Host is reported.
	ServerHost string
	// FormKey authenticates sign-in form nonces (HMAC-SHA-256). At least 32 bytes; all
	// replicas must share it. Required.
	FormKey []byte
	// FormTTL is how long a rendered sign-in form stays valid; 10 minutes when zero.
	FormTTL time.Duration
	// FederationPath is the path on a tenant's FederationHost that the browser flow is
	// redirected to; "/idp/enroll" when empty.
	FederationPath string
	// TOTPIssuer labels otpauth URIs; "hellomdm" when empty.
	TOTPIssuer string
	// Password are the argon2id parameters of the dummy hash spent for unknown users; use
	// the same parameters the user hashes were made with. DefaultPasswordOptions when zero.
	Password PasswordOptions
	// OnSignIn, when set, is told of every sign-in attempt and its outcome (for auditing).
	OnSignIn func(ctx context.Context, e SignInEvent)
	// OnReturnRefused, when set, is told of every sign-in page request refused for its
	// appru (for auditing); tenantID is empty when the user name names no tenant.
	OnReturnRefused func(ctx context.Context, tenantID, upn, appru string)
	// Passwords bounds concurrent password checks; share one with every other component
	// that checks passwords. NewPasswordChecker(0) when nil.
	Passwords *PasswordChecker
	// FailureLimit failed sign-ins per UPN per FailureWindow are allowed; 10 per minute
	// when zero.
	FailureLimit  int
	FailureWindow time.Duration
	// Failures, when set, holds the failed sign-in counts, so that every replica using the
	// same one enforces one FailureLimit per UPN (the server passes its store). When nil,
	// failures are counted in this process's memory only. See signInLimiter for what
	// happens while it fails.
	Failures FailureCounter
	// EnrollmentTokenLifetime is the lifetime of AudienceEnrollment tokens (the wresult of
	// the web sign-in, redeemed once by the device's enrollment moments later); the issuer's
	// lifetime when zero. Other tokens keep the issuer's lifetime.
	EnrollmentTokenLifetime time.Duration
	// MaxTrackedUPNs bounds the in-memory failure table (the whole limit without Failures,
	// the fallback with it); 100000 when zero.
	MaxTrackedUPNs int
	Now            func() time.Time // time.Now when nil
	Rand           io.Reader        // crypto/rand when nil
	Logger         *slog.Logger     // discard when nil
}

// Service signs tenant users in (password, then TOTP when enrolled) and issues tokens.
type Service struct {
	cfg       Config
	users     UserStore
	issuer    *Issuer
	limiter   *signInLimiter
	dummyHash string
	passwords *PasswordChecker
	log       *slog.Logger
}

// New returns a Service.
func New(cfg Config, users UserStore, issuer *Issuer) (*Service, error) {
	if users == nil || issuer == nil {
		return nil, errors.New("creating identity provider: nil user store or issuer")
	}
	if len(cfg.FormKey) < 32 {
		return nil, errors.New("creating identity provider: form key must be at least 32 bytes")
	}
	if cfg.FormTTL == 0 {
		cfg.FormTTL = 10 * time.Minute
	}
	if cfg.FederationPath == "" {
		cfg.FederationPath = "/idp/enroll"
	}
	if cfg.Passwords == nil {
		cfg.Passwords = NewPasswordChecker(0)
	}
	if !strings.HasPrefix(cfg.FederationPath, "/") {
		return nil, errors.New("creating identity provider: federation path must start with /")
	}
	if cfg.TOTPIssuer == "" {
		cfg.TOTPIssuer = "hellomdm"
	}
	if cfg.Password == (PasswordOptions{}) {
		cfg.Password = DefaultPasswordOptions()
	}
	if cfg.FailureLimit == 0 {
		cfg.FailureLimit = 10
	}
	if cfg.FailureWindow == 0 {
		cfg.FailureWindow = time.Minute
	}
	if cfg.MaxTrackedUPNs == 0 {
		cfg.MaxTrackedUPNs = 100000
	}
	if cfg.FailureLimit < 0 || cfg.FailureWindow < 0 || cfg.MaxTrackedUPNs < 0 || cfg.FormTTL < 0 || cfg.EnrollmentTokenLifetime < 0 {
		return nil, errors.New("creating identity provider: negative limit, window or TTL")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.FormKey = append([]byte(nil), cfg.FormKey...)
	log := cfg.Logger.With("component", "idp")
	// The dummy hash makes an unknown user cost one argon2id computation, like a real one.
	dummy, err := HashPasswordWith("hellomdm-dummy-password", cfg.Rand, cfg.Password)
	if err != nil {
		return nil, fmt.Errorf("creating identity provider: %w", err)
	}
	return &Service{
		cfg:       cfg,
		users:     users,
		issuer:    issuer,
		limiter:   newSignInLimiter(cfg, log),
		dummyHash: dummy,
		passwords: cfg.Passwords,
		log:       log,
	}, nil
}

// SignIn authenticates upn with password and, when the user has a TOTP secret, otp, and
// returns a token for audience (AudienceEnrollment or AudiencePINReset) with its claims.
// amr is ["pwd"] without a second factor and ["pwd","mfa"] with one.
//
// Errors: ErrInvalidCredentials (unknown domain, unknown user and wrong password alike, and
// each still costs one argon2id computation), ErrTOTPRequired, ErrTOTPInvalid,
// ErrTOTPReplayed, *RateLimitError (ErrRateLimited), ErrFederated for users of federated
// tenants (see SignInFederated), ErrUnknownAudience; anything else is an internal failure.
func (s *Service) SignIn(ctx context.Context, upn, password, otp, audience string) (string, Claims, error) {
	return s.signIn(ctx, upn, password, otp, audience, "")
}

// SignInFederated is SignIn for the simulated third-party identity provider: a user of a
// federated tenant is signed in only when federationHost equals the tenant's
// FederationHost (see doc.go). For other tenants it behaves like SignIn.
func (s *Service) SignInFederated(ctx context.Context, federationHost, upn, password, otp, audience string) (string, Claims, error) {
	return s.signIn(ctx, upn, password, otp, audience, federationHost)
}

// SignInEvent reports one sign-in attempt to Config.OnSignIn, for the audit log. TenantID
// is empty when the UPN's domain belongs to no tenant. Passwords and codes are never included.
type SignInEvent struct {
	TenantID, UserID, UPN, Audience, Via string
	MFA                                  bool
	OK                                   bool
	Reason                               string // why it was refused (the error), "" when OK
	// Recorded: the sign-in was recorded by SignInRecorder.CompleteSignIn with its writes;
	// OnSignIn need not record it again.
	Recorded bool
}

func (s *Service) signIn(ctx context.Context, upn, password, otp, audience, via string) (string, Claims, error) {
	tr := signInTrace{upn: upn}
	tok, claims, err := s.signInTraced(ctx, &tr, upn, password, otp, audience, via)
	if s.cfg.OnSignIn != nil {
		ev := SignInEvent{TenantID: tr.tenantID, UserID: tr.userID, UPN: upn, Audience: audience, Via: via, OK: err == nil, MFA: claims.HasMFA(),
			Recorded: err == nil && tr.recorded}
		if err != nil {
			ev.Reason = err.Error()
		}
		s.cfg.OnSignIn(ctx, ev)
	}
	return tok, claims, err
}

// signInTrace collects who a sign-in attempt was about, as far as it got, and whether its
// success was recorded with its writes (SignInRecorder).
type signInTrace struct {
	upn              string // as the client gave it
	tenantID, userID string
	recorded         bool
}

func (s *Service) signInTraced(ctx context.Context, tr *signInTrace, upn, password, otp, audience, via string) (string, Claims, error) {
	if audience != AudienceEnrollment && audience != AudiencePINReset && audience != AudienceConsole {
		return "", Claims{}, fmt.Errorf("signing in: %q: %w", audience, ErrUnknownAudience)
	}
	upn, domain, ok := normalizeUPN(upn)
	if !ok {
		return "", Claims{}, fmt.Errorf("signing in: malformed user name: %w", ErrInvalidCredentials)
	}
	now := s.cfg.Now()
	// Every attempt counts as failed until it succeeds (see signInLimiter.attempt), also
	// one that stops at ErrTOTPRequired or a federated tenant.
	if wait := s.limiter.attempt(ctx, upn, now); wait > 0 {
		s.log.InfoContext(ctx, "sign-in rate limited", "upn", upn)
		return "", Claims{}, fmt.Errorf("signing in: %w", &RateLimitError{RetryAfter: wait})
	}
	tenant, user, err := s.checkPassword(ctx, tr, upn, domain, password, via)
	if err != nil {
		return "", Claims{}, err
	}
	amr, step, err := s.checkTOTP(ctx, user, upn, otp, now)
	if err != nil {
		return "", Claims{}, err
	}
	// The token is signed before anything is written, so that a failure to sign it leaves
	// the code unused; it is handed out only once the sign-in's writes have committed.
	var lifetime time.Duration // the issuer's
	if audience == AudienceEnrollment {
		lifetime = s.cfg.EnrollmentTokenLifetime
	}
	tok, claims, err := s.issuer.issueFor(ctx, Claims{
		Audience: audience, TenantID: tenant.ID, Subject: user.ID, UPN: user.UPN, AMR: amr,
	}, lifetime)
	if err != nil {
		return "", Claims{}, fmt.Errorf("signing in: %w", err)
	}
	ev := SignInEvent{TenantID: tenant.ID, UserID: user.ID, UPN: tr.upn, Audience: audience, Via: via, MFA: len(amr) > 1, OK: true}
	if err := s.recordSignIn(ctx, tr, upn, ev, step); err != nil {
		return "", Claims{}, err
	}
	// The failed-attempt count is a separate write by design (it is counted before the
	// check, see signInLimiter.attempt); a reset that fails leaves it to expire, the safe side.
	s.limiter.reset(ctx, upn)
	s.log.InfoContext(ctx, "signed in", "tenant", tenant.ID, "user", user.ID, "audience", audience, "mfa", len(amr) > 1)
	return tok, claims, nil
}

// signInFailed logs why the sign-in of upn was refused (the reason stays in the log) and
// returns err for the client.
func (s *Service) signInFailed(ctx context.Context, upn, reason string, err error) error {
	s.log.InfoContext(ctx, "sign-in failed", "upn", upn, "reason", reason)
	return fmt.Errorf("signing in: %w", err)
}

// checkPassword finds the tenant of domain and its user upn, refusing a federated tenant's
// user who did not come through its federation host (via), and checks the password. An
// unknown domain or user costs a password check too, so that timing does not tell them
// from a wrong password.
func (s *Service) checkPassword(ctx context.Context, tr *signInTrace, upn, domain, password, via string) (Tenant, User, error) {
	tenant, err := s.users.TenantForDomain(ctx, domain)
	switch {
	case errors.Is(err, ErrNotFound):
		_ = s.passwords.Check(ctx, s.dummyHash, password)
		return Tenant{}, User{}, s.signInFailed(ctx, upn, "unknown domain", ErrInvalidCredentials)
	case err != nil:
		return Tenant{}, User{}, fmt.Errorf("signing in: looking up tenant: %w", err)
	}
	tr.tenantID = tenant.ID
	if tenant.Federated && (tenant.FederationHost == "" || !strings.EqualFold(via, tenant.FederationHost)) {
		return Tenant{}, User{}, fmt.Errorf("signing in: tenant %s authenticates at %q: %w", tenant.ID, tenant.FederationHost, ErrFederated)
	}
	user, err := s.users.UserByUPN(ctx, tenant.ID, upn)
	switch {
	case errors.Is(err, ErrNotFound):
		_ = s.passwords.Check(ctx, s.dummyHash, password)
		return Tenant{}, User{}, s.signInFailed(ctx, upn, "unknown user", ErrInvalidCredentials)
	case err != nil:
		return Tenant{}, User{}, fmt.Errorf("signing in: looking up user: %w", err)
	}
	tr.userID = user.ID
	if err := s.passwords.Check(ctx, user.PasswordHash, password); err != nil {
		if errors.Is(err, ErrPasswordMismatch) {
			return Tenant{}, User{}, s.signInFailed(ctx, upn, "wrong password", ErrInvalidCredentials)
		}
		return Tenant{}, User{}, fmt.Errorf("signing in: user %s: %w", user.ID, err)
	}
	return tenant, user, nil
}

// checkTOTP checks the one-time code of a user who enrolled a second factor and returns
// the sign-in's authentication methods and the code's TOTP step (0 without a second
// factor), which the sign-in records as used.
func (s *Service) checkTOTP(ctx context.Context, user User, upn, otp string, now time.Time) (amr []string, step int64, err error) {
	amr = []string{AMRPassword}
	if len(user.TOTPSecret) == 0 {
		return amr, 0, nil
	}
	if otp == "" {
		return nil, 0, fmt.Errorf("signing in: %w", ErrTOTPRequired)
	}
	step, err = VerifyTOTP(user.TOTPSecret, strings.TrimSpace(otp), now, user.TOTPLastStep)
	if err != nil {
		if errors.Is(err, ErrTOTPReplayed) {
			return nil, 0, s.signInFailed(ctx, upn, "replayed code", ErrTOTPReplayed)
		}
		return nil, 0, s.signInFailed(ctx, upn, "wrong code", ErrTOTPInvalid)
	}
	return append(amr, AMRMFA), step, nil
}

// recordSignIn writes the successful sign-in ev: with the code's step and the event in one
// commit when the user store is a SignInRecorder, else the step alone. A code used
// meanwhile by another sign-in is ErrTOTPReplayed.
func (s *Service) recordSignIn(ctx context.Context, tr *signInTrace, upn string, ev SignInEvent, step int64) error {
	if rec, ok := s.users.(SignInRecorder); ok {
		if err := rec.CompleteSignIn(ctx, ev.TenantID, ev.UserID, step, ev); err != nil {
			if errors.Is(err, ErrTOTPReplayed) {
				return s.signInFailed(ctx, upn, "replayed code", ErrTOTPReplayed)
			}
			return fmt.Errorf("signing in: recording the sign-in: %w", err)
		}
		tr.recorded = true
	} else if step > 0 {
		if err := s.users.UseTOTPStep(ctx, ev.TenantID, ev.UserID, step); err != nil {
			if errors.Is(err, ErrTOTPReplayed) {
				return s.signInFailed(ctx, upn, "replayed code", ErrTOTPReplayed)
			}
			return fmt.Errorf("signing in: recording totp step: %w", err)
		}
	}
	return nil
}

// LimitPasswordCheck runs check, another endpoint's password check (MS-MDE2 OnPremise
// enrollment: the UsernameToken of Policy.svc and Enrollment.svc), under the same per-UPN
// failed sign-in limit as SignIn, so that one count and one lockout cover every endpoint
// that checks a password: failures at enrollment lock the user out of the sign-in page and
// the token endpoint, and the other way round. The attempt counts as failed before check
// runs (see signInLimiter.attempt); when it is over the limit, check does not run and a
// *RateLimitError is returned, whether or not the user exists. A nil error from check takes
// the count back. upn is keyed as SignIn keys it (trimmed, lower-cased); a malformed one
// names no user and is checked without counting.
func (s *Service) LimitPasswordCheck(ctx context.Context, upn string, check func(context.Context) error) error {
	key, _, ok := normalizeUPN(upn)
	if !ok {
		return check(ctx)
	}
	if wait := s.limiter.attempt(ctx, key, s.cfg.Now()); wait > 0 {
		s.log.InfoContext(ctx, "password check rate limited", "upn", key)
		return fmt.Errorf("checking password: %w", &RateLimitError{RetryAfter: wait})
	}
	if err := check(ctx); err != nil {
		return err
	}
	s.limiter.reset(ctx, key)
	return nil
}

// EnrollTOTP creates a new TOTP secret for the user and stores it through to, replacing any
// previous one, and returns it in base32 with its otpauth URI for the user's authenticator
// app. The URI's label is Issuer:account (Key Uri Format); account should be the user's UPN,
// which is what the app shows beside the code; empty falls back to userID.
func (s *Service) EnrollTOTP(ctx context.Context, to TOTPStore, tenantID, userID, account string) (secretBase32, uri string, err error) {
	if to == nil {
		return "", "", errors.New("enrolling totp: no TOTP store")
	}
	if tenantID == "" || userID == "" {
		return "", "", errors.New("enrolling totp: tenant and user are required")
	}
	secret, b32, err := NewTOTPSecret(s.cfg.Rand)
	if err != nil {
		return "", "", fmt.Errorf("enrolling totp: %w", err)
	}
	if err := to.SetTOTP(ctx, tenantID, userID, secret); err != nil {
		return "", "", fmt.Errorf("enrolling totp: storing secret: %w", err)
	}
	if account == "" {
		account = userID
	}
	return b32, TOTPURI(s.cfg.TOTPIssuer, account, b32), nil
}

// normalizeUPN trims and lower-cases upn and returns it with its domain; ok is false when
// it is not local@domain of sane length.
func normalizeUPN(upn string) (norm, domain string, ok bool) {
	norm = strings.ToLower(strings.TrimSpace(upn))
	if len(norm) < 3 || len(norm) > 256 {
		return "", "", false
	}
	at := strings.LastIndexByte(norm, '@')
	if at <= 0 || at == len(norm)-1 {
		return "", "", false
	}
	for _, r := range norm {
		if r < 0x21 || r == 0x7f {
			return "", "", false
		}
	}
	return norm, norm[at+1:], true
}
