package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/hellomdm/hellomdm/enrollment/ca"
	"github.com/hellomdm/hellomdm/store"
)

// Config keys of the CA shared by replicas. The store encrypts values under "ca/" at rest
// (store/postgres: AES-256-GCM under the store key).
const (
	// ConfigCAKey holds the CA certificate and its private key as one PEM bundle, so the
	// pair is created atomically (PutConfigIfAbsent): replicas starting together agree on it.
	ConfigCAKey = "ca/key"
	// ConfigCACert holds the CA certificate alone, written after ConfigCAKey from it.
	ConfigCACert = "ca/cert"
)

// loadCA loads or creates the device CA. On bbolt (one process per data directory) it lives
// in DATA/ca.pem and DATA/ca-key.pem (0600). On a shared store it lives in the store, so every
// replica issues and verifies the same certificates; DATA/ca.pem is still written for clients.
func loadCA(ctx context.Context, st store.Store, dir string, now time.Time, log *slog.Logger) (*ca.CA, error) {
	if st.Backend() == "bbolt" {
		return loadOrCreateCA(dir, now)
	}
	return loadSharedCA(ctx, st, dir, now, log)
}

// loadSharedCA reads the CA from the store, creating it when absent. A CA already in the data
// directory (a deployment that ran before the CA moved into the store) is the one offered, so
// its enrolled devices keep working; otherwise a new one is generated. Whichever replica
// stores its offer first wins and the others load the winner.
func loadSharedCA(ctx context.Context, st store.Store, dir string, now time.Time, log *slog.Logger) (*ca.CA, error) {
	stored, err := st.GetConfig(ctx, ConfigCAKey)
	switch {
	case errors.Is(err, store.ErrNotFound):
		offer, from, err := caOffer(dir, now)
		if err != nil {
			return nil, err
		}
		if stored, err = st.PutConfigIfAbsent(ctx, ConfigCAKey, offer); err != nil {
			return nil, fmt.Errorf("storing the CA: %w", err)
		}
		if bytes.Equal(stored, offer) {
			log.Info("stored the device CA in the shared store", "from", from)
		}
	case err != nil:
		return nil, fmt.Errorf("reading the CA from the store: %w", err)
	}
	authority, err := ca.Load(stored, stored)
	if err != nil {
		return nil, fmt.Errorf("loading the CA from the store (%s): %w", ConfigCAKey, err)
	}
	certPEM := authority.CertPEM()
	storedCert, err := st.PutConfigIfAbsent(ctx, ConfigCACert, certPEM)
	if err != nil {
		return nil, fmt.Errorf("storing the CA certificate: %w", err)
	}
	if !bytes.Equal(storedCert, certPEM) {
		return nil, fmt.Errorf("the store's %s does not match the certificate in %s: restore one consistent pair", ConfigCACert, ConfigCAKey)
	}
	certPath := filepath.Join(dir, CAFile)
	if old, err := os.ReadFile(certPath); err != nil || !bytes.Equal(old, certPEM) {
		if err == nil {
			log.Warn("replacing the data directory's CA certificate by the shared store's", "file", certPath)
		}
		if err := writeFileAtomic(certPath, certPEM, 0o644); err != nil {
			return nil, err
		}
	}
	return authority, nil
}

// caOffer returns the PEM bundle (certificate, then key) this replica proposes as the shared
// CA: the data directory's CA files when both exist, else a newly generated CA.
func caOffer(dir string, now time.Time) ([]byte, string, error) {
	certPEM, cerr := os.ReadFile(filepath.Join(dir, CAFile))
	keyPEM, kerr := os.ReadFile(filepath.Join(dir, CAKeyFile))
	if cerr == nil && kerr == nil {
		c, err := ca.Load(certPEM, keyPEM)
		if err != nil {
			return nil, "", fmt.Errorf("loading CA from %s: %w", dir, err)
		}
		b, err := caBundle(c)
		return b, "data directory", err
	}
	c, err := ca.Generate(now, rand.Reader, "hellomdm device CA")
	if err != nil {
		return nil, "", fmt.Errorf("creating CA: %w", err)
	}
	b, err := caBundle(c)
	return b, "generated", err
}

func caBundle(c *ca.CA) ([]byte, error) {
	key, err := c.KeyPEM()
	if err != nil {
		return nil, err
	}
	return append(c.CertPEM(), key...), nil
}
