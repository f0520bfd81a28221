package loadgen

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	adminclient "github.com/hellomdm/hellomdm/server/adminapi/client"
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
)

// PushConfig is what one push run does (hellomdm bench push).
type PushConfig struct {
	// Servers are the replicas' base URLs; device i holds its channel on Servers[i%len] and
	// runs its sessions there; enrollment and the assignment go to Servers[0].
	Servers    []string
	RootCAs    *x509.CertPool
	AdminToken string
	Devices    int
	// Timeout bounds the wait, after the assignment, for every device's setting.
	Timeout time.Duration
	// Sessions bounds the sessions in flight in the tool (default 256): more wake-ups wait.
	Sessions          int
	EnrollConcurrency int
	// StateDir, when set, keeps the devices' state: a later run with the same StateDir,
	// Servers[0] and Devices reopens them instead of enrolling (the server keeps its data).
	// Empty: a temporary directory, removed after the run.
	StateDir string
	// SetupOnly enrolls the devices into StateDir and returns.
	SetupOnly bool
	// ServerPIDs are the replicas' process IDs, to read their memory from /proc.
	ServerPIDs []int
	Progress   io.Writer
}

// PushResult is what a push run measured.
type PushResult struct {
	Devices  int           `json:"devices"`
	Enrolled time.Duration `json:"enrollDuration"`
	// FromState names the state directory the devices were reopened from (not enrolled).
	FromState string `json:"devicesFromState,omitempty"`
	Connected int    `json:"connected"`
	// Applied counts devices whose woken session recorded the setting; Succeeded is the
	// server's own count of the profile's setting states in succeeded after the run.
	Applied   int           `json:"applied"`
	Succeeded int           `json:"succeeded"`
	Within10s int           `json:"appliedWithin10s"`
	P50       time.Duration `json:"p50"`
	P90       time.Duration `json:"p90"`
	P99       time.Duration `json:"p99"`
	Max       time.Duration `json:"max"`
	Sessions  int64         `json:"sessions"`
	Errors    int64         `json:"errors"`
	// RSS before the channels connected and with all of them connected, per server, and the
	// growth per channel.
	RSSBefore  []int64 `json:"serverRSSBeforeBytes,omitempty"`
	RSSWith    []int64 `json:"serverRSSConnectedBytes,omitempty"`
	RSSPeak    []int64 `json:"serverPeakRSSBytes,omitempty"`
	PerChannel int64   `json:"bytesPerChannel,omitempty"`
	FirstError string  `json:"firstError,omitempty"`
}

// pushSetting is the node the run's profile sets on every device (the server sends it in
// its canonical form, which may add a scope: matched on pushSettingName).
const (
	pushSetting     = "./Vendor/MSFT/Policy/Config/Authentication/ConfigureWebSignInAllowedUrls"
	pushSettingName = "/ConfigureWebSignInAllowedUrls"
)

// schannelCurves are the key exchanges the simulated agents offer, Windows' SChannel's
// default order: not the post-quantum hybrid (X25519MLKEM768) Go offers by default, whose
// ML-KEM key generation and encapsulation were 13 % of the tool's CPU and 6 % of the
// server's in a run of 10,000 woken sessions.
var schannelCurves = []tls.CurveID{tls.X25519, tls.CurveP256, tls.CurveP384}

// RunPush enrolls cfg.Devices simulated agents, connects each to the built-in push channel,
// assigns a profile to all devices, and measures from the assignment until each device's
// woken session recorded the setting (the server answers a session's last message after its
// transaction committed, so the session's end is when the state was recorded).
func RunPush(ctx context.Context, cfg PushConfig) (PushResult, error) {
	if cfg.Devices <= 0 || len(cfg.Servers) == 0 {
		return PushResult{}, errors.New("loadgen: Devices and Servers are required")
	}
	cfg = pushDefaults(cfg)
	base := Config{ServerURL: cfg.Servers[0], RootCAs: cfg.RootCAs, AdminToken: cfg.AdminToken, Devices: cfg.Devices,
		EnrollConcurrency: cfg.EnrollConcurrency, StateDir: cfg.StateDir, Progress: cfg.Progress, Concurrency: 64}
	cleanup, err := tempStateDir(&base.StateDir, "hellomdm-push-*")
	if err != nil {
		return PushResult{}, err
	}
	defer cleanup()
	hc := setupClient(base.RootCAs)
	admin := newAdminClient(base, hc)
	res := PushResult{Devices: cfg.Devices}
	t0 := time.Now()
	st, devs, reused, err := pushDevices(ctx, cfg, base, admin, hc)
	if err != nil {
		return res, err
	}
	tenantID := st.TenantID
	if reused {
		res.FromState = cfg.StateDir
	} else {
		res.Enrolled = time.Since(t0)
		fmt.Fprintf(cfg.Progress, "enrolled %d devices in %v\n", len(devs), res.Enrolled.Round(time.Millisecond))
	}
	if cfg.SetupOnly {
		return res, nil
	}
	if err := startDevices(ctx, cfg, base, devs); err != nil {
		return res, err
	}
	run := &pushRun{cfg: cfg, devs: devs, value: fmt.Sprintf("signin-%x.push.example", time.Now().UnixNano()), done: make([]time.Duration, len(devs)), sem: make(chan struct{}, cfg.Sessions)}
	res.RSSBefore = rssOf(cfg.ServerPIDs)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if err := run.connectAll(ctx); err != nil {
		return res, err
	}
	res.Connected = len(devs)
	time.Sleep(2 * time.Second) // let the servers settle before reading their memory
	res.RSSWith = rssOf(cfg.ServerPIDs)
	res.PerChannel = perChannel(res.RSSBefore, res.RSSWith, len(devs))
	fmt.Fprintf(cfg.Progress, "connected %d push channels\n", len(devs))
	pid, err := run.assign(ctx, admin, tenantID)
	if err != nil {
		return res, err
	}
	if cfg.StateDir != "" {
		st.Profile = pid
		if err := writePushState(cfg.StateDir, st); err != nil {
			return res, err
		}
	}
	run.wait(ctx)
	res.Applied, res.Within10s, res.P50, res.P90, res.P99, res.Max = run.latencies()
	res.Sessions, res.Errors = run.sessions.Load(), run.errs.Load()
	if v, ok := run.firstErr.Load().(string); ok {
		res.FirstError = v
	}
	res.RSSPeak = peakOf(cfg.ServerPIDs)
	ps, err := admin.ProfileStatus(context.WithoutCancel(ctx), tenantID, adminclient.CustomOMAURI, pid)
	if err != nil {
		return res, fmt.Errorf("reading the profile's status: %w", err)
	}
	res.Succeeded = ps.Counts["succeeded"]
	return res, nil
}

// startDevices points each device at its replica and runs its first session, as `device run`
// does when it starts, before it holds its channel.
func startDevices(ctx context.Context, cfg PushConfig, base Config, devs []*simDevice) error {
	for i, d := range devs {
		d.server = cfg.Servers[i%len(cfg.Servers)]
		d.mgmtURL = strings.TrimRight(d.server, "/") + "/ManagementServer/MDM.svc"
		d.tls.ClientSessionCache = tls.NewLRUClientSessionCache(1)
		d.tls.CurvePreferences = schannelCurves
		d.own = true
	}
	// As `device run` does, each device syncs once when it starts, before it holds its
	// channel. Every session runs on a connection of its own, closed at the session's end
	// (a woken session resumes TLS on a new one, as Windows' client does), so a run needs one
	// descriptor per channel, not two.
	w0 := time.Now()
	if err := warmUp(ctx, base, devs); err != nil {
		return err
	}
	fmt.Fprintf(cfg.Progress, "first session of %d devices in %v\n", len(devs), time.Since(w0).Round(time.Millisecond))
	return nil
}

// workerUsers returns one sign-in source per enrollment worker, creating users beside upn:
// a user's sign-ins go one at a time (tokenSource).
func workerUsers(ctx context.Context, admin *adminclient.Client, hc *http.Client, server, tenantID, upn, password string, workers int) ([]*tokenSource, error) {
	tokens := []*tokenSource{{server: strings.TrimRight(server, "/"), upn: upn, password: password, http: hc}}
	for w := 1; w < workers; w++ {
		u := fmt.Sprintf("load%d@%s", w, strings.SplitN(upn, "@", 2)[1])
		if _, err := admin.CreateUser(ctx, tenantID, wire.UserRequest{UserPrincipalName: u,
			PasswordProfile: wire.PasswordProfile{Password: password}}); err != nil {
			return nil, fmt.Errorf("creating a load-test user: %w", err)
		}
		tokens = append(tokens, &tokenSource{server: tokens[0].server, upn: u, password: password, http: hc})
	}
	return tokens, nil
}

func pushDefaults(cfg PushConfig) PushConfig {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 2 * time.Minute
	}
	if cfg.Sessions <= 0 {
		cfg.Sessions = 256
	}
	if cfg.EnrollConcurrency <= 0 {
		cfg.EnrollConcurrency = 16
	}
	if cfg.Progress == nil {
		cfg.Progress = io.Discard
	}
	return cfg
}

// pushRun is the state of one run.
type pushRun struct {
	cfg   PushConfig
	devs  []*simDevice
	value string    // the setting's value this run assigns (new in every run: a reused tenant's devices held the last one)
	start time.Time // when the assignment was sent

	mu        sync.Mutex
	done      []time.Duration // per device: assignment → the session that recorded the setting
	remaining int
	allDone   chan struct{}

	sem      chan struct{}
	sessions atomic.Int64
	errs     atomic.Int64
	firstErr atomic.Value
}

func (r *pushRun) fail(err error) {
	r.errs.Add(1)
	r.firstErr.CompareAndSwap(nil, err.Error())
}

// connectAll opens every device's channel, 64 at a time, and keeps reading them.
func (r *pushRun) connectAll(ctx context.Context) error {
	r.remaining, r.allDone = len(r.devs), make(chan struct{})
	var n atomic.Int64
	pos := make(map[*simDevice]int, len(r.devs))
	for i, d := range r.devs {
		pos[d] = i
	}
	return eachDevice(ctx, 64, r.devs, func(d *simDevice) error {
		br, err := d.openChannel(ctx)
		if err != nil {
			return fmt.Errorf("connecting device %s's push channel: %w", d.id, err)
		}
		go r.listen(ctx, pos[d], br)
		if c := n.Add(1); c%1000 == 0 {
			fmt.Fprintf(r.cfg.Progress, "\rconnected %d/%d", c, len(r.devs))
		}
		return nil
	})
}

// listen reads device i's channel; each wake-up runs a session (at most cfg.Sessions at once
// in the tool); wake-ups that arrive during one are coalesced into the next.
func (r *pushRun) listen(ctx context.Context, i int, br *bufio.Reader) {
	d := r.devs[i]
	wake := make(chan struct{}, 1)
	go func() {
		for range wake {
			r.session(ctx, i)
		}
	}()
	defer close(wake)
	var event string
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			if ctx.Err() == nil {
				r.fail(fmt.Errorf("device %s's push channel ended: %w", d.id, err))
			}
			return
		}
		line = strings.TrimRight(line, "\r\n")
		switch {
		case strings.HasPrefix(line, "event: "):
			event = strings.TrimPrefix(line, "event: ")
		case line == "" && event == "wake":
			select {
			case wake <- struct{}{}:
			default:
			}
			event = ""
		}
	}
}

// session runs one woken session of device i and records when it applied the setting.
func (r *pushRun) session(ctx context.Context, i int) {
	select {
	case r.sem <- struct{}{}:
	case <-ctx.Done():
		return
	}
	defer func() { <-r.sem }()
	d := r.devs[i]
	_, _, _, err := d.runSession(ctx)
	r.sessions.Add(1)
	if err != nil {
		if ctx.Err() == nil {
			r.fail(fmt.Errorf("device %s: %w", d.id, err))
		}
		return
	}
	if d.verified == r.value && !r.start.IsZero() {
		r.mu.Lock()
		if r.done[i] == 0 {
			r.done[i] = time.Since(r.start)
			r.remaining--
			if r.remaining == 0 {
				close(r.allDone)
			}
		}
		r.mu.Unlock()
	}
}

// assign imports the run's profile and assigns it to all devices; the clock starts just
// before the assignment is sent.
func (r *pushRun) assign(ctx context.Context, admin *adminclient.Client, tenantID string) (string, error) {
	doc, _ := json.Marshal(map[string]any{"@odata.type": "#microsoft.graph.windows10CustomConfiguration", "displayName": "bench push",
		"omaSettings": []map[string]any{{"@odata.type": "#microsoft.graph.omaSettingString", "displayName": "ConfigureWebSignInAllowedUrls",
			"omaUri": pushSetting, "value": r.value}}})
	p, err := admin.CreateProfile(ctx, tenantID, adminclient.CustomOMAURI, doc)
	if err != nil {
		return "", fmt.Errorf("importing the profile: %w", err)
	}
	r.mu.Lock()
	r.start = time.Now()
	r.mu.Unlock()
	if _, err := admin.AssignProfile(ctx, tenantID, adminclient.CustomOMAURI, p.ID,
		[]wire.Assignment{{Target: wire.AssignmentTarget{Type: "#microsoft.graph.allDevicesAssignmentTarget"}}}); err != nil {
		return "", fmt.Errorf("assigning the profile: %w", err)
	}
	fmt.Fprintf(r.cfg.Progress, "assigned the profile to all devices\n")
	return p.ID, nil
}

// wait waits until every device applied the setting or the timeout, printing progress.
func (r *pushRun) wait(ctx context.Context) {
	deadline := time.NewTimer(r.cfg.Timeout)
	defer deadline.Stop()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-r.allDone:
			return
		case <-deadline.C:
			r.fail(fmt.Errorf("%d devices had not applied the setting %v after the assignment", r.left(), r.cfg.Timeout))
			return
		case <-ctx.Done():
			return
		case <-tick.C:
			fmt.Fprintf(r.cfg.Progress, "\r%6.1fs  %d/%d applied  %d sessions  %d errors   ", time.Since(r.start).Seconds(),
				len(r.devs)-r.left(), len(r.devs), r.sessions.Load(), r.errs.Load())
		}
	}
}

func (r *pushRun) left() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.remaining
}

// latencies summarises the devices that applied the setting.
func (r *pushRun) latencies() (applied, within10 int, p50, p90, p99, mx time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var ds []time.Duration
	for _, d := range r.done {
		if d > 0 {
			ds = append(ds, d)
			if d <= 10*time.Second {
				within10++
			}
		}
	}
	return len(ds), within10, percentile(ds, 50), percentile(ds, 90), percentile(ds, 99), percentile(ds, 100)
}

// openChannel dials the device's server with its client certificate, sends the channel's
// GET and returns the stream after the answer's headers (one goroutine and a small buffer
// per device, rather than an HTTP client's).
func (d *simDevice) openChannel(ctx context.Context) (*bufio.Reader, error) {
	u, err := url.Parse(d.server)
	if err != nil {
		return nil, err
	}
	dialer := &tls.Dialer{NetDialer: &net.Dialer{Timeout: 30 * time.Second}, Config: d.tls}
	conn, err := dialer.DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return nil, err
	}
	if _, err := fmt.Fprintf(conn, "GET /ManagementServer/Push HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\nUser-Agent: MSFT OMA DM Client/1.2.0.1\r\n\r\n", u.Host); err != nil {
		conn.Close()
		return nil, err
	}
	br := bufio.NewReaderSize(conn, 512)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		conn.Close()
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		conn.Close()
		return nil, fmt.Errorf("HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(raw)))
	}
	go func() { <-ctx.Done(); conn.Close() }()
	return bufio.NewReaderSize(resp.Body, 512), nil
}

func rssOf(pids []int) []int64 {
	var out []int64
	for _, p := range pids {
		rss, _ := readRSS(p)
		out = append(out, rss)
	}
	return out
}

func peakOf(pids []int) []int64 {
	var out []int64
	for _, p := range pids {
		_, peak := readRSS(p)
		out = append(out, peak)
	}
	return out
}

// perChannel is the servers' RSS growth per connected channel.
func perChannel(before, with []int64, n int) int64 {
	if len(before) == 0 || len(before) != len(with) || n == 0 {
		return 0
	}
	var grew int64
	for i := range before {
		grew += with[i] - before[i]
	}
	return grew / int64(n)
}
