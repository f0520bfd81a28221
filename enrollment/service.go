package enrollment

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"time"

	"github.com/hellomdm/hellomdm/enrollment/ca"
	"github.com/hellomdm/hellomdm/enrollment/mde2"
	"github.com/hellomdm/hellomdm/internal/route"
)

// Endpoint paths (MS-MDE2 3.1: Windows derives the discovery URL itself; the
// other two are ours and handed out in the DiscoverResponse).
const (
	PathDiscovery  = "/EnrollmentServer/Discovery.svc"
	PathPolicy     = "/EnrollmentServer/Policy.svc"
	PathEnrollment = "/EnrollmentServer/Enrollment.svc"
	// PathManagement is where enrolled devices send OMA-DM (ADDR in w7).
	PathManagement = "/ManagementServer/MDM.svc"
)

const (
	defaultAuthPath     = "/idp/enroll"
	certBackdate        = 5 * time.Minute
	rstrTimestampExpiry = 5 * time.Minute
)

// DefaultProviderID is the DMClient provider name (w7 PROVIDER-ID) devices enroll under
// when Config.ProviderID is empty; the session engine writes its Push nodes under it.
const DefaultProviderID = "hellomdm"

var providerIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// Config configures a Service. PublicURL is required; everything else has a
// default.
type Config struct {
	// PublicURL is the HTTPS base URL devices reach, e.g. https://mdm.example.com:8443.
	PublicURL *url.URL
	// AuthenticationPath is the Federated sign-in page path (default "/idp/enroll").
	AuthenticationPath string
	// ProviderID names the DMClient provider and w7 PROVIDER-ID (default "hellomdm").
	ProviderID string
	// CertValidity is the device certificate lifetime (default one year).
	CertValidity time.Duration
	// Poll is the DMClient poll schedule (default DefaultPollSchedule()).
	Poll PollSchedule
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Rand is the source of the APPAUTH secrets (default crypto/rand.Reader).
	Rand io.Reader
	// Logger receives one line per request (default: discard). Passwords and
	// tokens are never logged.
	Logger *slog.Logger
	// PeerCertificate returns the client certificate of a renewal request
	// (default: the leaf of the verified TLS chain, nil without one).
	PeerCertificate func(*http.Request) *x509.Certificate
	// ClientAddr returns the address a request comes from, for Refusal.RemoteAddr (default:
	// r.RemoteAddr). The server passes one that believes forwarding headers only from its
	// trusted proxies.
	ClientAddr func(*http.Request) string
	// OnRefused, when set, is told of every refused request (after the fault is built,
	// before it is written), so the server can audit it in the tenant's log.
	OnRefused func(ctx context.Context, r Refusal)
}

// Refusal describes a refused enrollment request for auditing. Secrets are never included.
type Refusal struct {
	Path, Action string
	// UPN is the user the request named (UsernameToken or Discover EmailAddress), if any.
	UPN                         string
	Code, Subcode, ErrorType    string
	Reason, TraceID, RemoteAddr string
	// Detail adds what the audit log may know and the client may not (e.g. which
	// enrollment first used a reused token); empty for most refusals.
	Detail string
}

// Service answers MS-MDE2 discovery, MS-XCEP policy and MS-WSTEP enrollment.
// It keeps no state between requests.
type Service struct {
	cfg    Config
	ca     *ca.CA
	dir    Directory
	tokens TokenVerifier
	reg    Registry
	log    *slog.Logger
	urls   struct{ policy, enrollment, authentication, management string }
}

// New checks cfg and returns a Service. tokens may be nil, in which case
// Federated authentication is refused.
func New(cfg Config, authority *ca.CA, dir Directory, tokens TokenVerifier, reg Registry) (*Service, error) {
	if authority == nil || dir == nil || reg == nil {
		return nil, errors.New("creating enrollment service: nil CA, Directory or Registry")
	}
	if cfg.PublicURL == nil || cfg.PublicURL.Scheme != "https" || cfg.PublicURL.Host == "" {
		return nil, errors.New("creating enrollment service: PublicURL must be an absolute https URL")
	}
	if cfg.AuthenticationPath == "" {
		cfg.AuthenticationPath = defaultAuthPath
	}
	if cfg.AuthenticationPath[0] != '/' {
		return nil, fmt.Errorf("creating enrollment service: AuthenticationPath %q must start with /", cfg.AuthenticationPath)
	}
	if cfg.ProviderID == "" {
		cfg.ProviderID = DefaultProviderID
	}
	if !providerIDPattern.MatchString(cfg.ProviderID) {
		return nil, fmt.Errorf("creating enrollment service: invalid ProviderID %q", cfg.ProviderID)
	}
	if cfg.CertValidity == 0 {
		cfg.CertValidity = ca.DefaultDeviceValidity
	}
	if cfg.CertValidity < time.Hour {
		return nil, fmt.Errorf("creating enrollment service: CertValidity %v below one hour", cfg.CertValidity)
	}
	if cfg.Poll == (PollSchedule{}) {
		cfg.Poll = DefaultPollSchedule()
	}
	if err := cfg.Poll.validate(); err != nil {
		return nil, fmt.Errorf("creating enrollment service: %w", err)
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
	if cfg.PeerCertificate == nil {
		cfg.PeerCertificate = verifiedLeaf
	}
	if cfg.ClientAddr == nil {
		cfg.ClientAddr = func(r *http.Request) string { return r.RemoteAddr }
	}
	s := &Service{cfg: cfg, ca: authority, dir: dir, tokens: tokens, reg: reg,
		log: cfg.Logger.With("component", "enrollment")}
	base := *cfg.PublicURL
	base.Path, base.RawPath, base.RawQuery, base.Fragment = "", "", "", ""
	s.urls.policy = base.String() + PathPolicy
	s.urls.enrollment = base.String() + PathEnrollment
	s.urls.authentication = base.String() + cfg.AuthenticationPath
	s.urls.management = base.String() + PathManagement
	return s, nil
}

func verifiedLeaf(r *http.Request) *x509.Certificate {
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || len(r.TLS.VerifiedChains[0]) == 0 {
		return nil
	}
	return r.TLS.VerifiedChains[0][0]
}

// Handler serves the three enrollment endpoints and nothing else.
func (s *Service) Handler() http.Handler {
	r := route.NewRouter()
	r.HandleFunc(PathDiscovery, s.serveDiscovery)
	r.HandleFunc(PathPolicy, func(w http.ResponseWriter, r *http.Request) {
		s.serveSOAP(w, r, mde2.ActionGetPolicies, mde2.ActionGetPoliciesResponse, s.handlePolicies)
	})
	r.HandleFunc(PathEnrollment, func(w http.ResponseWriter, r *http.Request) {
		s.serveSOAP(w, r, mde2.ActionRST, mde2.ActionRSTRC, s.handleRST)
	})
	return r
}

// serveDiscovery answers the GET probe with 200 and an empty body (MS-MDE2
// 3.1.4.1; docs/protocol.md A.1) and the POST with Discover.
func (s *Service) serveDiscovery(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusOK)
		return
	}
	s.serveSOAP(w, r, mde2.ActionDiscover, mde2.ActionDiscoverResponse, s.handleDiscover)
}

// principal is an authenticated enrolling user.
type principal struct {
	Tenant      Tenant
	UserID, UPN string
	// token is the verified Federated token the user authenticated with; nil for OnPremise.
	token *TokenClaims
}

// authenticate applies the tenant's auth policy to the wsse:Security header
// (MS-MDE2 3.3.4, 3.4.4; docs/protocol.md A.4): OnPremise checks the password via
// the Directory; Federated verifies the token and that its tenant owns the
// UPN's domain.
func (s *Service) authenticate(ctx context.Context, sec *mde2.Security) (principal, error) {
	if sec == nil {
		sec = &mde2.Security{}
	}
	switch {
	case sec.UsernameToken != nil:
		c := sec.UsernameToken
		t, err := s.tenantFor(ctx, c.Username)
		if err != nil {
			return principal{}, err
		}
		if t.AuthPolicy != AuthPolicyOnPremise {
			return principal{}, senderFault(mde2.SubcodeAuthentication, "tenant requires Federated authentication", nil)
		}
		uid, err := s.dir.CheckPassword(ctx, t.ID, c.Username, c.Password)
		var locked *LockedOutError
		if errors.As(err, &locked) {
			// MS-MDE2 2.2.10: s:Authentication is the fault for credentials the server will
			// not accept; the wait travels as Retry-After. The same answer for every user
			// name, so it does not tell whether the user exists.
			f := senderFault(mde2.SubcodeAuthentication, "too many failed sign-ins; try again later", err)
			f.RetryAfter = locked.RetryAfter
			return principal{}, f
		}
		if errors.Is(err, ErrBadCredentials) {
			return principal{}, senderFault(mde2.SubcodeAuthentication, "invalid user name or password", err)
		}
		if err != nil {
			return principal{}, receiverFault(mde2.SubcodeInternalServiceFault, "directory unavailable", fmt.Errorf("checking password: %w", err))
		}
		return principal{Tenant: t, UserID: uid, UPN: c.Username}, nil
	case sec.HasUserToken:
		if s.tokens == nil {
			return principal{}, senderFault(mde2.SubcodeAuthentication, "Federated authentication is not available", nil)
		}
		claims, err := s.tokens.VerifyEnrollmentToken(ctx, sec.UserToken)
		if errors.Is(err, ErrInvalidToken) {
			return principal{}, senderFault(mde2.SubcodeAuthentication, "invalid enrollment token", err)
		}
		if err != nil {
			return principal{}, receiverFault(mde2.SubcodeInternalServiceFault, "token verification unavailable", fmt.Errorf("verifying token: %w", err))
		}
		t, err := s.tenantFor(ctx, claims.UPN)
		if err != nil {
			return principal{}, err
		}
		if t.ID != claims.TenantID {
			return principal{}, senderFault(mde2.SubcodeAuthorization, "token was issued for another tenant",
				fmt.Errorf("token tenant %s, domain tenant %s", claims.TenantID, t.ID))
		}
		if t.AuthPolicy != AuthPolicyFederated {
			return principal{}, senderFault(mde2.SubcodeAuthentication, "tenant requires OnPremise authentication", nil)
		}
		return principal{Tenant: t, UserID: claims.UserID, UPN: claims.UPN, token: &claims}, nil
	default:
		return principal{}, senderFault(mde2.SubcodeInvalidSecurity, "missing WS-Security credentials", nil)
	}
}

// randomToken returns n random bytes, base64 encoded.
func (s *Service) randomToken(n int) (string, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(s.cfg.Rand, b); err != nil {
		return "", fmt.Errorf("reading randomness: %w", err)
	}
	return base64.StdEncoding.EncodeToString(b), nil
}
