package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"time"
)

// metricsListener serves /metrics over plain HTTP without authentication on a loopback
// address (Options.MetricsAddr): for a Prometheus or node agent on the same host. Anything
// that is not loopback is refused at start; scrape from elsewhere through the HTTPS
// /metrics with a reader token.
type metricsListener struct {
	ln  net.Listener
	srv *http.Server
}

// checkLoopback accepts host:port whose host is localhost or a loopback IP address.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--metrics-addr %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !ip.IsLoopback() {
		return fmt.Errorf("--metrics-addr %q: must be a loopback address (e.g. 127.0.0.1:9090 or [::1]:9090) since it serves without authentication; scrape from other hosts through https://.../metrics with a reader token", addr)
	}
	return nil
}

func newMetricsListener(addr string, m *Metrics) (*metricsListener, error) {
	if addr == "" {
		return nil, nil
	}
	if err := checkLoopback(addr); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--metrics-addr: listening on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET "+MetricsPath, m.Handler())
	return &metricsListener{ln: ln, srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second}}, nil
}

// Addr is the metrics listener's address (nil when there is none).
func (l *metricsListener) addr() net.Addr {
	if l == nil {
		return nil
	}
	return l.ln.Addr()
}

func (l *metricsListener) serve() error {
	if l == nil {
		return nil
	}
	if err := l.srv.Serve(l.ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func (l *metricsListener) shutdown(ctx context.Context) error {
	if l == nil {
		return nil
	}
	return l.srv.Shutdown(ctx)
}

func (l *metricsListener) close() {
	if l != nil {
		l.ln.Close()
	}
}

// MetricsAddr is the address of the unauthenticated loopback metrics listener (nil when
// Options.MetricsAddr is empty).
func (a *App) MetricsAddr() net.Addr { return a.metricsLn.addr() }
