package syncml

// Wire constants of SyncML 1.2 DM as used by MS-MDM.
//
// Sources: OMA-TS-SyncML-RepPro-V1_2_2 §10 (status codes), OMA-TS-DM_Protocol-V1_2_1 §8 and
// MS-MDM 2.2 (alerts), learn.microsoft.com "OMA DM protocol support" (the Windows subset).

// Namespace is the SyncML 1.2 namespace of the root element (MS-MDM 2.2.1).
const Namespace = "SYNCML:SYNCML1.2"

// MetInfNamespace is the namespace of Meta children such as Format and Type (OMA DM TND).
const MetInfNamespace = "syncml:metinf"

// ContentType is the media type of SyncML DM over HTTP in XML (MS-MDM 2.1).
const ContentType = "application/vnd.syncml.dm+xml"

// VerDTD and VerProto are the only protocol versions hellomdm speaks (MS-MDM 2.2.4.2).
const (
	VerDTD   = "1.2"
	VerProto = "DM/1.2"
)

// Alert codes (OMA-TS-DM_Protocol-V1_2_1 §8.7, MS-MDM 2.2.7.2).
const (
	AlertServerInitiated = 1200 // server-initiated management session
	AlertClientInitiated = 1201 // client-initiated management session
	AlertNextMessage     = 1222 // ask the peer for the next message of the package
	AlertSessionAbort    = 1223 // session abort
	AlertClientEvent     = 1224 // client event, e.g. com.microsoft/MDM/LoginStatus
	AlertNoEndOfData     = 1225 // end of data for a chunked object not received
	AlertGeneric         = 1226 // generic alert, e.g. com.microsoft:mdm.unenrollment.userrequest
)

// Status codes (OMA-TS-SyncML-RepPro-V1_2_2 §10; Windows subset in "OMA DM protocol support").
const (
	StatusOK                   = 200 // command completed successfully
	StatusAccepted             = 202 // accepted for asynchronous processing
	StatusAuthAccepted         = 212 // authentication accepted (SyncHdr only)
	StatusChunkAccepted        = 213 // chunked item accepted and buffered
	StatusCancelled            = 214 // operation cancelled, no further commands this session
	StatusNotExecuted          = 215 // not executed (user cancel, or skipped)
	StatusAtomicRollbackOK     = 216 // command rolled back after an Atomic failure
	StatusBadRequest           = 400 // malformed command, unknown element, missing CmdID
	StatusInvalidCredentials   = 401 // invalid credentials
	StatusForbidden            = 403 // understood, refused
	StatusNotFound             = 404 // target not found
	StatusCommandNotAllowed    = 405 // command not allowed on the target
	StatusOptionalNotSupported = 406 // optional feature not supported
	StatusMissingCredentials   = 407 // credentials missing
	StatusIncompleteCommand    = 412 // incomplete command
	StatusRequestTooLarge      = 413 // request entity too large
	StatusUnsupportedMediaType = 415 // unsupported media type or format
	StatusAlreadyExists        = 418 // target already exists (Add)
	StatusSizeMismatch         = 424 // size mismatch after reassembly
	StatusPermissionDenied     = 425 // permission denied
	StatusCommandFailed        = 500 // command failed (generic)
	StatusNotImplemented       = 501 // command not implemented
	StatusServiceUnavailable   = 503 // service unavailable
	StatusProcessingError      = 506 // processing error
	StatusAtomicFailed         = 507 // Atomic failed
	StatusAtomicRollbackFailed = 516 // Atomic rollback failed
)

var statusText = map[int]string{
	StatusOK:                   "OK",
	StatusAccepted:             "accepted for later processing",
	StatusAuthAccepted:         "authentication accepted",
	StatusChunkAccepted:        "chunk accepted and buffered",
	StatusCancelled:            "operation cancelled; no more commands this session",
	StatusNotExecuted:          "not executed",
	StatusAtomicRollbackOK:     "rolled back after an Atomic failure",
	StatusBadRequest:           "bad request: malformed command",
	StatusInvalidCredentials:   "invalid credentials",
	StatusForbidden:            "forbidden",
	StatusNotFound:             "node not found on this device",
	StatusCommandNotAllowed:    "command not allowed on this node",
	StatusOptionalNotSupported: "optional feature not supported",
	StatusMissingCredentials:   "credentials missing",
	StatusIncompleteCommand:    "incomplete command",
	StatusRequestTooLarge:      "request too large",
	StatusUnsupportedMediaType: "unsupported format",
	StatusAlreadyExists:        "node already exists",
	StatusSizeMismatch:         "size mismatch",
	StatusPermissionDenied:     "permission denied",
	StatusCommandFailed:        "command failed on the device",
	StatusNotImplemented:       "command not implemented",
	StatusServiceUnavailable:   "service unavailable",
	StatusProcessingError:      "processing error",
	StatusAtomicFailed:         "Atomic failed; its commands were rolled back",
	StatusAtomicRollbackFailed: "Atomic rollback failed",
}

// StatusText says what a status code means, for admins ("404: node not found on this
// device" rather than "404"). Unknown codes return "".
func StatusText(code int) string { return statusText[code] }

// IsSuccess reports whether a status code means the command took effect (2xx except the
// 21x "not done" family).
func IsSuccess(code int) bool {
	return code == StatusOK || code == StatusAccepted || code == StatusAuthAccepted
}

// Verbs (element names) of SyncBody commands (OMA-TS-DM_Protocol-V1_2_1 §6.6).
const (
	VerbAlert    = "Alert"
	VerbStatus   = "Status"
	VerbResults  = "Results"
	VerbGet      = "Get"
	VerbAdd      = "Add"
	VerbReplace  = "Replace"
	VerbDelete   = "Delete"
	VerbExec     = "Exec"
	VerbAtomic   = "Atomic"
	VerbSequence = "Sequence"
)

// Generic alert and client event types Windows sends (MS-MDM 2.2.7.2; disconnecting-from-mdm).
const (
	TypeLoginStatus        = "com.microsoft/MDM/LoginStatus"
	TypeUnenrollUser       = "com.microsoft:mdm.unenrollment.userrequest"
	CmdSyncHdr             = "SyncHdr"
	DefaultMaxMessageBytes = 1 << 20 // default parser body limit: 1 MiB
	DefaultMaxDepth        = 32      // default parser element nesting limit
)
