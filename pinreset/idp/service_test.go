package idp

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestSignIn(t *testing.T) {
	code := func(w *world, d int64) string { return TOTPCode(w.secret, t0.Add(time.Duration(d)*TOTPPeriod)) }
	cur := totpStep(t0)
	tests := []struct {
		name     string
		setup    func(w *world)
		upn, pw  string
		otp      func(w *world) string
		via      string // federation host, SignInFederated when set
		aud      string
		wantErr  error
		wantAMR  []string
		wantStep int64 // bob's recorded last step after success
	}{
		{name: "password only", upn: "alice@contoso.com", pw: alicePW, wantAMR: []string{"pwd"}},
		{name: "upn case and spaces normalised", upn: "  Alice@Contoso.COM ", pw: alicePW, wantAMR: []string{"pwd"}},
		{name: "password and totp", upn: "bob@contoso.com", pw: bobPW, otp: func(w *world) string { return code(w, 0) }, wantAMR: []string{"pwd", "mfa"}, wantStep: cur},
		{name: "totp one step back accepted", upn: "bob@contoso.com", pw: bobPW, otp: func(w *world) string { return code(w, -1) }, wantAMR: []string{"pwd", "mfa"}, wantStep: cur - 1},
		{name: "totp one step ahead accepted", upn: "bob@contoso.com", pw: bobPW, otp: func(w *world) string { return code(w, 1) }, wantAMR: []string{"pwd", "mfa"}, wantStep: cur + 1},
		{name: "totp two steps back refused", upn: "bob@contoso.com", pw: bobPW, otp: func(w *world) string { return code(w, -2) }, wantErr: ErrTOTPInvalid},
		{name: "totp two steps ahead refused", upn: "bob@contoso.com", pw: bobPW, otp: func(w *world) string { return code(w, 2) }, wantErr: ErrTOTPInvalid},
		{name: "wrong password", upn: "alice@contoso.com", pw: "wrong", wantErr: ErrInvalidCredentials},
		{name: "unknown user", upn: "mallory@contoso.com", pw: alicePW, wantErr: ErrInvalidCredentials},
		{name: "unknown domain", upn: "alice@example.org", pw: alicePW, wantErr: ErrInvalidCredentials},
		{name: "malformed upn", upn: "alice", pw: alicePW, wantErr: ErrInvalidCredentials},
		{name: "missing otp", upn: "bob@contoso.com", pw: bobPW, wantErr: ErrTOTPRequired},
		{name: "wrong otp", upn: "bob@contoso.com", pw: bobPW, otp: func(w *world) string { return wrongCode(code(w, -1), code(w, 0), code(w, 1)) }, wantErr: ErrTOTPInvalid},
		{name: "wrong password with right otp", upn: "bob@contoso.com", pw: "nope", otp: func(w *world) string { return code(w, 0) }, wantErr: ErrInvalidCredentials},
		{
			name: "replayed otp",
			setup: func(w *world) {
				u := w.store.user(tenantA, "bob@contoso.com")
				u.TOTPLastStep = cur
				w.store.addUser(u)
			},
			upn: "bob@contoso.com", pw: bobPW, otp: func(w *world) string { return code(w, 0) }, wantErr: ErrTOTPReplayed,
		},
		{
			name:  "concurrent use of the same step",
			setup: func(w *world) { w.store.stepErr = ErrTOTPReplayed },
			upn:   "bob@contoso.com", pw: bobPW, otp: func(w *world) string { return code(w, 0) }, wantErr: ErrTOTPReplayed,
		},
		{name: "federated tenant refused locally", upn: "carol@fabrikam.com", pw: carolPW, wantErr: ErrFederated},
		{name: "federated tenant via its host", upn: "carol@fabrikam.com", pw: carolPW, via: "ADFS.fabrikam.com", wantAMR: []string{"pwd"}},
		{name: "federated tenant via other host", upn: "carol@fabrikam.com", pw: carolPW, via: "evil.example", wantErr: ErrFederated},
		{name: "federation host ignored for local tenant", upn: "alice@contoso.com", pw: alicePW, via: fedHost, wantAMR: []string{"pwd"}},
		{name: "unknown audience", upn: "alice@contoso.com", pw: alicePW, aud: "urn:other", wantErr: ErrUnknownAudience},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			if tc.setup != nil {
				tc.setup(w)
			}
			otp := ""
			if tc.otp != nil {
				otp = tc.otp(w)
			}
			aud := tc.aud
			if aud == "" {
				aud = AudiencePINReset
			}
			var (
				tok    string
				claims Claims
				err    error
			)
			if tc.via != "" {
				tok, claims, err = w.svc.SignInFederated(context.Background(), tc.via, tc.upn, tc.pw, otp, aud)
			} else {
				tok, claims, err = w.svc.SignIn(context.Background(), tc.upn, tc.pw, otp, aud)
			}
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || tok != "" {
					t.Fatalf("SignIn = %q, %v; want error %v", tok, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("SignIn: %v", err)
			}
			if !slices.Equal(claims.AMR, tc.wantAMR) {
				t.Errorf("amr %v, want %v", claims.AMR, tc.wantAMR)
			}
			got, err := w.issuer.Verify(context.Background(), tok, Expect{Audience: aud, TenantID: claims.TenantID})
			if err != nil {
				t.Fatalf("issued token does not verify: %v", err)
			}
			if got.UPN != strings.ToLower(strings.TrimSpace(tc.upn)) {
				t.Errorf("upn claim %q", got.UPN)
			}
			if tc.wantStep != 0 {
				if last := w.store.user(tenantA, "bob@contoso.com").TOTPLastStep; last != tc.wantStep {
					t.Errorf("recorded step %d, want %d", last, tc.wantStep)
				}
			}
		})
	}
}

func TestSignInCodeCannotBeReused(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	otp := TOTPCode(w.secret, t0)
	if _, _, err := w.svc.SignIn(ctx, "bob@contoso.com", bobPW, otp, AudiencePINReset); err != nil {
		t.Fatalf("first sign-in: %v", err)
	}
	if _, _, err := w.svc.SignIn(ctx, "bob@contoso.com", bobPW, otp, AudiencePINReset); !errors.Is(err, ErrTOTPReplayed) {
		t.Fatalf("second sign-in with the same code: %v, want ErrTOTPReplayed", err)
	}
	// The previous step's code is older than the used one: also refused.
	if _, _, err := w.svc.SignIn(ctx, "bob@contoso.com", bobPW, TOTPCode(w.secret, t0.Add(-TOTPPeriod)), AudiencePINReset); !errors.Is(err, ErrTOTPReplayed) {
		t.Fatalf("older code: %v, want ErrTOTPReplayed", err)
	}
	w.clock.Advance(TOTPPeriod)
	if _, _, err := w.svc.SignIn(ctx, "bob@contoso.com", bobPW, TOTPCode(w.secret, w.clock.Now()), AudiencePINReset); err != nil {
		t.Fatalf("next step's code: %v", err)
	}
}

func TestSignInUnknownUserLooksLikeWrongPassword(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	_, _, errUnknown := w.svc.SignIn(ctx, "mallory@contoso.com", "x", "", AudienceEnrollment)
	_, _, errWrong := w.svc.SignIn(ctx, "alice@contoso.com", "x", "", AudienceEnrollment)
	_, _, errDomain := w.svc.SignIn(ctx, "alice@nowhere.test", "x", "", AudienceEnrollment)
	if errUnknown.Error() != errWrong.Error() || errDomain.Error() != errWrong.Error() {
		t.Fatalf("errors differ:\n unknown user: %v\n wrong pw:     %v\n unknown dom:  %v", errUnknown, errWrong, errDomain)
	}
}

func TestSignInStoreFailureIsNotInvalidCredentials(t *testing.T) {
	w := newWorld(t)
	w.store.lookupErr = errors.New("database down")
	_, _, err := w.svc.SignIn(context.Background(), "alice@contoso.com", alicePW, "", AudienceEnrollment)
	if err == nil || errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("err = %v, want an internal error", err)
	}
}

func TestSignInRateLimit(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	for i := range 10 {
		if _, _, err := w.svc.SignIn(ctx, "alice@contoso.com", "wrong", "", AudienceEnrollment); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
	_, _, err := w.svc.SignIn(ctx, "Alice@Contoso.com", alicePW, "", AudienceEnrollment)
	var rl *RateLimitError
	if !errors.Is(err, ErrRateLimited) || !errors.As(err, &rl) || rl.RetryAfter <= 0 || rl.RetryAfter > time.Minute {
		t.Fatalf("11th attempt: %v, want a RateLimitError", err)
	}
	// Another UPN is not affected.
	if _, _, err := w.svc.SignIn(ctx, "bob@contoso.com", bobPW, TOTPCode(w.secret, t0), AudienceEnrollment); err != nil {
		t.Fatalf("other user: %v", err)
	}
	w.clock.Advance(time.Minute)
	if _, _, err := w.svc.SignIn(ctx, "alice@contoso.com", alicePW, "", AudienceEnrollment); err != nil {
		t.Fatalf("after the window: %v", err)
	}
}

func TestSignInSuccessResetsFailures(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	for range 9 {
		_, _, _ = w.svc.SignIn(ctx, "alice@contoso.com", "wrong", "", AudienceEnrollment)
	}
	if _, _, err := w.svc.SignIn(ctx, "alice@contoso.com", alicePW, "", AudienceEnrollment); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if _, _, err := w.svc.SignIn(ctx, "alice@contoso.com", "wrong", "", AudienceEnrollment); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("attempt %d after reset: %v", i, err)
		}
	}
}

func TestFailureLimiterBoundsItsTable(t *testing.T) {
	l := newFailureLimiter(2, time.Minute, 4)
	for _, k := range []string{"a", "b", "c", "d", "e", "f"} {
		l.attempt(k, t0)
	}
	if n := len(l.entries); n > 4 {
		t.Fatalf("%d entries, cap 4", n)
	}
	if l.attempt("x", t0) != 0 || l.attempt("x", t0) != 0 {
		t.Fatal("x blocked within its 2 attempts")
	}
	if l.attempt("x", t0) == 0 {
		t.Fatal("x not blocked at its third attempt")
	}
	if l.attempt("x", t0.Add(time.Minute)) != 0 {
		t.Fatal("x still blocked after the window")
	}
}

func TestEnrollTOTP(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	b32, uri, err := w.svc.EnrollTOTP(ctx, w.store, tenantA, "u-alice", "alice@contoso.com")
	if err != nil {
		t.Fatalf("EnrollTOTP: %v", err)
	}
	if !strings.HasPrefix(uri, "otpauth://totp/hellomdm:alice@contoso.com?secret="+b32+"&") {
		t.Errorf("uri %q", uri)
	}
	secret, err := DecodeTOTPSecret(b32)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := w.svc.SignIn(ctx, "alice@contoso.com", alicePW, "", AudiencePINReset); !errors.Is(err, ErrTOTPRequired) {
		t.Fatalf("after enrolment, sign-in without code: %v", err)
	}
	_, c, err := w.svc.SignIn(ctx, "alice@contoso.com", alicePW, TOTPCode(secret, t0), AudiencePINReset)
	if err != nil || !c.HasMFA() {
		t.Fatalf("sign-in with the new secret: %v, amr %v", err, c.AMR)
	}
	if _, _, err := w.svc.EnrollTOTP(ctx, w.store, tenantA, "u-nobody", ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown user: %v", err)
	}
	if _, _, err := w.svc.EnrollTOTP(ctx, w.store, "", "", ""); err == nil {
		t.Error("empty ids accepted")
	}
}

func TestNewValidatesConfig(t *testing.T) {
	w := newWorld(t)
	good := Config{FormKey: make([]byte, 32), Password: cheapPW}
	tests := []struct {
		name string
		cfg  Config
		nil1 bool
	}{
		{"short form key", Config{FormKey: make([]byte, 16), Password: cheapPW}, false},
		{"relative federation path", Config{FormKey: make([]byte, 32), Password: cheapPW, FederationPath: "adfs"}, false},
		{"negative limit", Config{FormKey: make([]byte, 32), Password: cheapPW, FailureLimit: -1}, false},
		{"bad password options", Config{FormKey: make([]byte, 32), Password: PasswordOptions{MemoryKiB: 1}}, false},
		{"nil store", good, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var users UserStore = w.store
			if tc.nil1 {
				users = nil
			}
			if _, err := New(tc.cfg, users, w.issuer); err == nil {
				t.Fatal("New succeeded")
			}
		})
	}
	if _, err := NewIssuer(IssuerConfig{}, w.keys); err == nil {
		t.Error("NewIssuer without URL succeeded")
	}
	if _, err := NewIssuer(IssuerConfig{URL: issuerURL}, nil); err == nil {
		t.Error("NewIssuer without keys succeeded")
	}
}
