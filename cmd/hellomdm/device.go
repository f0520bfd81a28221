package main

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/hellomdm/hellomdm/device"
	devenroll "github.com/hellomdm/hellomdm/device/enroll"
	"github.com/hellomdm/hellomdm/device/hello"
	"github.com/hellomdm/hellomdm/device/identity"
	"github.com/hellomdm/hellomdm/device/omadm"
)

const deviceUsage = `Usage: hellomdm device [--state DIR] [-o text|json] <command> [flags]

Commands:
  enroll    --server https://HOST:PORT --email UPN --password PW [--otp CODE] --ca-file FILE
            [--csr windows|clean] [--os-version V] [--edition N] [--device-id ID] [--device-name NAME]
            [--join entra|hybrid|registered|domain] [--trust key|cert|cloud] [--account enterprise|msa]
  join      [--join entra|hybrid|registered|domain] [--trust key|cert|cloud] [--account enterprise|msa]
            show or change how the device is joined (default entra, key, enterprise); the
            server learns it at the next sync
  sync      run one OMA-DM session to completion and print what changed
  renew     renew the device certificate (MS-MDE2 WSTEP Renew) over mTLS with the current one
  run       check in on the DMClient poll schedule until interrupted, renewing the
            certificate when its provisioned RenewPeriod comes
  nodes     print the CSP tree with values
  status    print a dsregcmd /status-style report
  unenroll  tell the server and unenroll
  hello provision --user UPN --pin PIN     create the user's Windows Hello container
  hello unlock    --user UPN --pin PIN     sign in with the PIN (creates a pending PIN reset protector)
  reset-pin --user UPN --from settings|lockscreen [--destructive] --password PW --otp CODE
            --new-pin PIN [--token T] [--dc-reachable] [--federation-reachable] [--adfs]
            (the join, trust and account type are the device's: see join)

Common flags, before or after the command: --state DIR (default ./hellomdm-device; env
HELLOMDM_DEVICE_STATE), -o text|json. Every command but enroll needs a state directory that
enroll created. Run 'hellomdm device <command> -h' for its flags and an example.
`

// deviceCommands are the words after `hellomdm device`, with each one's usage line and example.
var deviceCommands = map[string]struct{ usage, example string }{
	"enroll": {"hellomdm device enroll --server URL --email UPN --password PW --ca-file DATA/ca.pem [flags]",
		"hellomdm device --state ./alice-pc enroll --server https://localhost:8443 --email alice@contoso.com --password 'Correct horse 1' --ca-file hellomdm-data/ca.pem"},
	"join": {"hellomdm device join [--join entra|hybrid|registered|domain] [--trust key|cert|cloud] [--account enterprise|msa] [--state DIR] [-o json]",
		"hellomdm device --state ./alice-pc join --join hybrid --trust cert"},
	"sync":            {"hellomdm device sync [--state DIR] [-o json]", "hellomdm device --state ./alice-pc sync"},
	"renew":           {"hellomdm device renew [--state DIR] [-o json]", "hellomdm device --state ./alice-pc renew"},
	"run":             {"hellomdm device run [--state DIR] [--push=false]", "hellomdm device --state ./alice-pc run"},
	"nodes":           {"hellomdm device nodes [--state DIR] [-o json]", "hellomdm device --state ./alice-pc nodes"},
	"status":          {"hellomdm device status [--state DIR] [-o json]", "hellomdm device --state ./alice-pc status"},
	"unenroll":        {"hellomdm device unenroll [--state DIR] [-o json]", "hellomdm device --state ./alice-pc unenroll"},
	"hello provision": {"hellomdm device hello provision --user UPN --pin PIN [--state DIR] [-o json]", "hellomdm device --state ./alice-pc hello provision --user alice@contoso.com --pin 135792"},
	"hello unlock":    {"hellomdm device hello unlock --user UPN --pin PIN [--state DIR] [-o json]", "hellomdm device --state ./alice-pc hello unlock --user alice@contoso.com --pin 135792"},
	"reset-pin": {"hellomdm device reset-pin --user UPN --from settings|lockscreen --password PW --otp CODE --new-pin PIN [flags]",
		"hellomdm device --state ./alice-pc reset-pin --user alice@contoso.com --from lockscreen --password 'Correct horse 1' --otp \"$(hellomdm authenticator code --uri \"$uri\")\" --new-pin 246801"},
}

// deviceCommandWords lists the first words of the device commands, for suggestions.
func deviceCommandWords() []string {
	seen := map[string]bool{}
	var words []string
	for name := range deviceCommands {
		w, _, _ := strings.Cut(name, " ")
		if !seen[w] {
			seen[w] = true
			words = append(words, w)
		}
	}
	return words
}

// deviceBoolFlags are the device flags that take no value.
var deviceBoolFlags = map[string]bool{"destructive": true, "dc-reachable": true, "federation-reachable": true, "adfs": true,
	"h": true, "help": true}

// hoistDeviceFlags moves flags given before the command word(s) to after them, so
// `hellomdm device --state DIR sync` means `hellomdm device sync --state DIR`: each command
// parses its own flags, and the common ones (--state, -o) may come first, as with admin.
func hoistDeviceFlags(args []string) []string {
	var lead []string
	i := 0
	for i < len(args) && strings.HasPrefix(args[i], "-") && args[i] != "-" {
		a := args[i]
		lead = append(lead, a)
		i++
		name := strings.TrimLeft(a, "-")
		if !strings.Contains(name, "=") && !deviceBoolFlags[name] && i < len(args) {
			lead = append(lead, args[i])
			i++
		}
	}
	rest := args[i:]
	if len(lead) == 0 || len(rest) == 0 {
		return args
	}
	words := 1
	if rest[0] == "hello" && len(rest) > 1 && !strings.HasPrefix(rest[1], "-") {
		words = 2
	}
	out := append([]string{}, rest[:words]...)
	out = append(out, lead...)
	return append(out, rest[words:]...)
}

// parseCLI parses a command's flags (with environment fallback, see parseFlags). -h prints
// the command's help to stdout and exits 0; a mistake prints what is wrong, with a
// suggestion for a mistyped flag, and exits 2. done reports that the command should stop
// with code.
func parseCLI(fs *flag.FlagSet, args []string, envPrefix, usage, example string, stdout, stderr io.Writer) (code int, done bool) {
	fs.SetOutput(io.Discard)
	err := parseFlags(fs, args, envPrefix)
	switch {
	case errors.Is(err, flag.ErrHelp):
		printFlagHelp(stdout, usage, fs, example)
		return exitOK, true
	case err != nil:
		fmt.Fprintf(stderr, "%s: %s\nRun '%s -h' for its flags.\n", fs.Name(), flagError(fs, err), fs.Name())
		return exitUsage, true
	}
	return 0, false
}

// runDevice is `hellomdm device`: the simulated Windows device agent (package device).
func runDevice(args []string, stdout, stderr io.Writer) int {
	args = hoistDeviceFlags(args)
	if len(args) == 0 {
		fmt.Fprint(stderr, deviceUsage)
		return exitUsage
	}
	if isHelp(args[0]) {
		fmt.Fprint(stdout, deviceUsage)
		return exitOK
	}
	cmd, rest := args[0], args[1:]
	if _, ok := deviceCommands[cmd]; !ok && cmd != "hello" {
		fmt.Fprintf(stderr, "hellomdm device: unknown command %q%s\n\n%s", cmd, didYouMean(cmd, deviceCommandWords()), deviceUsage)
		return exitUsage
	}
	if cmd == "hello" || cmd == "reset-pin" {
		return runDeviceHello(cmd, rest, stdout, stderr)
	}
	fs := flag.NewFlagSet("hellomdm device "+cmd, flag.ContinueOnError)
	state := fs.String("state", "./hellomdm-device", "state directory")
	output := fs.String("o", "text", "output: text or json")
	var enroll enrollFlags
	if cmd == "enroll" || cmd == "join" {
		fs.StringVar(&enroll.join, "join", "", "join type: entra, hybrid, registered or domain (default entra)")
		fs.StringVar(&enroll.trust, "trust", "", "Windows Hello for Business trust type: key, cert or cloud (default key)")
		fs.StringVar(&enroll.account, "account", "", "the user's account type: enterprise or msa (default enterprise)")
	}
	if cmd == "enroll" {
		fs.StringVar(&enroll.server, "server", "", "server base URL, https://HOST:PORT")
		fs.StringVar(&enroll.email, "email", "", "user principal name")
		fs.StringVar(&enroll.password, "password", "", "password")
		fs.StringVar(&enroll.otp, "otp", "", "authenticator code (Federated sign-in)")
		fs.StringVar(&enroll.caFile, "ca-file", "", "PEM file of the CA that signed the server certificate (DATA/ca.pem)")
		fs.StringVar(&enroll.csr, "csr", "windows", "CSR shape: windows or clean")
		fs.StringVar(&enroll.osVersion, "os-version", "", "OS version, e.g. 10.0.22631.2428 or 10.0.16299.2166")
		fs.IntVar(&enroll.edition, "edition", 0, "OSEdition product type, e.g. 48 Pro, 4 Enterprise")
		fs.StringVar(&enroll.deviceID, "device-id", "", "DeviceID (32 upper-case hex digits)")
		fs.StringVar(&enroll.deviceName, "device-name", "", "device name, e.g. DESKTOP-1234567")
	}
	push := new(bool)
	if cmd == "run" {
		push = fs.Bool("push", true, "hold the server's push channel and sync at once when woken (false: poll only)")
	}
	h := deviceCommands[cmd]
	if code, done := parseCLI(fs, rest, "HELLOMDM_DEVICE_", h.usage, h.example, stdout, stderr); done {
		return code
	}
	if *output != "text" && *output != "json" {
		return deviceExit(stderr, cmd, *state, usageError{fmt.Sprintf("-o %q: want text or json", *output)})
	}
	if cmd == "run" && *output == "json" {
		return deviceExit(stderr, cmd, *state, usageError{"run prints no result to format: it checks in until interrupted and logs on stderr"})
	}
	if fs.NArg() > 0 {
		return deviceExit(stderr, cmd, *state, usageError{"unexpected argument " + strconv.Quote(fs.Arg(0))})
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	out := deviceOutput{w: stdout, json: *output == "json"}
	if cmd == "run" {
		// run checks in until interrupted: its sessions and failures are its output.
		out.log = slog.New(slog.NewTextHandler(stderr, nil))
		out.push = *push
	}
	return deviceExit(stderr, cmd, *state, deviceCommand(ctx, cmd, *state, enroll, out))
}

// enrollFlags are the flags of `device enroll` (and, for join, trust and account, of
// `device join`).
type enrollFlags struct {
	server, email, password, otp, caFile, csr, osVersion, deviceID, deviceName string
	edition                                                                    int
	join, trust, account                                                       string
}

// joinState applies the --join, --trust and --account flags given to cur.
func (f enrollFlags) joinState(cur identity.JoinState) (identity.JoinState, error) {
	var err error
	if f.join != "" {
		if cur.Join, err = hello.ParseJoinType(f.join); err != nil {
			return cur, usageError{msg: "--join: " + err.Error()}
		}
	}
	if f.trust != "" {
		if cur.Trust, err = hello.ParseTrustType(f.trust); err != nil {
			return cur, usageError{msg: "--trust: " + err.Error()}
		}
	}
	if f.account != "" {
		if cur.Account, err = hello.ParseAccountType(f.account); err != nil {
			return cur, usageError{msg: "--account: " + err.Error()}
		}
	}
	return cur, nil
}

// deviceOutput prints a command's result as text or, with -o json, as one JSON document.
type deviceOutput struct {
	w    io.Writer
	json bool
	// log receives the agent's log (device run: every session, renewal and failure).
	log *slog.Logger
	// push makes device run hold the push channel (--push).
	push bool
}

// print writes v as indented JSON (-o json) or calls text.
func (o deviceOutput) print(v any, text func(w io.Writer)) error {
	if o.json {
		enc := json.NewEncoder(o.w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	text(o.w)
	return nil
}

// deviceExit prints err for `hellomdm device name` with what to do about it, and returns
// the exit code (see the exit code constants).
func deviceExit(stderr io.Writer, name, state string, err error) int {
	if err == nil {
		return exitOK
	}
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "hellomdm device %s: %v\nRun 'hellomdm device %s -h' for its flags.\n", name, err, name)
		return exitUsage
	}
	fmt.Fprintf(stderr, "hellomdm device %s: %v\n", name, err)
	// A device that believes it is enrolled and is refused with 403 (SyncHdr status or HTTP)
	// is one the server no longer manages: an admin retired it (MS-MDM: the server answers
	// 403 Forbidden to a device it does not manage).
	var he *omadm.HTTPError
	var re *omadm.RefusedError
	if errors.As(err, &he) && he.Status == 403 || errors.As(err, &re) && re.Status == 403 {
		fmt.Fprintf(stderr, "The server no longer manages this device: it was retired by an admin: unenroll it "+
			"(hellomdm device --state %s unenroll) or enroll again.\n", state)
	}
	var nse notEnrolledError
	if errors.As(err, &nse) {
		return exitFailed
	}
	if transportError(err) {
		server := "the server"
		var ue *url.Error
		if errors.As(err, &ue) {
			if u, perr := url.Parse(ue.URL); perr == nil {
				server = u.Scheme + "://" + u.Host
			}
		}
		advice := caFileAdvice
		if name != "enroll" {
			// The device trusts the CA it enrolled with; a server with another CA is another server.
			advice = "enroll again (hellomdm device enroll --ca-file DATA/ca.pem) if the server's CA changed"
		}
		fmt.Fprintln(stderr, transportHint(err, server, advice))
		return exitTransport
	}
	return exitFailed
}

// notEnrolledError is a device command run on a state directory without an enrollment.
type notEnrolledError struct{ dir, state string }

func (e notEnrolledError) Error() string {
	if e.state == "" {
		return fmt.Sprintf("%s holds no device state (no enrolled device there): enroll first with "+
			"`hellomdm device --state %s enroll --server URL --email UPN --password PW --ca-file DATA/ca.pem`, or set --state", e.dir, e.dir)
	}
	return fmt.Sprintf("the device in %s is not enrolled (state %s): enroll it with "+
		"`hellomdm device --state %s enroll --server URL --email UPN --password PW --ca-file DATA/ca.pem`", e.dir, e.state, e.dir)
}

// openExisting opens the device state in dir without creating it: every command but enroll
// works on a device that enroll created. needEnrolled also requires a current enrollment.
func openExisting(dir string, needEnrolled bool, opts device.Options) (*device.Agent, error) {
	ok, err := device.StateExists(dir)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, notEnrolledError{dir: dir}
	}
	a, err := device.Open(dir, opts)
	if err != nil {
		return nil, err
	}
	if st := a.Enrollment().State; needEnrolled && st != devenroll.StateEnrolled {
		return nil, notEnrolledError{dir: dir, state: st}
	}
	return a, nil
}

func deviceCommand(ctx context.Context, cmd, state string, enroll enrollFlags, out deviceOutput) error {
	if cmd == "enroll" {
		return deviceEnroll(ctx, state, enroll, out)
	}
	a, err := openExisting(state, cmd != "nodes" && cmd != "status" && cmd != "join", device.Options{Logger: out.log, PushChannel: out.push})
	if err != nil {
		return err
	}
	switch cmd {
	case "join":
		return deviceJoin(a, enroll, out)
	case "sync":
		return deviceSync(ctx, a, out)
	case "unenroll":
		if err := a.Unenroll(ctx); err != nil {
			return err
		}
		return out.print(map[string]any{"deviceId": a.Identity().DeviceID, "state": a.Enrollment().State},
			func(w io.Writer) { fmt.Fprintln(w, "unenrolled") })
	case "renew":
		if err := a.Renew(ctx); err != nil {
			return err
		}
		return out.print(map[string]any{"deviceId": a.Identity().DeviceID, "certThumbprint": a.Enrollment().CertThumbprint}, func(w io.Writer) {
			fmt.Fprintf(w, "renewed the certificate of %s: thumbprint %s\n", a.Identity().DeviceID, a.Enrollment().CertThumbprint)
		})
	case "run":
		return a.Run(ctx)
	case "nodes":
		return deviceNodes(a, out)
	case "status":
		s, err := a.Status()
		if err != nil {
			return err
		}
		return out.print(statusSections(s), func(w io.Writer) { fmt.Fprint(w, s) })
	}
	return usageError{msg: fmt.Sprintf("unknown command %q", cmd)}
}

// deviceJoin shows, or with flags changes, how the device is joined.
func deviceJoin(a *device.Agent, enroll enrollFlags, out deviceOutput) error {
	j, err := enroll.joinState(a.Join())
	if err != nil {
		return err
	}
	if j != a.Join() {
		if err := a.SetJoin(j); err != nil {
			return err
		}
	}
	enrolled := a.Enrollment().State == devenroll.StateEnrolled
	v := map[string]any{"join": j.Join.Name(), "trust": j.Trust.Name(), "account": j.Account.Name()}
	return out.print(v, func(w io.Writer) {
		fmt.Fprintf(w, "join: %s\ntrust: %s\naccount: %s\n", j.Join, j.Trust, j.Account)
		if enrolled {
			fmt.Fprintln(w, "the server learns this state at the next sync")
		}
	})
}

// deviceSync runs one OMA-DM session and prints what it applied and changed.
func deviceSync(ctx context.Context, a *device.Agent, out deviceOutput) error {
	rep, err := a.Sync(ctx)
	if err != nil {
		return err
	}
	type applied struct {
		Verb   string `json:"verb"`
		Status int    `json:"status"`
		LocURI string `json:"locUri"`
	}
	v := struct {
		SessionID  string    `json:"sessionId"`
		Messages   int       `json:"messages"`
		Applied    []applied `json:"applied"`
		Changed    []string  `json:"changed"`
		Unenrolled bool      `json:"unenrolled"`
	}{SessionID: rep.SessionID, Messages: rep.Messages, Applied: []applied{}, Changed: nonNilList(rep.Changed), Unenrolled: rep.Unenrolled}
	for _, ap := range rep.Applied {
		v.Applied = append(v.Applied, applied{ap.Verb, ap.Status, ap.LocURI})
	}
	return out.print(v, func(w io.Writer) {
		fmt.Fprintf(w, "session %s: %d message(s), %d command(s)\n", rep.SessionID, rep.Messages, len(rep.Applied))
		for _, ap := range rep.Applied {
			fmt.Fprintf(w, "  %-8s %-3d %s\n", ap.Verb, ap.Status, ap.LocURI)
		}
		for _, uri := range rep.Changed {
			fmt.Fprintf(w, "  changed  %s\n", uri)
		}
	})
}

// deviceNodes prints the CSP tree with values.
func deviceNodes(a *device.Agent, out deviceOutput) error {
	type node struct {
		URI    string `json:"uri"`
		Format string `json:"format"`
		Value  string `json:"value"`
	}
	nodes := []node{}
	for _, n := range a.Nodes() {
		nodes = append(nodes, node{n.URI, string(n.Format), n.Value})
	}
	return out.print(nodes, func(w io.Writer) {
		for _, n := range nodes {
			fmt.Fprintf(w, "%s\t%s\t%s\n", n.URI, n.Format, strconv.Quote(n.Value))
		}
	})
}

func deviceEnroll(ctx context.Context, state string, enroll enrollFlags, out deviceOutput) error {
	if enroll.server == "" || enroll.email == "" || enroll.caFile == "" {
		return usageError{msg: "enroll needs --server, --email and --ca-file"}
	}
	pemData, err := os.ReadFile(enroll.caFile)
	if err != nil {
		return fmt.Errorf("reading --ca-file: %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pemData) {
		return fmt.Errorf("--ca-file %s holds no PEM certificate", enroll.caFile)
	}
	shape, err := devenroll.ParseCSRShape(enroll.csr)
	if err != nil {
		return usageError{msg: err.Error()}
	}
	cur, err := device.Open(state, device.Options{})
	if err != nil {
		return err
	}
	id := cur.Identity()
	if enroll.osVersion != "" {
		id.OSVersion = enroll.osVersion
	}
	if enroll.edition != 0 {
		id.OSEdition = enroll.edition
	}
	if enroll.deviceID != "" {
		id.DeviceID = enroll.deviceID
	}
	if enroll.deviceName != "" {
		id.DeviceName = enroll.deviceName
	}
	a, err := device.Open(state, device.Options{Identity: &id})
	if err != nil {
		return err
	}
	j, err := enroll.joinState(a.Join())
	if err != nil {
		return err
	}
	if err := a.SetJoin(j); err != nil {
		return err
	}
	if err := a.Enroll(ctx, devenroll.Request{ServerURL: enroll.server, UPN: enroll.email, Password: enroll.password,
		OTP: enroll.otp, RootCAs: roots, CSRShape: shape}); err != nil {
		return err
	}
	e := a.Enrollment()
	v := map[string]any{"deviceId": a.Identity().DeviceID, "deviceName": a.Identity().DeviceName, "userPrincipalName": e.UPN,
		"tenantId": e.TenantID, "managementUrl": e.ManagementURL}
	return out.print(v, func(w io.Writer) {
		fmt.Fprintf(w, "enrolled %s (%s) as %s in tenant %s\nmanagement: %s\n", a.Identity().DeviceID, a.Identity().DeviceName, e.UPN, e.TenantID, e.ManagementURL)
	})
}

// statusSections turns the dsregcmd-style report into {"Section": {"Name": "value"}}: the
// same fields, for scripts (-o json).
func statusSections(report string) map[string]map[string]string {
	out := map[string]map[string]string{}
	var cur map[string]string
	for _, line := range strings.Split(report, "\n") {
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, "| ") && strings.HasSuffix(t, "|") {
			cur = map[string]string{}
			out[strings.TrimSpace(strings.Trim(t, "|"))] = cur
			continue
		}
		if cur == nil || strings.HasPrefix(t, "+") {
			continue
		}
		if name, value, ok := strings.Cut(t, " : "); ok {
			cur[strings.TrimSpace(name)] = strings.TrimSpace(value)
		}
	}
	return out
}
