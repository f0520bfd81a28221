// Package loadgen is hellomdm's load tool: it enrolls simulated devices through the real
// MS-MDE2 endpoints, queues commands through the admin API, and drives OMA-DM check-in
// sessions over TLS (keep-alive, or a new handshake per session), reporting sessions/s,
// messages/s, latency percentiles and the server's memory.
//
// Keep-alive runs first connect every device (one unmeasured session each), so that their
// figures are for connected devices, not for the first round's TLS handshakes.
//
// Sessions are scripted in memory, shaped like a Windows client's (package 1: Alert 1201,
// Alert 1224 LoginStatus, Replace of DevInfo; then Statuses), so that the client's own disk
// does not load the machine it measures.
package loadgen

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hellomdm/hellomdm/device"
	"github.com/hellomdm/hellomdm/device/enroll"
	adminclient "github.com/hellomdm/hellomdm/server/adminapi/client"
)

// Config is what one load run does.
type Config struct {
	ServerURL  string // https://host:port
	RootCAs    *x509.CertPool
	AdminToken string
	Devices    int           // simulated devices to enroll
	Duration   time.Duration // length of the measured run
	// Concurrency is the number of sessions in flight (default 64); with Rate it caps them
	// (default 512).
	Concurrency int
	// Rate, when positive, starts sessions at this many per second on a fixed schedule
	// (open loop) instead of starting the next one as soon as one ends. Session latency is
	// then measured from each session's scheduled start, so a server that falls behind is
	// charged with the wait (no coordinated omission). Latency at a stated load is what
	// this mode is for; Concurrency alone measures saturation.
	Rate float64
	// Idle runs sessions with nothing queued (one message each) instead of rounds of one
	// queued command per device (two messages each).
	Idle bool
	// HandshakePerSession opens a new TLS connection for every session (no keep-alive).
	HandshakePerSession bool
	// ResumeTLS lets each device resume its previous TLS session (session tickets), as
	// Windows' SChannel session cache does; without it every handshake is a full one.
	ResumeTLS         bool
	EnrollConcurrency int    // default 8
	StateDir          string // device state directories (default a temp dir, removed after)
	ServerPID         int    // when set, the server's RSS is read from /proc
	Progress          io.Writer
}

// Result is what a run measured.
type Result struct {
	Devices        int           `json:"devices"`
	Enrolled       time.Duration `json:"enrollDuration"`
	WarmUp         time.Duration `json:"warmUpDuration,omitempty"`
	Rounds         int           `json:"rounds"`
	QueueTime      time.Duration `json:"queueTime"`
	WallSessionsPS float64       `json:"sessionsPerSecIncludingQueueing"`
	Rate           float64       `json:"targetSessionsPerSec,omitempty"`
	Sessions       int64         `json:"sessions"`
	Messages       int64         `json:"messages"`
	Commands       int64         `json:"commandsApplied"`
	Errors         int64         `json:"errors"`
	Elapsed        time.Duration `json:"elapsed"`
	SessionsPerSec float64       `json:"sessionsPerSec"`
	MessagesPerSec float64       `json:"messagesPerSec"`
	SessionP50     time.Duration `json:"sessionP50"`
	SessionP99     time.Duration `json:"sessionP99"`
	SessionMax     time.Duration `json:"sessionMax"`
	MessageP50     time.Duration `json:"messageP50"`
	MessageP99     time.Duration `json:"messageP99"`
	MessageMax     time.Duration `json:"messageMax"`
	// LateStarts counts sessions (Rate mode) that began more than 1 ms after their scheduled
	// start because every worker was busy.
	LateStarts    int64  `json:"lateStarts,omitempty"`
	ServerRSS     int64  `json:"serverRSSBytes,omitempty"`
	ServerPeakRSS int64  `json:"serverPeakRSSBytes,omitempty"`
	FirstError    string `json:"firstError,omitempty"`
}

// simDevice is one enrolled device as the load tool drives it.
type simDevice struct {
	id      string
	client  *http.Client
	session int
	mgmtURL string
	// For bench push: the server the device holds its channel on, its TLS configuration,
	// the node values it holds, and the value of the last Get it answered for pushSetting.
	server   string
	tls      *tls.Config
	values   map[string]string
	verified string
	// own, for bench push: each session runs on a connection of its own (sessConn), dialled
	// at its first message and closed at its end, as Windows' client does; otherwise on
	// client's keep-alive connection.
	own  bool
	conn *sessConn
}

// Run enrolls the devices, queues commands, and drives check-ins for cfg.Duration.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if cfg.Devices <= 0 || cfg.Duration <= 0 {
		return Result{}, errors.New("loadgen: Devices and Duration must be positive")
	}
	if cfg.Rate < 0 {
		return Result{}, errors.New("loadgen: Rate must not be negative")
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 64
		if cfg.Rate > 0 {
			cfg.Concurrency = 512
		}
	}
	if cfg.EnrollConcurrency <= 0 {
		cfg.EnrollConcurrency = 8
	}
	if cfg.Progress == nil {
		cfg.Progress = io.Discard
	}
	cleanup, err := tempStateDir(&cfg.StateDir, "hellomdm-load-*")
	if err != nil {
		return Result{}, err
	}
	defer cleanup()
	hc := setupClient(cfg.RootCAs)
	admin := newAdminClient(cfg, hc)
	tenantID, upn, password, err := makeTenant(ctx, admin)
	if err != nil {
		return Result{}, err
	}
	tokens := &tokenSource{server: strings.TrimRight(cfg.ServerURL, "/"), upn: upn, password: password, http: hc}
	res := Result{Devices: cfg.Devices, Rate: cfg.Rate}
	start := time.Now()
	devs, err := enrollAll(ctx, cfg, []*tokenSource{tokens})
	if err != nil {
		return res, err
	}
	res.Enrolled = time.Since(start)
	fmt.Fprintf(cfg.Progress, "enrolled %d devices in %v\n", len(devs), res.Enrolled.Round(time.Millisecond))
	if !cfg.HandshakePerSession {
		// Keep-alive figures are for connected devices: connect every device (its TLS
		// handshake and a first, idle session) before the measured rounds.
		w0 := time.Now()
		if err := warmUp(ctx, cfg, devs); err != nil {
			return res, err
		}
		res.WarmUp = time.Since(w0)
		fmt.Fprintf(cfg.Progress, "connected %d devices (one unmeasured session each) in %v\n", len(devs), res.WarmUp.Round(time.Millisecond))
	}
	drive(ctx, cfg, admin, tenantID, devs, &res)
	if cfg.ServerPID > 0 {
		res.ServerRSS, res.ServerPeakRSS = readRSS(cfg.ServerPID)
	}
	return res, nil
}

// tokenSource signs the load-test user in for each device's enrollment token (one argon2id
// check on the server per device).
type tokenSource struct {
	server, upn, password string
	http                  *http.Client
	// mu makes the sign-ins one at a time: the server counts a sign-in in flight as a
	// failure until it succeeds, so more than its per-user limit at once would be refused.
	mu sync.Mutex
}

// get signs in for a fresh enrollment token: the server's enrollment tokens are single-use.
func (t *tokenSource) get(ctx context.Context) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	body, _ := json.Marshal(map[string]string{"upn": t.upn, "password": t.password, "audience": "urn:hellomdm:enrollment"})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.server+"/idp/token", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := t.http.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var out struct {
		Token string `json:"token"`
	}
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || json.Unmarshal(raw, &out) != nil || out.Token == "" {
		return "", fmt.Errorf("signing in for an enrollment token: HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(raw)))
	}
	return out.Token, nil
}

// enrollAll enrolls cfg.Devices devices, cfg.EnrollConcurrency at a time; worker w signs in
// as the user of tokens[w%len(tokens)] (each user's sign-ins go one at a time).
func enrollAll(ctx context.Context, cfg Config, tokens []*tokenSource) ([]*simDevice, error) {
	devs := make([]*simDevice, cfg.Devices)
	var next atomic.Int64
	var firstErr error
	var mu sync.Mutex
	var wg sync.WaitGroup
	var done atomic.Int64
	for w := 0; w < cfg.EnrollConcurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= cfg.Devices || ctx.Err() != nil {
					return
				}
				d, err := enrollOne(ctx, cfg, filepath.Join(cfg.StateDir, strconv.Itoa(i)), tokens[w%len(tokens)])
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("enrolling device %d: %w", i, err)
					}
					mu.Unlock()
					return
				}
				devs[i] = d
				if n := done.Add(1); n%100 == 0 {
					fmt.Fprintf(cfg.Progress, "\renrolled %d/%d", n, cfg.Devices)
				}
			}
		}()
	}
	wg.Wait()
	fmt.Fprintln(cfg.Progress)
	if firstErr != nil {
		return nil, firstErr
	}
	return devs, ctx.Err()
}

func enrollOne(ctx context.Context, cfg Config, dir string, tokens *tokenSource) (*simDevice, error) {
	tok, err := tokens.get(ctx)
	if err != nil {
		return nil, err
	}
	a, err := device.Open(dir, device.Options{})
	if err != nil {
		return nil, err
	}
	if err := a.Enroll(ctx, enroll.Request{ServerURL: cfg.ServerURL, UPN: tokens.upn, Token: tok, RootCAs: cfg.RootCAs, CSRShape: enroll.CSRClean}); err != nil {
		return nil, err
	}
	return simFromAgent(cfg, a)
}

// simFromAgent is the load tool's device for an enrolled agent.
func simFromAgent(cfg Config, a *device.Agent) (*simDevice, error) {
	tlsCfg, err := a.ClientTLS()
	if err != nil {
		return nil, err
	}
	if cfg.ResumeTLS {
		tlsCfg.ClientSessionCache = tls.NewLRUClientSessionCache(1)
	}
	tr := &http.Transport{TLSClientConfig: tlsCfg, MaxIdleConnsPerHost: 1, DisableKeepAlives: cfg.HandshakePerSession}
	return &simDevice{id: a.Identity().DeviceID, client: &http.Client{Timeout: 30 * time.Second, Transport: tr}, mgmtURL: a.Enrollment().ManagementURL, tls: tlsCfg}, nil
}

// drive runs rounds until cfg.Duration of session time has passed. A round queues one
// command for every device through the admin API (unless Idle), then runs one session per
// device: with cfg.Concurrency in flight, or started on cfg.Rate's schedule. Session rates
// are computed over the session phases; the rate including the queueing phases is reported
// beside them.
func drive(ctx context.Context, cfg Config, admin *adminclient.Client, tenantID string, devs []*simDevice, res *Result) {
	var sessions, messages, commands, errs, late atomic.Int64
	var firstErr atomic.Value
	var mu sync.Mutex
	var sl, ml []time.Duration
	var sessionTime time.Duration
	wallStart := time.Now()
	for round := 1; sessionTime < cfg.Duration && ctx.Err() == nil; round++ {
		if !cfg.Idle {
			q0 := time.Now()
			if err := queueRound(ctx, admin, tenantID, devs, round); err != nil {
				firstErr.CompareAndSwap(nil, err.Error())
				errs.Add(1)
				break
			}
			res.QueueTime += time.Since(q0)
		}
		rctx, cancel := context.WithTimeout(ctx, cfg.Duration-sessionTime)
		r0 := time.Now()
		jobs := make(chan job, len(devs))
		var wg sync.WaitGroup
		for w := 0; w < min(cfg.Concurrency, len(devs)); w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var mySL, myML []time.Duration
				for j := range jobs {
					t0 := time.Now()
					if j.at.IsZero() {
						j.at = t0
					} else if t0.Sub(j.at) > time.Millisecond {
						late.Add(1)
					}
					msgs, cmds, msgLat, err := j.dev.runSession(rctx)
					if err != nil {
						if rctx.Err() == nil {
							errs.Add(1)
							firstErr.CompareAndSwap(nil, err.Error())
						}
						continue
					}
					sessions.Add(1)
					messages.Add(int64(msgs))
					commands.Add(int64(cmds))
					mySL = append(mySL, time.Since(j.at))
					myML = append(myML, msgLat...)
				}
				mu.Lock()
				sl, ml = append(sl, mySL...), append(ml, myML...)
				mu.Unlock()
			}()
		}
		if cfg.Rate > 0 {
			feedScheduled(rctx, jobs, devs, r0, cfg.Rate)
		} else {
			feedClosed(rctx, jobs, devs)
		}
		close(jobs)
		wg.Wait()
		cancel()
		sessionTime += time.Since(r0)
		res.Rounds = round
		el := sessionTime.Seconds()
		fmt.Fprintf(cfg.Progress, "\rround %d  %6.1fs  %8d sessions  %7.0f sessions/s  %7.0f msgs/s  %d errors   ", round, el, sessions.Load(), float64(sessions.Load())/el, float64(messages.Load())/el, errs.Load())
	}
	fmt.Fprintln(cfg.Progress)
	res.Sessions, res.Messages, res.Commands, res.Errors, res.Elapsed = sessions.Load(), messages.Load(), commands.Load(), errs.Load(), sessionTime
	res.LateStarts = late.Load()
	res.SessionsPerSec = float64(res.Sessions) / sessionTime.Seconds()
	res.MessagesPerSec = float64(res.Messages) / sessionTime.Seconds()
	res.WallSessionsPS = float64(res.Sessions) / time.Since(wallStart).Seconds()
	res.SessionP50, res.SessionP99, res.SessionMax = percentile(sl, 50), percentile(sl, 99), percentile(sl, 100)
	res.MessageP50, res.MessageP99, res.MessageMax = percentile(ml, 50), percentile(ml, 99), percentile(ml, 100)
	if v, ok := firstErr.Load().(string); ok {
		res.FirstError = v
	}
}

// warmUp runs one session per device, cfg.Concurrency at a time, so that every device holds
// a keep-alive connection before measuring starts. Any failure ends the run.
func warmUp(ctx context.Context, cfg Config, devs []*simDevice) error {
	return eachDevice(ctx, min(cfg.Concurrency, len(devs)), devs, func(d *simDevice) error {
		if _, _, _, err := d.runSession(ctx); err != nil {
			return fmt.Errorf("connecting device %s: %w", d.id, err)
		}
		return nil
	})
}

// eachDevice calls fn for every device with workers calls in flight, and stops handing out
// devices at the first error, which it returns (or ctx's error).
func eachDevice(ctx context.Context, workers int, devs []*simDevice, fn func(*simDevice) error) error {
	jobs := make(chan *simDevice)
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for d := range jobs {
				if err := fn(d); err != nil {
					firstErr.CompareAndSwap(nil, err)
				}
			}
		}()
	}
	for _, d := range devs {
		if firstErr.Load() != nil || ctx.Err() != nil {
			break
		}
		jobs <- d
	}
	close(jobs)
	wg.Wait()
	if err, ok := firstErr.Load().(error); ok {
		return err
	}
	return ctx.Err()
}

// job is one session to run; at is its scheduled start (zero: as soon as a worker is free).
type job struct {
	dev *simDevice
	at  time.Time
}

// feedClosed hands every device to the workers as fast as they take them.
func feedClosed(ctx context.Context, jobs chan<- job, devs []*simDevice) {
	for _, d := range devs {
		select {
		case jobs <- job{dev: d}:
		case <-ctx.Done():
			return
		}
	}
}

// feedScheduled releases session i at start + i/rate, whether or not earlier sessions have
// ended. jobs has room for every device, so the schedule never waits for a worker: a late
// start shows up in that session's latency.
func feedScheduled(ctx context.Context, jobs chan<- job, devs []*simDevice, start time.Time, rate float64) {
	interval := time.Duration(float64(time.Second) / rate)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	i := 0
	for i < len(devs) {
		now := time.Now()
		for ; i < len(devs); i++ {
			at := start.Add(time.Duration(i) * interval)
			if at.After(now) {
				break
			}
			jobs <- job{dev: devs[i], at: at}
		}
		if i == len(devs) {
			return
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return
		}
	}
}

// percentile returns the p-th percentile (nearest rank) of d, sorting it; p 100 is the
// maximum.
func percentile(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	rank := (len(d)*p + 99) / 100 // 1-based: the smallest value with p% of d at or below it
	return d[min(max(rank, 1), len(d))-1]
}

// readRSS returns VmRSS and VmHWM of a process, in bytes.
func readRSS(pid int) (rss, peak int64) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			rss = kb << 10
		case "VmHWM:":
			peak = kb << 10
		}
	}
	return rss, peak
}

// tempStateDir points *dir at a new temporary directory when it is empty; cleanup removes
// that directory (and does nothing when *dir was given).
func tempStateDir(dir *string, pattern string) (cleanup func(), err error) {
	if *dir != "" {
		return func() {}, nil
	}
	d, err := os.MkdirTemp("", pattern)
	if err != nil {
		return nil, err
	}
	*dir = d
	return func() { _ = os.RemoveAll(d) }, nil
}

// setupClient is the HTTP client of the load tools' enrollment and admin calls.
func setupClient(roots *x509.CertPool) *http.Client {
	return &http.Client{Timeout: time.Minute, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}, MaxIdleConnsPerHost: 32}}
}
