package wns

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// DefaultAllowedHost is the allowlist used when none is configured: the WNS notify domain,
// under which every channel URI WNS hands out lives (e.g.
// https://db5p.notify.windows.com/?token=...).
const DefaultAllowedHost = "*.notify.windows.com"

// MaxChannelURILength bounds a channel URI a device reports; real ones are a few hundred
// characters.
const MaxChannelURILength = 2048

// ErrChannelRefused wraps every reason ValidateChannelURI gives.
var ErrChannelRefused = errors.New("channel URI refused")

// Allowlist decides which channel URI hosts the server will call. An entry is a host name
// ("db5p.notify.windows.com"), a wildcard covering one or more labels below a domain
// ("*.notify.windows.com", which does not cover notify.windows.com itself), or an IP
// literal ("127.0.0.1", "[::1]"); each may name a port (":8443"), otherwise only 443 is
// accepted. Matching is case-insensitive.
type Allowlist struct {
	entries []allowEntry
	// ips are the addresses entries name literally: the only non-public addresses the
	// client may dial.
	ips map[netip.Addr]bool
}

type allowEntry struct {
	wildcard bool   // "*." + host
	host     string // lower case, without brackets
	ip       netip.Addr
	port     int // 443 when the entry names none
}

// ParseAllowlist reads allowlist entries; none gives the default (DefaultAllowedHost).
func ParseAllowlist(entries []string) (Allowlist, error) {
	if len(entries) == 0 {
		entries = []string{DefaultAllowedHost}
	}
	a := Allowlist{ips: map[netip.Addr]bool{}}
	for _, raw := range entries {
		e, err := parseAllowEntry(strings.TrimSpace(raw))
		if err != nil {
			return Allowlist{}, fmt.Errorf("WNS channel allowlist entry %q: %w", raw, err)
		}
		if e.ip.IsValid() {
			a.ips[e.ip] = true
		}
		a.entries = append(a.entries, e)
	}
	return a, nil
}

func parseAllowEntry(s string) (allowEntry, error) {
	e := allowEntry{port: 443}
	host := s
	if h, p, err := net.SplitHostPort(s); err == nil {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return e, errors.New("the port is not a number from 1 to 65535")
		}
		host, e.port = h, n
	} else {
		host = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if ip.Zone() != "" {
			return e, errors.New("an address with a zone is not allowed")
		}
		e.ip, e.host = ip.Unmap(), ip.Unmap().String()
		return e, nil
	}
	if rest, ok := strings.CutPrefix(host, "*."); ok {
		e.wildcard, host = true, rest
	}
	host = strings.ToLower(host)
	if !validHostName(host) || e.wildcard && !strings.Contains(host, ".") {
		return e, errors.New("not a host name, *.domain (two labels at least) or an IP address")
	}
	e.host = host
	return e, nil
}

// validHostName reports whether h is a DNS name of LDH labels (no trailing dot, no empty
// label, nothing but a-z, 0-9 and hyphens).
func validHostName(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for label := range strings.SplitSeq(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range []byte(label) {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// Entries returns the allowlist as ParseAllowlist reads it.
func (a Allowlist) Entries() []string {
	out := make([]string, 0, len(a.entries))
	for _, e := range a.entries {
		h := e.host
		if e.ip.Is6() {
			h = "[" + h + "]"
		}
		if e.wildcard {
			h = "*." + h
		}
		if e.port != 443 {
			h = net.JoinHostPort(strings.Trim(h, "[]"), strconv.Itoa(e.port))
		}
		out = append(out, h)
	}
	return out
}

// ValidateChannelURI checks a channel URI a device reported against the rules of the
// package documentation and returns it parsed; the error wraps ErrChannelRefused and says
// why. Nothing is fetched.
func (a Allowlist) ValidateChannelURI(raw string) (*url.URL, error) {
	refuse := func(why string) (*url.URL, error) { return nil, fmt.Errorf("%w: %s", ErrChannelRefused, why) }
	switch {
	case raw == "":
		return refuse("empty")
	case len(raw) > MaxChannelURILength:
		return refuse(fmt.Sprintf("longer than %d bytes", MaxChannelURILength))
	case strings.ContainsFunc(raw, func(r rune) bool { return r <= ' ' || r == 0x7f || r == '\\' || r > 0x7e }):
		return refuse("it holds spaces, control characters, backslashes or non-ASCII characters")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return refuse("not a URL")
	}
	switch {
	case u.Scheme != "https":
		return refuse("the scheme is not https")
	case u.Opaque != "":
		return refuse("not a hierarchical URL")
	case u.User != nil:
		return refuse("it carries user information")
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return refuse("it carries a fragment")
	}
	host, port, err := splitURLHost(u)
	if err != nil {
		return refuse(err.Error())
	}
	if !a.allows(host, port) {
		return refuse(fmt.Sprintf("host %s port %d is not on the allowlist (%s)", host, port, strings.Join(a.Entries(), ", ")))
	}
	return u, nil
}

// splitURLHost returns the URL's host (lower case; an IP literal in its canonical form)
// and port (443 when none is given).
func splitURLHost(u *url.URL) (string, int, error) {
	host := strings.ToLower(u.Hostname())
	port := 443
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return "", 0, errors.New("the port is not a number from 1 to 65535")
		}
		port = n
	} else if strings.HasSuffix(u.Host, ":") {
		return "", 0, errors.New("an empty port")
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if ip.Zone() != "" {
			return "", 0, errors.New("an address with a zone")
		}
		return ip.Unmap().String(), port, nil
	}
	if !validHostName(host) {
		return "", 0, errors.New("the host is not a DNS name")
	}
	return host, port, nil
}

// allows reports whether host:port matches an entry. An IP literal host matches only an
// entry naming that address; a name never matches an IP entry.
func (a Allowlist) allows(host string, port int) bool {
	ip, ipErr := netip.ParseAddr(host)
	for _, e := range a.entries {
		if e.port != port {
			continue
		}
		switch {
		case e.ip.IsValid():
			if ipErr == nil && ip.Unmap() == e.ip {
				return true
			}
		case ipErr == nil:
		case e.wildcard:
			if strings.HasSuffix(host, "."+e.host) {
				return true
			}
		case host == e.host:
			return true
		}
	}
	return false
}

// dialAllowed reports whether the client may connect to ip: a public unicast address, or
// one an allowlist entry names literally (a test server on loopback). It stops a host name
// on the allowlist from being pointed, through DNS, at the server's own network.
func (a Allowlist) dialAllowed(ip netip.Addr) bool {
	ip = ip.Unmap()
	if a.ips[ip] {
		return true
	}
	return ip.IsGlobalUnicast() && !ip.IsPrivate() && !ip.IsLoopback() && !ip.IsLinkLocalUnicast()
}
