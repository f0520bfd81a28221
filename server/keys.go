package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"

	"github.com/hellomdm/hellomdm/store"
)

// Keys keeps per-tenant keys in the store's config area, created on first use. Creation goes
// through PutConfigIfAbsent, so replicas that race to create a key end up agreeing on one.
type Keys struct {
	st store.Config
}

// NewKeys returns the key keeper over a store.
func NewKeys(st store.Config) *Keys { return &Keys{st: st} }

// TenantSigningKey returns the tenant's ES256 token-signing key and its key ID.
func (k *Keys) TenantSigningKey(ctx context.Context, tenantID string) (*ecdsa.PrivateKey, string, error) {
	der, err := k.getOrCreate(ctx, store.ConfigTenantPrefix(tenantID)+"signing-key", func() ([]byte, error) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		return x509.MarshalPKCS8PrivateKey(key)
	})
	if err != nil {
		return nil, "", err
	}
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, "", fmt.Errorf("tenant %s signing key: %w", tenantID, err)
	}
	key, ok := parsed.(*ecdsa.PrivateKey)
	if !ok {
		return nil, "", fmt.Errorf("tenant %s signing key is not ECDSA", tenantID)
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, "", err
	}
	sum := sha256.Sum256(pub)
	return key, hex.EncodeToString(sum[:8]), nil
}

// TenantRSAKey returns the tenant's PIN reset service key, creating it with create once.
func (k *Keys) TenantRSAKey(ctx context.Context, tenantID string, create func() (*rsa.PrivateKey, error)) (*rsa.PrivateKey, error) {
	der, err := k.getOrCreate(ctx, store.ConfigTenantPrefix(tenantID)+"pinreset-key", func() ([]byte, error) {
		key, err := create()
		if err != nil {
			return nil, err
		}
		return x509.MarshalPKCS8PrivateKey(key)
	})
	if err != nil {
		return nil, err
	}
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("tenant %s PIN reset key: %w", tenantID, err)
	}
	key, ok := parsed.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("tenant %s PIN reset key is not RSA", tenantID)
	}
	return key, nil
}

// Secret returns a named random secret of n bytes shared by every replica.
func (k *Keys) Secret(ctx context.Context, name string, n int) ([]byte, error) {
	return k.getOrCreate(ctx, "secret/"+name, func() ([]byte, error) {
		b := make([]byte, n)
		_, err := rand.Read(b)
		return b, err
	})
}

func (k *Keys) getOrCreate(ctx context.Context, name string, create func() ([]byte, error)) ([]byte, error) {
	v, err := k.st.GetConfig(ctx, name)
	if err == nil {
		return decodeKey(v)
	}
	if !isNotFound(err) {
		return nil, fmt.Errorf("loading %s: %w", name, err)
	}
	fresh, err := create()
	if err != nil {
		return nil, fmt.Errorf("creating %s: %w", name, err)
	}
	stored, err := k.st.PutConfigIfAbsent(ctx, name, pem.EncodeToMemory(&pem.Block{Type: "HELLOMDM KEY", Bytes: fresh}))
	if err != nil {
		return nil, fmt.Errorf("storing %s: %w", name, err)
	}
	return decodeKey(stored)
}

func decodeKey(v []byte) ([]byte, error) {
	blk, _ := pem.Decode(v)
	if blk == nil {
		return nil, fmt.Errorf("stored key is not PEM")
	}
	return blk.Bytes, nil
}
