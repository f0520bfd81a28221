package certs

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/hellomdm/hellomdm/device/internal/statefile"
)

// Files of the device certificate in the state directory, each replaced atomically
// (device/internal/statefile).
const (
	FileKey  = "client-key.pem" // 0600
	FileCert = "client.pem"
	FileCA   = "server-ca.pem"
)

// Save stores the key, the client certificate and the provisioned root of a new enrollment
// in dir.
func Save(dir string, key crypto.Signer, client, root *x509.Certificate) error {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("encoding key: %w", err)
	}
	files := []struct {
		name string
		data []byte
	}{
		{FileKey, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})},
		{FileCert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: client.Raw})},
		{FileCA, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: root.Raw})},
	}
	for _, f := range files {
		if err := statefile.WriteFileAtomic(filepath.Join(dir, f.name), f.data, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// Load reads the device certificate with its key and the provisioned root from dir.
func Load(dir string) (tls.Certificate, *x509.CertPool, error) {
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, FileCert), filepath.Join(dir, FileKey))
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("loading the device certificate: %w", err)
	}
	caPEM, err := os.ReadFile(filepath.Join(dir, FileCA))
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("loading the server CA: %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		return tls.Certificate{}, nil, fmt.Errorf("loading the server CA: no certificate in %s", FileCA)
	}
	return cert, roots, nil
}

// Leaf returns the parsed certificate of c.
func Leaf(c tls.Certificate) (*x509.Certificate, error) {
	if c.Leaf != nil {
		return c.Leaf, nil
	}
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("parsing the device certificate: %w", err)
	}
	return leaf, nil
}

// Replace stores a renewed key and certificate in dir, then runs commit (the enrollment
// record's update). Each file is replaced atomically; when a later write or commit fails
// the earlier files are put back, so a failed renewal leaves the old key and certificate.
// (Only a crash between the key and certificate renames can leave them mismatched: two
// files cannot be swapped as one.)
func Replace(dir string, cert *x509.Certificate, key crypto.Signer, commit func() error) error {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("encoding key: %w", err)
	}
	var oldFiles [2][]byte
	for i, name := range []string{FileKey, FileCert} {
		if oldFiles[i], err = os.ReadFile(filepath.Join(dir, name)); err != nil {
			return fmt.Errorf("reading %s: %w", name, err)
		}
	}
	files := []struct {
		name     string
		new, old []byte
	}{
		{FileKey, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), oldFiles[0]},
		{FileCert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), oldFiles[1]},
	}
	rollback := func(n int, cause error) error {
		for _, f := range files[:n] {
			if err := statefile.WriteFileAtomic(filepath.Join(dir, f.name), f.old, 0o600); err != nil {
				return errors.Join(cause, fmt.Errorf("restoring %s: %w", f.name, err))
			}
		}
		return cause
	}
	for i, f := range files {
		if err := statefile.WriteFileAtomic(filepath.Join(dir, f.name), f.new, 0o600); err != nil {
			return rollback(i, err)
		}
	}
	if err := commit(); err != nil {
		return rollback(len(files), err)
	}
	return nil
}
