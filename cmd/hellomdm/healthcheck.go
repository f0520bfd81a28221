package main

import (
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hellomdm/hellomdm/server"
)

// runHealthcheck is `hellomdm healthcheck`: a probe of the server on this host for container
// HEALTHCHECKs and service managers, with nothing but the binary (no curl in a distroless
// image). It reads --addr and --data as serve does (flags or HELLOMDM_ADDR, HELLOMDM_DATA),
// trusts DATA/ca.pem, and exits 0 when the path answers 200, 1 otherwise.
func runHealthcheck(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("hellomdm healthcheck", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8443", "the server's listen address (as given to serve; a wildcard host is probed on loopback)")
	data := fs.String("data", "./hellomdm-data", "the server's data directory, for ca.pem")
	path := fs.String("path", "/healthz", "path to probe: /healthz (alive) or /readyz (ready for traffic)")
	timeout := fs.Duration("timeout", 5*time.Second, "give up after this long")
	if code, done := parseCLI(fs, args, "HELLOMDM_", "hellomdm healthcheck [--addr HOST:PORT] [--data DIR] [--path /healthz|/readyz]",
		"HELLOMDM_DATA=/data HELLOMDM_ADDR=0.0.0.0:8443 hellomdm healthcheck", stdout, stderr); done {
		return code
	}
	if err := probe(*addr, *data, *path, *timeout); err != nil {
		fmt.Fprintln(stderr, "hellomdm healthcheck:", err)
		return exitFailed
	}
	fmt.Fprintln(stdout, "ok")
	return exitOK
}

func probe(addr, data, path string, timeout time.Duration) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--addr %q: %w", addr, err)
	}
	// serve's certificate always covers localhost and 127.0.0.1; a wildcard listener is
	// reached on loopback.
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	caPEM, err := os.ReadFile(filepath.Join(data, server.CAFile))
	if err != nil {
		return fmt.Errorf("reading the CA (pass --data, the server's data directory): %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return fmt.Errorf("%s holds no certificate", filepath.Join(data, server.CAFile))
	}
	c := &http.Client{Timeout: timeout, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	resp, err := c.Get("https://" + net.JoinHostPort(host, port) + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: HTTP %d: %s", path, resp.StatusCode, strings.TrimSpace(string(body)))
	}
	return nil
}
