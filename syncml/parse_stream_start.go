package syncml

import (
	"encoding/xml"
	"strings"
)

// start pushes the frame of a start tag, its kind chosen by its parent. The frame is made in
// place, and a command or an Item gets its slot in the message at once (the parent is not
// appended to while a child is open, so the slot stays put until the frame is popped).
func (s *streamParser) start(t xml.StartElement, off int64) {
	n := len(s.stack)
	if n < cap(s.stack) {
		s.stack = s.stack[:n+1]
		s.stack[n] = frame{}
	} else {
		s.stack = append(s.stack, frame{})
	}
	p, f := &s.stack[n-1], &s.stack[n]
	f.space, f.local, f.inBody = t.Name.Space, t.Name.Local, p.inBody || p.kind == kBody
	f.kind = s.childKind(p, t, f.inBody)
	switch f.kind {
	case kData:
		f.start = off
	case kMeta:
		f.meta = &Meta{}
	case kChal:
		f.chal = &Chal{}
	case kCmd:
		f.cmd = s.commandSlot(p, t.Name.Local)
	case kItem:
		p.cmd.Items = append(p.cmd.Items, Item{})
		f.item = &p.cmd.Items[len(p.cmd.Items)-1]
	}
}

// commandSlot appends a command to SyncBody (p is the body) or to its parent container's
// Commands and returns it. A command that then fails its checks stays there: it fails the
// body, and the message is not returned.
func (s *streamParser) commandSlot(p *frame, verb string) *Command {
	if p.kind == kBody {
		if s.msg.Body == nil {
			s.msg.Body = make([]Command, 0, initialCommands) // a package 1 or a reply to one, at once
		}
		s.msg.Body = append(s.msg.Body, Command{Verb: verb})
		return &s.msg.Body[len(s.msg.Body)-1]
	}
	p.cmd.Commands = append(p.cmd.Commands, Command{Verb: verb})
	return &p.cmd.Commands[len(p.cmd.Commands)-1]
}

// childKind chooses what a start tag decodes as under its parent p: kSkip for anything
// the reference does not read, or a repeated single-valued child (the first one wins).
func (s *streamParser) childKind(p *frame, t xml.StartElement, inBody bool) kind {
	local := t.Name.Local
	if inBody && s.bodyErr != nil {
		return kSkip // the reference stops at the body's first error
	}
	switch p.kind {
	case kDoc:
		return s.rootKind(t)
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
		return s.headerChild(local)
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
		return s.bodyChild(local)
	case kCmd:
		return s.commandChild(p, local)
	case kChal:
		if local == "Meta" {
			return kindIf(p.seen.take(seenMeta), kMeta)
		}
	case kItem:
		return itemChild(p, local)
	case kData:
		p.hasChild = true
	}
	return kSkip
}

// rootKind checks a top-level element: the only one, named SyncML, in the SyncML 1.2
// namespace. Anything else is recorded for finish to report and skipped.
func (s *streamParser) rootKind(t xml.StartElement) kind {
	if s.rootSeen {
		if s.rootErr == nil {
			s.rootErr = parseErr(KindMalformed, "more than one root element")
		}
		return kSkip
	}
	s.rootSeen = true
	if t.Name.Local != "SyncML" {
		s.tagErr = parseErr(KindMalformed, "root element is %q, want SyncML", t.Name.Local)
		return kSkip
	}
	// Windows sends the namespace upper-case, some servers lower-case (MS-MDM 2.2.1).
	if ns := rootNamespace(t); !strings.EqualFold(ns, Namespace) {
		s.nsErr = parseErr(KindWrongNamespace, "root namespace is %q, want %q", ns, Namespace)
		return kSkip
	}
	return kRoot
}

// headerChild chooses the kind of a SyncHdr child, the first of each name only.
func (s *streamParser) headerChild(local string) kind {
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
	return kSkip
}

// bodyChild chooses the kind of a SyncBody child: a command, or Final; anything else is
// the body's error.
func (s *streamParser) bodyChild(local string) kind {
	switch {
	case local == "Final":
		s.msg.Final = true
	case isVerb(local):
		return kCmd
	default:
		s.bodyErr = parseErr(KindBadCommand, "unknown element %q in SyncBody", local)
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

// itemChild chooses the kind of an Item's child, the first of each name only; MoreData is
// a flag on the Item itself.
func itemChild(p *frame, local string) kind {
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
