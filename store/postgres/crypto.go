package postgres

import "errors"

// KeySize is the length of Options.EncryptionKey (AES-256).
const KeySize = 32

// ErrNoKey is returned by Open without a usable encryption key.
var ErrNoKey = errors.New("postgres store needs a 32-byte encryption key (HELLOMDM_STORE_KEY or --store-key-file)")
