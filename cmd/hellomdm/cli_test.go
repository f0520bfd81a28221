package main

import (
	"bytes"
	"encoding/base32"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/internal/testbin"
	"github.com/hellomdm/hellomdm/pinreset/idp"
)

// cliRun runs the hellomdm command line in-process and returns its exit code and output.
func cliRun(args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestHoistDeviceFlags(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"--state ./alice-pc sync", "sync --state ./alice-pc"},
		{"--state=./a -o json status", "status --state=./a -o json"},
		{"--state ./a hello provision --user u --pin 1", "hello provision --state ./a --user u --pin 1"},
		{"--state ./a --destructive reset-pin --user u", "reset-pin --state ./a --destructive --user u"},
		{"sync --state ./a", "sync --state ./a"},
		{"-h", "-h"},
	} {
		if got := strings.Join(hoistDeviceFlags(strings.Fields(tc.in)), " "); got != tc.want {
			t.Errorf("%q: got %q, want %q", tc.in, got, tc.want)
		}
	}
}

// RFC 6238 Appendix B test vectors (8 digits; the seeds are the ASCII strings the RFC's
// reference code uses for each hash).
func TestTOTPCodeRFC6238(t *testing.T) {
	seeds := map[string]string{
		"SHA1":   "12345678901234567890",
		"SHA256": "12345678901234567890123456789012",
		"SHA512": "1234567890123456789012345678901234567890123456789012345678901234",
	}
	for _, tc := range []struct {
		unix int64
		alg  string
		want string
	}{
		{59, "SHA1", "94287082"}, {59, "SHA256", "46119246"}, {59, "SHA512", "90693936"},
		{1111111109, "SHA1", "07081804"}, {1111111109, "SHA256", "68084774"}, {1111111109, "SHA512", "25091201"},
		{1234567890, "SHA1", "89005924"}, {2000000000, "SHA256", "90698825"}, {20000000000, "SHA512", "47863826"},
	} {
		b32 := base32StdNoPad.EncodeToString([]byte(seeds[tc.alg]))
		p, err := parseOTPAuthURI("otpauth://totp/Test:alice?secret=" + b32 + "&algorithm=" + tc.alg + "&digits=8&period=30")
		if err != nil {
			t.Fatal(err)
		}
		if got, err := p.code(time.Unix(tc.unix, 0)); err != nil || got != tc.want {
			t.Errorf("%s at %d: got %s, %v; want %s", tc.alg, tc.unix, got, err, tc.want)
		}
	}
}

func TestAuthenticatorCode(t *testing.T) {
	secret, b32, err := idp.NewTOTPSecret(bytes.NewReader(bytes.Repeat([]byte{7}, 20)))
	if err != nil {
		t.Fatal(err)
	}
	uri := idp.TOTPURI("hellomdm", "alice@contoso.com", b32)
	for _, args := range [][]string{{"--uri", uri}, {"--secret", strings.ToLower(b32)}} {
		before := idp.TOTPCode(secret, time.Now())
		code, out, errOut := cliRun(append([]string{"authenticator", "code"}, args...)...)
		after := idp.TOTPCode(secret, time.Now())
		got := strings.TrimSpace(out)
		if code != 0 || (got != before && got != after) {
			t.Fatalf("%v: exit %d, code %q (want %s or %s), stderr %s", args, code, got, before, after, errOut)
		}
		// The code is what the identity provider accepts.
		if _, err := idp.VerifyTOTP(secret, got, time.Now(), 0); err != nil {
			t.Fatalf("the identity provider refuses %s: %v", got, err)
		}
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{}, "give exactly one of --uri and --secret"},
		{[]string{"--uri", "https://example.test/"}, "not an otpauth:// URI"},
		{[]string{"--uri", "otpauth://hotp/x?secret=" + b32}, "only totp"},
		{[]string{"--secret", "not base32!"}, "not base32"},
		{[]string{"--uri", strings.Replace(uri, "digits=6", "digits=12", 1)}, "want 6 to 8"},
		{[]string{"--urii", uri}, `did you mean "--uri"?`},
	} {
		code, _, errOut := cliRun(append([]string{"authenticator", "code"}, tc.args...)...)
		if code != exitUsage || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, stderr %q, want 2 and %q", tc.args, code, errOut, tc.want)
		}
	}
}

func TestHelpExitsZeroWithFlagsAndExample(t *testing.T) {
	for _, args := range [][]string{
		{"--help"},
		{"device", "-h"},
		{"device", "sync", "-h"},
		{"device", "--state", "x", "status", "--help"},
		{"device", "hello", "provision", "-h"},
		{"device", "reset-pin", "-h"},
		{"authenticator", "code", "-h"},
		{"serve", "-h"},
		{"bench", "checkin", "--help"},
		{"completion", "-h"},
	} {
		code, out, errOut := cliRun(args...)
		if code != 0 || out == "" || errOut != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, out, errOut)
			continue
		}
		if len(args) > 2 || args[0] == "authenticator" || args[0] == "serve" || args[0] == "bench" {
			if !strings.Contains(out, "Flags:") || !strings.Contains(out, "--state") && args[0] == "device" || !strings.Contains(out, "Example:") {
				t.Errorf("%v: help lacks flags or example:\n%s", args, out)
			}
		}
	}
}

// Every command, and every device command, answers -h and --help on stdout with exit 0:
// its usage, each flag with its meaning and an example (completion: its usage and how to
// load the script).
func TestEveryCommandHelp(t *testing.T) {
	cmds := [][]string{{"serve"}, {"version"}, {"authenticator", "code"}, {"bench", "checkin"}, {"completion", "bash"}}
	for name := range deviceCommands {
		cmds = append(cmds, append([]string{"device"}, strings.Fields(name)...))
	}
	for _, top := range topCommands {
		switch name := top.name; name {
		case "admin", "device", "authenticator", "bench", "completion": // groups: their commands are above
		case "__complete": // the completion scripts' hook, not typed by people
		default:
			cmds = append(cmds, []string{name})
		}
	}
	for _, c := range cmds {
		for _, h := range []string{"-h", "--help"} {
			code, out, errOut := cliRun(append(slices.Clone(c), h)...)
			if code != exitOK || errOut != "" || !strings.HasPrefix(out, "Usage: hellomdm "+c[0]) {
				t.Errorf("%v %s: exit %d, stdout %q, stderr %q", c, h, code, out, errOut)
				continue
			}
			if c[0] != "completion" && (!strings.Contains(out, "\nFlags:\n") || !strings.Contains(out, "\nExample:\n  ")) {
				t.Errorf("%v %s: no flags or no example:\n%s", c, h, out)
			}
		}
	}
	if code, _, errOut := cliRun("version", "--out", "json"); code != exitUsage || !strings.Contains(errOut, "unknown flag --out") {
		t.Errorf("version --out: exit %d: %s", code, errOut)
	}
}

func TestDidYouMean(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"devcie"}, `did you mean "device"?`},
		{[]string{"device", "sycn"}, `did you mean "sync"?`},
		{[]string{"device", "sync", "--stat", "x"}, `did you mean "--state"?`},
		{[]string{"device", "hello", "provison"}, `did you mean "provision"?`},
		{[]string{"serve", "--adr", ":1"}, `did you mean "--addr"?`},
	} {
		code, _, errOut := cliRun(tc.args...)
		if code != exitUsage || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tc.args, code, errOut, tc.want)
		}
	}
}

// Device commands on a directory that holds no enrolled device name it, say how to enroll,
// and create nothing.
func TestDeviceCommandsNeedAnEnrolledState(t *testing.T) {
	for _, cmd := range [][]string{{"status"}, {"sync"}, {"nodes"}, {"renew"}, {"unenroll"}, {"hello", "unlock", "--user", "a@b.c", "--pin", "1234"}} {
		dir := filepath.Join(t.TempDir(), "nowhere")
		code, _, errOut := cliRun(append([]string{"device", "--state", dir}, cmd...)...)
		if code != exitFailed || !strings.Contains(errOut, dir+" holds no device state") || !strings.Contains(errOut, "device --state "+dir+" enroll") {
			t.Errorf("%v: exit %d, stderr %q", cmd, code, errOut)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("%v created %s (%v)", cmd, dir, err)
		}
	}
}

func decodeJSON(t *testing.T, s string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, s)
	}
}

var base32StdNoPad = base32.StdEncoding.WithPadding(base32.NoPadding)

// The device commands take their common flags before the command word, as admin does, and
// print JSON with -o json; a retired device's sync says what to do.
func TestDeviceCommandsJSONAndRetired(t *testing.T) {
	base := startCLIServer(t)
	server, caFile := base[2], base[6]
	admin := func(args ...string) string {
		t.Helper()
		code, out, errOut := cliRun(append(append([]string{}, base...), args...)...)
		if code != 0 {
			t.Fatalf("admin %v: exit %d: %s", args, code, errOut)
		}
		return out
	}
	const tid = "6d2a3f0e-1c55-4b0b-9a3e-2f4f7c1d9e01"
	admin("tenant", "create", "--id", tid, "--name", "Contoso", "--domain", "contoso.com")
	admin("user", "create", "--tenant", tid, "--upn", "alice@contoso.com", "--password", "Correct horse 1")
	state := filepath.Join(t.TempDir(), "alice-pc")
	dev := func(want int, args ...string) string {
		t.Helper()
		code, out, errOut := cliRun(append([]string{"device", "--state", state, "-o", "json"}, args...)...)
		if code != want {
			t.Fatalf("device %v: exit %d, want %d: %s", args, code, want, errOut)
		}
		return out + errOut
	}
	var enrolled struct {
		DeviceID, DeviceName, UserPrincipalName, TenantID string
	}
	decodeJSON(t, dev(0, "enroll", "--server", server, "--email", "alice@contoso.com", "--password", "Correct horse 1", "--ca-file", caFile), &enrolled)
	if len(enrolled.DeviceID) != 32 || enrolled.TenantID != tid || enrolled.UserPrincipalName != "alice@contoso.com" {
		t.Fatalf("enroll: %+v", enrolled)
	}
	deviceJSONReports(t, dev, enrolled.DeviceID)

	// A refusal by the device agent (the policy never enabled PIN recovery, so only a
	// destructive reset is possible) exits 1, not 3 (a transport failure).
	// The support matrix names its row.
	if out := dev(exitFailed, "reset-pin", "--user", "alice@contoso.com", "--password", "Correct horse 1", "--new-pin", "246801"); !strings.Contains(out, "(recovery-policy-disabled)") {
		t.Fatalf("refused reset-pin:\n%s", out)
	}

	admin("device", "retire", "--tenant", tid, "--device", enrolled.DeviceID)
	if out := dev(exitFailed, "sync"); !strings.Contains(out, "retired by an admin: unenroll it (hellomdm device --state ") {
		t.Fatalf("sync of a retired device:\n%s", out)
	}

	// A second device leaves management itself.
	state = filepath.Join(t.TempDir(), "bob-pc")
	decodeJSON(t, dev(0, "enroll", "--server", server, "--email", "alice@contoso.com", "--password", "Correct horse 1", "--ca-file", caFile), &enrolled)
	var left struct {
		DeviceID string `json:"deviceId"`
		State    string `json:"state"`
	}
	decodeJSON(t, dev(0, "unenroll"), &left)
	if left.DeviceID != enrolled.DeviceID || left.State != "unenrolled" {
		t.Fatalf("unenroll: %+v", left)
	}
}

// deviceJSONReports checks the -o json answers of sync, nodes, status, hello, join and renew
// of an enrolled device.
func deviceJSONReports(t *testing.T, dev func(want int, args ...string) string, deviceID string) {
	t.Helper()
	var rep struct {
		SessionID string
		Messages  int
		Applied   []struct{ Verb, LocURI string }
	}
	decodeJSON(t, dev(0, "sync"), &rep)
	if rep.SessionID == "" || rep.Messages < 1 {
		t.Fatalf("sync: %+v", rep)
	}
	var nodes []struct{ URI, Value string }
	decodeJSON(t, dev(0, "nodes"), &nodes)
	found := false
	for _, n := range nodes {
		found = found || n.URI == "./DevInfo/DevId" && n.Value == deviceID
	}
	if !found {
		t.Fatalf("nodes lack ./DevInfo/DevId = %s", deviceID)
	}
	var status map[string]map[string]string
	decodeJSON(t, dev(0, "status"), &status)
	if status["Device State"]["DeviceId"] != deviceID || status["Device State"]["EnrollmentState"] != "enrolled" {
		t.Fatalf("status: %v", status)
	}
	var hello struct {
		NgcSet   bool   `json:"ngcSet"`
		CanReset string `json:"canReset"`
	}
	decodeJSON(t, dev(0, "hello", "provision", "--user", "alice@contoso.com", "--pin", "135792"), &hello)
	if !hello.NgcSet || hello.CanReset == "" {
		t.Fatalf("hello provision: %+v", hello)
	}
	var unlock struct {
		NgcSet   bool   `json:"ngcSet"`
		NgcKeyID string `json:"ngcKeyId"`
	}
	decodeJSON(t, dev(0, "hello", "unlock", "--user", "alice@contoso.com", "--pin", "135792"), &unlock)
	if !unlock.NgcSet || unlock.NgcKeyID == "" {
		t.Fatalf("hello unlock: %+v", unlock)
	}
	var join struct{ Join, Trust, Account string }
	decodeJSON(t, dev(0, "join", "--join", "hybrid", "--trust", "cert"), &join)
	if join.Join != "hybrid" || join.Trust != "cert" || join.Account != "enterprise" {
		t.Fatalf("join: %+v", join)
	}
	var renewed struct {
		DeviceID       string `json:"deviceId"`
		CertThumbprint string `json:"certThumbprint"`
	}
	decodeJSON(t, dev(0, "renew"), &renewed)
	if renewed.DeviceID != deviceID || len(renewed.CertThumbprint) != 40 {
		t.Fatalf("renew: %+v", renewed)
	}
}

// Every --tenant, --user, --group, --profile and --device takes the ID or the unique name;
// an unknown name says it is not an ID, an ambiguous one lists the candidates; -q prints
// IDs alone for $(...).
func TestAdminNamesInsteadOfIDs(t *testing.T) {
	base := startCLIServer(t)
	server, caFile := base[2], base[6]
	admin := func(want int, args ...string) (string, string) {
		t.Helper()
		code, out, errOut := cliRun(append(append([]string{}, base...), args...)...)
		if code != want {
			t.Fatalf("admin %v: exit %d, want %d: %s%s", args, code, want, out, errOut)
		}
		return out, errOut
	}
	const tid = "6d2a3f0e-1c55-4b0b-9a3e-2f4f7c1d9e01"
	out, _ := admin(0, "-q", "tenant", "create", "--id", tid, "--name", "Contoso", "--domain", "contoso.com")
	if strings.TrimSpace(out) != tid {
		t.Fatalf("-q tenant create printed %q", out)
	}
	admin(0, "tenant", "create", "--id", "0f0e0d0c-1c55-4b0b-9a3e-2f4f7c1d9e02", "--name", "Fabrikam", "--domain", "fabrikam.com")
	userID, _ := admin(0, "-q", "user", "create", "--tenant", "contoso.com", "--upn", "alice@contoso.com", "--password", "Correct horse 1")
	userID = strings.TrimSpace(userID)
	if !idShaped.MatchString(userID) {
		t.Fatalf("-q user create printed %q", userID)
	}
	uri, _ := admin(0, "-q", "user", "totp", "--tenant", "Contoso", "--user", "ALICE@contoso.com")
	// The label an authenticator app shows is the UPN, not the user's ID.
	if !strings.HasPrefix(uri, "otpauth://totp/hellomdm:alice@contoso.com?") || strings.Count(uri, "\n") != 1 {
		t.Fatalf("-q user totp printed %q", uri)
	}
	gid, _ := admin(0, "-q", "group", "create", "--tenant", "contoso.com", "--name", "WHfB pilot")
	admin(0, "group", "add-member", "--tenant", "contoso.com", "--group", "WHfB pilot", "--id", "alice@contoso.com")
	out, _ = admin(0, "group", "members", "--tenant", "contoso.com", "--group", "whfb PILOT")
	if !strings.Contains(out, userID) || !strings.Contains(out, "alice@contoso.com") {
		t.Fatalf("members by group name, with the UPN beside the ID:\n%s", out)
	}
	admin(0, "profile", "import", "--tenant", "contoso.com", "../../examples/policy/whfb-pin-recovery.settings-catalog.json")
	out, _ = admin(0, "profile", "assign", "--tenant", "contoso.com", "--profile", "WHfB - Enable PIN recovery", "--group", "WHfB pilot")
	if !strings.Contains(out, strings.TrimSpace(gid)) {
		t.Fatalf("assign by names: %s", out)
	}
	state := filepath.Join(t.TempDir(), "pc")
	if code, _, errOut := cliRun("device", "--state", state, "enroll", "--server", server, "--email", "alice@contoso.com",
		"--password", "Correct horse 1", "--ca-file", caFile, "--device-name", "ALICE-PC"); code != 0 {
		t.Fatal(errOut)
	}
	out, _ = admin(0, "device", "settings", "--tenant", "contoso.com", "--device", "alice-pc")
	if !strings.Contains(out, "LOCURI") {
		t.Fatalf("device settings by device name:\n%s", out)
	}
	if code, _, errOut := cliRun("device", "--state", state, "sync"); code != 0 {
		t.Fatal(errOut)
	}
	out, _ = admin(0, "profile", "status", "--tenant", "contoso.com", "--profile", "WHfB - Enable PIN recovery")
	if !strings.Contains(out, "DEVICENAME") || !strings.Contains(out, "ALICE-PC") {
		t.Fatalf("profile status by names, with device names:\n%s", out)
	}
	out, _ = admin(0, "device", "settings", "--tenant", "contoso.com", "--device", "alice-pc")
	if !strings.Contains(out, "(WHfB - Enable PIN recovery)") {
		t.Fatalf("device settings sources lack the profile name:\n%s", out)
	}
	adminNameMistakes(t, admin, server, caFile, userID)
}

// adminNameMistakes: not an ID and no such name; a name two devices share; a name of
// another tenant; a member name several objects have.
func adminNameMistakes(t *testing.T, admin func(want int, args ...string) (string, string), server, caFile, userID string) {
	t.Helper()
	const tid = "6d2a3f0e-1c55-4b0b-9a3e-2f4f7c1d9e01"
	if code, _, errOut := cliRun("device", "--state", filepath.Join(t.TempDir(), "pc2"), "enroll", "--server", server, "--email", "alice@contoso.com",
		"--password", "Correct horse 1", "--ca-file", caFile, "--device-name", "alice-pc"); code != 0 {
		t.Fatal(errOut)
	}
	_, errOut := admin(exitFailed, "user", "list", "--tenant", "6d2a3f0e-nope")
	if !strings.Contains(errOut, "(HTTP 404): \"6d2a3f0e-nope\" is not a tenant ID, and no tenant has that domain or name") {
		t.Fatalf("malformed tenant: %s", errOut)
	}
	_, errOut = admin(exitFailed, "device", "settings", "--tenant", "contoso.com", "--device", "Alice-PC")
	if !strings.Contains(errOut, `"Alice-PC" names 2 devices in tenant `+tid) || !strings.Contains(errOut, "(ALICE-PC)") || !strings.Contains(errOut, "(alice-pc)") {
		t.Fatalf("ambiguous device: %s", errOut)
	}
	// A group member is named by UPN, device name or group name: one the two devices share,
	// or a device and a group, is refused with every candidate and its kind.
	_, errOut = admin(exitFailed, "group", "add-member", "--tenant", "contoso.com", "--group", "WHfB pilot", "--id", "Alice-PC")
	if !strings.Contains(errOut, `"Alice-PC" names 2 members in tenant `+tid) || strings.Count(errOut, "device ") != 2 || !strings.Contains(errOut, "give the ID") {
		t.Fatalf("ambiguous member: %s", errOut)
	}
	admin(0, "group", "create", "--tenant", "contoso.com", "--name", "Helpdesk")
	out, _ := admin(0, "group", "add-member", "--tenant", "contoso.com", "--group", "WHfB pilot", "--id", "helpdesk")
	if !strings.Contains(out, "(helpdesk) to group ") || !strings.Contains(out, "(WHfB pilot)") {
		t.Fatalf("add-member by group name: %s", out)
	}
	admin(0, "group", "create", "--tenant", "contoso.com", "--name", "alice@contoso.com")
	_, errOut = admin(exitFailed, "group", "remove-member", "--tenant", "contoso.com", "--group", "WHfB pilot", "--id", "alice@contoso.com")
	if !strings.Contains(errOut, `"alice@contoso.com" names 2 members`) || !strings.Contains(errOut, "user "+userID+" (alice@contoso.com)") || !strings.Contains(errOut, "group ") {
		t.Fatalf("a UPN that is also a group's name: %s", errOut)
	}
	_, errOut = admin(exitFailed, "group", "add-member", "--tenant", "contoso.com", "--group", "WHfB pilot", "--id", "nobody")
	if !strings.Contains(errOut, `"nobody" is not a user, device or group ID, and no user principal name, device name or group name in tenant `+tid+" is that") {
		t.Fatalf("unknown member: %s", errOut)
	}
	_, errOut = admin(exitFailed, "user", "totp", "--tenant", "fabrikam.com", "--user", "alice@contoso.com")
	if !strings.Contains(errOut, `no user in tenant 0f0e0d0c-1c55-4b0b-9a3e-2f4f7c1d9e02 has that user principal name`) {
		t.Fatalf("user of another tenant: %s", errOut)
	}
}

// admin login stores server, CA file and token (0600, in XDG_CONFIG_HOME); later commands
// need no flags; several contexts; logout forgets one.
func TestAdminLoginContexts(t *testing.T) {
	cfgDir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", cfgDir)
	t.Setenv("HELLOMDM_ADMIN_TOKEN", "")
	os.Unsetenv("HELLOMDM_ADMIN_TOKEN")
	base := startCLIServer(t) // admin --server URL --token T --ca-file F
	other := startCLIServer(t)
	const tid = "6d2a3f0e-1c55-4b0b-9a3e-2f4f7c1d9e01"

	// A wrong token is refused and nothing is stored.
	if code, _, errOut := cliRun("admin", "--server", base[2], "--ca-file", base[6], "--token", "hmdm_wrong", "login"); code != exitFailed ||
		!strings.Contains(errOut, "does not accept this token") {
		t.Fatalf("login with a wrong token: exit %d: %s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(cfgDir, "hellomdm", "config.json")); !os.IsNotExist(err) {
		t.Fatalf("a refused login wrote the config file: %v", err)
	}
	if code, out, errOut := cliRun(append(base, "login")...); code != 0 || !strings.Contains(out, `as context "default"`) {
		t.Fatalf("login: exit %d: %s%s", code, out, errOut)
	}
	path := filepath.Join(cfgDir, "hellomdm", "config.json")
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("config file: %v, mode %v", err, st.Mode())
	}
	if code, out, errOut := cliRun(append(other[:len(other):len(other)], "--context", "staging", "login")...); code != 0 || !strings.Contains(out, `"staging"`) {
		t.Fatalf("login staging: exit %d: %s%s", code, out, errOut)
	}
	// The last login is current: a tenant created without flags lands on the second server.
	if code, _, errOut := cliRun("admin", "tenant", "create", "--id", tid, "--name", "Staging", "--domain", "staging.test"); code != 0 {
		t.Fatalf("tenant create with the stored login: %s", errOut)
	}
	if _, out, _ := cliRun(append(other[:len(other):len(other)], "tenant", "list")...); !strings.Contains(out, "staging.test") {
		t.Fatalf("the stored login did not reach the staging server:\n%s", out)
	}
	code, out, _ := cliRun("admin", "context", "list")
	if code != 0 || !regexp.MustCompile(`(?m)^\*\s+staging\s`).MatchString(out) || !strings.Contains(out, "default") || strings.Contains(out, identityCLIToken) {
		t.Fatalf("context list (exit %d):\n%s", code, out)
	}
	if code, _, errOut := cliRun("admin", "context", "use", "defualt"); code != exitUsage || !strings.Contains(errOut, `did you mean "default"?`) {
		t.Fatalf("context use typo: exit %d: %s", code, errOut)
	}
	if code, _, errOut := cliRun("admin", "context", "use", "default"); code != 0 {
		t.Fatal(errOut)
	}
	if _, out, _ := cliRun("admin", "tenant", "list"); strings.Contains(out, "staging.test") {
		t.Fatalf("context use default still lists the staging server:\n%s", out)
	}
	if _, out, _ := cliRun("admin", "--context", "staging", "tenant", "list"); !strings.Contains(out, "staging.test") {
		t.Fatalf("--context staging:\n%s", out)
	}
	if code, _, errOut := cliRun("admin", "--context", "nope", "tenant", "list"); code != exitUsage || !strings.Contains(errOut, `no context "nope"`) {
		t.Fatalf("unknown context: exit %d: %s", code, errOut)
	}
	if code, _, errOut := cliRun("admin", "--context", "staging", "logout"); code != 0 {
		t.Fatal(errOut)
	}
	raw, _ := os.ReadFile(path)
	if strings.Contains(string(raw), "staging") {
		t.Fatalf("logout left the context:\n%s", raw)
	}
}

// Errors say what to do, and the exit code tells a transport failure (3) from a refusal (1).
func TestAdminErrorsSayWhatToDo(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	base := startCLIServer(t)
	dead := "https://" + testbinFreeAddr(t)
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"server not running", []string{"admin", "--server", dead, "--token", "x", "tenant", "list"}, exitTransport,
			"is `hellomdm serve` running there? set --server"},
		{"unknown CA", []string{"admin", "--server", base[2], "--token", identityCLIToken, "tenant", "list"}, exitTransport,
			"pass --ca-file DATA/ca.pem"},
		{"no token", []string{"admin", "--server", base[2], "--ca-file", base[6], "tenant", "list"}, exitFailed,
			"pass --token or set HELLOMDM_ADMIN_TOKEN"},
		{"mistyped command", append(base[:len(base):len(base)], "tenant", "lsit"), exitUsage, `did you mean "tenant list"?`},
		{"mistyped flag", append(base[:len(base):len(base)], "user", "list", "--tenat", "x"), exitUsage, `did you mean "--tenant"?`},
		{"device enroll, server not running", []string{"device", "--state", filepath.Join(t.TempDir(), "d"), "enroll", "--server", dead,
			"--email", "a@b.c", "--password", "p", "--ca-file", base[6]}, exitTransport, "is `hellomdm serve` running there?"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			os.Unsetenv("HELLOMDM_ADMIN_TOKEN")
			code, out, errOut := cliRun(tc.args...)
			if code != tc.code || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit %d (want %d), want %q in stderr:\n%s%s", code, tc.code, tc.want, out, errOut)
			}
		})
	}
}

// -h on every admin command exits 0 and prints its flags and an example.
func TestAdminHelp(t *testing.T) {
	for name := range adminCommands {
		args := append([]string{"admin"}, strings.Fields(name)...)
		code, out, errOut := cliRun(append(args, "-h")...)
		if code != 0 || errOut != "" || !strings.Contains(out, "Usage: hellomdm admin "+name) || !strings.Contains(out, "Example:\n  hellomdm admin") &&
			!strings.Contains(out, "Example:\n  otp_uri=") {
			t.Errorf("%s -h: exit %d\n%s%s", name, code, out, errOut)
		}
	}
	code, out, _ := cliRun("admin", "--help")
	if code != 0 || !strings.Contains(out, "tenant create") || !strings.Contains(out, "--context") {
		t.Errorf("admin --help: exit %d\n%s", code, out)
	}
}

func testbinFreeAddr(t *testing.T) string { return testbin.FreeAddr(t) }
