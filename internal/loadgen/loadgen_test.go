package loadgen

import (
	"net"
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/internal/testserve"
	"github.com/hellomdm/hellomdm/server"
)

const testToken = "hmdm_loadgen-test-token"

func TestRun(t *testing.T) {
	app := testserve.Start(t, server.Options{AdminToken: testToken}, server.Services)
	url := "https://localhost:" + portOf(t, app)
	tests := []struct {
		name string
		cfg  Config
		// perSession: messages and commands each session must account for.
		msgs, cmds int64
	}{
		{"commands keep-alive", Config{Devices: 3, Duration: 1500 * time.Millisecond, Concurrency: 2}, 2, 1},
		{"idle", Config{Devices: 3, Duration: 500 * time.Millisecond, Concurrency: 3, Idle: true}, 1, 0},
		{"handshake per session with resumption", Config{Devices: 2, Duration: 500 * time.Millisecond, HandshakePerSession: true, ResumeTLS: true}, 2, 1},
		{"scheduled rate", Config{Devices: 4, Duration: time.Second, Rate: 40}, 2, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.ServerURL, cfg.RootCAs, cfg.AdminToken, cfg.ServerPID = url, app.CA.Pool(), testToken, 0
			res, err := Run(t.Context(), cfg)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if res.Errors != 0 {
				t.Fatalf("%d errors, first: %s", res.Errors, res.FirstError)
			}
			if res.Devices != cfg.Devices || res.Sessions < int64(cfg.Devices) || res.Rounds < 1 {
				t.Fatalf("devices %d, sessions %d, rounds %d: want every device to run at least one session", res.Devices, res.Sessions, res.Rounds)
			}
			if res.Messages != tc.msgs*res.Sessions || res.Commands != tc.cmds*res.Sessions {
				t.Fatalf("%d sessions gave %d messages and %d commands; want %d and %d per session", res.Sessions, res.Messages, res.Commands, tc.msgs, tc.cmds)
			}
			if res.SessionP50 <= 0 || res.SessionP50 > res.SessionP99 || res.SessionP99 > res.SessionMax || res.MessageP99 > res.MessageMax {
				t.Fatalf("latencies out of order: session p50 %v p99 %v max %v, message p99 %v max %v", res.SessionP50, res.SessionP99, res.SessionMax, res.MessageP99, res.MessageMax)
			}
			if connected := res.WarmUp > 0; connected == cfg.HandshakePerSession {
				t.Fatalf("warm-up %v with HandshakePerSession %v: keep-alive runs connect every device first, handshake runs do not", res.WarmUp, cfg.HandshakePerSession)
			}
			if cfg.Rate > 0 {
				// Session i of a round starts no earlier than i/Rate after the round's start, so
				// no round of n sessions can be shorter than (n-1)/Rate.
				n := float64(cfg.Devices)
				if bound := cfg.Rate * n / (n - 1); res.SessionsPerSec > bound {
					t.Fatalf("%.1f sessions/s on a schedule of %.0f/s (at most %.1f possible)", res.SessionsPerSec, cfg.Rate, bound)
				}
				if res.Rate != cfg.Rate {
					t.Fatalf("result rate %v, want %v", res.Rate, cfg.Rate)
				}
			}
		})
	}
}

func TestRunRejectsBadConfig(t *testing.T) {
	for _, cfg := range []Config{{Devices: 0, Duration: time.Second}, {Devices: 1, Duration: 0}, {Devices: 1, Duration: time.Second, Rate: -1}} {
		if _, err := Run(t.Context(), cfg); err == nil {
			t.Errorf("Run(%+v) succeeded", cfg)
		}
	}
}

func TestPercentile(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = 100 - i // 100..1, unsorted on purpose
	}
	tests := []struct {
		in   []time.Duration
		p    int
		want time.Duration
	}{
		{nil, 99, 0},
		{ms(7), 50, 7 * time.Millisecond},
		{ms(7), 100, 7 * time.Millisecond},
		{ms(3, 1, 2), 50, 2 * time.Millisecond},
		{ms(3, 1, 2), 100, 3 * time.Millisecond},
		{ms(hundred...), 50, 50 * time.Millisecond},
		{ms(hundred...), 99, 99 * time.Millisecond},
		{ms(hundred...), 100, 100 * time.Millisecond},
		{ms(hundred...), 1, 1 * time.Millisecond},
	}
	for _, tc := range tests {
		if got := percentile(tc.in, tc.p); got != tc.want {
			t.Errorf("percentile(%d values, %d) = %v, want %v", len(tc.in), tc.p, got, tc.want)
		}
	}
}

func portOf(t *testing.T, app *server.App) string {
	t.Helper()
	_, port, err := net.SplitHostPort(app.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	return port
}
