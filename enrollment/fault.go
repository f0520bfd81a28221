package enrollment

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/hellomdm/hellomdm/enrollment/mde2"
)

// UnavailableRetryAfter is what a client is told to wait when the enrollment service cannot
// answer because its store is unavailable.
const UnavailableRetryAfter = 30 * time.Second

// Fault is an enrollment failure as the client will see it. Sender faults are
// the client's doing and travel as HTTP 400 with Code s:Sender; the rest are
// s:Receiver with HTTP 500 (SOAP 1.2 Part 2 §7.5.1.2, HTTP binding). The
// MS-MDE2 meaning is in Subcode and, optionally, ErrorType.
type Fault struct {
	Sender    bool
	Subcode   string
	ErrorType string
	// Reason is sent to the client; it never contains secrets or internals.
	Reason string
	// Err is the internal cause, logged but never sent.
	Err error
	// RetryAfter, when positive, is sent as the HTTP Retry-After header (RFC 9110 section
	// 10.2.3) of the fault response. MS-MDE2 2.2.10 defines no retry element in the fault
	// itself, so the header is the one place the protocol's HTTP binding leaves for it.
	RetryAfter time.Duration
	// upn names the user a refusal concerns when the request names none itself (a
	// Federated token's user), for Refusal.UPN; detail is extra text for the audit log
	// only (Refusal.Detail). Neither is sent.
	upn, detail string
}

func (f *Fault) Error() string {
	if f.Err != nil {
		return fmt.Sprintf("%s: %s: %v", f.Subcode, f.Reason, f.Err)
	}
	return f.Subcode + ": " + f.Reason
}

func (f *Fault) Unwrap() error { return f.Err }

// HTTPStatus is 400 for Sender faults and 500 for Receiver faults.
func (f *Fault) HTTPStatus() int {
	if f.Sender {
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

// Code is the SOAP 1.2 fault code value.
func (f *Fault) Code() string {
	if f.Sender {
		return mde2.CodeSender
	}
	return mde2.CodeReceiver
}

func senderFault(subcode, reason string, err error) *Fault {
	return &Fault{Sender: true, Subcode: subcode, Reason: reason, Err: err}
}

func receiverFault(subcode, reason string, err error) *Fault {
	return &Fault{Subcode: subcode, Reason: reason, Err: err}
}

func formatFault(reason string, err error) *Fault {
	return senderFault(mde2.SubcodeMessageFormat, reason, err)
}

func dataFault(reason string, err error) *Fault {
	f := senderFault(mde2.SubcodeMessageFormat, reason, err)
	f.ErrorType = mde2.ErrorTypeInvalidEnrollmentData
	return f
}

// unavailableFault tells the client that the service cannot answer now and to retry:
// s:Receiver with subcode s:EnrollmentServer and the MS-MDE2 2.2.10 ErrorType
// InMaintenance (which Windows reports as MENROLL_E_INMAINTENANCE, "the server is in
// maintenance, try again later"), plus a Retry-After header. The HTTP status stays 500, as
// the SOAP 1.2 HTTP binding gives Receiver faults (Part 2 §7.5.1.2).
func unavailableFault(err error) *Fault {
	f := receiverFault(mde2.SubcodeEnrollmentServer,
		fmt.Sprintf("The enrollment service is temporarily unavailable; nothing was stored. Try again in %d seconds.", int(UnavailableRetryAfter.Seconds())), err)
	f.ErrorType, f.RetryAfter = mde2.ErrorTypeInMaintenance, UnavailableRetryAfter
	return f
}

// asFault turns any error into a Fault; an error that is not already one is a
// server-side failure, and a Receiver fault (or other error) caused by ErrUnavailable is
// unavailableFault.
func asFault(err error) *Fault {
	var f *Fault
	if errors.Is(err, ErrUnavailable) && (!errors.As(err, &f) || !f.Sender) {
		return unavailableFault(err)
	}
	if errors.As(err, &f) {
		return f
	}
	return receiverFault(mde2.SubcodeInternalServiceFault, "internal error", err)
}
