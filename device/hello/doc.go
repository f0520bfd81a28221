// Package hello is the simulated device agent's Windows Hello for Business container: one
// per user, holding the Hello key pair, its NgcKeyId and certificate slot, sealed under a
// random container key that a PIN protector (and, optionally, a PIN reset protector) wraps.
// It also owns the PIN complexity rules of the PassportForWork CSP and the PIN reset
// support matrix of the Microsoft Learn page "PIN reset".
//
// # Basics
//
// Provision creates a container for a user in a directory the caller owns; Open reads it
// back; Unlock proves the PIN and returns an Unlocked handle that signs with the Hello key.
// The private key is an ECDSA P-256 key standing in for the TPM-bound RSA key of real
// Windows; everything secret is sealed with AES-256-GCM under the container key. The
// container key is wrapped by a key derived from the PIN with Argon2id (RFC 9106), whose
// parameters and per-container salt live in the file, so a stolen file costs an attacker
// one Argon2id evaluation per PIN guess.
//
// # PIN reset
//
// Destructive reset (ResetDestructive) deletes the container and provisions a new one with a
// new NgcKeyId. Non-destructive reset follows the mechanism described on
// learn.microsoft.com/windows/security/identity-protection/hello-for-business/pin-reset: a
// random 256-bit AES key, the PIN reset protector, also wraps the container key; the
// protector itself is kept only encrypted to the PIN reset service's RSA public key
// (RSA-OAEP, SHA-256, label ProtectorLabel(tenantID, user): tenant and lower-cased UPN, so
// the service releases it only to its own user). The file records the label version;
// protectors of the older tenant-only label are ProtectorOutdated and no longer decrypt. At
// reset time the service returns the plaintext protector, ResetWithProtector re-wraps the
// container key under the new PIN, wipes the protector and creates a fresh one. The key pair and NgcKeyId never change.
//
// # PIN lockout
//
// The file counts failed PIN attempts. Unlock counts an attempt on disk before it checks the
// PIN and takes it back when the PIN is correct, so killing the process mid-attempt does not
// refund it. After DefaultMaxPINAttempts consecutive wrong PINs (WithMaxPINAttempts changes
// the limit) the container is locked: Unlock returns ErrPINLocked without checking the PIN.
// Only a new PIN ends the lock: ResetWithProtector, ResetDestructive, or ChangePIN through a
// handle unlocked before the lock. There is no time-based healing.
//
// Status and FormatUserState render the "User State" block of `dsregcmd /status`. Status's
// CanReset reads DestructiveAndNonDestructive only while a current (not outdated) protector
// exists; the device agent then narrows it with NonDestructiveRefusal, the whole matrix.
//
// CheckSupport evaluates a ResetRequest against the support matrix (SupportRules), an
// ordered table of rules; the first rule that refuses is named in a *RefusalError.
//
// # Files
//
// Each container is one JSON file named after a hash of the user name, mode 0600, written
// atomically (temporary file, fsync, rename, fsync of the directory). Delete overwrites the
// file before removing it.
//
// # Caveats
//
// Use one Container value per user and process: a Container caches the file it read and
// rewrites it whole, and nothing locks the file across processes. A Container whose file
// was deleted or replaced (Delete, ResetDestructive) refuses further changes with
// ErrReplaced instead of resurrecting the old keys. Go cannot reliably erase
// an *ecdsa.PrivateKey from memory; byte slices holding the container key, PIN-derived keys
// and protectors are cleared as soon as they are no longer needed. The failed-attempt counter
// stops PIN guessing through Unlock only: it is plain JSON that whoever can write the file
// can reset (a TPM would keep it out of reach), and whoever can read the file can guess
// offline at one Argon2id evaluation per PIN.
package hello
