package main

import (
	"context"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/hellomdm/hellomdm/device"
)

func init() { subcommands["device"] = runDevice }

const deviceUsage = `Usage: hellomdm device <command> [flags]

Commands:
  enroll    --server https://HOST:PORT --email UPN --password PW [--otp CODE] --ca-file FILE
            [--csr windows|clean] [--os-version V] [--edition N] [--device-id ID] [--device-name NAME]
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
            --new-pin PIN [--token T] [--join aad|hybrid|onprem] [--trust key|cert|cloud]
            [--account enterprise|msa] [--dc-reachable] [--federation-reachable] [--adfs]

Common flag: --state DIR (default ./hellomdm-device; env HELLOMDM_DEVICE_STATE).
`

// runDevice is `hellomdm device`: the simulated Windows device agent (package device).
func runDevice(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, deviceUsage)
		return 2
	}
	cmd, rest := args[0], args[1:]
	if cmd == "hello" || cmd == "reset-pin" {
		return runDeviceHello(cmd, rest, stdout, stderr)
	}
	fs := flag.NewFlagSet("device "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	state := fs.String("state", "./hellomdm-device", "state directory")
	var enroll struct {
		server, email, password, otp, caFile, csr, osVersion, deviceID, deviceName string
		edition                                                                    int
	}
	if cmd == "enroll" {
		fs.StringVar(&enroll.server, "server", "", "server base URL, https://HOST:PORT")
		fs.StringVar(&enroll.email, "email", "", "user principal name")
		fs.StringVar(&enroll.password, "password", "", "password")
		fs.StringVar(&enroll.otp, "otp", "", "authenticator code (Federated sign-in)")
		fs.StringVar(&enroll.caFile, "ca-file", "", "PEM file of the CA that signed the server certificate")
		fs.StringVar(&enroll.csr, "csr", "windows", "CSR shape: windows or clean")
		fs.StringVar(&enroll.osVersion, "os-version", "", "OS version, e.g. 10.0.22631.2428 or 10.0.16299.2166")
		fs.IntVar(&enroll.edition, "edition", 0, "OSEdition product type, e.g. 48 Pro, 4 Enterprise")
		fs.StringVar(&enroll.deviceID, "device-id", "", "DeviceID (32 upper-case hex digits)")
		fs.StringVar(&enroll.deviceName, "device-name", "", "device name, e.g. DESKTOP-1234567")
	}
	if err := parseFlags(fs, rest, "HELLOMDM_DEVICE_"); err != nil {
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := deviceCommand(ctx, cmd, *state, enroll, stdout)
	var ue usageError
	switch {
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "hellomdm device: %v\n\n%s", err, deviceUsage)
		return 2
	case err != nil:
		fmt.Fprintf(stderr, "hellomdm device %s: %v\n", cmd, err)
		return 1
	}
	return 0
}

func deviceCommand(ctx context.Context, cmd, state string, enroll struct {
	server, email, password, otp, caFile, csr, osVersion, deviceID, deviceName string
	edition                                                                    int
}, stdout io.Writer) error {
	opts := device.Options{}
	if cmd == "enroll" {
		if enroll.server == "" || enroll.email == "" || enroll.caFile == "" {
			return usageError{msg: "enroll needs --server, --email and --ca-file"}
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
		opts.Identity = &id
	}
	a, err := device.Open(state, opts)
	if err != nil {
		return err
	}
	switch cmd {
	case "enroll":
		pemData, err := os.ReadFile(enroll.caFile)
		if err != nil {
			return fmt.Errorf("reading --ca-file: %w", err)
		}
		roots := x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pemData) {
			return fmt.Errorf("--ca-file %s holds no PEM certificate", enroll.caFile)
		}
		shape, err := device.ParseCSRShape(enroll.csr)
		if err != nil {
			return usageError{msg: err.Error()}
		}
		if err := a.Enroll(ctx, device.EnrollRequest{ServerURL: enroll.server, UPN: enroll.email, Password: enroll.password,
			OTP: enroll.otp, RootCAs: roots, CSRShape: shape}); err != nil {
			return err
		}
		e := a.Enrollment()
		fmt.Fprintf(stdout, "enrolled %s (%s) as %s in tenant %s\nmanagement: %s\n", a.Identity().DeviceID, a.Identity().DeviceName, e.UPN, e.TenantID, e.ManagementURL)
	case "sync", "unenroll":
		var rep device.Report
		if cmd == "sync" {
			rep, err = a.Sync(ctx)
		} else {
			err = a.Unenroll(ctx)
		}
		if err != nil {
			return err
		}
		if cmd == "unenroll" {
			fmt.Fprintln(stdout, "unenrolled")
			return nil
		}
		fmt.Fprintf(stdout, "session %s: %d message(s), %d command(s)\n", rep.SessionID, rep.Messages, len(rep.Applied))
		for _, ap := range rep.Applied {
			fmt.Fprintf(stdout, "  %-8s %-3d %s\n", ap.Verb, ap.Status, ap.LocURI)
		}
		for _, uri := range rep.Changed {
			fmt.Fprintf(stdout, "  changed  %s\n", uri)
		}
	case "renew":
		if err := a.Renew(ctx); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "renewed the certificate of %s: thumbprint %s\n", a.Identity().DeviceID, a.Enrollment().CertThumbprint)
	case "run":
		return a.Run(ctx)
	case "nodes":
		for _, n := range a.Nodes() {
			fmt.Fprintf(stdout, "%s\t%s\t%s\n", n.URI, n.Format, strconv.Quote(n.Value))
		}
	case "status":
		s, err := a.Status()
		if err != nil {
			return err
		}
		fmt.Fprint(stdout, s)
	default:
		return usageError{msg: fmt.Sprintf("unknown command %q", cmd)}
	}
	return nil
}
