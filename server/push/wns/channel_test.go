package wns

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func TestValidateChannelURIDefaultAllowlist(t *testing.T) {
	a, err := ParseAllowlist(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		uri string
		ok  bool
	}{
		{"https://db5p.notify.windows.com/?token=AwYAAAB%2bYl8x", true},
		{"https://DB5P.Notify.Windows.COM/?token=x", true},
		{"https://a.b.notify.windows.com/w/?token=x", true},
		{"https://db5p.notify.windows.com:443/?token=x", true},
		// the scheme
		{"http://db5p.notify.windows.com/?token=x", false},
		{"wss://db5p.notify.windows.com/?token=x", false},
		{"//db5p.notify.windows.com/?token=x", false},
		{"db5p.notify.windows.com/?token=x", false},
		{"file:///etc/passwd", false},
		{"https:db5p.notify.windows.com", false},
		// other hosts
		{"https://notify.windows.com/?token=x", false},
		{"https://evilnotify.windows.com/?token=x", false},
		{"https://db5p.notify.windows.com.evil.example/?token=x", false},
		{"https://db5p.notify.windows.com./?token=x", false},
		{"https://metadata.google.internal/computeMetadata/v1/", false},
		{"https://db5p.notify.windows.com:8443/?token=x", false},
		{"https://db5p.notify.windows.com:/?token=x", false},
		// IP literals
		{"https://127.0.0.1/?token=x", false},
		{"https://169.254.169.254/latest/meta-data/", false},
		{"https://[::1]/", false},
		{"https://[::ffff:127.0.0.1]/", false},
		{"https://2130706433/", false},
		{"https://0x7f000001/", false},
		// userinfo and parser tricks
		{"https://db5p.notify.windows.com@evil.example/", false},
		{"https://evil.example@db5p.notify.windows.com/", false},
		{"https://user:pass@db5p.notify.windows.com/", false},
		{`https://evil.example\@db5p.notify.windows.com/`, false},
		{"https://evil.example#@db5p.notify.windows.com/", false},
		{"https://db5p.notify.windows.com/#frag", false},
		{"https://evil.example%2f@db5p.notify.windows.com/", false},
		{"https://db5p.notify.windows.com%2eevil.example/", false},
		{"https://db5p.notify.windows.com /", false},
		{"https://db5p.notify.windows.com/\r\nHost: evil", false},
		{"https://db5p.notify.windоws.com/", false}, // Cyrillic о
		{"https://xn--80ak6aa92e.notify.windows.com/", true},
		{"", false},
		{"https://" + strings.Repeat("a", MaxChannelURILength) + ".notify.windows.com/", false},
	} {
		u, err := a.ValidateChannelURI(tc.uri)
		if tc.ok != (err == nil) {
			t.Errorf("ValidateChannelURI(%q) = %v, want ok=%v", tc.uri, err, tc.ok)
			continue
		}
		if err != nil && !errors.Is(err, ErrChannelRefused) {
			t.Errorf("ValidateChannelURI(%q) error %v does not wrap ErrChannelRefused", tc.uri, err)
		}
		if err == nil && u.Scheme != "https" {
			t.Errorf("accepted %q as %v", tc.uri, u)
		}
	}
}

func TestAllowlistEntries(t *testing.T) {
	a, err := ParseAllowlist([]string{"127.0.0.1:8443", "[::1]:9443", "wns.example.test", "*.notify.example.test:4443"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := a.Entries(), []string{"127.0.0.1:8443", "[::1]:9443", "wns.example.test", "*.notify.example.test:4443"}; !slices.Equal(got, want) {
		t.Errorf("Entries = %q, want %q", got, want)
	}
	for _, tc := range []struct {
		uri string
		ok  bool
	}{
		{"https://127.0.0.1:8443/channel/a", true},
		{"https://127.0.0.1/channel/a", false},      // not the port named
		{"https://127.0.0.1:8444/channel/a", false}, // nor another
		{"https://127.0.0.2:8443/channel/a", false},
		{"https://[::1]:9443/c", true},
		{"https://[::ffff:127.0.0.1]:8443/c", true}, // the same address
		{"https://wns.example.test/c", true},
		{"https://wns.example.test:8443/c", false},
		{"https://x.wns.example.test/c", false},
		{"https://a.notify.example.test:4443/c", true},
		{"https://a.notify.example.test/c", false},
		{"https://localhost:8443/c", false}, // a name never matches an IP entry
	} {
		if _, err := a.ValidateChannelURI(tc.uri); tc.ok != (err == nil) {
			t.Errorf("ValidateChannelURI(%q) = %v, want ok=%v", tc.uri, err, tc.ok)
		}
	}
	for _, bad := range []string{"*", "*.com", "http://x.example", "x.example:0", "x.example:99999", "[fe80::1%eth0]:443", "-x.example", "x..example", "*.*.example"} {
		if _, err := ParseAllowlist([]string{bad}); err == nil {
			t.Errorf("ParseAllowlist(%q) accepted", bad)
		}
	}
}

func TestDialAllowed(t *testing.T) {
	a, err := ParseAllowlist([]string{"*.notify.windows.com", "127.0.0.1:8443"})
	if err != nil {
		t.Fatal(err)
	}
	for addr, ok := range map[string]bool{
		"52.96.0.10": true, "2603:1000::1": true,
		"127.0.0.1": true, // named by an entry
		"127.0.0.2": false, "10.0.0.1": false, "192.168.1.1": false, "172.16.0.1": false,
		"169.254.169.254": false, "::1": false, "fe80::1": false, "fd00::1": false, "0.0.0.0": false,
		"224.0.0.1": false, "::ffff:10.0.0.1": false,
	} {
		if got := a.dialAllowed(netip.MustParseAddr(addr)); got != ok {
			t.Errorf("dialAllowed(%s) = %v, want %v", addr, got, ok)
		}
	}
}
