package wns

import (
	"encoding/json"
	"strings"
	"testing"
)

// FuzzValidateChannelURI feeds the validator what a device may report as its ChannelURI.
// An accepted URI is https, without user information or fragment, on an allowed host and
// port, and stays accepted when written back out (what Send posts to).
func FuzzValidateChannelURI(f *testing.F) {
	for _, s := range []string{
		"https://db5p.notify.windows.com/?token=AwYAAAB%2bYl8x",
		"https://evil.example@db5p.notify.windows.com/",
		`https://evil.example\@db5p.notify.windows.com/`,
		"https://[::ffff:127.0.0.1]:8443/c",
		"https://127.0.0.1:8443/channel/x",
		"http://db5p.notify.windows.com/",
		"https://db5p.notify.windows.com./",
		"https://a.notify.windows.com:443#x",
	} {
		f.Add(s)
	}
	a, err := ParseAllowlist([]string{DefaultAllowedHost, "127.0.0.1:8443"})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := a.ValidateChannelURI(raw)
		if err != nil {
			return
		}
		if u.Scheme != "https" || u.User != nil || u.Fragment != "" || u.Opaque != "" {
			t.Fatalf("accepted %q as %#v", raw, u)
		}
		host := strings.ToLower(u.Hostname())
		if !strings.HasSuffix(host, ".notify.windows.com") && host != "127.0.0.1" && !strings.HasPrefix(host, "::ffff:127.0.0.1") {
			t.Fatalf("accepted %q with host %q", raw, host)
		}
		if _, err := a.ValidateChannelURI(u.String()); err != nil {
			t.Fatalf("accepted %q but not its own form %q: %v", raw, u.String(), err)
		}
	})
}

// FuzzExpiresIn feeds the token parser what a token endpoint may answer as expires_in.
func FuzzExpiresIn(f *testing.F) {
	for _, s := range []string{`86400`, `"3600"`, `-1`, `1e99`, `null`, `"x"`, `{}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		d := expiresIn(json.RawMessage(raw))
		if d <= 0 || d > 30*24*3600*1e9 {
			t.Fatalf("expiresIn(%q) = %v", raw, d)
		}
	})
}
