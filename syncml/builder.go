package syncml

import (
	"fmt"
	"slices"
	"strconv"
)

// A Builder's first allocations: room for the encoded commands of a typical reply (the
// SyncHdr Status and a Status for each command of a package 1, or a few commands) and for
// as many commands, so that building one grows nothing.
const (
	initialBodySize = 1024
	initialCommands = 8
)

// Builder assembles one outgoing message, numbering commands with increasing CmdIDs
// (unique within the message, MS-MDM 2.2.4.2). Each command is encoded when it is added,
// so Size is exact and cheap: a server can honour the peer's MaxMsgSize by checking
// Size(true)+CommandSize(c) before adding c (OMA-TS-DM_Protocol §6).
//
// Methods that add a command return its CmdID. If the command cannot be encoded (see
// Message.Marshal) they return "", the command is not added, and the error sticks: Bytes
// and Err report it. TryCommand reports the error instead, leaving the Builder usable, so
// one bad command need not spoil a whole reply.
//
// A Builder is not safe for concurrent use. Commands and Items passed in must not be
// modified afterwards.
type Builder struct {
	hdr     Header
	prefix  []byte // <SyncML ...><SyncHdr>...</SyncHdr><SyncBody>
	body    []byte // the encoded commands, in order
	cmds    []Command
	n       int  // top-level commands added
	lean    bool // keeps no cmds (NewBytesBuilder)
	next    int
	err     error
	scratch []byte // reused by CommandSize
}

// NewBuilder starts a message with header h; empty VerDTD/VerProto are set to 1.2 and
// DM/1.2. Commands are numbered from firstCmdID: a server uses 1, Windows clients start at
// 2 in their first message (captures; docs/protocol.md B.3). Values below 1 mean 1.
func NewBuilder(h Header, firstCmdID int) *Builder {
	if h.VerDTD == "" {
		h.VerDTD = VerDTD
	}
	if h.VerProto == "" {
		h.VerProto = VerProto
	}
	if firstCmdID < 1 {
		firstCmdID = 1
	}
	e := encoder{buf: make([]byte, 0, headerSizeHint(h))}
	e.messageStart(h)
	b := &Builder{hdr: h, prefix: e.buf, next: firstCmdID}
	if e.err != nil {
		b.err = fmt.Errorf("encoding SyncML header: %w", e.err)
	}
	return b
}

// NewBytesBuilder is NewBuilder for a sender that needs only the encoded message (Bytes,
// Size): it keeps no copy of the commands it encodes, so Message's Body stays empty. A
// server's reply path uses it to spare the list of command copies each reply would
// otherwise allocate.
func NewBytesBuilder(h Header, firstCmdID int) *Builder {
	b := NewBuilder(h, firstCmdID)
	b.lean = true
	return b
}

// headerSizeHint is enough room for the encoded start of a message with header h (the root,
// SyncHdr and <SyncBody>) in most cases, so that NewBuilder allocates it once.
func headerSizeHint(h Header) int {
	n := 256 + len(h.SessionID) + len(h.MsgID) + len(h.Target) + len(h.Source)
	if h.Cred != nil {
		n += 128 + len(h.Cred.Data)
	}
	if h.Meta != nil {
		n += 128
	}
	return n
}

// ReplyHeader is the header answering req (MS-MDM 2.2.4.2, captures): versions 1.2 and
// DM/1.2, the same SessionID, Target and Source swapped, and the sender's own msgID.
func ReplyHeader(req Header, msgID string) Header {
	return Header{
		VerDTD:    VerDTD,
		VerProto:  VerProto,
		SessionID: req.SessionID,
		MsgID:     msgID,
		Target:    req.Source,
		Source:    req.Target,
	}
}

// StatusSyncHdr adds the Status answering the peer's SyncHdr (CmdRef 0, Cmd SyncHdr), which
// comes first in a reply (OMA-TS-DM_Protocol §8.3; MS-MDM 4). code is 200, 212 with
// accepted credentials, or 401/407 with chal set.
func (b *Builder) StatusSyncHdr(msgRef string, code int, chal *Chal) string {
	return b.Command(Command{
		Verb:   VerbStatus,
		MsgRef: msgRef,
		CmdRef: "0",
		Cmd:    CmdSyncHdr,
		Chal:   chal,
		Data:   strconv.Itoa(code),
	})
}

// Status adds the Status answering ref, a command of the peer's message msgRef: CmdRef and
// Cmd name ref; TargetRef and SourceRef list ref's items' Target and Source LocURIs;
// items optionally carry detail. Status and Results are never answered
// (OMA-TS-SyncML-RepPro-V1_2_2 §6.6.1).
func (b *Builder) Status(msgRef string, ref Command, code int, items ...Item) string {
	s := Command{
		Verb:   VerbStatus,
		MsgRef: msgRef,
		CmdRef: ref.CmdID,
		Cmd:    ref.Verb,
		Data:   strconv.Itoa(code),
		Items:  items,
	}
	var targets, sources int
	for i := range ref.Items {
		if ref.Items[i].Target != "" {
			targets++
		}
		if ref.Items[i].Source != "" {
			sources++
		}
	}
	if targets > 0 {
		s.TargetRef = make([]string, 0, targets)
	}
	if sources > 0 {
		s.SourceRef = make([]string, 0, sources)
	}
	for i := range ref.Items {
		if t := ref.Items[i].Target; t != "" {
			s.TargetRef = append(s.TargetRef, t)
		}
		if src := ref.Items[i].Source; src != "" {
			s.SourceRef = append(s.SourceRef, src)
		}
	}
	return b.Command(s)
}

// Results adds the Results answering ref (a Get of the peer's message msgRef); each item
// names the node in Source and carries its value (OMA-TS-DM_Protocol §6.6.12).
func (b *Builder) Results(msgRef string, ref Command, items []Item) string {
	return b.Command(Command{Verb: VerbResults, MsgRef: msgRef, CmdRef: ref.CmdID, Items: items})
}

// Alert adds an Alert with the given code (e.g. AlertClientInitiated, AlertNextMessage).
func (b *Builder) Alert(code int, items ...Item) string {
	return b.Command(Command{Verb: VerbAlert, Data: strconv.Itoa(code), Items: items})
}

// Command adds c, overwriting its CmdID and those of its children (Atomic, Sequence),
// depth-first in order; it returns the top-level CmdID. Message shows the assigned IDs.
func (b *Builder) Command(c Command) string {
	id, err := b.TryCommand(c)
	if err != nil && b.err == nil {
		b.err = err
	}
	return id
}

// TryCommand is Command that reports an encoding error instead of keeping it; on error
// nothing is added and no CmdID is used.
func (b *Builder) TryCommand(c Command) (string, error) {
	c, next := assignIDs(c, b.next)
	if b.body == nil {
		b.body = make([]byte, 0, initialBodySize)
	}
	e := encoder{buf: b.body}
	e.command(&c)
	if e.err != nil {
		return "", fmt.Errorf("encoding %s command: %w", c.Verb, e.err)
	}
	b.body, b.next = e.buf, next
	b.n++
	if b.lean {
		return c.CmdID, nil
	}
	if b.cmds == nil {
		b.cmds = make([]Command, 0, initialCommands)
	}
	b.cmds = append(b.cmds, c)
	return c.CmdID, nil
}

// CommandSize is the number of bytes Command(c) would add now, with the CmdIDs it would
// assign; -1 if c cannot be encoded.
func (b *Builder) CommandSize(c Command) int {
	c, _ = assignIDs(c, b.next)
	e := encoder{buf: b.scratch[:0]}
	e.command(&c)
	b.scratch = e.buf
	if e.err != nil {
		return -1
	}
	return len(e.buf)
}

// assignIDs numbers c and its children from next, depth-first, without touching the
// caller's slices.
func assignIDs(c Command, next int) (Command, int) {
	c.CmdID = strconv.Itoa(next)
	next++
	if len(c.Commands) > 0 {
		kids := make([]Command, len(c.Commands))
		for i := range c.Commands {
			kids[i], next = assignIDs(c.Commands[i], next)
		}
		c.Commands = kids
	}
	return c, next
}

// Len is the number of top-level commands added so far.
func (b *Builder) Len() int { return b.n }

// Size is the exact length Bytes(final) would return now.
func (b *Builder) Size(final bool) int {
	n := len(b.prefix) + len(b.body) + len(bodyClose)
	if final {
		n += len(finalTag)
	}
	return n
}

// Message returns the message built so far, with the assigned CmdIDs (no commands from a
// NewBytesBuilder).
func (b *Builder) Message(final bool) *Message {
	return &Message{Header: b.hdr, Body: slices.Clone(b.cmds), Final: final}
}

// Bytes returns the encoded message, identical to Message(final).Marshal(), or the first
// error kept by Command and friends.
func (b *Builder) Bytes(final bool) ([]byte, error) {
	if b.err != nil {
		return nil, b.err
	}
	out := make([]byte, 0, b.Size(final))
	out = append(out, b.prefix...)
	out = append(out, b.body...)
	if final {
		out = append(out, finalTag...)
	}
	return append(out, bodyClose...), nil
}

// Err returns the first error kept by NewBuilder, Command, Status, Results or Alert.
func (b *Builder) Err() error { return b.err }
