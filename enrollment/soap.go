package enrollment

import (
	"errors"
	"fmt"
	"strings"

	"github.com/hellomdm/hellomdm/enrollment/mde2"
)

// decodeFault turns a refusal of the MS-MDE2 codec into the Sender fault it names; any
// other error passes unchanged.
func decodeFault(err error) error {
	var ce *mde2.Error
	if !errors.As(err, &ce) {
		return err
	}
	f := senderFault(ce.Subcode, ce.Reason, ce.Err)
	f.ErrorType = ce.ErrorType
	return f
}

// checkAction verifies wsa:Action against what the endpoint serves (MS-MDE2
// 3.1.4.1.1.1 and siblings: each message's SOAP action is fixed).
func checkAction(env *mde2.Envelope, want string) error {
	if env.Header.Action == "" {
		return formatFault("missing wsa:Action", nil)
	}
	if !strings.EqualFold(env.Header.Action, want) {
		return formatFault("wrong wsa:Action for this endpoint", fmt.Errorf("action %q", env.Header.Action))
	}
	return nil
}

// buildFault renders f as a SOAP 1.2 fault (MS-MDE2 2.2.10). The response action is the
// endpoint's normal response action, as in the MS-MDE2 example.
func buildFault(f *Fault, action, relatesTo, traceID string) ([]byte, error) {
	body := &mde2.Fault{Code: f.Code(), Subcode: f.Subcode, Reason: f.Reason}
	if f.ErrorType != "" {
		body.Detail = &mde2.FaultDetail{ErrorType: f.ErrorType, Message: f.Reason, TraceID: traceID}
	}
	return mde2.Marshal(mde2.Header{Action: action, RelatesTo: relatesTo}, body)
}
