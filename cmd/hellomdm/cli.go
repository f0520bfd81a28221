package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"
)

// Exit codes, the same for every command (README "Exit codes"):
//
//	0  done
//	1  refused or failed: the server, the device agent or a local file said no (an HTTP 4xx
//	   or 5xx answer, a support-matrix refusal, a wrong or locked PIN, an unreadable file)
//	2  usage: a mistyped command or flag, a missing or malformed argument; nothing was sent
//	3  no answer: the server could not be reached or could not be trusted (connection
//	   refused, DNS, TLS verification, timeout); nothing is known to have changed
const (
	exitOK        = 0
	exitFailed    = 1
	exitUsage     = 2
	exitTransport = 3
)

// transportError reports whether err means the server was never heard: the connection,
// its TLS handshake or the wait for an answer failed.
func transportError(err error) bool {
	if err == nil {
		return false
	}
	var (
		ue     *url.Error
		oe     *net.OpError
		dnsErr *net.DNSError
		ua     x509.UnknownAuthorityError
		hn     x509.HostnameError
		cve    *tls.CertificateVerificationError
		ci     x509.CertificateInvalidError
	)
	return errors.As(err, &ue) || errors.As(err, &oe) || errors.As(err, &dnsErr) || errors.As(err, &ua) ||
		errors.As(err, &hn) || errors.As(err, &cve) || errors.As(err, &ci) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, context.DeadlineExceeded)
}

// caFileAdvice is what to do about a server certificate from an unknown CA, for commands
// with a --ca-file flag.
const caFileAdvice = "pass --ca-file DATA/ca.pem (the ca.pem in the server's --data directory)"

// transportHint says what to do about a transport error against server: start the server,
// point --server at it, or trust its CA (caAdvice).
func transportHint(err error, server, caAdvice string) string {
	var (
		ua  x509.UnknownAuthorityError
		hn  x509.HostnameError
		cve *tls.CertificateVerificationError
	)
	switch {
	case errors.As(err, &ua) || (errors.As(err, &cve) && !errors.As(err, &hn)):
		return "the server's certificate is signed by a CA this client does not trust: " + caAdvice
	case errors.As(err, &hn):
		return fmt.Sprintf("the server's certificate does not name the host in %s: use a name from its certificate (serve --hostname, localhost or 127.0.0.1)", server)
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Sprintf("nothing answers at %s: is `hellomdm serve` running there? set --server to its address", server)
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return fmt.Sprintf("the host in %s does not resolve: set --server to the server's address", server)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Sprintf("%s did not answer in time: is `hellomdm serve` running and reachable there?", server)
	}
	return fmt.Sprintf("could not talk to %s: is `hellomdm serve` running there? set --server to its address", server)
}

// suggest returns the candidate closest to s (edit distance at most 2, or a unique prefix
// match), or "" when none is close: the "did you mean" of mistyped commands and flags.
func suggest(s string, candidates []string) string {
	best, bestD := "", 3
	for _, c := range candidates {
		d := editDistance(strings.ToLower(s), strings.ToLower(c))
		if d < bestD || (d == bestD && best != "" && c < best) {
			best, bestD = c, d
		}
	}
	if best != "" {
		return best
	}
	var pre []string
	for _, c := range candidates {
		if len(s) >= 2 && strings.HasPrefix(c, s) {
			pre = append(pre, c)
		}
	}
	if len(pre) == 1 {
		return pre[0]
	}
	return ""
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// didYouMean is "; did you mean X?" when a candidate is close to s, else "".
func didYouMean(s string, candidates []string) string {
	if m := suggest(s, candidates); m != "" {
		return fmt.Sprintf("; did you mean %q?", m)
	}
	return ""
}

// flagNames lists fs's flags as they are typed (--name, -o).
func flagNames(fs *flag.FlagSet) []string {
	var names []string
	fs.VisitAll(func(f *flag.Flag) { names = append(names, dashed(f.Name)) })
	sort.Strings(names)
	return names
}

func dashed(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

// flagError rewrites a flag package parse error for people: an undefined flag gets a
// suggestion from fs's flags.
func flagError(fs *flag.FlagSet, err error) string {
	msg := err.Error()
	const undefined = "flag provided but not defined: "
	if strings.HasPrefix(msg, undefined) {
		given := strings.TrimLeft(strings.TrimPrefix(msg, undefined), "-")
		return fmt.Sprintf("unknown flag %s%s", dashed(given), didYouMean(dashed(given), flagNames(fs)))
	}
	return msg
}

// printFlagHelp writes the help of one command: its usage line, every flag with its
// meaning and default, and an example.
func printFlagHelp(w io.Writer, usage string, fs *flag.FlagSet, example string) {
	fmt.Fprintf(w, "Usage: %s\n", usage)
	var any bool
	fs.VisitAll(func(*flag.Flag) { any = true })
	if any {
		fmt.Fprintln(w, "\nFlags:")
		printFlagLines(w, fs)
	}
	if example != "" {
		fmt.Fprintf(w, "\nExample:\n  %s\n", strings.ReplaceAll(example, "\n", "\n  "))
	}
}

// isHelp reports whether a word asks for help.
func isHelp(s string) bool { return s == "-h" || s == "--help" || s == "help" || s == "-help" }

// printFlagLines writes one line per flag: "  --name TYPE" (TYPE only for flags that take a
// value), two or more spaces, the meaning and the default. Completion reads these lines.
func printFlagLines(w io.Writer, fs *flag.FlagSet) {
	tw := tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
	fs.VisitAll(func(f *flag.Flag) {
		name, meaning := flag.UnquoteUsage(f)
		line := "  " + dashed(f.Name)
		if name != "" {
			line += " " + name
		}
		if f.DefValue != "" && f.DefValue != "false" {
			meaning += fmt.Sprintf(" (default %q)", f.DefValue)
		}
		fmt.Fprintf(tw, "%s\t%s\n", line, meaning)
	})
	tw.Flush()
}
