package enroll

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/uuid"

	"github.com/hellomdm/hellomdm/device/internal/httpx"
	"github.com/hellomdm/hellomdm/enrollment/mde2"
)

// FaultError is a SOAP fault the enrollment server answered (MS-MDE2 2.2.10): Subcode names
// the MS-MDE2 failure (s:Authentication, s:CertificateRequest, …); ErrorType, Message and
// TraceID come from DeviceEnrollmentServiceError when present.
type FaultError struct {
	Step       string // discover, policy, enroll or renew
	HTTPStatus int
	Code       string // s:Sender or s:Receiver
	Subcode    string
	Reason     string
	ErrorType  string
	Message    string
	TraceID    string
}

func (e *FaultError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "enrollment %s refused: %s %s: %s", e.Step, e.Code, e.Subcode, e.Reason)
	if e.ErrorType != "" {
		fmt.Fprintf(&b, " (errortype %s", e.ErrorType)
		if e.Message != "" && e.Message != e.Reason {
			fmt.Fprintf(&b, ": %s", e.Message)
		}
		if e.TraceID != "" {
			fmt.Fprintf(&b, ", trace %s", e.TraceID)
		}
		b.WriteString(")")
	}
	return b.String()
}

// Exchange posts one MS-MDE2 request to the URL to, with the addressing headers every
// Windows client request carries (a fresh urn:uuid MessageID, the anonymous ReplyTo, To)
// and sec when not nil, and decodes the answer (ParseResponse).
func Exchange(ctx context.Context, c *http.Client, step, to, action string, sec *mde2.Security, body mde2.Body) (*mde2.Envelope, error) {
	data, err := mde2.Marshal(mde2.Header{Action: action, MessageID: "urn:uuid:" + uuid.NewString(),
		ReplyTo: mde2.AddressAnonymous, To: to, Security: sec}, body)
	if err != nil {
		return nil, fmt.Errorf("%s: encoding request: %w", step, err)
	}
	req, err := http.NewRequest(http.MethodPost, to, bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", step, err)
	}
	req.Header.Set("Content-Type", mde2.ContentTypeSOAP)
	req.Header.Set("User-Agent", httpx.UserAgentEnroll)
	resp, err := httpx.Do(ctx, c, req)
	if err != nil {
		return nil, fmt.Errorf("%s: posting to %s: %w", step, to, err)
	}
	return ParseResponse(step, resp.Status, resp.Body)
}

// ParseResponse decodes the response envelope of step (mde2.DecodeResponse). A Fault becomes
// a *FaultError; an answer other than HTTP 200 without one is an error.
func ParseResponse(step string, httpStatus int, data []byte) (*mde2.Envelope, error) {
	env, err := mde2.DecodeResponse(data)
	if err != nil {
		return nil, fmt.Errorf("enrollment %s: %w (HTTP %d)", step, err, httpStatus)
	}
	f, err := env.Fault()
	if err != nil {
		return nil, fmt.Errorf("enrollment %s: %w (HTTP %d)", step, err, httpStatus)
	}
	if f != nil {
		fe := &FaultError{Step: step, HTTPStatus: httpStatus, Code: f.Code, Subcode: f.Subcode, Reason: f.Reason}
		if d := f.Detail; d != nil {
			fe.ErrorType, fe.Message, fe.TraceID = d.ErrorType, d.Message, d.TraceID
		}
		return nil, fe
	}
	if httpStatus != http.StatusOK {
		return nil, fmt.Errorf("enrollment %s: HTTP %d without a SOAP fault", step, httpStatus)
	}
	return env, nil
}
