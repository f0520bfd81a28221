package server

import (
	"errors"
	"time"

	"github.com/hellomdm/hellomdm/server/console"
)

// Security holds the limits that guard passwords and tokens. Zero fields take the defaults
// below; README's Security section lists them with the serve flags that change them.
type Security struct {
	// SignInFailureLimit failed password checks per user are allowed per SignInFailureWindow,
	// counted together for every endpoint that checks a password (MS-MDE2 OnPremise
	// enrollment at Policy.svc and Enrollment.svc, the identity provider's sign-in page and
	// token endpoint) and shared by every replica through the store. Once over the limit the
	// user is locked out, right password or not, until the window ends.
	SignInFailureLimit  int
	SignInFailureWindow time.Duration
	// EnrollmentTokenLifetime is how long the identity provider's enrollment token (the
	// wresult of the MS-MDE2 Federated web sign-in) is valid. It is single-use besides: the
	// certificate issuance at Enrollment.svc redeems it.
	EnrollmentTokenLifetime time.Duration
	// ConsoleIdleTimeout ends a web console session unused for that long, and
	// ConsoleSessionLifetime ends it that long after sign-in (0: the defaults below).
	ConsoleIdleTimeout     time.Duration
	ConsoleSessionLifetime time.Duration
}

// Defaults of Security.
const (
	DefaultSignInFailureLimit  = 10
	DefaultSignInFailureWindow = 15 * time.Minute
	// A Windows client presents the token within seconds of the sign-in.
	DefaultEnrollmentTokenLifetime = 5 * time.Minute
	// The web console's session timeouts (console.DefaultIdleTimeout and
	// console.DefaultAbsoluteTimeout).
	DefaultConsoleIdleTimeout     = console.DefaultIdleTimeout
	DefaultConsoleSessionLifetime = console.DefaultAbsoluteTimeout
)

// withDefaults fills zero fields and refuses negative ones.
func (s Security) withDefaults() (Security, error) {
	if s.SignInFailureLimit < 0 || s.SignInFailureWindow < 0 || s.EnrollmentTokenLifetime < 0 || s.ConsoleIdleTimeout < 0 || s.ConsoleSessionLifetime < 0 {
		return s, errors.New("security limits: negative limit, window or lifetime")
	}
	if s.EnrollmentTokenLifetime == 0 {
		s.EnrollmentTokenLifetime = DefaultEnrollmentTokenLifetime
	}
	if s.SignInFailureLimit == 0 {
		s.SignInFailureLimit = DefaultSignInFailureLimit
	}
	if s.SignInFailureWindow == 0 {
		s.SignInFailureWindow = DefaultSignInFailureWindow
	}
	return s, nil
}
