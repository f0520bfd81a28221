package policy

import (
	"errors"
	"fmt"
)

// Sentinels a *ValidationError wraps; test with errors.Is.
var (
	// ErrUnsupportedFormat: the JSON is not one of the two Intune shapes hellomdm imports
	// (settings catalog, custom OMA-URI), e.g. a legacy windows10GeneralConfiguration.
	ErrUnsupportedFormat = errors.New("unsupported format")
	// ErrMalformed: the JSON does not decode, or a required field is missing.
	ErrMalformed = errors.New("malformed profile")
	// ErrInvalidSetting: a setting names an unknown node, has the wrong type or value, or
	// breaks the catalog's structure.
	ErrInvalidSetting = errors.New("invalid setting")
	// ErrInvalidAssignment: an assignment target is unknown or lacks its group.
	ErrInvalidAssignment = errors.New("invalid assignment")
)

// ErrOtherTenant: Reconcile was given the snapshot of another tenant than the device's.
var ErrOtherTenant = errors.New("policy of another tenant")

// ValidationError says what is wrong with an imported profile or assignment; the admin API
// maps it to 422 with Suggestion (a catalog path) in the message.
type ValidationError struct {
	Setting    string // settingDefinitionId, displayName or OMA-URI of the setting; "" for the profile
	Message    string
	Suggestion string // "did you mean": a catalog LocURI, when one is close
	Err        error  // one of the sentinels above
}

func (e *ValidationError) Error() string {
	msg := e.Message
	if e.Setting != "" {
		msg = fmt.Sprintf("setting %s: %s", e.Setting, e.Message)
	}
	if e.Suggestion != "" {
		msg += fmt.Sprintf(" (did you mean %s?)", e.Suggestion)
	}
	return msg
}

func (e *ValidationError) Unwrap() error { return e.Err }

func invalid(setting, format string, args ...any) *ValidationError {
	return &ValidationError{Setting: setting, Message: fmt.Sprintf(format, args...), Err: ErrInvalidSetting}
}
