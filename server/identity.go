package server

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
)

// deviceIdentity is who a request comes from, as its client certificate says.
type deviceIdentity struct {
	DeviceID string
	Serial   string // upper-case hex
	Cert     *x509.Certificate
}

// identifyDevice returns the device a request comes from. Only a certificate issued by our
// CA counts: from the TLS handshake, or from ClientCertHeader when the request comes from a
// trusted proxy. What the message claims is never used.
func (s *Server) identifyDevice(r *http.Request) (deviceIdentity, error) {
	cert, err := s.clientCert(r)
	if err != nil {
		return deviceIdentity{}, err
	}
	serial := strings.ToUpper(cert.SerialNumber.Text(16))
	if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 && r.TLS.VerifiedChains[0][0] == cert {
		// crypto/tls already verified this chain against our CA with the clientAuth usage
		// during the handshake (tls.VerifyClientCertIfGiven); only the clock can have moved.
		if now := s.cfg.Now(); now.After(cert.NotAfter) || now.Before(cert.NotBefore) {
			return deviceIdentity{}, errors.New("client certificate: expired or not yet valid")
		}
		if cert.Subject.CommonName == "" {
			return deviceIdentity{}, errors.New("client certificate: no device name")
		}
		return deviceIdentity{DeviceID: cert.Subject.CommonName, Serial: serial, Cert: cert}, nil
	}
	id, err := s.cfg.Devices.VerifyDevice(cert, s.cfg.Now())
	if err != nil {
		return deviceIdentity{}, fmt.Errorf("client certificate: %w", err)
	}
	return deviceIdentity{DeviceID: id, Serial: serial, Cert: cert}, nil
}

var errNoClientCert = errors.New("no client certificate")

func (s *Server) clientCert(r *http.Request) (*x509.Certificate, error) {
	if s.cfg.ClientCertHeader != "" && s.fromTrustedProxy(r) {
		if v := r.Header.Get(s.cfg.ClientCertHeader); v != "" {
			raw, err := url.QueryUnescape(v)
			if err != nil {
				return nil, fmt.Errorf("client certificate header: %w", err)
			}
			blk, _ := pem.Decode([]byte(raw))
			if blk == nil || blk.Type != "CERTIFICATE" {
				return nil, errors.New("client certificate header holds no PEM certificate")
			}
			return x509.ParseCertificate(blk.Bytes)
		}
	}
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return nil, errNoClientCert
	}
	return r.TLS.PeerCertificates[0], nil
}

// fromTrustedProxy reports whether the connection's peer address is a configured proxy.
// Forwarding headers are never trusted from anyone else.
func (s *Server) fromTrustedProxy(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	for _, p := range s.cfg.TrustedProxies {
		if p.Contains(ip.Unmap()) {
			return true
		}
	}
	return false
}

// sourceAddr is the client's address: the peer, or the forwarded address when the peer is a
// trusted proxy.
func (s *Server) sourceAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if s.fromTrustedProxy(r) {
		if xff := r.Header.Get("X-Forwarded-For"); xff != "" {
			parts := strings.Split(xff, ",")
			return strings.TrimSpace(parts[len(parts)-1])
		}
	}
	return host
}
