package main

import (
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/hellomdm/hellomdm/server"
	"github.com/hellomdm/hellomdm/server/omadm"
	"github.com/hellomdm/hellomdm/server/push/wns"
)

func runServe(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("hellomdm serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		data         = fs.String("data", "./hellomdm-data", "data directory (database, CA, TLS certificate)")
		addr         = fs.String("addr", "127.0.0.1:8443", "HTTPS listen address")
		hostname     = fs.String("hostname", "localhost", "host name devices use to reach the server")
		publicURL    = fs.String("public-url", "", "base URL handed to devices when behind a proxy (https://...)")
		logFormat    = fs.String("log-format", "text", "log format: text or json")
		logLevel     = fs.String("log-level", "info", "log level: debug, info, warn, error")
		certHeader   = fs.String("client-cert-header", "", "header carrying the client certificate from a trusted TLS-terminating proxy")
		proxies      = fs.String("trusted-proxies", "", "comma-separated CIDRs of proxies whose forwarding headers are trusted")
		maxAttempts  = fs.Int("max-attempts", 3, "error statuses a command may collect before it is marked failed")
		retryBackoff = fs.Duration("retry-backoff", time.Minute, "wait before the first retry of a failed command (doubles per attempt)")
		claimLease   = fs.Duration("claim-lease", 30*time.Second, "how long a command sent in a session stays reserved to it")
		auditKeep    = fs.Duration("audit-retention", 0, "drop whole audit log segments older than this, recording the drop (0 keeps forever; e.g. 8760h)")
		storeDSN     = fs.String("store", "", "store backend: bolt: (default, in --data), bolt:PATH, or a postgres:// URL")
		failLimit    = fs.Int("signin-failure-limit", server.DefaultSignInFailureLimit, "failed password checks allowed per user per --signin-failure-window, over all endpoints; then locked out until the window ends")
		failWindow   = fs.Duration("signin-failure-window", server.DefaultSignInFailureWindow, "window of --signin-failure-limit, opened by a user's first failure")
		metricsAddr  = fs.String("metrics-addr", "", "also serve /metrics over plain HTTP without authentication on this loopback address (e.g. 127.0.0.1:9090)")
		enrollTokTTL = fs.Duration("enrollment-token-lifetime", server.DefaultEnrollmentTokenLifetime, "lifetime of the identity provider's single-use enrollment token (Federated web sign-in)")
		consoleIdle  = fs.Duration("console-idle-timeout", server.DefaultConsoleIdleTimeout, "web console: a session unused for this long ends")
		consoleLife  = fs.Duration("console-session-lifetime", server.DefaultConsoleSessionLifetime, "web console: a session ends this long after sign-in, used or not")
		storeKeyFile = fs.String("store-key-file", "", "file holding the base64 32-byte key encrypting secrets in a postgres store (else HELLOMDM_STORE_KEY)")
		wnsTokenURL  = fs.String("wns-token-url", wns.DefaultTokenURL, "WNS access token endpoint (OAuth 2.0 client credentials)")
		wnsAllowed   = fs.String("wns-allowed-hosts", wns.DefaultAllowedHost, "comma-separated hosts a device's WNS channel URI may point at (host, *.domain or IP, each with an optional :port; otherwise 443)")
		pushBeat     = fs.Duration("push-heartbeat", server.DefaultPushHeartbeat, "period of the built-in push channel's heartbeat (agents reconnect after three missed)")
		pushRate     = fs.Int("push-wake-rate", server.DefaultPushWakeRate, "wake-ups per second a policy change sends from this replica (spreads the sessions it starts)")
		pushLease    = fs.Duration("push-lease", server.DefaultPushLease, "the device views of every replica stop showing this replica's push channels this long after it last renewed its lease (it renews every third)")
	)
	if code, done := parseCLI(fs, args, "HELLOMDM_", "hellomdm serve [flags]   (every flag also as HELLOMDM_<FLAG>; holds its terminal until Ctrl-C)",
		"HELLOMDM_ADMIN_TOKEN=hmdm_tour-secret hellomdm serve --data ./hellomdm-data --addr 127.0.0.1:8443", stdout, stderr); done {
		return code
	}
	logger, err := newLogger(stderr, *logFormat, *logLevel)
	if err != nil {
		fmt.Fprintln(stderr, "hellomdm serve:", err)
		return 2
	}
	trusted, err := parseTrustedProxies(*proxies)
	if err != nil {
		fmt.Fprintf(stderr, "hellomdm serve: --trusted-proxies: %v\n", err)
		return 2
	}
	storeKey, err := readStoreKey(*storeKeyFile)
	if err != nil {
		fmt.Fprintln(stderr, "hellomdm serve:", err)
		return 2
	}
	allow, err := wns.ParseAllowlist(splitList(*wnsAllowed))
	if err != nil {
		fmt.Fprintf(stderr, "hellomdm serve: --wns-allowed-hosts: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	app, err := server.Open(ctx, server.Options{
		DataDir: *data, Addr: *addr, Hostname: *hostname, PublicURL: *publicURL,
		AdminToken: os.Getenv("HELLOMDM_ADMIN_TOKEN"), ClientCertHeader: *certHeader, TrustedProxies: trusted,
		Engine: omadm.Config{MaxAttempts: *maxAttempts, RetryBackoff: *retryBackoff, NoBackoff: *retryBackoff == 0, ClaimLease: *claimLease},
		Security: server.Security{SignInFailureLimit: *failLimit, SignInFailureWindow: *failWindow, EnrollmentTokenLifetime: *enrollTokTTL,
			ConsoleIdleTimeout: *consoleIdle, ConsoleSessionLifetime: *consoleLife},
		Logger: logger, Out: stdout, OutJSON: *logFormat == "json", AuditRetention: *auditKeep, MetricsAddr: *metricsAddr,
		OpenStore:     server.OpenStoreFromDSN(*storeDSN, storeKey),
		WNS:           wns.Config{TokenURL: *wnsTokenURL, Allowlist: &allow},
		PushHeartbeat: *pushBeat, PushWakeRate: *pushRate, PushLease: *pushLease,
	}, wireServices)
	if err != nil {
		logger.Error("start failed", "err", err)
		return 1
	}
	return serveUntilSignal(ctx, app, logger)
}

// splitList reads a comma-separated flag value, without empty items.
func splitList(v string) []string {
	var out []string
	for item := range strings.SplitSeq(v, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// parseTrustedProxies reads --trusted-proxies: comma-separated CIDRs.
func parseTrustedProxies(list string) ([]netip.Prefix, error) {
	var trusted []netip.Prefix
	for _, p := range strings.Split(list, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		pfx, err := netip.ParsePrefix(p)
		if err != nil {
			return nil, err
		}
		trusted = append(trusted, pfx)
	}
	return trusted, nil
}

// serveUntilSignal serves until ctx ends (SIGINT, SIGTERM), then lets in-flight requests
// finish; it returns the exit code.
func serveUntilSignal(ctx context.Context, app *server.App, logger *slog.Logger) int {
	errc := make(chan error, 1)
	go func() { errc <- app.Serve() }()
	select {
	case err := <-errc:
		logger.Error("server stopped", "err", err)
		_ = app.Shutdown(context.Background())
		return 1
	case <-ctx.Done():
	}
	logger.Info("shutting down: letting in-flight requests finish")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := app.Shutdown(sctx); err != nil {
		logger.Error("shutdown", "err", err)
		return 1
	}
	if err := <-errc; err != nil {
		logger.Error("serve", "err", err)
		return 1
	}
	logger.Info("stopped cleanly")
	return 0
}

// readStoreKey returns the store encryption key: the base64 content of file when given,
// else HELLOMDM_STORE_KEY (base64), else nil (the postgres store then refuses to open).
func readStoreKey(file string) ([]byte, error) {
	text, from := os.Getenv("HELLOMDM_STORE_KEY"), "HELLOMDM_STORE_KEY"
	if file != "" {
		raw, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("--store-key-file: %w", err)
		}
		text, from = string(raw), "--store-key-file"
	}
	if text = strings.TrimSpace(text); text == "" {
		return nil, nil
	}
	key, err := base64.StdEncoding.DecodeString(text)
	if err != nil {
		return nil, fmt.Errorf("%s: not base64: %w", from, err)
	}
	return key, nil
}

// parseFlags parses args, then fills each flag not given on the command line from the
// environment variable PREFIX+NAME (upper-case, dashes as underscores).
func parseFlags(fs *flag.FlagSet, args []string, prefix string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] {
			return
		}
		env := prefix + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(env); ok {
			if err := fs.Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", env, err))
			}
		}
	})
	if err := errors.Join(errs...); err != nil {
		fmt.Fprintln(fs.Output(), err)
		return err
	}
	return nil
}

func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}
