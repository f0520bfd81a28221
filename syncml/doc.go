// Package syncml is the SyncML 1.2 DM codec (OMA DM 1.2 as profiled by MS-MDM) shared by
// the hellomdm server and the simulated Windows device agent. It owns the message model
// (Message, Header, Command, Item, Meta), the wire constants (status and alert codes,
// verbs, namespaces), parsing with size and depth limits, deterministic encoding, and a
// Builder that numbers commands and tracks the exact message size. It imports nothing of
// hellomdm and knows nothing of HTTP, sessions or storage.
//
// # Basics
//
// Parse a body received over HTTP (already capped with http.MaxBytesReader):
//
//	msg, err := syncml.Parse(body)
//	var perr *syncml.ParseError
//	if errors.As(err, &perr) {
//		// answer with perr.StatusCode() (400, or 413 when too large)
//	}
//	for _, c := range msg.Body { ... } // commands in wire order
//
// Answer it with a Builder, which assigns CmdIDs from the first one given (servers use 1,
// Windows clients start at 2 in their first message):
//
//	b := syncml.NewBuilder(syncml.ReplyHeader(msg.Header, "1"), 1)
//	b.StatusSyncHdr(msg.Header.MsgID, syncml.StatusOK, nil)
//	for _, c := range msg.Body {
//		if c.Verb != syncml.VerbStatus && c.Verb != syncml.VerbResults {
//			b.Status(msg.Header.MsgID, c, syncml.StatusOK)
//		}
//	}
//	if b.Size(true)+b.CommandSize(cmd) <= limit {
//		b.Command(cmd)
//	}
//	out, err := b.Bytes(true) // true: end the package with <Final/>
//
// Command, Status, Results and Alert keep the first encoding error (Bytes and Err report
// it); TryCommand returns it instead and adds nothing, so one bad command (say, a value
// with a NUL byte) is refused on its own without spoiling the reply.
//
// Message.Marshal encodes a whole Message; Builder.Bytes(final) gives exactly the bytes of
// Builder.Message(final).Marshal(), and Builder.Size(final) is their exact length, kept up
// to date as commands are added (each is encoded once, when added).
//
// # Parsing rules
//
//   - The body is UTF-8: an XML declaration naming any other encoding (ISO-8859-1,
//     UTF-16, ...) is KindUnsupportedEncoding (StatusCode 415), never read as if it were
//     UTF-8; "UTF-8" in any case, or no declaration, is accepted.
//   - Elements are matched by local name. Only the root's namespace is checked: it must be
//     SYNCML:SYNCML1.2, compared case-insensitively. Meta children may carry
//     xmlns="syncml:metinf" or no namespace.
//   - VerDTD must be 1.2 and VerProto DM/1.2. SessionID, MsgID, Target/LocURI,
//     Source/LocURI and every command's CmdID must be present and not empty. CmdIDs must be
//     unique in the message, counting children of Atomic and Sequence.
//   - Status needs CmdRef, Cmd and Data; Results needs CmdRef; Alert needs Data.
//   - An element directly under SyncBody, Atomic or Sequence that is not a command (Alert,
//     Status, Results, Get, Add, Replace, Delete, Exec, Atomic, Sequence; Final under
//     SyncBody) is an error. Unknown elements anywhere else are ignored.
//   - Scalar values (IDs, LocURIs, codes, Meta values) are trimmed of XML whitespace. Item
//     Data text, CDATA included, is kept verbatim. Item Data that holds elements is kept as
//     DataXML, its inner XML re-serialised so that parse → marshal → parse is lossless.
//   - Meta Size, MaxMsgSize and MaxObjSize must be non-negative decimal integers.
//
// Every rejection is a *ParseError whose Kind says why; errors.Is(err, ErrTooLarge) and the
// other sentinels match by kind.
//
// # Encoding rules
//
// Output is compact (no indentation; MarshalIndent exists for logs and golden files), has
// no XML declaration (like the Windows captures), and writes elements in SyncML DTD order:
// SyncHdr as VerDTD, VerProto, SessionID, MsgID, Target, Source, Cred, Meta; commands as
// CmdID, NoResp, MsgRef, CmdRef, Cmd, Meta, TargetRef*, SourceRef*, Chal, Data, Item* (or
// child commands); Items as Target, Source, Meta, Data, MoreData; each Meta child with
// xmlns="syncml:metinf". Text is escaped (&, <, >, and CR as &#xD;), so values holding
// markup or "]]>" survive; DataXML is written as is after a well-formedness check. Empty
// optional values are left out, except that Status always carries CmdRef, Cmd and Data,
// Results CmdRef and Alert Data.
//
// # Caveats
//
//   - The model does not tell an absent element from an empty one, nor keep comments,
//     CDATA boundaries, attribute order outside DataXML, or duplicate singleton elements
//     (the first one wins). Round trips are lossless in the model, not byte for byte.
//   - Scalar values are trimmed, so a Header or LocURI with leading or trailing whitespace
//     does not survive marshal → parse; Item Data does.
//   - Parse rejects a whole message on the first error; a receiver wanting per-command 400
//     answers must not send such input in the first place. Semantic checks (Get inside
//     Atomic, nested Atomic, Status answering Results) are left to the receiver.
//   - DTD declarations are read but entities are never expanded: a reference to one is an
//     error (encoding/xml), so entity bombs fail fast. Depth is bounded while scanning and,
//     before encoding/xml decodes a single token, by a linear pre-scan.
//   - Parse decodes with a streaming decoder (a scanner for the plain-ASCII subset of XML
//     that MS-MDM messages use, encoding/xml RawToken for everything else, straight into
//     the model, no tree); the etree-based decoder it replaced is kept as its reference, and
//     FuzzParseStreamMatchesDOM requires both to yield deep-equal messages or the same
//     refusal (kind and text) on every input. Only Item Data holding nested XML is re-read
//     with etree, so that DataXML is serialised exactly as before.
//   - On the scanner's subset the body is copied once into a string and every name and
//     value of the Message is a cut of it (no allocation per element): any string of the
//     Message kept alive keeps that copy (the body's size) alive.
//   - Only XML is spoken; WBXML is not supported.
//
// # Performance
//
// Process CPU (user + system, GC included) per operation, `-benchtime 40000x` runs under
// /usr/bin/time, median of four alternating runs on a shared 2-core "AMD EPYC" VM (Go 1.26,
// load average ~20 from other engineers' builds; see BENCHMARKS.md, issue 20):
//
//	BenchmarkParseClientMessage   20.9 µs/op    9504 B/op   30 allocs/op
//	BenchmarkBuildServerReply     13.9 µs/op    9552 B/op   18 allocs/op
//
// The client message is 3.3 KB (header Status, 5 Statuses, Results of 7 nodes, an Alert);
// the reply is a header Status, a Status per client command, a Get, a Replace and an
// Atomic of two Replaces, each size-checked with CommandSize first. The etree decoder
// (BenchmarkParseClientMessageDOM, the reference) takes about 5 times as long and 1,094
// allocations.
//
// # Fuzzing
//
// FuzzParse (parse → marshal → parse must round-trip; failures must be *ParseError) ran for
// 5 minutes on 2026-11-25 with one worker on the same machine: 1.8 million executions, 217
// corpus entries, no failure. The committed seeds are in testdata/fuzz/FuzzParse:
//
//	go test -run '^$' -fuzz '^FuzzParse$' -fuzztime 5m ./syncml
package syncml
