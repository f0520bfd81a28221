package device

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sync"
	"time"

	"github.com/hellomdm/hellomdm/csp"
	"github.com/hellomdm/hellomdm/device/certs"
	"github.com/hellomdm/hellomdm/device/enroll"
	"github.com/hellomdm/hellomdm/device/hello"
	"github.com/hellomdm/hellomdm/device/identity"
	"github.com/hellomdm/hellomdm/device/internal/statefile"
	"github.com/hellomdm/hellomdm/device/omadm"
	"github.com/hellomdm/hellomdm/device/pinreset"
	"github.com/hellomdm/hellomdm/device/resetpolicy"
)

// Defaults of Options.
const (
	DefaultMaxMsgSize  = 65536 // SyncHdr Meta MaxMsgSize the agent announces and honours
	DefaultLoginStatus = "user"
	defaultHTTPTimeout = 60 * time.Second
)

// Options configure an Agent. Zero values take the defaults.
type Options struct {
	// Identity is stored when the state directory has none yet, and replaces the stored one
	// while the device is not enrolled. nil keeps the stored identity or generates one.
	Identity *identity.Identity
	Logger   *slog.Logger
	Rand     io.Reader        // default crypto/rand
	Now      func() time.Time // default time.Now
	// MaxMsgSize is announced in every SyncHdr Meta and bounds the agent's own messages
	// (default DefaultMaxMsgSize).
	MaxMsgSize int
	// LoginStatus is the data of the Alert 1224 com.microsoft/MDM/LoginStatus event: user,
	// others or none (MS-MDM; docs/protocol.md B.3). Default user.
	LoginStatus string
	// PollUnit is the length of one DMClient poll "minute" (default time.Minute); tests
	// shrink it to run a schedule quickly.
	PollUnit time.Duration
	// HTTPTimeout bounds each request (default 60 s).
	HTTPTimeout time.Duration
	// OnPinRecoveryChanged is called when the effective PassportForWork EnablePinRecovery
	// changes, after the agent's own protector lifecycle (device/pinreset) ran; an error fails
	// the command (500) and undoes the change. May be nil.
	OnPinRecoveryChanged func(enabled bool) error
	// PushChannel makes Run hold the server's built-in push channel and sync when woken
	// (device/push); PushCoalesce is how long a wake-up waits for more before the session
	// starts (default DefaultPushCoalesce); PushMinBackoff is the first reconnection delay
	// (default push.DefaultMinBackoff; tests shorten it).
	PushChannel    bool
	PushCoalesce   time.Duration
	PushMinBackoff time.Duration
	// HelloKDF is the Argon2id cost of new Hello PIN protectors (default
	// hello.DefaultKDFParams); tests lower it.
	HelloKDF *hello.KDFParams
	// WNSChannel is the device's WNS client: given the PFN the server set at DMClient
	// Provider/{ProviderID}/Push/PFN, the channel URI it registered ("" none). nil: the
	// device has no WNS client, and Push/Status answers 4, no channel URI assigned
	// (docs/protocol.md C.7). Tests point it at a WNS test server.
	WNSChannel func(pfn string) string
}

// Agent is the simulated Windows device: its identity, enrollment, DMClient and CSP tree,
// all persisted in one state directory. Its methods are safe for concurrent use; OMA-DM
// sessions are serialised.
type Agent struct {
	dir  string
	opts Options
	log  *slog.Logger

	syncMu sync.Mutex // one session at a time

	mu       sync.Mutex // guards the fields below
	id       identity.Identity
	join     identity.JoinState
	enr      enroll.Enrollment
	dm       omadm.ClientState
	unenroll bool // the server Exec'd DMClient/Unenroll in the current session
	renewNow bool // the server Exec'd CertificateStore My/WSTEP/Renew/RenewNow in the last session

	pol  *resetpolicy.State
	hm   *pinreset.Manager // Hello and PIN reset; lock order: pol, then hello's, then mu
	cat  *csp.Catalog
	tree *csp.Tree
}

// Open opens (creating if needed) the state directory dir and returns the agent.
func Open(dir string, opts Options) (*Agent, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Rand == nil {
		opts.Rand = rand.Reader
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxMsgSize <= 0 {
		opts.MaxMsgSize = DefaultMaxMsgSize
	}
	if opts.MaxMsgSize < 4096 {
		return nil, fmt.Errorf("opening device state: MaxMsgSize %d below 4096", opts.MaxMsgSize)
	}
	switch opts.LoginStatus {
	case "":
		opts.LoginStatus = DefaultLoginStatus
	case "user", "others", "none":
	default:
		return nil, fmt.Errorf("opening device state: LoginStatus %q: want user, others or none", opts.LoginStatus)
	}
	if opts.PollUnit <= 0 {
		opts.PollUnit = time.Minute
	}
	if opts.HTTPTimeout <= 0 {
		opts.HTTPTimeout = defaultHTTPTimeout
	}
	if opts.PushCoalesce <= 0 {
		opts.PushCoalesce = DefaultPushCoalesce
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating device state directory: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("securing device state directory: %w", err)
	}
	a := &Agent{dir: dir, opts: opts, log: opts.Logger.With("component", "device"), cat: csp.Default()}
	if err := a.loadIdentity(); err != nil {
		return nil, err
	}
	if err := a.loadJoin(); err != nil {
		return nil, err
	}
	if _, err := statefile.ReadJSON(a.path(fileEnrollment), &a.enr); err != nil {
		return nil, fmt.Errorf("opening device state: %w", err)
	}
	if a.enr.State == "" {
		a.enr.State = enroll.StateNotEnrolled
	}
	if _, err := statefile.ReadJSON(a.path(fileDMClient), &a.dm); err != nil {
		return nil, fmt.Errorf("opening device state: %w", err)
	}
	if err := a.openHello(); err != nil {
		return nil, err
	}
	pol, err := resetpolicy.Open(a.path(filePolicy), a.hm.PinRecoveryChanged)
	if err != nil {
		return nil, err
	}
	a.pol = pol
	a.pol.SetTenant(a.enr.TenantID)
	tree, err := csp.NewTree(a.cat, a.path(fileTree), csp.Env{OSVersion: a.id.OSVersion, Edition: a.id.OSEdition}, a.handlers()...)
	if err != nil {
		return nil, fmt.Errorf("opening device state: %w", err)
	}
	a.tree = tree
	if err := a.seedRenewNodes(); err != nil {
		return nil, fmt.Errorf("opening device state: %w", err)
	}
	return a, nil
}

// openHello opens the Hello and PIN reset manager over the agent's state.
func (a *Agent) openHello() error {
	m, err := pinreset.Open(pinreset.Config{
		Dir: a.dir,
		Device: pinreset.Device{
			Identity: a.Identity, Join: a.Join, Policy: a.Policy, Enrollment: a.Enrollment, Credentials: a.credentials,
		},
		Rand: a.opts.Rand, Now: a.opts.Now, Log: a.log, Timeout: a.opts.HTTPTimeout,
		KDF: a.opts.HelloKDF, OnPinRecoveryChanged: a.opts.OnPinRecoveryChanged,
	})
	if err != nil {
		return err
	}
	a.hm = m
	return nil
}

func (a *Agent) path(name string) string { return filepath.Join(a.dir, name) }

func (a *Agent) loadIdentity() error {
	var stored identity.Identity
	ok, err := statefile.ReadJSON(a.path(fileIdentity), &stored)
	if err != nil {
		return fmt.Errorf("opening device state: %w", err)
	}
	var enr enroll.Enrollment
	if _, err := statefile.ReadJSON(a.path(fileEnrollment), &enr); err != nil {
		return fmt.Errorf("opening device state: %w", err)
	}
	want := a.opts.Identity
	switch {
	case ok && (want == nil || identityEqual(*want, stored)):
		a.id = stored
		return stored.Validate()
	case ok && enr.State == enroll.StateEnrolled:
		return fmt.Errorf("changing the device identity: %w (unenroll first)", enroll.ErrEnrolled)
	case want == nil:
		id, err := identity.New(a.opts.Rand)
		if err != nil {
			return err
		}
		want = &id
	}
	if err := want.Validate(); err != nil {
		return err
	}
	if err := statefile.WriteJSON(a.path(fileIdentity), want); err != nil {
		return err
	}
	a.id = *want
	return nil
}

// identityEqual compares identities, an empty MAC list equal to a nil one.
func identityEqual(a, b identity.Identity) bool {
	if !slices.Equal(a.MACs, b.MACs) {
		return false
	}
	a.MACs, b.MACs = nil, nil
	return reflect.DeepEqual(a, b)
}

// Identity returns the device identity.
func (a *Agent) Identity() identity.Identity {
	a.mu.Lock()
	defer a.mu.Unlock()
	id := a.id
	id.MACs = append([]string(nil), a.id.MACs...)
	return id
}

// Enrollment returns a copy of the enrollment record (State enroll.StateNotEnrolled before
// enrolling).
func (a *Agent) Enrollment() enroll.Enrollment {
	a.mu.Lock()
	defer a.mu.Unlock()
	e := a.enr
	if e.Renewal != nil {
		r := *e.Renewal
		e.Renewal = &r
	}
	return e
}

// PollSchedule returns the DMClient poll schedule.
func (a *Agent) PollSchedule() omadm.PollSchedule {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.dm.Poll
}

// Policy returns the reset agent policy state the server configured (PassportForWork and
// Policy/Authentication), for the PIN reset flow.
func (a *Agent) Policy() resetpolicy.Policy { return a.pol.Policy() }

// HelloDir is the directory holding the user's Windows Hello container (device/hello).
func (a *Agent) HelloDir() string { return a.hm.HelloDir() }

// Nodes lists the CSP tree: stored values and the live values of DevInfo, DevDetail and
// hellomdm's HelloStatus, sorted by URI.
func (a *Agent) Nodes() []csp.NodeValue { return a.nodes() }

func (a *Agent) saveEnrollmentLocked() error {
	return statefile.WriteJSON(a.path(fileEnrollment), a.enr)
}

func (a *Agent) saveDMClientLocked() error { return statefile.WriteJSON(a.path(fileDMClient), a.dm) }

// updateEnrollment runs f on the enrollment record and persists it; when f or the save
// fails the record is left as it was.
func (a *Agent) updateEnrollment(f func(*enroll.Enrollment) error) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	prev := a.enr
	if err := f(&a.enr); err != nil {
		a.enr = prev
		return err
	}
	if err := a.saveEnrollmentLocked(); err != nil {
		a.enr = prev
		return err
	}
	return nil
}

// ClientTLS returns a TLS configuration presenting the device's enrollment certificate and
// trusting the provisioned root, for other device-side clients of the server (PIN reset).
func (a *Agent) ClientTLS() (*tls.Config, error) {
	cert, roots, err := a.credentials()
	if err != nil {
		return nil, err
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: roots, Certificates: []tls.Certificate{cert}}, nil
}

// credentials loads the device certificate and the provisioned root of an enrolled device.
func (a *Agent) credentials() (tls.Certificate, *x509.CertPool, error) {
	if a.Enrollment().State != enroll.StateEnrolled {
		return tls.Certificate{}, nil, enroll.ErrNotEnrolled
	}
	return certs.Load(a.dir)
}
