package mde2

import "fmt"

// Error is a message the codec refused. Subcode and ErrorType name the MS-MDE2 2.2.10
// fault a server answers it with (ErrorType may be empty); Reason says what was wrong and
// is safe to send to the peer; Err, when set, is the underlying cause, for logs only.
type Error struct {
	Subcode   string
	ErrorType string
	Reason    string
	Err       error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Subcode, e.Reason, e.Err)
	}
	return e.Subcode + ": " + e.Reason
}

func (e *Error) Unwrap() error { return e.Err }

func formatError(reason string, err error) *Error {
	return &Error{Subcode: SubcodeMessageFormat, Reason: reason, Err: err}
}

func securityError(reason string, err error) *Error {
	return &Error{Subcode: SubcodeInvalidSecurity, Reason: reason, Err: err}
}

func certificateRequestError(reason string, err error) *Error {
	return &Error{Subcode: SubcodeCertificateRequest, Reason: reason, Err: err}
}

// dataError is a MessageFormat refusal of enrollment data, with the ErrorType
// InvalidEnrollmentData.
func dataError(reason string, err error) *Error {
	return &Error{Subcode: SubcodeMessageFormat, ErrorType: ErrorTypeInvalidEnrollmentData, Reason: reason, Err: err}
}
