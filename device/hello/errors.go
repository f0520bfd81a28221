package hello

import (
	"errors"
	"fmt"
)

// ErrWrongPIN is returned by Unlock when the PIN does not open the PIN protector.
var ErrWrongPIN = errors.New("hello: wrong PIN")

// ErrPINLocked is returned by Unlock once the limit of consecutive wrong PINs was reached
// (DefaultMaxPINAttempts, or WithMaxPINAttempts): the PIN is no longer checked. A PIN reset
// (ResetWithProtector or ResetDestructive) clears the lock, and so does ChangePIN through a
// handle unlocked before the lock. The wrong PIN that reaches the limit returns an error
// wrapping both ErrWrongPIN and ErrPINLocked.
var ErrPINLocked = errors.New(`hello: PIN locked after too many wrong attempts; reset the PIN ("I forgot my PIN")`)

// ErrNoContainer is returned when no container exists for the user in the directory.
var ErrNoContainer = errors.New("hello: no Windows Hello container for user")

// ErrExists is returned by Provision when the user already has a container.
var ErrExists = errors.New("hello: Windows Hello container already exists for user")

// ErrNoProtector is returned when an operation needs a PIN reset protector and the
// container has none.
var ErrNoProtector = errors.New("hello: no PIN reset protector")

// ErrWrongProtector is returned by ResetWithProtector when the plaintext protector does not
// unwrap the container key (wrong, truncated or tampered).
var ErrWrongProtector = errors.New("hello: PIN reset protector does not open the container")

// ErrCorrupt is returned when a container file cannot be decoded or fails an integrity
// check.
var ErrCorrupt = errors.New("hello: container file is corrupt")

// ErrReplaced is returned when a Container changes a container whose file was deleted or
// replaced (by Delete or ResetDestructive) since the Container was opened.
var ErrReplaced = errors.New("hello: container was deleted or replaced since it was opened")

// ErrClosed is returned by an Unlocked handle after Close.
var ErrClosed = errors.New("hello: unlocked container is closed")

// ErrInvalidRequest is returned by CheckSupport for a request with unset or unknown fields.
var ErrInvalidRequest = errors.New("hello: invalid PIN reset request")

// PolicyError reports a PIN that breaks a PassportForWork PINComplexity rule. Rule is the
// CSP node name (MinimumPINLength, Digits, History, ...).
type PolicyError struct {
	Rule   string
	Reason string
}

func (e *PolicyError) Error() string {
	return fmt.Sprintf("PIN policy %s: %s", e.Rule, e.Reason)
}

// RefusalError reports which row of the PIN reset support matrix refused a request.
type RefusalError struct {
	Row     string // rule ID, one of the Row* constants
	Reason  string // why the row refuses
	Suggest string // what would work instead; may be empty
}

func (e *RefusalError) Error() string {
	if e.Suggest == "" {
		return fmt.Sprintf("PIN reset not supported (%s): %s", e.Row, e.Reason)
	}
	return fmt.Sprintf("PIN reset not supported (%s): %s; %s", e.Row, e.Reason, e.Suggest)
}
