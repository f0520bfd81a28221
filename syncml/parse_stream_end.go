package syncml

import (
	"strconv"
	"strings"

	"github.com/beevik/etree"

	"github.com/hellomdm/hellomdm/internal/xmlx"
)

// end hands a finished child c to its parent p. Only a Data element holding nested XML can
// fail here (its re-read), which does not happen for bytes the tokenizer just accepted.
func (s *streamParser) end(c, p *frame, off int64) error {
	if c.kind == kSkip || c.inBody && s.bodyErr != nil {
		return nil
	}
	switch p.kind {
	case kHdr:
		s.endHeaderChild(c)
	case kCred:
		s.endCredChild(c)
	case kLoc:
		p.text = trimXMLSpace(c.text)
	case kMeta:
		endMetaChild(c, p)
	case kBody:
		if err := s.finishCommand(c); err != nil {
			s.bodyErr = err
		}
	case kCmd:
		s.endCommandChild(c, p)
	case kChal:
		if c.err != nil {
			s.bodyErr = c.err
			return nil
		}
		p.chal.Format, p.chal.Type, p.chal.NextNonce = c.meta.Format, c.meta.Type, c.meta.NextNonce
	case kItem:
		return s.endItemChild(c, p, off)
	}
	return nil
}

// endHeaderChild stores a SyncHdr field; a bad header Meta is kept for finish to report.
func (s *streamParser) endHeaderChild(c *frame) {
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
}

// endCredChild stores a Cred field: its Meta's Format and Type (unless an earlier Meta was
// bad: the reference stops at the first), or its Data.
func (s *streamParser) endCredChild(c *frame) {
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
}

// endMetaChild stores a Meta field in p; a bad number becomes p's error.
func endMetaChild(c, p *frame) {
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
}

// endCommandChild stores a command's child in p's command: a nested command (Atomic,
// Sequence) once its own checks pass, its Meta, or a field; a failure is the body's error.
func (s *streamParser) endCommandChild(c, p *frame) {
	cmd := p.cmd
	switch c.kind {
	case kCmd:
		if err := s.finishCommand(c); err != nil {
			s.bodyErr = err
		}
		return
	case kItem:
		return // in place since its start
	case kMeta:
		if c.err != nil {
			s.bodyErr = c.err
			return
		}
		cmd.Meta = c.meta
		return
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
	}
}

// endItemChild stores an Item's child in p's Item. Data holding elements, which ends at
// off, is re-read for its inner XML.
func (s *streamParser) endItemChild(c, p *frame, off int64) error {
	it := p.item
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
	return nil
}

// finishCommand runs a command's own checks once its children are in, as parseDOM's
// command does after its loop: CmdID present and unique in the message (MS-MDM 2.2.4.2),
// then the children each verb requires.
func (s *streamParser) finishCommand(f *frame) error {
	c := f.cmd
	if c.CmdID == "" {
		return parseErr(KindMissingField, "%s command has no CmdID", c.Verb)
	}
	if s.seenID(c.CmdID) {
		return parseErr(KindDuplicateCmdID, "CmdID %q used twice", c.CmdID)
	}
	return requiredChildren(c.Verb, c.CmdID, f.seen&seenCmdRef != 0, f.seen&seenCmd != 0, f.seen&seenData != 0)
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
