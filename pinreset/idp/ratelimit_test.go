package idp

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// memCounter is a FailureCounter in memory, shared by the Services of a test like a store
// shared by replicas; err, when set, makes every call fail.
type memCounter struct {
	mu      sync.Mutex
	err     error
	windows map[string]failureWindow // start and count; the window length is the caller's
	ends    map[string]time.Time
}

func newMemCounter() *memCounter {
	return &memCounter{windows: map[string]failureWindow{}, ends: map[string]time.Time{}}
}

func (m *memCounter) setErr(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.err = err
}

func (m *memCounter) count(key string, now time.Time) int {
	n, _, _ := m.FailedSignIns(context.Background(), key, now)
	return n
}

func (m *memCounter) FailedSignIns(_ context.Context, key string, now time.Time) (int, time.Time, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return 0, time.Time{}, m.err
	}
	end, ok := m.ends[key]
	if !ok || !now.Before(end) {
		return 0, time.Time{}, nil
	}
	return m.windows[key].count, end, nil
}

func (m *memCounter) RecordFailedSignIn(ctx context.Context, key string, now time.Time, window time.Duration) (int, time.Time, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return 0, time.Time{}, m.err
	}
	if err := ctx.Err(); err != nil {
		return 0, time.Time{}, err
	}
	w, end := m.windows[key], m.ends[key]
	if !now.Before(end) {
		w, end = failureWindow{start: now}, now.Add(window)
	}
	w.count++
	m.windows[key], m.ends[key] = w, end
	return w.count, end, nil
}

func (m *memCounter) ResetFailedSignIns(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return m.err
	}
	delete(m.windows, key)
	delete(m.ends, key)
	return nil
}

// replica returns another Service over w's users, issuer and clock counting failures in c,
// logging to log when not nil.
func (w *world) replica(t *testing.T, c FailureCounter, log *slog.Logger) *Service {
	t.Helper()
	svc, err := New(Config{
		ServerHost: "mdm.contoso.com",
		FormKey:    []byte("0123456789abcdef0123456789abcdef"),
		Password:   cheapPW,
		Now:        w.clock.Now,
		Failures:   c,
		Logger:     log,
	}, w.store, w.issuer)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return svc
}

func wrongPassword(t *testing.T, s *Service, upn string) {
	t.Helper()
	if _, _, err := s.SignIn(context.Background(), upn, "wrong", "", AudienceEnrollment); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("wrong password for %s: %v, want ErrInvalidCredentials", upn, err)
	}
}

func wantRateLimited(t *testing.T, s *Service, upn, password string, maxWait time.Duration) {
	t.Helper()
	_, _, err := s.SignIn(context.Background(), upn, password, "", AudienceEnrollment)
	var rl *RateLimitError
	if !errors.As(err, &rl) || rl.RetryAfter <= 0 || rl.RetryAfter > maxWait {
		t.Fatalf("sign-in of %s: %v, want a RateLimitError with RetryAfter in (0, %s]", upn, err, maxWait)
	}
}

// Two Services sharing one FailureCounter (two replicas on one store) share the limit:
// half the failures on each, and the next attempt is refused on either, even with the
// right password; a successful sign-in on one resets the count for both.
func TestSignInLimitSharedAcrossReplicas(t *testing.T) {
	w := newWorld(t)
	c := newMemCounter()
	replicas := []*Service{w.replica(t, c, nil), w.replica(t, c, nil)}
	for i := range 10 {
		wrongPassword(t, replicas[i%2], "alice@contoso.com")
		w.clock.Advance(time.Second)
	}
	if n := c.count("alice@contoso.com", w.clock.Now()); n != 10 {
		t.Fatalf("shared count %d, want 10", n)
	}
	for i, r := range replicas {
		// The window opened at t0 and ends a minute later; 10 seconds have passed.
		wantRateLimited(t, r, "Alice@Contoso.com", alicePW, 50*time.Second)
		// Another UPN is not limited (bob has a password and a wrong code: one failure each).
		if _, _, err := r.SignIn(context.Background(), "bob@contoso.com", bobPW, "000000", AudienceEnrollment); !errors.Is(err, ErrTOTPInvalid) {
			t.Fatalf("replica %d: another user: %v, want ErrTOTPInvalid", i, err)
		}
	}
	w.clock.Advance(time.Minute)
	if _, _, err := replicas[1].SignIn(context.Background(), "alice@contoso.com", alicePW, "", AudienceEnrollment); err != nil {
		t.Fatalf("after the window: %v", err)
	}
	for range 9 {
		wrongPassword(t, replicas[0], "alice@contoso.com")
	}
	if _, _, err := replicas[1].SignIn(context.Background(), "alice@contoso.com", alicePW, "", AudienceEnrollment); err != nil {
		t.Fatalf("9 failures: %v", err)
	}
	if n := c.count("alice@contoso.com", w.clock.Now()); n != 0 {
		t.Fatalf("count %d after a successful sign-in, want 0 (reset)", n)
	}
}

// While the shared counter fails, each Service limits failures in its own memory (neither
// unlimited guesses nor a lockout), logs the switch once each way, and after the window a
// correct password signs in. Once the counter answers again, the shared limit applies.
func TestSignInLimitSharedCounterFails(t *testing.T) {
	w := newWorld(t)
	c := newMemCounter()
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	a, b := w.replica(t, c, log), w.replica(t, c, nil)
	for range 4 {
		wrongPassword(t, a, "alice@contoso.com") // counted in the store and in a's memory
	}
	c.setErr(errors.New("database down"))
	for range 6 {
		wrongPassword(t, a, "alice@contoso.com")
	}
	wantRateLimited(t, a, "alice@contoso.com", alicePW, time.Minute)
	// b has seen no failure of alice: per-process limit, so b still lets her try.
	if _, _, err := b.SignIn(context.Background(), "alice@contoso.com", alicePW, "", AudienceEnrollment); err != nil {
		t.Fatalf("other replica during the outage: %v", err)
	}
	if got := strings.Count(logs.String(), "sign-in rate limit store failing"); got != 1 {
		t.Errorf("%d failing warnings, want 1:\n%s", got, logs.String())
	}
	w.clock.Advance(time.Minute)
	if _, _, err := a.SignIn(context.Background(), "alice@contoso.com", alicePW, "", AudienceEnrollment); err != nil {
		t.Fatalf("after the window, store still down: %v", err)
	}
	c.setErr(nil)
	for range 10 {
		wrongPassword(t, b, "bob@contoso.com")
	}
	wantRateLimited(t, a, "bob@contoso.com", bobPW, time.Minute)
	if !strings.Contains(logs.String(), "sign-in rate limit store answers again") {
		t.Errorf("no recovery message:\n%s", logs.String())
	}
}

// cancelingUsers cancels the request (the client hangs up) when the user is looked up.
type cancelingUsers struct {
	*memStore
	cancel context.CancelFunc
}

func (c cancelingUsers) UserByUPN(ctx context.Context, tenantID, upn string) (User, error) {
	c.cancel()
	return c.memStore.UserByUPN(ctx, tenantID, upn)
}

// A client that hangs up during its sign-in is still counted: the counter does not see the
// request's cancellation (memCounter refuses a cancelled context, as a store would).
func TestSignInLimitCountsCanceledRequests(t *testing.T) {
	w := newWorld(t)
	c := newMemCounter()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := New(Config{FormKey: make([]byte, 32), Password: cheapPW, Now: w.clock.Now, Failures: c},
		cancelingUsers{memStore: w.store, cancel: cancel}, w.issuer)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.SignIn(ctx, "mallory@contoso.com", "guess", "", AudienceEnrollment); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("unknown user: %v, want ErrInvalidCredentials", err)
	}
	if ctx.Err() == nil {
		t.Fatal("the request was not cancelled")
	}
	if n := c.count("mallory@contoso.com", w.clock.Now()); n != 1 {
		t.Fatalf("count %d after a cancelled failed sign-in, want 1", n)
	}
}

// Concurrent attempts cannot together exceed the limit: each is counted before its password
// is checked, so of 40 wrong passwords sent at once exactly 10 (the limit) are checked and
// the rest refused; the right password is then refused too, until the window ends.
func TestSignInLimitHoldsForConcurrentAttempts(t *testing.T) {
	for _, tc := range []struct {
		name   string
		shared bool
	}{{"in memory", false}, {"shared counter", true}} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			svc := w.svc
			if tc.shared {
				svc = w.replica(t, newMemCounter(), nil)
			}
			var wg sync.WaitGroup
			var mu sync.Mutex
			results := map[string]int{}
			start := make(chan struct{})
			for range 40 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					_, _, err := svc.SignIn(context.Background(), "alice@contoso.com", "wrong", "", AudienceEnrollment)
					var rl *RateLimitError
					kind := "other: " + errText(err)
					switch {
					case errors.Is(err, ErrInvalidCredentials):
						kind = "checked"
					case errors.As(err, &rl):
						kind = "limited"
					}
					mu.Lock()
					results[kind]++
					mu.Unlock()
				}()
			}
			close(start)
			wg.Wait()
			if results["checked"] != 10 || results["limited"] != 30 {
				t.Fatalf("40 concurrent wrong passwords: %v; want 10 checked and 30 limited", results)
			}
			wantRateLimited(t, svc, "alice@contoso.com", alicePW, time.Minute)
		})
	}
}

func errText(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}
