package hello

import (
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"
	"time"
)

// DefaultMaxPINAttempts is how many consecutive wrong PINs lock a container unless
// WithMaxPINAttempts says otherwise. On Windows the TPM's dictionary-attack logic limits PIN
// guesses; Windows configures a TPM 2.0 for 32 failures, healing one per 10 minutes (Learn
// "Manage TPM lockout",
// learn.microsoft.com/windows/security/hardware-security/tpm/manage-tpm-lockout). hellomdm
// has no TPM and no healing: it locks after fewer failures until the PIN is reset, the way
// a locked-out user ends up at "I forgot my PIN". The value 5 is hellomdm's choice.
const DefaultMaxPINAttempts = 5

// Option configures Provision, Open, Status and ResetDestructive.
type Option func(*options)

type options struct {
	kdf         KDFParams
	kdfSet      bool
	now         func() time.Time
	maxAttempts int
}

// WithKDFParams sets the Argon2id cost used when a PIN protector is created or re-created.
// Without it Provision uses DefaultKDFParams and later PIN changes keep the container's
// stored parameters.
func WithKDFParams(k KDFParams) Option {
	return func(o *options) { o.kdf, o.kdfSet = k, true }
}

// WithClock sets the clock that stamps when a PIN was set (for Expiration).
func WithClock(now func() time.Time) Option {
	return func(o *options) { o.now = now }
}

// WithMaxPINAttempts sets how many consecutive wrong PINs lock the container (see
// ErrPINLocked); n must be at least 1. Without it the limit is DefaultMaxPINAttempts. The
// limit is not stored in the file: pass the same value to every Open, Provision, Status and
// ResetDestructive of the container.
func WithMaxPINAttempts(n int) Option {
	return func(o *options) { o.maxAttempts = n }
}

func buildOptions(opts []Option) options {
	o := options{kdf: DefaultKDFParams(), now: time.Now, maxAttempts: DefaultMaxPINAttempts}
	for _, fn := range opts {
		fn(&o)
	}
	if o.now == nil {
		o.now = time.Now
	}
	return o
}

func (o options) checkMaxAttempts() error {
	if o.maxAttempts < 1 {
		return fmt.Errorf("maximum PIN attempts %d is less than 1", o.maxAttempts)
	}
	return nil
}

// Container is a user's Windows Hello container as stored on disk. It is safe for
// concurrent use by one process.
type Container struct {
	mu   sync.Mutex
	path string
	opts options
	f    containerFile
}

// Provision creates the user's container in dir: a new Hello key pair and NgcKeyId, an
// empty certificate slot, sealed under a random container key wrapped by a key derived from
// pin. pin must satisfy policy. rnd supplies the salts, nonces, container key and GUID.
func Provision(dir, user, pin string, policy PINPolicy, rnd io.Reader, opts ...Option) (*Container, error) {
	o := buildOptions(opts)
	path, err := containerPath(dir, user)
	if err != nil {
		return nil, fmt.Errorf("provisioning Hello container: %w", err)
	}
	if rnd == nil {
		return nil, errors.New("provisioning Hello container: nil randomness source")
	}
	if err := o.kdf.validate(); err != nil {
		return nil, fmt.Errorf("provisioning Hello container: %w", err)
	}
	if err := o.checkMaxAttempts(); err != nil {
		return nil, fmt.Errorf("provisioning Hello container: %w", err)
	}
	if err := policy.Check(pin); err != nil {
		return nil, fmt.Errorf("provisioning Hello container: %w", err)
	}
	if _, err := os.Lstat(path); err == nil {
		return nil, fmt.Errorf("provisioning Hello container: %w", ErrExists)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("provisioning Hello container: %w", err)
	}
	f, err := newContainerFile(user, pin, o, rnd)
	if err != nil {
		return nil, fmt.Errorf("provisioning Hello container: %w", err)
	}
	c := &Container{path: path, opts: o}
	if err := c.writeLocked(f); err != nil {
		return nil, fmt.Errorf("provisioning Hello container: %w", err)
	}
	return c, nil
}

// Open reads the user's container from dir. It returns ErrNoContainer when there is none.
func Open(dir, user string, opts ...Option) (*Container, error) {
	o := buildOptions(opts)
	path, err := containerPath(dir, user)
	if err != nil {
		return nil, fmt.Errorf("opening Hello container: %w", err)
	}
	if err := o.checkMaxAttempts(); err != nil {
		return nil, fmt.Errorf("opening Hello container: %w", err)
	}
	data, err := readLimited(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("opening Hello container: %w", ErrNoContainer)
	}
	if err != nil {
		return nil, fmt.Errorf("opening Hello container: %w", err)
	}
	f, err := decodeFile(data)
	if err != nil {
		return nil, fmt.Errorf("opening Hello container: %w", err)
	}
	if f.User != user {
		return nil, fmt.Errorf("opening Hello container: %w: file belongs to another user", ErrCorrupt)
	}
	return &Container{path: path, opts: o, f: f}, nil
}

// commitLocked persists next over the container this value holds and adopts it; c.mu must
// be held. It refuses to resurrect a deleted container or overwrite a replaced one.
func (c *Container) commitLocked(next containerFile) error {
	if _, err := c.onDiskLocked(); err != nil {
		return err
	}
	return c.writeLocked(next)
}

// onDiskLocked reads the file this value holds as it is now on disk; c.mu must be held. A
// deleted file, or one holding another container (another NgcKeyId), is ErrReplaced.
func (c *Container) onDiskLocked() (containerFile, error) {
	data, err := readLimited(c.path)
	if errors.Is(err, fs.ErrNotExist) {
		return containerFile{}, ErrReplaced
	}
	if err != nil {
		return containerFile{}, fmt.Errorf("reading container file: %w", err)
	}
	cur, err := decodeFile(data)
	if err != nil {
		return containerFile{}, err
	}
	if cur.NgcKeyID != c.f.NgcKeyID {
		return containerFile{}, ErrReplaced
	}
	return cur, nil
}

// writeLocked persists next unconditionally and adopts it.
func (c *Container) writeLocked(next containerFile) error {
	data, err := json.MarshalIndent(next, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding container file: %w", err)
	}
	if err := writeAtomic(c.path, data); err != nil {
		return err
	}
	c.f = next
	return nil
}

// User returns the user name the container belongs to.
func (c *Container) User() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.f.User
}

// NgcKeyID returns the container's key ID as a canonical GUID without braces; use
// FormatKeyID for the `{GUID}` form dsregcmd shows.
func (c *Container) NgcKeyID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.f.NgcKeyID
}

// PublicKey returns the Hello public key (not secret: available without the PIN).
func (c *Container) PublicKey() *ecdsa.PublicKey {
	c.mu.Lock()
	defer c.mu.Unlock()
	pub, err := x509.ParsePKIXPublicKey(c.f.PublicKey)
	if err != nil {
		return nil // decodeFile validated it; unreachable for a Container from this package
	}
	ek, _ := pub.(*ecdsa.PublicKey)
	return ek
}

// PINSetAt returns when the current PIN was set.
func (c *Container) PINSetAt() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.f.PINSetAt
}

// PINExpired reports whether the current PIN has expired under policy at now.
func (c *Container) PINExpired(policy PINPolicy, now time.Time) bool {
	return policy.Expired(c.PINSetAt(), now)
}

// Unlock proves pin and returns a handle to the container's secrets. A wrong PIN returns
// ErrWrongPIN, whose message says how many attempts are left; the wrong PIN that reaches
// the limit (DefaultMaxPINAttempts or WithMaxPINAttempts) also wraps ErrPINLocked. Once
// locked, Unlock returns ErrPINLocked without checking the PIN. A file whose sealed
// content or key pair fails integrity checks returns ErrCorrupt; a Container whose file was
// deleted or replaced, ErrReplaced.
//
// Like a TPM's dictionary-attack counter, the attempt is counted on disk before the PIN is
// checked, and a correct PIN takes it back; so a process killed mid-attempt has used the
// attempt, and concurrent attempts can't exceed the limit.
func (c *Container) Unlock(pin string) (*Unlocked, error) {
	c.mu.Lock()
	f, err := c.beginAttemptLocked()
	c.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("unlocking Hello container: %w", err)
	}
	pinKey, _ := pinKeys(pin, f.PIN.Salt, f.PIN.KDF)
	ckey, err := open(pinKey, f.PIN.Wrapped, aad("pin", f.User, f.NgcKeyID))
	clear(pinKey)
	if err != nil {
		return nil, fmt.Errorf("unlocking Hello container: %w", wrongPIN(c.opts.maxAttempts-f.FailedPINAttempts))
	}
	c.mu.Lock()
	err = c.endAttemptLocked()
	c.mu.Unlock()
	if err != nil {
		clear(ckey)
		return nil, fmt.Errorf("unlocking Hello container: %w", err)
	}
	u, err := newUnlocked(c, &f, ckey)
	if err != nil {
		clear(ckey)
		return nil, fmt.Errorf("unlocking Hello container: %w", err)
	}
	return u, nil
}

// beginAttemptLocked refuses a locked container with ErrPINLocked and otherwise counts one
// more failed attempt on disk, returning the file to check the PIN against; c.mu must be
// held. The count on disk wins over the cached one, so another Container of the same file
// can't lower it.
func (c *Container) beginAttemptLocked() (containerFile, error) {
	cur, err := c.onDiskLocked()
	if err != nil {
		return containerFile{}, err
	}
	n := max(cur.FailedPINAttempts, c.f.FailedPINAttempts)
	if n >= c.opts.maxAttempts {
		c.f.FailedPINAttempts = n
		return containerFile{}, ErrPINLocked
	}
	next := c.f
	next.FailedPINAttempts = n + 1
	if err := c.writeLocked(next); err != nil {
		return containerFile{}, fmt.Errorf("recording PIN attempt: %w", err)
	}
	return next, nil
}

// endAttemptLocked clears the counter after a correct PIN; c.mu must be held.
func (c *Container) endAttemptLocked() error {
	if c.f.FailedPINAttempts == 0 {
		return nil
	}
	next := c.f
	next.FailedPINAttempts = 0
	if err := c.commitLocked(next); err != nil {
		return fmt.Errorf("clearing failed PIN attempts: %w", err)
	}
	return nil
}

// wrongPIN is the error of a wrong PIN that leaves left attempts.
func wrongPIN(left int) error {
	switch {
	case left <= 0:
		return fmt.Errorf("%w; %w", ErrWrongPIN, ErrPINLocked)
	case left == 1:
		return fmt.Errorf("%w (1 attempt left)", ErrWrongPIN)
	}
	return fmt.Errorf("%w (%d attempts left)", ErrWrongPIN, left)
}

// FailedPINAttempts returns how many PIN attempts failed since the last correct PIN, PIN
// change or PIN reset.
func (c *Container) FailedPINAttempts() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.f.FailedPINAttempts
}

// PINLocked reports whether failed attempts reached the limit, so that Unlock refuses with
// ErrPINLocked until the PIN is reset.
func (c *Container) PINLocked() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.f.FailedPINAttempts >= c.opts.maxAttempts
}

// Exists reports whether the user has a container in dir.
func Exists(dir, user string) (bool, error) {
	path, err := containerPath(dir, user)
	if err != nil {
		return false, fmt.Errorf("checking Hello container: %w", err)
	}
	_, err = os.Lstat(path)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	}
	return false, fmt.Errorf("checking Hello container: %w", err)
}

// Delete erases the user's container (keys, certificate, protectors): the file is
// overwritten with zeros, synced and removed. Deleting a missing container is not an error.
func Delete(dir, user string) error {
	path, err := containerPath(dir, user)
	if err != nil {
		return fmt.Errorf("deleting Hello container: %w", err)
	}
	if err := shredAndRemove(path); err != nil {
		return fmt.Errorf("deleting Hello container: %w", err)
	}
	return nil
}
