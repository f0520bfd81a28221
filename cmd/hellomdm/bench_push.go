package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hellomdm/hellomdm/internal/loadgen"
)

const benchPushUsage = "hellomdm bench push --server URL[,URL...] --ca-file FILE --token T [--devices N] [--timeout D] [--sessions S] [--server-pid PID[,PID...]] [--state DIR [--setup-only]] [--enroll-concurrency W] [--json]"

// runBenchPush is `hellomdm bench push`: N simulated agents hold the built-in push channel,
// a profile is assigned to all of them, and the time until each applied it is reported.
func runBenchPush(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("hellomdm bench push", flag.ContinueOnError)
	fs.SetOutput(stderr)
	servers := fs.String("server", "https://127.0.0.1:8443", "server base URL; several replicas comma-separated (devices are spread over them; enrollment and the assignment use the first)")
	caFile := fs.String("ca-file", "", "the server's CA (DATA/ca.pem)")
	token := fs.String("token", "", "admin bearer token (or HELLOMDM_ADMIN_TOKEN)")
	devices := fs.Int("devices", 1000, "simulated agents holding a push channel")
	timeout := fs.Duration("timeout", 2*time.Minute, "how long to wait after the assignment for every device")
	sessions := fs.Int("sessions", 256, "woken sessions the tool runs at once")
	pids := fs.String("server-pid", "", "server process IDs, comma-separated, to report their RSS")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	state := fs.String("state", "", "keep the devices here: a later run with the same --state, first --server and --devices reuses them instead of enrolling (the server must keep its data)")
	setupOnly := fs.Bool("setup-only", false, "only enroll the devices into --state, then exit (measure with a later run)")
	enrollW := fs.Int("enroll-concurrency", 16, "devices enrolling at once, each worker signing in as a user of its own")
	if code, done := parseCLI(fs, args, "HELLOMDM_BENCH_", benchPushUsage,
		"hellomdm bench push --server https://127.0.0.1:8443 --ca-file hellomdm-data/ca.pem --devices 10000 --server-pid $(pidof hellomdm)", stdout, stderr); done {
		return code
	}
	if *setupOnly && *state == "" {
		fmt.Fprintln(stderr, "hellomdm bench push: --setup-only needs --state")
		return 2
	}
	pool, ok := benchSetup("hellomdm bench push", *caFile, token, stderr)
	if !ok {
		return 2
	}
	var pidList []int
	for _, p := range strings.Split(*pids, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		n, err := strconv.Atoi(p)
		if err != nil {
			fmt.Fprintf(stderr, "hellomdm bench push: --server-pid %q: not a process ID\n", p)
			return 2
		}
		pidList = append(pidList, n)
	}
	// The tool shares the machine with the server it measures: it trades memory for less
	// of its CPU on garbage collection (12 % of it at the default in a 10,000-device run).
	debug.SetGCPercent(400)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := loadgen.RunPush(ctx, loadgen.PushConfig{Servers: strings.Split(*servers, ","), RootCAs: pool, AdminToken: *token, Devices: *devices,
		Timeout: *timeout, Sessions: *sessions, ServerPIDs: pidList, Progress: stderr, StateDir: *state, SetupOnly: *setupOnly, EnrollConcurrency: *enrollW})
	if err != nil {
		fmt.Fprintln(stderr, "hellomdm bench push:", err)
		return 1
	}
	if *setupOnly {
		fmt.Fprintf(stdout, "enrolled %d devices in %v into %s\n", res.Devices, res.Enrolled.Round(time.Millisecond), *state)
		return 0
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(res)
	} else {
		printPushResult(stdout, res)
	}
	if res.Errors > 0 || res.Applied < res.Devices {
		return 1
	}
	return 0
}

func printPushResult(w io.Writer, res loadgen.PushResult) {
	ms := func(d time.Duration) string { return d.Round(time.Millisecond).String() }
	enrolled := "enrolled in " + ms(res.Enrolled)
	if res.FromState != "" {
		enrolled = "enrolled earlier, from " + res.FromState
	}
	fmt.Fprintf(w, "devices            %d (%s), %d push channels connected\n", res.Devices, enrolled, res.Connected)
	fmt.Fprintf(w, "applied            %d devices (%d within 10 s, %.1f %%); server counts %d succeeded\n", res.Applied, res.Within10s,
		100*float64(res.Within10s)/float64(max(res.Devices, 1)), res.Succeeded)
	fmt.Fprintf(w, "assignment→applied p50 %v  p90 %v  p99 %v  max %v\n", ms(res.P50), ms(res.P90), ms(res.P99), ms(res.Max))
	fmt.Fprintf(w, "sessions           %d\n", res.Sessions)
	for i := range res.RSSBefore {
		fmt.Fprintf(w, "server %d RSS       %.1f MiB before the channels, %.1f MiB with them", i+1, mib(res.RSSBefore[i]), mib(res.RSSWith[i]))
		if i < len(res.RSSPeak) {
			fmt.Fprintf(w, ", peak %.1f MiB", mib(res.RSSPeak[i]))
		}
		fmt.Fprintln(w)
	}
	if res.PerChannel > 0 {
		fmt.Fprintf(w, "per channel        %.1f KiB of server RSS\n", float64(res.PerChannel)/1024)
	}
	fmt.Fprintf(w, "errors             %d %s\n", res.Errors, res.FirstError)
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }
