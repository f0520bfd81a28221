package ca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"time"
)

// caValidity is the lifetime of a generated root. Ten years keeps device and
// server certificates (at most a few years each) well inside it.
const caValidity = 10 * 365 * 24 * time.Hour

// clockSkew backdates NotBefore so a client whose clock runs a little late does
// not reject a certificate issued a moment ago.
const clockSkew = 5 * time.Minute

// Errors returned by this package. Callers test them with errors.Is.
var (
	// ErrInvalidPEM: the PEM input holds no block of the expected type.
	ErrInvalidPEM = errors.New("ca: invalid PEM")
	// ErrNotCA: the certificate given to Load is not a CA certificate.
	ErrNotCA = errors.New("ca: certificate is not a CA")
	// ErrKeyMismatch: the private key does not belong to the certificate.
	ErrKeyMismatch = errors.New("ca: private key does not match certificate")
	// ErrUnsupportedKey: a key type or size this CA does not accept.
	ErrUnsupportedKey = errors.New("ca: unsupported key")
	// ErrInvalidRequest: a DeviceCertRequest or server host list is unusable.
	ErrInvalidRequest = errors.New("ca: invalid request")
	// ErrNotIssuedHere: the certificate does not chain to this CA, is outside its
	// validity period, or lacks the clientAuth EKU.
	ErrNotIssuedHere = errors.New("ca: certificate not valid for this CA")
)

// CA is an ECDSA P-256 certificate authority. It is safe for concurrent use as
// long as its random source is.
type CA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	rand io.Reader
	pool *x509.CertPool
}

// Option configures a CA returned by Load.
type Option func(*CA)

// WithRand sets the source of serial numbers (default crypto/rand.Reader).
func WithRand(r io.Reader) Option {
	return func(c *CA) {
		if r != nil {
			c.rand = r
		}
	}
}

// Generate creates a new self-signed root valid from now (minus a small skew)
// for ten years. rnd supplies serial numbers for this root and every
// certificate the CA issues later; nil means crypto/rand.Reader.
func Generate(now time.Time, rnd io.Reader, commonName string) (*CA, error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	if commonName == "" {
		return nil, fmt.Errorf("generating CA: empty common name: %w", ErrInvalidRequest)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rnd)
	if err != nil {
		return nil, fmt.Errorf("generating CA key: %w", err)
	}
	serial, err := randomSerial(rnd)
	if err != nil {
		return nil, fmt.Errorf("generating CA serial: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: commonName},
		NotBefore:             now.Add(-clockSkew).UTC(),
		NotAfter:              now.Add(caValidity).UTC(),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
		SignatureAlgorithm:    x509.ECDSAWithSHA256,
	}
	der, err := x509.CreateCertificate(rnd, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("signing CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parsing CA certificate: %w", err)
	}
	return newCA(cert, key, rnd), nil
}

// Load restores a CA from its PEM certificate and PEM private key (PKCS#8
// "PRIVATE KEY" or SEC 1 "EC PRIVATE KEY").
func Load(certPEM, keyPEM []byte, opts ...Option) (*CA, error) {
	certBlock := findPEM(certPEM, "CERTIFICATE")
	if certBlock == nil {
		return nil, fmt.Errorf("loading CA certificate: %w", ErrInvalidPEM)
	}
	cert, err := x509.ParseCertificate(certBlock.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parsing CA certificate: %w", err)
	}
	if !cert.IsCA || !cert.BasicConstraintsValid {
		return nil, fmt.Errorf("loading CA certificate: %w", ErrNotCA)
	}
	key, err := parseKey(keyPEM)
	if err != nil {
		return nil, err
	}
	pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if !ok || !pub.Equal(key.Public()) {
		return nil, fmt.Errorf("loading CA: %w", ErrKeyMismatch)
	}
	c := newCA(cert, key, rand.Reader)
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

func newCA(cert *x509.Certificate, key *ecdsa.PrivateKey, rnd io.Reader) *CA {
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &CA{cert: cert, key: key, rand: rnd, pool: pool}
}

func parseKey(keyPEM []byte) (*ecdsa.PrivateKey, error) {
	if b := findPEM(keyPEM, "PRIVATE KEY"); b != nil {
		k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parsing CA key: %w", err)
		}
		ek, ok := k.(*ecdsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("parsing CA key: %T: %w", k, ErrUnsupportedKey)
		}
		return ek, nil
	}
	if b := findPEM(keyPEM, "EC PRIVATE KEY"); b != nil {
		k, err := x509.ParseECPrivateKey(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parsing CA key: %w", err)
		}
		return k, nil
	}
	return nil, fmt.Errorf("loading CA key: %w", ErrInvalidPEM)
}

// findPEM returns the first block of the given type, skipping others.
func findPEM(data []byte, typ string) *pem.Block {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return nil
		}
		if b.Type == typ {
			return b
		}
	}
}

// Certificate returns the CA certificate. Callers must not modify it.
func (c *CA) Certificate() *x509.Certificate { return c.cert }

// CertPEM returns the CA certificate in PEM form.
func (c *CA) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.cert.Raw})
}

// KeyPEM returns the CA private key as PKCS#8 PEM. Store it with 0600
// permissions.
func (c *CA) KeyPEM() ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(c.key)
	if err != nil {
		return nil, fmt.Errorf("marshalling CA key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// Pool returns a new pool holding only the CA certificate, suitable for
// tls.Config.ClientCAs or RootCAs.
func (c *CA) Pool() *x509.CertPool { return c.pool.Clone() }

// issue signs tmpl with the CA key after filling in serial and issuer fields.
func (c *CA) issue(tmpl *x509.Certificate, pub crypto.PublicKey) (*x509.Certificate, error) {
	serial, err := randomSerial(c.rand)
	if err != nil {
		return nil, fmt.Errorf("drawing serial: %w", err)
	}
	tmpl.SerialNumber = serial
	tmpl.SignatureAlgorithm = x509.ECDSAWithSHA256
	tmpl.BasicConstraintsValid = true
	tmpl.IsCA = false
	// The Authority Key Identifier is copied from the CA's Subject Key
	// Identifier by x509.CreateCertificate; Generate's root always has one.
	tmpl.AuthorityKeyId = c.cert.SubjectKeyId
	der, err := x509.CreateCertificate(c.rand, tmpl, c.cert, pub, c.key)
	if err != nil {
		return nil, fmt.Errorf("signing certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parsing issued certificate: %w", err)
	}
	return cert, nil
}

// randomSerial draws a positive 128-bit serial number (RFC 5280 §4.1.2.2 allows
// up to 20 octets).
func randomSerial(rnd io.Reader) (*big.Int, error) {
	var b [16]byte
	for range 4 {
		if _, err := io.ReadFull(rnd, b[:]); err != nil {
			return nil, err
		}
		n := new(big.Int).SetBytes(b[:])
		if n.Sign() > 0 {
			return n, nil
		}
	}
	return nil, errors.New("random source returned only zero serials")
}
