package main

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/hellomdm/hellomdm/internal/loadgen"
)

func runBench(args []string, stdout, stderr io.Writer) int {
	const benchUsage = "hellomdm bench checkin --server URL --ca-file FILE --token T [--devices N] [--duration D] [--concurrency C] [--rate R] [--idle] [--handshake-per-session [--tls-resume]] [--server-pid PID]"
	if len(args) > 0 && isHelp(args[0]) {
		fmt.Fprintln(stdout, "usage: "+benchUsage+"\n       "+benchPushUsage)
		return 0
	}
	if len(args) > 0 && args[0] == "push" {
		return runBenchPush(args[1:], stdout, stderr)
	}
	if len(args) == 0 || args[0] != "checkin" {
		fmt.Fprintln(stderr, "usage: "+benchUsage+"\n       "+benchPushUsage)
		return 2
	}
	fs := flag.NewFlagSet("hellomdm bench checkin", flag.ContinueOnError)
	fs.SetOutput(stderr)
	server := fs.String("server", "https://127.0.0.1:8443", "server base URL")
	caFile := fs.String("ca-file", "", "the server's CA (DATA/ca.pem)")
	token := fs.String("token", "", "admin bearer token (or HELLOMDM_ADMIN_TOKEN)")
	devices := fs.Int("devices", 1000, "simulated devices to enroll")
	duration := fs.Duration("duration", 60*time.Second, "length of the measured run")
	concurrency := fs.Int("concurrency", 0, "sessions in flight (default 64; with --rate, the cap, default 512)")
	rate := fs.Float64("rate", 0, "start sessions at this rate per second on a fixed schedule (open loop; latency counted from each scheduled start)")
	idle := fs.Bool("idle", false, "idle check-ins (nothing queued, one message each) instead of one command per session")
	handshake := fs.Bool("handshake-per-session", false, "new TLS connection for every session")
	resume := fs.Bool("tls-resume", false, "resume each device's previous TLS session, as Windows' session cache does")
	pid := fs.Int("server-pid", 0, "server process ID, to report its RSS")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if code, done := parseCLI(fs, args[1:], "HELLOMDM_BENCH_", benchUsage,
		"hellomdm bench checkin --server https://127.0.0.1:8443 --ca-file hellomdm-data/ca.pem --devices 1000 --duration 60s --concurrency 64", stdout, stderr); done {
		return code
	}
	pool, ok := benchSetup("hellomdm bench", *caFile, token, stderr)
	if !ok {
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := loadgen.Run(ctx, loadgen.Config{ServerURL: *server, RootCAs: pool, AdminToken: *token, Devices: *devices, Duration: *duration,
		Concurrency: *concurrency, Rate: *rate, Idle: *idle, HandshakePerSession: *handshake, ResumeTLS: *resume, ServerPID: *pid, Progress: stderr})
	if err != nil {
		fmt.Fprintln(stderr, "hellomdm bench:", err)
		return 1
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(res)
		return 0
	}
	fmt.Fprintf(stdout, "devices            %d (enrolled in %v)\n", res.Devices, res.Enrolled.Round(time.Millisecond))
	if res.WarmUp > 0 {
		fmt.Fprintf(stdout, "connected          %d devices in %v (one unmeasured session each, keep-alive)\n", res.Devices, res.WarmUp.Round(time.Millisecond))
	}
	fmt.Fprintf(stdout, "sessions           %d in %v of session phases (%d rounds): %.0f sessions/s\n", res.Sessions, res.Elapsed.Round(time.Millisecond), res.Rounds, res.SessionsPerSec)
	if res.Rate > 0 {
		fmt.Fprintf(stdout, "  scheduled        %.0f sessions/s (open loop); %d started more than 1 ms late\n", res.Rate, res.LateStarts)
	}
	fmt.Fprintf(stdout, "  with queueing    %v queueing one command per device per round: %.0f sessions/s overall\n", res.QueueTime.Round(time.Millisecond), res.WallSessionsPS)
	fmt.Fprintf(stdout, "messages           %d: %.0f messages/s\n", res.Messages, res.MessagesPerSec)
	fmt.Fprintf(stdout, "commands applied   %d\n", res.Commands)
	fmt.Fprintf(stdout, "session latency    p50 %v  p99 %v  max %v\n", res.SessionP50.Round(10*time.Microsecond), res.SessionP99.Round(10*time.Microsecond), res.SessionMax.Round(10*time.Microsecond))
	fmt.Fprintf(stdout, "message latency    p50 %v  p99 %v  max %v\n", res.MessageP50.Round(10*time.Microsecond), res.MessageP99.Round(10*time.Microsecond), res.MessageMax.Round(10*time.Microsecond))
	if res.ServerRSS > 0 {
		fmt.Fprintf(stdout, "server RSS         %.1f MiB (peak %.1f MiB)\n", float64(res.ServerRSS)/(1<<20), float64(res.ServerPeakRSS)/(1<<20))
	}
	fmt.Fprintf(stdout, "errors             %d %s\n", res.Errors, res.FirstError)
	if res.Errors > 0 {
		return 1
	}
	return 0
}

// benchSetup is what every load command does before it runs: the admin token defaults to
// HELLOMDM_ADMIN_TOKEN, and the server's CA certificate is read from caFile. It reports a
// problem on stderr, prefixed with the command, and returns false.
func benchSetup(command, caFile string, token *string, stderr io.Writer) (*x509.CertPool, bool) {
	if *token == "" {
		*token = os.Getenv("HELLOMDM_ADMIN_TOKEN")
	}
	pemBytes, err := os.ReadFile(caFile)
	if err != nil {
		fmt.Fprintln(stderr, command+": --ca-file:", err)
		return nil, false
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemBytes) {
		fmt.Fprintln(stderr, command+": --ca-file holds no certificate")
		return nil, false
	}
	return pool, true
}
