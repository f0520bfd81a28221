package syncml

import (
	"errors"
	"fmt"
)

// ErrorKind classifies why a message was rejected by Parse.
type ErrorKind int

// The kinds of ParseError. Each has a sentinel (ErrMalformed, ...) that errors.Is matches.
const (
	// KindMalformed: the body is not well-formed XML, is empty, has more than one root, or
	// the root element is not SyncML.
	KindMalformed ErrorKind = iota + 1
	// KindWrongNamespace: the root is not in SYNCML:SYNCML1.2 (MS-MDM 2.2.1).
	KindWrongNamespace
	// KindWrongVersion: VerDTD is not 1.2 or VerProto is not DM/1.2 (MS-MDM 2.2.4.2).
	KindWrongVersion
	// KindMissingField: a required element is absent or empty (SyncHdr, SyncBody, SessionID,
	// MsgID, Target/LocURI, Source/LocURI, a command's CmdID, a Status's CmdRef/Cmd/Data, a
	// Results's CmdRef, an Alert's Data).
	KindMissingField
	// KindTooLarge: the body is longer than Limits.MaxBytes. Checked before any parsing.
	KindTooLarge
	// KindTooDeep: elements nest deeper than Limits.MaxDepth.
	KindTooDeep
	// KindDuplicateCmdID: two commands of one message share a CmdID, counting the children
	// of Atomic and Sequence (MS-MDM 2.2.4.2: CmdID is unique within a message).
	KindDuplicateCmdID
	// KindBadCommand: an element directly under SyncBody, Atomic or Sequence is not a command
	// this package knows (OMA DM answers such input with 400).
	KindBadCommand
	// KindBadValue: a value that must be a number (Meta MaxMsgSize, MaxObjSize, Size) is not a
	// non-negative decimal integer.
	KindBadValue
	// KindUnsupportedEncoding: the XML declaration names an encoding other than UTF-8
	// (ISO-8859-1, UTF-16, ...). Only UTF-8 is decoded, so such a body is refused rather
	// than read as if it were UTF-8 (XML 1.0 §4.3.3).
	KindUnsupportedEncoding
)

// Sentinels, one per ErrorKind, for errors.Is.
var (
	ErrMalformed      = errors.New("malformed XML")
	ErrWrongNamespace = errors.New("wrong namespace")
	ErrWrongVersion   = errors.New("wrong protocol version")
	ErrMissingField   = errors.New("missing field")
	ErrTooLarge       = errors.New("message too large")
	ErrTooDeep        = errors.New("elements nested too deeply")
	ErrDuplicateCmdID = errors.New("duplicate CmdID")
	ErrBadCommand     = errors.New("unknown command")
	ErrBadValue       = errors.New("bad value")
	ErrEncoding       = errors.New("unsupported encoding")
)

func (k ErrorKind) sentinel() error {
	switch k {
	case KindMalformed:
		return ErrMalformed
	case KindWrongNamespace:
		return ErrWrongNamespace
	case KindWrongVersion:
		return ErrWrongVersion
	case KindMissingField:
		return ErrMissingField
	case KindTooLarge:
		return ErrTooLarge
	case KindTooDeep:
		return ErrTooDeep
	case KindDuplicateCmdID:
		return ErrDuplicateCmdID
	case KindBadCommand:
		return ErrBadCommand
	case KindBadValue:
		return ErrBadValue
	case KindUnsupportedEncoding:
		return ErrEncoding
	}
	return nil
}

// String names the kind, e.g. "malformed XML".
func (k ErrorKind) String() string {
	if s := k.sentinel(); s != nil {
		return s.Error()
	}
	return fmt.Sprintf("ErrorKind(%d)", int(k))
}

// ParseError is the error Parse returns for input it rejects. errors.Is(err, ErrTooLarge)
// and friends match on Kind; errors.As gives the details.
type ParseError struct {
	Kind ErrorKind
	Msg  string // what was wrong, e.g. "Replace command has no CmdID"
}

func (e *ParseError) Error() string {
	return "syncml: " + e.Kind.String() + ": " + e.Msg
}

// Unwrap returns the sentinel of the error's kind.
func (e *ParseError) Unwrap() error { return e.Kind.sentinel() }

// StatusCode is the SyncML status a receiver answers a rejected message with:
// 413 for KindTooLarge, 415 (unsupported media type or format) for KindUnsupportedEncoding,
// 400 otherwise (OMA-TS-SyncML-RepPro-V1_2_2 §10; Windows answers malformed input with 400,
// learn.microsoft.com "OMA DM protocol support").
func (e *ParseError) StatusCode() int {
	switch e.Kind {
	case KindTooLarge:
		return StatusRequestTooLarge
	case KindUnsupportedEncoding:
		return StatusUnsupportedMediaType
	}
	return StatusBadRequest
}

func parseErr(k ErrorKind, format string, args ...any) *ParseError {
	return &ParseError{Kind: k, Msg: fmt.Sprintf(format, args...)}
}
