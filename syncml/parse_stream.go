package syncml

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strconv"
	"strings"

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
	if err := precheck(b, l); err != nil {
		return nil, err
	}
	s := streamParser{src: b, limits: l}
	return s.run()
}

// parseRawTokens is parseStream without scanFast, for the tests that hold each token
// source to the reference on its own.
func parseRawTokens(b []byte, l Limits) (*Message, error) {
	l = l.withDefaults()
	if err := precheck(b, l); err != nil {
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
	inBody       bool    // the frame is inside the first SyncBody
	seen         seenSet // which single-valued children the frame has taken
	hasChild     bool    // kData: a child element was seen
	start        int64   // kData: offset of the start tag
	text         string  // kText, kData: direct character data; kLoc: the LocURI's value
	err          error   // kMeta: the first bad number
	meta         *Meta   // kMeta
	chal         *Chal   // kChal
	cmd          Command
	item         Item
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
			s.charData(t)
		}
	}
}

// endMatches reports whether an end tag of this name closes the open element, as etree
// requires (same prefix, same local name).
func (s *streamParser) endMatches(space, local string) bool {
	top := &s.stack[len(s.stack)-1]
	return len(s.stack) > 1 && top.local == local && top.space == space
}

// endElement pops the open element, which ends at off, and hands it to its parent.
func (s *streamParser) endElement(off int64) error {
	c := s.stack[len(s.stack)-1]
	s.stack = s.stack[:len(s.stack)-1]
	return s.end(&c, &s.stack[len(s.stack)-1], off)
}

func (s *streamParser) charData(t []byte) {
	top := &s.stack[len(s.stack)-1]
	switch top.kind {
	case kDoc:
		if !isXMLSpace(t) && s.rootErr == nil {
			s.rootErr = parseErr(KindMalformed, "text outside the root element")
		}
	case kText, kData:
		top.text += string(t)
	}
}

// scanFast decodes the common case without encoding/xml: a well-formed body of printable
// ASCII, tabs and newlines, with elements and attributes (name="value" or name='value', one
// optional prefix per name) and text free of '&', '>' and '\r', and nothing else (no
// comments, CDATA, processing instructions or declarations). On that subset RawToken
// yields exactly the tokens scanFast feeds to start, charData and endElement: the text is
// the raw bytes (no references to expand, no CR to normalise) and names split at their
// colon. ok is false as soon as the input leaves the subset or is not well-formed or nests
// deeper than the limit; run then starts again from a clean state with RawToken, which
// gives the exact error, so every refusal scanFast returns itself is a semantic one.
func (s *streamParser) scanFast() (m *Message, err error, ok bool) {
	b := s.src
	for i := 0; i < len(b); {
		if b[i] != '<' {
			j := i
			for j < len(b) && b[j] != '<' {
				if c := b[j]; c != '\t' && c != '\n' && (c < 0x20 || c > 0x7e || c == '&' || c == '>') {
					return nil, nil, false
				}
				j++
			}
			s.charData(b[i:j])
			i = j
			continue
		}
		if i+1 >= len(b) {
			return nil, nil, false
		}
		if b[i+1] == '/' {
			space, local, k := scanName(b, i+2)
			if k < 0 || k >= len(b) || b[k] != '>' || !s.endMatches(space, local) {
				return nil, nil, false
			}
			if err := s.endElement(int64(k + 1)); err != nil {
				return nil, err, true
			}
			i = k + 1
			continue
		}
		space, local, k := scanName(b, i+1)
		if k < 0 {
			return nil, nil, false
		}
		var attrs []xml.Attr
		empty := false
	attrLoop:
		for {
			if k >= len(b) {
				return nil, nil, false
			}
			switch b[k] {
			case '>':
				k++
				break attrLoop
			case '/':
				if k+1 >= len(b) || b[k+1] != '>' {
					return nil, nil, false
				}
				k += 2
				empty = true
				break attrLoop
			case ' ', '\t', '\n':
			default:
				return nil, nil, false
			}
			for k < len(b) && (b[k] == ' ' || b[k] == '\t' || b[k] == '\n') {
				k++
			}
			if k < len(b) && (b[k] == '>' || b[k] == '/') {
				continue
			}
			aspace, alocal, e := scanName(b, k)
			if e < 0 || e+1 >= len(b) || b[e] != '=' || (b[e+1] != '"' && b[e+1] != '\'') {
				return nil, nil, false
			}
			q := b[e+1]
			v := e + 2
			for v < len(b) && b[v] != q {
				if c := b[v]; c < 0x20 || c > 0x7e || c == '<' || c == '&' {
					return nil, nil, false
				}
				v++
			}
			if v >= len(b) {
				return nil, nil, false
			}
			// Attributes are only read on the root (its namespace); elsewhere they are
			// checked and dropped, as the reference never looks at them.
			if len(s.stack) == 1 {
				attrs = append(attrs, xml.Attr{Name: xml.Name{Space: aspace, Local: alocal}, Value: string(b[e+2 : v])})
			}
			k = v + 1
		}
		if len(s.stack) > s.limits.MaxDepth {
			return nil, nil, false
		}
		s.start(xml.StartElement{Name: xml.Name{Space: space, Local: local}, Attr: attrs}, int64(i))
		if empty {
			if err := s.endElement(int64(k)); err != nil {
				return nil, err, true
			}
		}
		i = k
	}
	if len(s.stack) != 1 {
		return nil, nil, false
	}
	m, err = s.finish()
	return m, err, true
}

// scanName reads an ASCII XML name at b[i:] ([A-Za-z_][A-Za-z0-9_.-]*, optionally twice
// joined by one colon: a prefix and a local name) and returns it split as encoding/xml
// splits it, and the index after it; k is -1 if there is no such name.
func scanName(b []byte, i int) (space, local string, k int) {
	start, colon := i, -1
	for k = i; k < len(b); k++ {
		c := b[k]
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
		other := (c >= '0' && c <= '9' || c == '.' || c == '-') && k > start && k != colon+1
		if c == ':' && colon < 0 && k > start {
			colon = k
		} else if !letter && !other {
			break
		}
	}
	if k == start || k == colon+1 {
		return "", "", -1
	}
	if colon < 0 {
		return "", internName(b[start:k]), k
	}
	return internName(b[start:colon]), internName(b[colon+1 : k]), k
}

// internName returns the element names of SyncML DM as shared constants, saving an
// allocation per tag (the map lookup does not copy b); other names are copied.
func internName(b []byte) string {
	if n, ok := internedNames[string(b)]; ok {
		return n
	}
	return string(b)
}

var internedNames = func() map[string]string {
	m := make(map[string]string)
	for _, n := range []string{"SyncML", "SyncHdr", "SyncBody", "VerDTD", "VerProto",
		"SessionID", "MsgID", "Target", "Source", "LocURI", "LocName", "Cred", "Meta",
		"Format", "Type", "Mark", "NextNonce", "Size", "MaxMsgSize", "MaxObjSize", "Final",
		"CmdID", "NoResp", "MsgRef", "CmdRef", "Cmd", "TargetRef", "SourceRef", "Chal",
		"Data", "Item", "MoreData", "Alert", "Status", "Results", "Get", "Add", "Replace",
		"Delete", "Exec", "Atomic", "Sequence", "xmlns"} {
		m[n] = n
	}
	return m
}()

func isXMLSpace(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			return false
		}
	}
	return true
}

// start pushes the frame of a start tag, its kind chosen by its parent.
func (s *streamParser) start(t xml.StartElement, off int64) {
	p := &s.stack[len(s.stack)-1]
	f := frame{space: t.Name.Space, local: t.Name.Local, inBody: p.inBody || p.kind == kBody}
	f.kind = s.childKind(p, t, f.inBody)
	switch f.kind {
	case kData:
		f.start = off
	case kMeta:
		f.meta = &Meta{}
	case kChal:
		f.chal = &Chal{}
	case kCmd:
		f.cmd.Verb = t.Name.Local
	}
	s.stack = append(s.stack, f)
}

func (s *streamParser) childKind(p *frame, t xml.StartElement, inBody bool) kind {
	local := t.Name.Local
	if inBody && s.bodyErr != nil {
		return kSkip // the reference stops at the body's first error
	}
	switch p.kind {
	case kDoc:
		if s.rootSeen {
			if s.rootErr == nil {
				s.rootErr = parseErr(KindMalformed, "more than one root element")
			}
			return kSkip
		}
		s.rootSeen = true
		if local != "SyncML" {
			s.tagErr = parseErr(KindMalformed, "root element is %q, want SyncML", local)
			return kSkip
		}
		// Windows sends the namespace upper-case, some servers lower-case (MS-MDM 2.2.1).
		if ns := rootNamespace(t); !strings.EqualFold(ns, Namespace) {
			s.nsErr = parseErr(KindWrongNamespace, "root namespace is %q, want %q", ns, Namespace)
			return kSkip
		}
		return kRoot
	case kRoot:
		switch {
		case local == "SyncHdr" && !s.haveHdr:
			s.haveHdr = true
			return kHdr
		case local == "SyncBody" && !s.haveBody:
			s.haveBody = true
			return kBody
		}
	case kHdr:
		h := &s.hdrSeen
		switch local {
		case "VerDTD":
			return textIf(h.take(seenVerDTD))
		case "VerProto":
			return textIf(h.take(seenVerProto))
		case "SessionID":
			return textIf(h.take(seenSessionID))
		case "MsgID":
			return textIf(h.take(seenMsgID))
		case "Target":
			return kindIf(h.take(seenTarget), kLoc)
		case "Source":
			return kindIf(h.take(seenSource), kLoc)
		case "Cred":
			if h.take(seenCred) {
				s.msg.Header.Cred = &Cred{}
				return kCred
			}
		case "Meta":
			return kindIf(h.take(seenMeta), kMeta)
		}
	case kCred:
		switch local {
		case "Meta":
			return kMeta
		case "Data":
			return kText
		}
	case kLoc:
		if local == "LocURI" {
			return textIf(p.seen.take(seenLocURI))
		}
	case kMeta:
		if p.err != nil {
			return kSkip
		}
		switch local {
		case "Format", "Type", "Mark", "NextNonce", "Size", "MaxMsgSize", "MaxObjSize":
			return kText
		}
	case kBody:
		switch {
		case local == "Final":
			s.msg.Final = true
		case isVerb(local):
			return kCmd
		default:
			s.bodyErr = parseErr(KindBadCommand, "unknown element %q in SyncBody", local)
		}
	case kCmd:
		return s.commandChild(p, local)
	case kChal:
		if local == "Meta" {
			return kindIf(p.seen.take(seenMeta), kMeta)
		}
	case kItem:
		switch local {
		case "Target":
			return kindIf(p.seen.take(seenTarget), kLoc)
		case "Source":
			return kindIf(p.seen.take(seenSource), kLoc)
		case "Meta":
			return kindIf(p.seen.take(seenMeta), kMeta)
		case "Data":
			return kindIf(p.seen.take(seenData), kData)
		case "MoreData":
			p.item.MoreData = true
		}
	case kData:
		p.hasChild = true
	}
	return kSkip
}

// commandChild chooses the kind of a command's child, in parseDOM's order: CmdID, NoResp
// and Meta first, then for Atomic and Sequence only commands.
func (s *streamParser) commandChild(p *frame, local string) kind {
	switch local {
	case "CmdID":
		return textIf(p.seen.take(seenCmdID))
	case "NoResp":
		p.cmd.NoResp = true
		return kSkip
	case "Meta":
		return kindIf(p.seen.take(seenMeta), kMeta)
	}
	if isContainer(p.cmd.Verb) {
		if !isVerb(local) {
			s.bodyErr = parseErr(KindBadCommand, "unknown element %q in %s", local, p.cmd.Verb)
			return kSkip
		}
		return kCmd
	}
	switch local {
	case "MsgRef":
		return textIf(p.seen.take(seenMsgRef))
	case "CmdRef":
		return textIf(p.seen.take(seenCmdRef))
	case "Cmd":
		return textIf(p.seen.take(seenCmd))
	case "TargetRef", "SourceRef":
		return kText
	case "Chal":
		return kindIf(p.seen.take(seenChal), kChal)
	case "Data":
		return textIf(p.seen.take(seenData))
	case "Item":
		return kItem
	}
	return kSkip
}

func textIf(ok bool) kind { return kindIf(ok, kText) }

func kindIf(ok bool, k kind) kind {
	if ok {
		return k
	}
	return kSkip
}

// rootNamespace is the namespace of the root's name as etree's NamespaceURI gives it: the
// root's own xmlns (or xmlns:prefix) attribute, the last one if repeated, else "".
func rootNamespace(t xml.StartElement) string {
	var ns string
	for _, a := range t.Attr {
		if t.Name.Space == "" && a.Name.Space == "" && a.Name.Local == "xmlns" ||
			t.Name.Space != "" && a.Name.Space == "xmlns" && a.Name.Local == t.Name.Space {
			ns = a.Value
		}
	}
	return ns
}

// end hands a finished child c to its parent p. Only a Data element holding nested XML can
// fail here (its re-read), which does not happen for bytes the tokenizer just accepted.
func (s *streamParser) end(c, p *frame, off int64) error {
	if c.kind == kSkip || c.inBody && s.bodyErr != nil {
		return nil
	}
	switch p.kind {
	case kHdr:
		h := &s.msg.Header
		switch c.local {
		case "VerDTD":
			h.VerDTD = trimXMLSpace(c.text)
		case "VerProto":
			h.VerProto = trimXMLSpace(c.text)
		case "SessionID":
			h.SessionID = trimXMLSpace(c.text)
		case "MsgID":
			h.MsgID = trimXMLSpace(c.text)
		case "Target":
			h.Target = c.text
		case "Source":
			h.Source = c.text
		case "Meta":
			if c.err != nil {
				s.hdrMetaErr = c.err
			} else {
				h.Meta = c.meta
			}
		}
	case kCred:
		cred := s.msg.Header.Cred
		switch c.local {
		case "Meta":
			if c.err != nil {
				if s.credErr == nil {
					s.credErr = c.err
				}
			} else if s.credErr == nil {
				cred.Format, cred.Type = c.meta.Format, c.meta.Type
			}
		case "Data":
			cred.Data = trimXMLSpace(c.text)
		}
	case kLoc:
		p.text = trimXMLSpace(c.text)
	case kMeta:
		m := p.meta
		v := trimXMLSpace(c.text)
		switch c.local {
		case "Format":
			m.Format = v
		case "Type":
			m.Type = v
		case "Mark":
			m.Mark = v
		case "NextNonce":
			m.NextNonce = v
		case "Size":
			m.Size, p.err = numberValue(c.local, v)
		case "MaxMsgSize":
			m.MaxMsgSize, p.err = numberValue(c.local, v)
		case "MaxObjSize":
			m.MaxObjSize, p.err = numberValue(c.local, v)
		}
	case kBody:
		if err := s.finishCommand(c); err != nil {
			s.bodyErr = err
			return nil
		}
		s.msg.Body = append(s.msg.Body, c.cmd)
	case kCmd:
		cmd := &p.cmd
		switch c.kind {
		case kCmd:
			if err := s.finishCommand(c); err != nil {
				s.bodyErr = err
				return nil
			}
			cmd.Commands = append(cmd.Commands, c.cmd)
			return nil
		case kMeta:
			if c.err != nil {
				s.bodyErr = c.err
				return nil
			}
			cmd.Meta = c.meta
			return nil
		}
		v := trimXMLSpace(c.text)
		switch c.local {
		case "CmdID":
			cmd.CmdID = v
		case "MsgRef":
			cmd.MsgRef = v
		case "CmdRef":
			cmd.CmdRef = v
		case "Cmd":
			cmd.Cmd = v
		case "Data":
			cmd.Data = v
		case "TargetRef":
			cmd.TargetRef = append(cmd.TargetRef, v)
		case "SourceRef":
			cmd.SourceRef = append(cmd.SourceRef, v)
		case "Chal":
			cmd.Chal = c.chal
		case "Item":
			cmd.Items = append(cmd.Items, c.item)
		}
	case kChal:
		if c.err != nil {
			s.bodyErr = c.err
			return nil
		}
		p.chal.Format, p.chal.Type, p.chal.NextNonce = c.meta.Format, c.meta.Type, c.meta.NextNonce
	case kItem:
		it := &p.item
		switch c.kind {
		case kLoc:
			if c.local == "Target" {
				it.Target = c.text
			} else {
				it.Source = c.text
			}
		case kMeta:
			if c.err != nil {
				s.bodyErr = c.err
				return nil
			}
			it.Meta = c.meta
		case kData:
			if !c.hasChild {
				it.Data = c.text
				return nil
			}
			x, err := dataInnerXML(s.src[c.start:off], s.limits)
			if err != nil {
				return err
			}
			it.DataXML = x
		}
	}
	return nil
}

// finishCommand runs a command's own checks once its children are in, as parseDOM's
// command does after its loop: CmdID present and unique in the message (MS-MDM 2.2.4.2),
// then the children each verb requires.
func (s *streamParser) finishCommand(f *frame) error {
	c := &f.cmd
	if c.CmdID == "" {
		return parseErr(KindMissingField, "%s command has no CmdID", c.Verb)
	}
	if s.seenID(c.CmdID) {
		return parseErr(KindDuplicateCmdID, "CmdID %q used twice", c.CmdID)
	}
	switch c.Verb {
	case VerbStatus:
		switch {
		case f.seen&seenCmdRef == 0:
			return parseErr(KindMissingField, "Status %s has no CmdRef", c.CmdID)
		case f.seen&seenCmd == 0:
			return parseErr(KindMissingField, "Status %s has no Cmd", c.CmdID)
		case f.seen&seenData == 0:
			return parseErr(KindMissingField, "Status %s has no Data", c.CmdID)
		}
	case VerbResults:
		if f.seen&seenCmdRef == 0 {
			return parseErr(KindMissingField, "Results %s has no CmdRef", c.CmdID)
		}
	case VerbAlert:
		if f.seen&seenData == 0 {
			return parseErr(KindMissingField, "Alert %s has no Data", c.CmdID)
		}
	}
	return nil
}

// seenID reports whether id was seen before in this message, recording it. A handful of
// IDs is searched linearly; past that a set takes over.
func (s *streamParser) seenID(id string) bool {
	if s.idSet != nil {
		if _, ok := s.idSet[id]; ok {
			return true
		}
		s.idSet[id] = struct{}{}
		return false
	}
	for _, v := range s.ids {
		if v == id {
			return true
		}
	}
	s.ids = append(s.ids, id)
	if len(s.ids) > 32 {
		s.idSet = make(map[string]struct{}, 2*len(s.ids))
		for _, v := range s.ids {
			s.idSet[v] = struct{}{}
		}
	}
	return false
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

// dataInnerXML re-reads one Data element that holds child elements and returns its inner
// XML as the reference serialises it.
func dataInnerXML(b []byte, l Limits) (string, error) {
	doc := etree.NewDocument()
	doc.ReadSettings = etree.ReadSettings{MaxDepth: l.MaxDepth, CharsetReader: xmlx.UTF8Only}
	if err := doc.ReadFromBytes(b); err != nil {
		return "", parseErr(KindMalformed, "%v", err)
	}
	root := doc.Root()
	if root == nil {
		return "", parseErr(KindMalformed, "%v", etree.ErrXML)
	}
	return innerXML(root), nil
}

func trimXMLSpace(s string) string { return strings.Trim(s, " \t\r\n") }

// numberValue is number for a value already read: a non-negative decimal integer.
func numberValue(tag, s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, parseErr(KindBadValue, "%s %q is not a non-negative integer", tag, s)
	}
	return n, nil
}
