package syncml

import (
	"errors"
	"strconv"
	"strings"

	"github.com/beevik/etree"

	"github.com/hellomdm/hellomdm/internal/xmlx"
)

// parseDOM is the etree-based decoder: it reads the whole document into a tree, then walks
// it. It is the reference parseStream is fuzzed against (FuzzParseStreamMatchesDOM); no
// production path calls it.
func parseDOM(b []byte, l Limits) (*Message, error) {
	l = l.withDefaults()
	if err := precheck(b, l); err != nil {
		return nil, err
	}
	doc := etree.NewDocument()
	// etree's own bound is a second line of defence; maxDepth above already rejected
	// anything deeper in well-formed input.
	// Only UTF-8 is decoded: another declared encoding is refused (xmlx.UTF8Only).
	doc.ReadSettings = etree.ReadSettings{MaxDepth: l.MaxDepth, CharsetReader: xmlx.UTF8Only}
	if err := doc.ReadFromBytes(b); err != nil {
		if errors.Is(err, etree.ErrMaxDepth) {
			return nil, parseErr(KindTooDeep, "elements nest deeper than %d", l.MaxDepth)
		}
		if errors.Is(err, xmlx.ErrUnsupportedEncoding) {
			return nil, parseErr(KindUnsupportedEncoding, "%v", err)
		}
		return nil, parseErr(KindMalformed, "%v", err)
	}
	root, err := documentRoot(doc)
	if err != nil {
		return nil, err
	}
	p := parser{ids: make(map[string]struct{})}
	return p.message(root)
}

// documentRoot returns the single root element, which must be SyncML in the SyncML 1.2
// namespace.
func documentRoot(doc *etree.Document) (*etree.Element, error) {
	var root *etree.Element
	for _, t := range doc.Child {
		switch t := t.(type) {
		case *etree.Element:
			if root != nil {
				return nil, parseErr(KindMalformed, "more than one root element")
			}
			root = t
		case *etree.CharData:
			if !t.IsWhitespace() {
				return nil, parseErr(KindMalformed, "text outside the root element")
			}
		}
	}
	if root == nil {
		return nil, parseErr(KindMalformed, "no root element")
	}
	if root.Tag != "SyncML" {
		return nil, parseErr(KindMalformed, "root element is %q, want SyncML", root.Tag)
	}
	// Windows sends the namespace upper-case, some servers lower-case (MS-MDM 2.2.1).
	if ns := root.NamespaceURI(); !strings.EqualFold(ns, Namespace) {
		return nil, parseErr(KindWrongNamespace, "root namespace is %q, want %q", ns, Namespace)
	}
	return root, nil
}

// parser holds per-message state: the CmdIDs seen so far.
type parser struct {
	ids map[string]struct{}
}

func (p *parser) message(root *etree.Element) (*Message, error) {
	var hdr, body *etree.Element
	for c := range root.ChildElementsSeq() {
		switch c.Tag {
		case "SyncHdr":
			if hdr == nil {
				hdr = c
			}
		case "SyncBody":
			if body == nil {
				body = c
			}
		}
	}
	if hdr == nil {
		return nil, parseErr(KindMissingField, "no SyncHdr")
	}
	if body == nil {
		return nil, parseErr(KindMissingField, "no SyncBody")
	}
	m := &Message{}
	var err error
	if m.Header, err = header(hdr); err != nil {
		return nil, err
	}
	for c := range body.ChildElementsSeq() {
		if c.Tag == "Final" {
			m.Final = true
			continue
		}
		if !isVerb(c.Tag) {
			return nil, parseErr(KindBadCommand, "unknown element %q in SyncBody", c.Tag)
		}
		cmd, err := p.command(c)
		if err != nil {
			return nil, err
		}
		m.Body = append(m.Body, cmd)
	}
	return m, nil
}

// header decodes SyncHdr (MS-MDM 2.2.4.2).
func header(e *etree.Element) (Header, error) {
	var verDTD, verProto, session, msgID, target, source, cred, meta *etree.Element
	for c := range e.ChildElementsSeq() {
		switch c.Tag {
		case "VerDTD":
			setFirst(&verDTD, c)
		case "VerProto":
			setFirst(&verProto, c)
		case "SessionID":
			setFirst(&session, c)
		case "MsgID":
			setFirst(&msgID, c)
		case "Target":
			setFirst(&target, c)
		case "Source":
			setFirst(&source, c)
		case "Cred":
			setFirst(&cred, c)
		case "Meta":
			setFirst(&meta, c)
		}
	}
	var h Header
	if verDTD == nil {
		return h, parseErr(KindMissingField, "SyncHdr has no VerDTD")
	}
	if h.VerDTD = text(verDTD); h.VerDTD != VerDTD {
		return h, parseErr(KindWrongVersion, "VerDTD is %q, want %q", h.VerDTD, VerDTD)
	}
	if verProto == nil {
		return h, parseErr(KindMissingField, "SyncHdr has no VerProto")
	}
	if h.VerProto = text(verProto); h.VerProto != VerProto {
		return h, parseErr(KindWrongVersion, "VerProto is %q, want %q", h.VerProto, VerProto)
	}
	if h.SessionID = text(session); h.SessionID == "" {
		return h, parseErr(KindMissingField, "SyncHdr has no SessionID")
	}
	if h.MsgID = text(msgID); h.MsgID == "" {
		return h, parseErr(KindMissingField, "SyncHdr has no MsgID")
	}
	if h.Target = locURI(target); h.Target == "" {
		return h, parseErr(KindMissingField, "SyncHdr has no Target/LocURI")
	}
	if h.Source = locURI(source); h.Source == "" {
		return h, parseErr(KindMissingField, "SyncHdr has no Source/LocURI")
	}
	var err error
	if cred != nil {
		h.Cred = &Cred{}
		for c := range cred.ChildElementsSeq() {
			switch c.Tag {
			case "Meta":
				m, err := parseMeta(c)
				if err != nil {
					return h, err
				}
				h.Cred.Format, h.Cred.Type = m.Format, m.Type
			case "Data":
				h.Cred.Data = text(c)
			}
		}
	}
	if meta != nil {
		if h.Meta, err = parseMeta(meta); err != nil {
			return h, err
		}
	}
	return h, nil
}

func setFirst(dst **etree.Element, e *etree.Element) {
	if *dst == nil {
		*dst = e
	}
}

// command decodes one SyncBody (or Atomic/Sequence) child whose tag is a verb.
func (p *parser) command(e *etree.Element) (Command, error) {
	c := Command{Verb: e.Tag}
	var cmdID, msgRef, cmdRef, cmd, data *etree.Element
	for ch := range e.ChildElementsSeq() {
		switch ch.Tag {
		case "CmdID":
			setFirst(&cmdID, ch)
			continue
		case "NoResp":
			c.NoResp = true
			continue
		case "Meta":
			if c.Meta == nil {
				m, err := parseMeta(ch)
				if err != nil {
					return c, err
				}
				c.Meta = m
			}
			continue
		}
		if isContainer(c.Verb) {
			if !isVerb(ch.Tag) {
				return c, parseErr(KindBadCommand, "unknown element %q in %s", ch.Tag, c.Verb)
			}
			child, err := p.command(ch)
			if err != nil {
				return c, err
			}
			c.Commands = append(c.Commands, child)
			continue
		}
		switch ch.Tag {
		case "MsgRef":
			setFirst(&msgRef, ch)
		case "CmdRef":
			setFirst(&cmdRef, ch)
		case "Cmd":
			setFirst(&cmd, ch)
		case "TargetRef":
			c.TargetRef = append(c.TargetRef, text(ch))
		case "SourceRef":
			c.SourceRef = append(c.SourceRef, text(ch))
		case "Chal":
			if c.Chal == nil {
				chal, err := parseChal(ch)
				if err != nil {
					return c, err
				}
				c.Chal = chal
			}
		case "Data":
			setFirst(&data, ch)
		case "Item":
			it, err := parseItem(ch)
			if err != nil {
				return c, err
			}
			c.Items = append(c.Items, it)
		}
	}
	if c.CmdID = text(cmdID); c.CmdID == "" {
		return c, parseErr(KindMissingField, "%s command has no CmdID", c.Verb)
	}
	if _, dup := p.ids[c.CmdID]; dup {
		return c, parseErr(KindDuplicateCmdID, "CmdID %q used twice", c.CmdID)
	}
	p.ids[c.CmdID] = struct{}{}
	c.MsgRef, c.CmdRef, c.Cmd, c.Data = text(msgRef), text(cmdRef), text(cmd), text(data)
	return c, requiredChildren(c.Verb, c.CmdID, cmdRef != nil, cmd != nil, data != nil)
}

// parseItem decodes an Item (OMA-TS-DM_Protocol §6.5.12). Data holding child elements
// becomes DataXML, the inner XML re-serialised; otherwise its text (CDATA included) is kept
// verbatim in Data.
func parseItem(e *etree.Element) (Item, error) {
	var it Item
	var target, source, meta, data *etree.Element
	for c := range e.ChildElementsSeq() {
		switch c.Tag {
		case "Target":
			setFirst(&target, c)
		case "Source":
			setFirst(&source, c)
		case "Meta":
			setFirst(&meta, c)
		case "Data":
			setFirst(&data, c)
		case "MoreData":
			it.MoreData = true
		}
	}
	it.Target, it.Source = locURI(target), locURI(source)
	if meta != nil {
		m, err := parseMeta(meta)
		if err != nil {
			return it, err
		}
		it.Meta = m
	}
	if data != nil {
		if hasChildElement(data) {
			it.DataXML = innerXML(data)
		} else {
			it.Data = charData(data)
		}
	}
	return it, nil
}

func hasChildElement(e *etree.Element) bool {
	for _, t := range e.Child {
		if _, ok := t.(*etree.Element); ok {
			return true
		}
	}
	return false
}

// innerXML serialises the element's children. The canonical settings escape \r in text and
// \t, \n, \r in attribute values, which XML would otherwise normalise away, so the result
// parses back to the same tree.
func innerXML(e *etree.Element) string {
	var sb strings.Builder
	s := etree.WriteSettings{CanonicalText: true, CanonicalAttrVal: true}
	for _, t := range e.Child {
		t.WriteTo(&sb, &s)
	}
	return sb.String()
}

// parseMeta decodes a Meta element; its children are in syncml:metinf but are accepted in
// any namespace (OMA DM TND; Windows writes xmlns="syncml:metinf" on each).
func parseMeta(e *etree.Element) (*Meta, error) {
	m := &Meta{}
	var err error
	for c := range e.ChildElementsSeq() {
		switch c.Tag {
		case "Format":
			m.Format = text(c)
		case "Type":
			m.Type = text(c)
		case "Mark":
			m.Mark = text(c)
		case "NextNonce":
			m.NextNonce = text(c)
		case "Size":
			m.Size, err = number(c)
		case "MaxMsgSize":
			m.MaxMsgSize, err = number(c)
		case "MaxObjSize":
			m.MaxObjSize, err = number(c)
		}
		if err != nil {
			return nil, err
		}
	}
	return m, nil
}

func parseChal(e *etree.Element) (*Chal, error) {
	ch := &Chal{}
	for c := range e.ChildElementsSeq() {
		if c.Tag != "Meta" {
			continue
		}
		m, err := parseMeta(c)
		if err != nil {
			return nil, err
		}
		ch.Format, ch.Type, ch.NextNonce = m.Format, m.Type, m.NextNonce
		break
	}
	return ch, nil
}

func number(e *etree.Element) (int, error) {
	s := text(e)
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, parseErr(KindBadValue, "%s %q is not a non-negative integer", e.Tag, s)
	}
	return n, nil
}

// locURI returns the trimmed LocURI child of a Target or Source element ("" if absent).
func locURI(e *etree.Element) string {
	if e == nil {
		return ""
	}
	for c := range e.ChildElementsSeq() {
		if c.Tag == "LocURI" {
			return text(c)
		}
	}
	return ""
}

// text returns the element's character data trimmed of XML whitespace ("" for nil).
func text(e *etree.Element) string {
	if e == nil {
		return ""
	}
	return strings.Trim(charData(e), " \t\r\n")
}

// charData concatenates the element's direct text and CDATA children; comments and child
// elements are skipped.
func charData(e *etree.Element) string {
	var only string
	n := 0
	for _, t := range e.Child {
		if cd, ok := t.(*etree.CharData); ok {
			only = cd.Data
			n++
		}
	}
	if n <= 1 {
		return only
	}
	var sb strings.Builder
	for _, t := range e.Child {
		if cd, ok := t.(*etree.CharData); ok {
			sb.WriteString(cd.Data)
		}
	}
	return sb.String()
}
