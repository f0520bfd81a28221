// Package mde2 is the MS-MDE2 wire codec shared by the enrollment server (package
// enrollment) and the device agent (package device): the SOAP 1.2 envelope with its
// WS-Addressing and WS-Security header parts, discovery (MS-MDE2 3.1), the MS-XCEP
// GetPolicies exchange (MS-MDE2 3.3), the MS-WSTEP RequestSecurityToken and its response
// collection (MS-MDE2 3.4 and 3.5), SOAP faults (MS-MDE2 2.2.10) and the
// wap-provisioningdoc the response carries (MS-MDE2 2.2.9.1).
//
// Every namespace, SOAP action, token type and fault value of the protocol is declared here
// once. The codec has no opinion on what a request means: the server decides (tenant,
// authentication, CSR checks) and the agent checks what it was handed (certificates,
// management address).
//
// # Messages
//
// Each request and response is a typed value. Marshal writes one into an envelope:
//
//	body, err := mde2.Marshal(mde2.Header{Action: mde2.ActionDiscover, MessageID: id, To: url}, &mde2.DiscoverRequest{…})
//
// DecodeRequest and DecodeResponse read an envelope by local names (any prefix or default
// namespace, a trailing slash or other letter case in a namespace URI), bounded in size and
// depth, UTF-8 only, with no entity expansion. The operation in the Body is then read with
// the typed accessor of the message expected (Envelope.Discover, Envelope.RequestSecurityToken,
// Envelope.Fault, …), which also checks its element name and namespace.
//
// # Errors
//
// Whatever the codec refuses is an *Error naming the MS-MDE2 fault a server answers it with
// (Subcode, and ErrorType where MS-MDE2 2.2.10 has one) and a Reason safe to send to the
// peer; the cause, if any, is wrapped for logs. A refused message yields no value.
//
// # Round trips
//
// For every message, Marshal of a decoded value decodes to the same value (the fuzz targets
// check it), and the files under testdata/ are the messages as Windows clients and hellomdm's
// server put them on the wire.
package mde2
