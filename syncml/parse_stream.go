package syncml

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"

	"github.com/beevik/etree"

	"github.com/hellomdm/hellomdm/internal/xmlx"
)

// parseStream is the streaming decoder of the management endpoint: it decodes one SyncML DM
// message straight into a *Message, without building a tree. Tokens come from scanFast, a
// scanner for the plain subset of XML that MS-MDM messages are written in (no references,
// comments, CDATA, declarations or non-ASCII bytes), or, for any input outside that subset
// or not well-formed, from encoding/xml's RawToken (the tokenizer etree itself reads with,
// in the same settings: strict, no entities beyond XML's five, only UTF-8). Both feed the
// same start/charData/endElement state machine. It yields exactly what parseDOM (the etree-based
// reference) yields, and refuses what it refuses with the same ErrorKind;
// FuzzParseStreamMatchesDOM checks this on every corpus input.
//
// parseDOM reads the whole document before it looks at a single element, so a body that is
// not well-formed is KindMalformed whatever else is wrong with it, and of several semantic
// errors the one its traversal meets first wins: the root, then SyncHdr/SyncBody presence,
// then the header (whichever of SyncHdr and SyncBody comes first on the wire), then the body
// in document order, a command's own checks (CmdID, duplicate CmdID, required children)
// after its children's. This decoder therefore tokenizes to the end before reporting any
// semantic error, keeps the first error of the header and of the body apart, and evaluates
// each element when its end tag is read, which is the same order.
//
// Item Data holding child elements (nested XML, rare on the check-in path) is re-read with
// etree from its own bytes and serialised by innerXML, so DataXML is byte-identical to the
// reference's: a well-formed element read on its own gives the tokens it gave in place
// (RawToken resolves no namespaces).
func parseStream(b []byte, l Limits) (*Message, error) {
	l = l.withDefaults()
	if err := precheckSize(b, l); err != nil {
		return nil, err
	}
	s := streamParser{src: b, limits: l}
	return s.run()
}

// parseRawTokens is parseStream without scanFast, for the tests that hold each token
// source to the reference on its own.
func parseRawTokens(b []byte, l Limits) (*Message, error) {
	l = l.withDefaults()
	if err := precheckSize(b, l); err != nil {
		return nil, err
	}
	s := streamParser{src: b, limits: l, noFast: true}
	return s.run()
}

// kind is what a stack frame decodes.
type kind uint8

const (
	kSkip kind = iota // ignored subtree (unknown, repeated or irrelevant element)
	kDoc              // the document, parent of the root
	kRoot             // SyncML
	kHdr              // the first SyncHdr
	kBody             // the first SyncBody
	kCmd              // a command (a verb under SyncBody, Atomic or Sequence)
	kItem             // Item of a command
	kMeta             // Meta (header, Cred, command, Chal or Item)
	kChal             // Status/Chal
	kCred             // SyncHdr/Cred
	kLoc              // Target or Source holding a LocURI
	kText             // an element whose direct character data is a value
	kData             // Item/Data: text kept verbatim, or nested XML
)

// Bits of frame.seen: which children a frame has already taken (the first one wins).
const (
	seenCmdID seenSet = 1 << iota
	seenMsgRef
	seenCmdRef
	seenCmd
	seenData
	seenMeta
	seenChal
	seenTarget
	seenSource
	seenLocURI
	seenVerDTD
	seenVerProto
	seenSessionID
	seenMsgID
	seenCred
)

type frame struct {
	space, local string // the start tag's name, to match the end tag
	kind         kind
	inBody       bool     // the frame is inside the first SyncBody
	seen         seenSet  // which single-valued children the frame has taken
	hasChild     bool     // kData: a child element was seen
	start        int64    // kData: offset of the start tag
	text         string   // kText, kData: direct character data; kLoc: the LocURI's value
	err          error    // kMeta: the first bad number
	meta         *Meta    // kMeta
	chal         *Chal    // kChal
	cmd          *Command // kCmd: its slot in the message (SyncBody's or its parent's Commands)
	item         *Item    // kItem: its slot in the command's Items
}

// seenSet holds seen* bits.
type seenSet uint16

// take reports whether bit is not yet set, setting it.
func (s *seenSet) take(bit seenSet) bool {
	if *s&bit != 0 {
		return false
	}
	*s |= bit
	return true
}

type streamParser struct {
	src    []byte
	str    string // scanFast: src as one string, which names and values are cut from
	limits Limits
	noFast bool // tests only: skip scanFast
	stack  []frame

	rootSeen          bool
	rootErr           error // the first of: a second root element, text outside the root, the root not SyncML
	tagErr            error // the root is not SyncML
	nsErr             error // the root's namespace is not SyncML 1.2
	haveHdr, haveBody bool

	msg                 Message
	hdrSeen             seenSet // which header fields were present
	credErr, hdrMetaErr error
	bodyErr             error
	ids                 []string // CmdIDs seen, while few
	idSet               map[string]struct{}
}

func (s *streamParser) reset() {
	*s = streamParser{src: s.src, limits: s.limits, stack: s.stack[:1]}
	s.stack[0] = frame{kind: kDoc}
}

func (s *streamParser) run() (*Message, error) {
	s.stack = make([]frame, 1, min(s.limits.MaxDepth+1, 12)) // grows past SyncML/SyncBody/Atomic/Replace/Item/Meta/Type
	s.stack[0].kind = kDoc
	if !s.noFast {
		if m, err, ok := s.scanFast(); ok {
			return m, err
		}
		s.reset()
	}
	// The depth pre-scan is the RawToken path's alone: scanFast gives up on an element deeper
	// than the limit before deciding anything, so a body it decides nests within the limit
	// and passes the pre-scan (exact on its subset), and any other body comes here.
	if err := precheckDepth(s.src, s.limits); err != nil {
		return nil, err
	}
	dec := xml.NewDecoder(bytes.NewReader(s.src))
	dec.CharsetReader = xmlx.UTF8Only
	for {
		off := dec.InputOffset()
		tok, err := dec.RawToken()
		if err == io.EOF {
			if len(s.stack) != 1 {
				return nil, parseErr(KindMalformed, "%v", etree.ErrXML)
			}
			return s.finish()
		}
		if err != nil {
			if errors.Is(err, xmlx.ErrUnsupportedEncoding) {
				return nil, parseErr(KindUnsupportedEncoding, "%v", err)
			}
			return nil, parseErr(KindMalformed, "%v", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			// The root counts as depth 1, as in etree's own bound.
			if len(s.stack) > s.limits.MaxDepth {
				return nil, parseErr(KindTooDeep, "elements nest deeper than %d", s.limits.MaxDepth)
			}
			s.start(t, off)
		case xml.EndElement:
			if !s.endMatches(t.Name.Space, t.Name.Local) {
				return nil, parseErr(KindMalformed, "%v", etree.ErrXML)
			}
			if err := s.endElement(dec.InputOffset()); err != nil {
				return nil, err
			}
		case xml.CharData:
			s.charData(string(t))
		}
	}
}

// endMatches reports whether an end tag of this name closes the open element, as etree
// requires (same prefix, same local name).
func (s *streamParser) endMatches(space, local string) bool {
	top := &s.stack[len(s.stack)-1]
	return len(s.stack) > 1 && top.local == local && top.space == space
}

// endElement hands the open element, which ends at off, to its parent and pops it. Frames
// are read and written in place: a frame is never copied.
func (s *streamParser) endElement(off int64) error {
	n := len(s.stack)
	err := s.end(&s.stack[n-1], &s.stack[n-2], off)
	s.stack = s.stack[:n-1]
	return err
}

// charData takes a run of character data. The first run of an element is kept as given (a
// cut of the body, for scanFast: no copy); only an element whose text comes in pieces
// (references, CDATA, comments between) concatenates.
func (s *streamParser) charData(t string) {
	top := &s.stack[len(s.stack)-1]
	switch top.kind {
	case kDoc:
		if !isXMLSpace(t) && s.rootErr == nil {
			s.rootErr = parseErr(KindMalformed, "text outside the root element")
		}
	case kText, kData:
		if top.text == "" {
			top.text = t
		} else {
			top.text += t
		}
	}
}

func isXMLSpace(b string) bool {
	for i := 0; i < len(b); i++ {
		if c := b[i]; c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			return false
		}
	}
	return true
}

// finish reports the first error in parseDOM's order once the whole body is known to be
// well-formed, or the message.
func (s *streamParser) finish() (*Message, error) {
	switch {
	case s.rootErr != nil:
		return nil, s.rootErr
	case !s.rootSeen:
		return nil, parseErr(KindMalformed, "no root element")
	case s.tagErr != nil:
		return nil, s.tagErr
	case s.nsErr != nil:
		return nil, s.nsErr
	case !s.haveHdr:
		return nil, parseErr(KindMissingField, "no SyncHdr")
	case !s.haveBody:
		return nil, parseErr(KindMissingField, "no SyncBody")
	}
	h := &s.msg.Header
	switch {
	case s.hdrSeen&seenVerDTD == 0:
		return nil, parseErr(KindMissingField, "SyncHdr has no VerDTD")
	case h.VerDTD != VerDTD:
		return nil, parseErr(KindWrongVersion, "VerDTD is %q, want %q", h.VerDTD, VerDTD)
	case s.hdrSeen&seenVerProto == 0:
		return nil, parseErr(KindMissingField, "SyncHdr has no VerProto")
	case h.VerProto != VerProto:
		return nil, parseErr(KindWrongVersion, "VerProto is %q, want %q", h.VerProto, VerProto)
	case h.SessionID == "":
		return nil, parseErr(KindMissingField, "SyncHdr has no SessionID")
	case h.MsgID == "":
		return nil, parseErr(KindMissingField, "SyncHdr has no MsgID")
	case h.Target == "":
		return nil, parseErr(KindMissingField, "SyncHdr has no Target/LocURI")
	case h.Source == "":
		return nil, parseErr(KindMissingField, "SyncHdr has no Source/LocURI")
	case s.credErr != nil:
		return nil, s.credErr
	case s.hdrMetaErr != nil:
		return nil, s.hdrMetaErr
	case s.bodyErr != nil:
		return nil, s.bodyErr
	}
	m := s.msg
	return &m, nil
}
