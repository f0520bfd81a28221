package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/hellomdm/hellomdm/device"
	"github.com/hellomdm/hellomdm/device/hello"
	"github.com/hellomdm/hellomdm/device/pinreset"
)

// helloFlags are the flags of `device hello …` and `device reset-pin`.
type helloFlags struct {
	state, output, user, pin                     string
	from                                         string
	password, otp, token, newPIN                 string
	destructive, dcReachable, fedReachable, adfs bool
}

// runDeviceHello is `hellomdm device hello provision|unlock` and `hellomdm device reset-pin`.
func runDeviceHello(cmd string, args []string, stdout, stderr io.Writer) int {
	name := cmd
	if cmd == "hello" {
		if len(args) > 0 && isHelp(args[0]) {
			fmt.Fprint(stdout, deviceUsage)
			return exitOK
		}
		if len(args) == 0 || (args[0] != "provision" && args[0] != "unlock") {
			word := ""
			if len(args) > 0 {
				word = args[0]
			}
			fmt.Fprintf(stderr, "hellomdm device hello: want provision or unlock, not %q%s\n\n%s", word, didYouMean(word, []string{"provision", "unlock"}), deviceUsage)
			return exitUsage
		}
		name, args = "hello "+args[0], args[1:]
	}
	fs := flag.NewFlagSet("hellomdm device "+name, flag.ContinueOnError)
	var f helloFlags
	fs.StringVar(&f.state, "state", "./hellomdm-device", "state directory")
	fs.StringVar(&f.output, "o", "text", "output: text or json")
	fs.StringVar(&f.user, "user", "", "user principal name (the enrolled user)")
	if cmd == "hello" {
		fs.StringVar(&f.pin, "pin", "", "PIN")
	} else {
		fs.StringVar(&f.from, "from", "settings", "entry point: settings or lockscreen")
		fs.BoolVar(&f.destructive, "destructive", false, "destructive reset (new key and NgcKeyId)")
		fs.StringVar(&f.password, "password", "", "password")
		fs.StringVar(&f.otp, "otp", "", "authenticator code (MFA), e.g. $(hellomdm authenticator code --uri URI)")
		fs.StringVar(&f.token, "token", "", "a PIN reset access token obtained elsewhere (skips the sign-in)")
		fs.StringVar(&f.newPIN, "new-pin", "", "the new PIN")
		fs.BoolVar(&f.dcReachable, "dc-reachable", false, "a domain controller is reachable")
		fs.BoolVar(&f.fedReachable, "federation-reachable", false, "the on-premises federation service is reachable")
		fs.BoolVar(&f.adfs, "adfs", false, "the deployment uses on-premises AD FS")
	}
	h := deviceCommands[name]
	if code, done := parseCLI(fs, args, "HELLOMDM_DEVICE_", h.usage, h.example, stdout, stderr); done {
		return code
	}
	if f.output != "text" && f.output != "json" {
		return deviceExit(stderr, name, f.state, usageError{fmt.Sprintf("-o %q: want text or json", f.output)})
	}
	if fs.NArg() > 0 {
		return deviceExit(stderr, name, f.state, usageError{"unexpected argument " + fs.Arg(0)})
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := deviceHello(ctx, name, f, deviceOutput{w: stdout, json: f.output == "json"})
	code := deviceExit(stderr, name, f.state, err)
	if hint := helloErrorHint(err, f); hint != "" {
		fmt.Fprintln(stderr, hint)
	}
	return code
}

// helloErrorHint names the command that fixes err, or returns "": a PIN locked by too many
// wrong PINs (hello.ErrPINLocked) takes a PIN reset, non-destructive when the device's
// CanReset allows it and destructive, with the reason, otherwise (device.Agent.LockoutHint).
func helloErrorHint(err error, f helloFlags) string {
	if !errors.Is(err, hello.ErrPINLocked) {
		return ""
	}
	a, oerr := openExisting(f.state, true, device.Options{})
	if oerr == nil {
		if hint, herr := a.LockoutHint(f.state, f.user); herr == nil {
			return hint
		}
	}
	return fmt.Sprintf("The PIN is locked. Set a new one with:\n"+
		"  hellomdm device reset-pin --state %s --user %s --password PW --otp CODE --new-pin NEWPIN\n"+
		"(add --destructive when `hellomdm device status` shows CanReset : DestructiveOnly)", f.state, f.user)
}

func deviceHello(ctx context.Context, name string, f helloFlags, out deviceOutput) error {
	if f.user == "" {
		return usageError{msg: "--user is required"}
	}
	var req pinreset.Request
	if name == "reset-pin" {
		var err error
		if req, err = resetRequest(f); err != nil {
			return err
		}
	} else if f.pin == "" {
		return usageError{msg: "--pin is required"}
	}
	a, err := openExisting(f.state, false, device.Options{})
	if err != nil {
		return err
	}
	var res pinreset.HelloResult
	switch name {
	case "hello provision":
		res, err = a.ProvisionHello(ctx, f.user, f.pin)
	case "hello unlock":
		res, err = a.UnlockHello(ctx, f.user, f.pin)
	default:
		res, err = a.ResetPIN(ctx, req)
	}
	if err != nil {
		return err
	}
	v := map[string]any{"ngcSet": res.NgcSet, "ngcKeyId": res.NgcKeyID, "canReset": res.CanReset, "canResetReason": res.CanResetReason,
		"failedPinAttempts": res.FailedPINAttempts, "pinLocked": res.PINLocked, "protectorIssue": res.ProtectorIssue}
	return out.print(v, func(w io.Writer) {
		fmt.Fprintf(w, "NgcSet   : %s\nNgcKeyId : %s\nCanReset : %s\n", yesNo(res.NgcSet), hello.FormatKeyID(res.NgcKeyID), res.CanReset)
		if res.CanResetReason != "" {
			fmt.Fprintf(w, "non-destructive PIN reset unavailable: %s\n", res.CanResetReason)
		}
		if res.ProtectorIssue != "" {
			fmt.Fprintf(w, "PIN reset protector not created: %s\n", res.ProtectorIssue)
		}
		fmt.Fprintln(w, "the server learns this state at the next sync")
	})
}

// resetRequest maps the reset-pin flags to a pinreset.Request.
func resetRequest(f helloFlags) (pinreset.Request, error) {
	req := pinreset.Request{UPN: f.user, Kind: hello.NonDestructive, Password: f.password, OTP: f.otp,
		AccessToken: f.token, NewPIN: f.newPIN, DCReachable: f.dcReachable, FederationReachable: f.fedReachable, ADFSOnPrem: f.adfs}
	if f.destructive {
		req.Kind = hello.Destructive
	}
	bad := func(flag, v, want string) error {
		return usageError{msg: fmt.Sprintf("--%s %q: want %s", flag, v, want)}
	}
	switch f.from {
	case "settings":
		req.EntryPoint = hello.Settings
	case "lockscreen":
		req.EntryPoint = hello.AboveLock
	default:
		return req, bad("from", f.from, "settings or lockscreen")
	}
	if f.newPIN == "" {
		return req, usageError{msg: "--new-pin is required"}
	}
	return req, nil
}

func yesNo(v bool) string {
	if v {
		return "YES"
	}
	return "NO"
}
