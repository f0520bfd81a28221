package device

import (
	"context"
	"crypto"
	"crypto/x509"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/device/enroll"
	"github.com/hellomdm/hellomdm/device/identity"
	"github.com/hellomdm/hellomdm/enrollment/mde2"
	"github.com/hellomdm/hellomdm/syncml"
)

const day = 24 * time.Hour

// An enrollment record written before the agent kept the schedule reads as hellomdm's
// schedule; a kept one round-trips.
func TestEnrollmentRenewScheduleState(t *testing.T) {
	for _, tc := range []struct {
		name   string
		record string
		want   enroll.RenewSchedule
	}{
		{"record without the schedule", `{"state":"enrolled","certThumbprint":"AB"}`, enroll.RenewSchedule{ROBOSupport: true, RenewPeriod: 60, RetryInterval: 4}},
		{"record with the schedule", `{"state":"enrolled","renewal":{"roboSupport":false,"renewPeriod":30,"retryInterval":3},"lastRenewalFailure":"2025-06-01T12:00:00Z"}`,
			enroll.RenewSchedule{ROBOSupport: false, RenewPeriod: 30, RetryInterval: 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(dir+"/"+fileEnrollment, []byte(tc.record), 0o600); err != nil {
				t.Fatal(err)
			}
			a, err := Open(dir, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if got := a.Enrollment().RenewSchedule(); got != tc.want {
				t.Errorf("enroll.RenewSchedule = %+v, want %+v", got, tc.want)
			}
			a.mu.Lock()
			err = a.saveEnrollmentLocked()
			a.mu.Unlock()
			if err != nil {
				t.Fatal(err)
			}
			b, err := Open(dir, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if got, want := b.Enrollment(), a.Enrollment(); got.RenewSchedule() != want.RenewSchedule() ||
				!got.LastRenewalFailure.Equal(want.LastRenewalFailure) || (got.Renewal == nil) != (want.Renewal == nil) {
				t.Errorf("after a save: %+v, want %+v", got, want)
			}
		})
	}
}

// sessionLog serves OMA-DM sessions for a renewFake the way hellomdm's server treats
// certificates: a revoked one is refused with SyncHdr 401. It records the certificate each
// session presented and cancels the agent's Run after stopAfter sessions.
type sessionLog struct {
	t         *testing.T
	f         *renewFake
	stopAfter int
	cancel    context.CancelFunc

	mu    sync.Mutex
	peers []*x509.Certificate
}

func (l *sessionLog) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	m, err := syncml.Parse(body)
	if err != nil || r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		l.t.Errorf("session message: %v (TLS client certificate present: %v)", err, r.TLS != nil && len(r.TLS.PeerCertificates) > 0)
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	peer := r.TLS.PeerCertificates[0]
	if l.f.isRevoked(peer) {
		b := syncml.NewBuilder(syncml.ReplyHeader(m.Header, "1"), 1)
		b.StatusSyncHdr(m.Header.MsgID, syncml.StatusInvalidCredentials, nil)
		out, _ := b.Bytes(true)
		w.Write(out)
		return
	}
	n := 0
	if m.Header.MsgID == "1" {
		l.mu.Lock()
		l.peers = append(l.peers, peer)
		n = len(l.peers)
		l.mu.Unlock()
	}
	w.Write(reply(m))
	if n >= l.stopAfter {
		l.cancel()
	}
}

func (l *sessionLog) sessions() []*x509.Certificate {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]*x509.Certificate(nil), l.peers...)
}

// runSessions opens the agent in dir with its clock at now, runs it until the fake has seen
// sessions sessions, and returns Run's result and the certificate of each session.
func runSessions(t *testing.T, f *renewFake, dir string, id identity.Identity, now time.Time, sessions int) (*Agent, error, []*x509.Certificate) {
	t.Helper()
	a, err := Open(dir, Options{Identity: &id, Now: func() time.Time { return now }, PollUnit: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l := &sessionLog{t: t, f: f, stopAfter: sessions, cancel: cancel}
	f.setSession(l.serve)
	defer f.setSession(nil)
	runErr := a.Run(ctx)
	if ctx.Err() == context.DeadlineExceeded {
		t.Fatalf("Run did not reach %d sessions", sessions)
	}
	return a, runErr, l.sessions()
}

// renewalRequests counts the renewal requests the fake has answered.
func (f *renewFake) renewalRequests() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.peers)
}

// Run renews a certificate inside its renewal period before the first session, and the
// sessions present the new certificate (the old one is revoked: the fake would refuse it);
// outside the period, with ROBOSupport off or after expiry it does not; a refused renewal
// leaves the sessions on the current certificate and is not retried at the next poll.
func TestRunRenewsAutomatically(t *testing.T) {
	now := time.Now()
	hellomdm := &enroll.RenewSchedule{ROBOSupport: true, RenewPeriod: 60, RetryInterval: 4}
	clientEKU := []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	issued := func(f *renewFake, pub crypto.PublicKey, id string) (*x509.Certificate, string) {
		return f.ca.IssueValid(t, pub, id, clientEKU, time.Now().Add(-time.Minute), time.Now().Add(365*day)), ""
	}
	refused := func(*renewFake, crypto.PublicKey, string) (*x509.Certificate, string) { return nil, "s:Authorization" }
	for _, tc := range []struct {
		name         string
		notBefore    time.Time
		notAfter     time.Time
		renewal      *enroll.RenewSchedule
		clock        time.Duration // the agent's clock ahead of real time
		answer       answerFunc
		wantRequests int
		wantRenewed  bool
		wantStatus   string // a line of the MDM Certificate block after Run, spaces squeezed
	}{
		{"inside the renewal period: renewed before the first session", now.Add(-355 * day), now.Add(10 * day), hellomdm, 0, issued, 1, true,
			"LastRenewalFailure : -"},
		{"record without a schedule: hellomdm's 60 days", now.Add(-355 * day), now.Add(10 * day), nil, 0, issued, 1, true,
			"AutoRenewal : on (from 60 days before expiry, retry every 4 days)"},
		{"outside the renewal period", now.Add(-100 * day), now.Add(265 * day), hellomdm, 0, issued, 0, false,
			"NextRenewal : " + now.Add(205*day).UTC().Truncate(time.Second).Format(time.RFC3339)},
		{"ROBOSupport off", now.Add(-355 * day), now.Add(10 * day), &enroll.RenewSchedule{RenewPeriod: 60, RetryInterval: 4}, 0, issued, 0, false,
			"AutoRenewal : off (ROBOSupport false)"},
		{"expired by the agent's clock", now.Add(-355 * day), now.Add(10 * day), hellomdm, 11 * day, issued, 0, false,
			"NextRenewal : none: the certificate has expired"},
		{"renewal refused: current certificate kept, no retry at the next poll", now.Add(-355 * day), now.Add(10 * day), hellomdm, 0, refused, 1, false,
			"LastRenewalFailure : " + now.UTC().Format(time.RFC3339)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newRenewFake(t)
			f.answer = tc.answer
			id, err := identity.New(nil)
			if err != nil {
				t.Fatal(err)
			}
			dir, old := renewableState(t, f, id, enroll.CSRClean, tc.notBefore, tc.notAfter, tc.renewal)
			clock := now.Add(tc.clock)

			a, runErr, sessions := runSessions(t, f, dir, id, clock, 2)
			if runErr != nil {
				t.Fatalf("Run: %v", runErr)
			}
			if got := f.renewalRequests(); got != tc.wantRequests {
				t.Errorf("%d renewal requests, want %d", got, tc.wantRequests)
			}
			cur := tlsCertOfAgent(t, a).Leaf
			if renewed := cur.SerialNumber.Cmp(old.SerialNumber) != 0; renewed != tc.wantRenewed {
				t.Errorf("certificate serial %v after Run (before %v): renewed %v, want %v", cur.SerialNumber, old.SerialNumber, renewed, tc.wantRenewed)
			}
			if tc.wantRenewed {
				if !f.isRevoked(old) {
					t.Errorf("old certificate %v not revoked by the renewal", old.SerialNumber)
				}
				if got := a.Enrollment().CertThumbprint; got != mde2.Thumbprint(cur) {
					t.Errorf("enrollment thumbprint %s, want %s", got, mde2.Thumbprint(cur))
				}
			}
			for i, s := range sessions {
				if !s.Equal(cur) {
					t.Errorf("session %d presented serial %v, want %v", i+1, s.SerialNumber, cur.SerialNumber)
				}
			}
			wantFailure := tc.wantRequests > 0 && !tc.wantRenewed
			if got := a.Enrollment().LastRenewalFailure; wantFailure != !got.IsZero() || (wantFailure && !got.Equal(clock.UTC())) {
				t.Errorf("LastRenewalFailure %v, want a failure recorded: %v (at %v)", got, wantFailure, clock.UTC())
			}
			if status := squeezedStatus(t, a); !strings.Contains(status, tc.wantStatus) {
				t.Errorf("status lacks %q:\n%s", tc.wantStatus, status)
			}
		})
	}
}

// A failed renewal is persisted: a restarted agent waits RetryInterval days before the next
// attempt, shows the retry in its status, and renews once that time has come.
func TestRunRenewalRetryAcrossRestarts(t *testing.T) {
	f := newRenewFake(t)
	var mu sync.Mutex
	refuse := true
	f.answer = func(f *renewFake, pub crypto.PublicKey, id string) (*x509.Certificate, string) {
		mu.Lock()
		defer mu.Unlock()
		if refuse {
			return nil, "s:Authorization"
		}
		return f.ca.IssueValid(t, pub, id, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, time.Now().Add(-time.Minute), time.Now().Add(365*day)), ""
	}
	id, err := identity.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now().UTC()
	notAfter := t0.Add(10 * day)
	dir, _ := renewableState(t, f, id, enroll.CSRWindows, t0.Add(-355*day), notAfter, &enroll.RenewSchedule{ROBOSupport: true, RenewPeriod: 60, RetryInterval: 4})

	for _, step := range []struct {
		name         string
		clock        time.Time
		refuse       bool
		wantRequests int
		wantFailure  time.Time
		wantStatus   []string
	}{
		{"first attempt refused", t0, true, 1, t0, []string{
			"LastRenewalFailure : " + t0.Format(time.RFC3339),
			"NextRenewal : " + t0.Add(4*day).Format(time.RFC3339)}},
		{"restart within RetryInterval: no attempt", t0.Add(3 * day), false, 1, t0, []string{
			"CertExpiry : " + notAfter.Truncate(time.Second).Format(time.RFC3339),
			"AutoRenewal : on (from 60 days before expiry, retry every 4 days)"}},
		{"restart after RetryInterval: renewed", t0.Add(4*day + time.Minute), false, 2, time.Time{}, []string{
			"LastRenewalFailure : -"}},
	} {
		mu.Lock()
		refuse = step.refuse
		mu.Unlock()
		a, runErr, _ := runSessions(t, f, dir, id, step.clock, 1)
		if runErr != nil {
			t.Fatalf("%s: Run: %v", step.name, runErr)
		}
		if got := f.renewalRequests(); got != step.wantRequests {
			t.Errorf("%s: %d renewal requests in all, want %d", step.name, got, step.wantRequests)
		}
		if got := a.Enrollment().LastRenewalFailure; !got.Equal(step.wantFailure) {
			t.Errorf("%s: LastRenewalFailure %v, want %v", step.name, got, step.wantFailure)
		}
		status := squeezedStatus(t, a)
		for _, want := range step.wantStatus {
			if !strings.Contains(status, want) {
				t.Errorf("%s: status lacks %q:\n%s", step.name, want, status)
			}
		}
	}
}

// squeezedStatus is the agent's Status with every run of white space made one space.
func squeezedStatus(t *testing.T, a *Agent) string {
	t.Helper()
	s, err := a.Status()
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(strings.Fields(s), " ")
}
