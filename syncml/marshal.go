package syncml

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Fixed pieces of every encoded message. The root carries the SyncML 1.2 namespace
// (MS-MDM 2.2.1); there is no XML declaration, as in the Windows captures.
const (
	rootOpen  = `<SyncML xmlns="` + Namespace + `">`
	metinfNS  = ` xmlns="` + MetInfNamespace + `"`
	finalTag  = "<Final/>"
	bodyClose = "</SyncBody></SyncML>"
)

// Marshal encodes the message compactly (no indentation), deterministically, with the
// elements of each part in SyncML DTD order. It fails if the message cannot be written
// so that Parse would read it back: a missing SessionID, MsgID, Target, Source or CmdID,
// an unknown verb, fields a verb cannot carry, DataXML that is not well-formed, or text
// with characters XML cannot hold (invalid UTF-8, control characters other than tab, CR,
// LF).
func (m *Message) Marshal() ([]byte, error) {
	return m.encode("")
}

// MarshalIndent is Marshal with each element that holds elements broken over lines and
// indented by indent. Leaf values are not touched, so the result parses to the same
// Message. It is meant for logs and golden files; send Marshal's output on the wire.
func (m *Message) MarshalIndent(indent string) ([]byte, error) {
	return m.encode(indent)
}

func (m *Message) encode(indent string) ([]byte, error) {
	e := &encoder{indent: indent}
	e.messageStart(m.Header)
	for i := range m.Body {
		e.command(&m.Body[i])
	}
	if m.Final {
		e.empty("Final")
	}
	e.close("SyncBody")
	e.close("SyncML")
	if e.err != nil {
		return nil, fmt.Errorf("marshalling SyncML message: %w", e.err)
	}
	return e.buf, nil
}

// EncodedSize is the number of bytes c adds to a compact message, with the CmdIDs c
// carries; -1 if c cannot be encoded. A Builder assigns CmdIDs, which changes the size:
// use Builder.CommandSize to ask before adding.
func EncodedSize(c Command) int {
	e := encoder{}
	e.command(&c)
	if e.err != nil {
		return -1
	}
	return len(e.buf)
}

// encoder appends XML to buf. The first error sticks and later writes are no-ops in effect.
type encoder struct {
	buf    []byte
	indent string // "" writes compact output
	depth  int
	err    error
}

func (e *encoder) fail(format string, args ...any) {
	if e.err == nil {
		e.err = fmt.Errorf(format, args...)
	}
}

func (e *encoder) newline() {
	if e.indent == "" || len(e.buf) == 0 {
		return
	}
	e.buf = append(e.buf, '\n')
	for range e.depth {
		e.buf = append(e.buf, e.indent...)
	}
}

func (e *encoder) open(tag string) {
	e.newline()
	e.buf = append(e.buf, '<')
	e.buf = append(e.buf, tag...)
	e.buf = append(e.buf, '>')
	e.depth++
}

func (e *encoder) close(tag string) {
	e.depth--
	e.newline()
	e.buf = append(e.buf, "</"...)
	e.buf = append(e.buf, tag...)
	e.buf = append(e.buf, '>')
}

func (e *encoder) empty(tag string) {
	e.newline()
	e.buf = append(e.buf, '<')
	e.buf = append(e.buf, tag...)
	e.buf = append(e.buf, "/>"...)
}

// leaf writes <tag>escaped text</tag>; attr, if not empty, is written inside the start tag
// verbatim (it must start with a space).
func (e *encoder) leaf(tag, attr, text string) {
	e.newline()
	e.buf = append(e.buf, '<')
	e.buf = append(e.buf, tag...)
	e.buf = append(e.buf, attr...)
	e.buf = append(e.buf, '>')
	var err error
	if e.buf, err = appendEscaped(e.buf, text); err != nil {
		e.fail("%s: %w", tag, err)
	}
	e.buf = append(e.buf, "</"...)
	e.buf = append(e.buf, tag...)
	e.buf = append(e.buf, '>')
}

func (e *encoder) messageStart(h Header) {
	e.buf = append(e.buf, rootOpen...)
	e.depth++
	e.header(h)
	e.open("SyncBody")
}

// header writes SyncHdr: VerDTD, VerProto, SessionID, MsgID, Target, Source, Cred, Meta
// (MS-MDM 2.2.4.2). Empty VerDTD/VerProto are written as 1.2 and DM/1.2.
func (e *encoder) header(h Header) {
	switch {
	case h.SessionID == "":
		e.fail("header has no SessionID")
	case h.MsgID == "":
		e.fail("header has no MsgID")
	case h.Target == "":
		e.fail("header has no Target")
	case h.Source == "":
		e.fail("header has no Source")
	}
	verDTD, verProto := h.VerDTD, h.VerProto
	if verDTD == "" {
		verDTD = VerDTD
	}
	if verProto == "" {
		verProto = VerProto
	}
	e.open("SyncHdr")
	e.leaf("VerDTD", "", verDTD)
	e.leaf("VerProto", "", verProto)
	e.leaf("SessionID", "", h.SessionID)
	e.leaf("MsgID", "", h.MsgID)
	e.loc("Target", h.Target)
	e.loc("Source", h.Source)
	if c := h.Cred; c != nil {
		e.open("Cred")
		if c.Format != "" || c.Type != "" {
			e.meta(&Meta{Format: c.Format, Type: c.Type})
		}
		e.leaf("Data", "", c.Data)
		e.close("Cred")
	}
	e.meta(h.Meta)
	e.close("SyncHdr")
}

func (e *encoder) loc(tag, uri string) {
	e.open(tag)
	e.leaf("LocURI", "", uri)
	e.close(tag)
}

// command writes one command. Field order is the union of the SyncML 1.2 DTD orders:
// CmdID, NoResp, MsgRef, CmdRef, Cmd, Meta, TargetRef*, SourceRef*, Chal, Data, Item*
// (Status: CmdID MsgRef CmdRef Cmd TargetRef* SourceRef* Chal? Data Item*; Results: CmdID
// MsgRef CmdRef Meta? TargetRef* SourceRef* Item+; Get/Add/Replace/Delete/Exec: CmdID
// NoResp? Meta? Item+; Atomic/Sequence: CmdID NoResp? Meta? commands).
func (e *encoder) command(c *Command) {
	if !isVerb(c.Verb) {
		e.fail("unknown verb %q", c.Verb)
		return
	}
	if c.CmdID == "" {
		e.fail("%s command has no CmdID", c.Verb)
		return
	}
	e.open(c.Verb)
	e.leaf("CmdID", "", c.CmdID)
	if c.NoResp {
		e.empty("NoResp")
	}
	if isContainer(c.Verb) {
		if c.MsgRef != "" || c.CmdRef != "" || c.Cmd != "" || len(c.TargetRef) > 0 ||
			len(c.SourceRef) > 0 || c.Chal != nil || c.Data != "" || len(c.Items) > 0 {
			e.fail("%s %s: only CmdID, NoResp, Meta and Commands can be written", c.Verb, c.CmdID)
		}
		e.meta(c.Meta)
		for i := range c.Commands {
			e.command(&c.Commands[i])
		}
		e.close(c.Verb)
		return
	}
	if len(c.Commands) > 0 {
		e.fail("%s %s: only Atomic and Sequence hold commands", c.Verb, c.CmdID)
	}
	status := c.Verb == VerbStatus
	if c.MsgRef != "" {
		e.leaf("MsgRef", "", c.MsgRef)
	}
	if c.CmdRef != "" || status || c.Verb == VerbResults {
		e.leaf("CmdRef", "", c.CmdRef)
	}
	if c.Cmd != "" || status {
		e.leaf("Cmd", "", c.Cmd)
	}
	e.meta(c.Meta)
	for _, r := range c.TargetRef {
		e.leaf("TargetRef", "", r)
	}
	for _, r := range c.SourceRef {
		e.leaf("SourceRef", "", r)
	}
	if ch := c.Chal; ch != nil {
		e.open("Chal")
		e.meta(&Meta{Format: ch.Format, Type: ch.Type, NextNonce: ch.NextNonce})
		e.close("Chal")
	}
	if c.Data != "" || status || c.Verb == VerbAlert {
		e.leaf("Data", "", c.Data)
	}
	for i := range c.Items {
		e.item(&c.Items[i])
	}
	e.close(c.Verb)
}

// item writes Target, Source, Meta, Data, MoreData (OMA-TS-DM_Protocol §6.5.12).
func (e *encoder) item(it *Item) {
	e.open("Item")
	if it.Target != "" {
		e.loc("Target", it.Target)
	}
	if it.Source != "" {
		e.loc("Source", it.Source)
	}
	e.meta(it.Meta)
	switch {
	case it.DataXML != "":
		if it.Data != "" {
			e.fail("item has both Data and DataXML")
		}
		if err := checkFragment(it.DataXML); err != nil {
			e.fail("item DataXML is not well-formed XML: %w", err)
		}
		e.newline()
		e.buf = append(e.buf, "<Data>"...)
		e.buf = append(e.buf, it.DataXML...)
		e.buf = append(e.buf, "</Data>"...)
	case it.Data != "":
		e.leaf("Data", "", it.Data)
	}
	if it.MoreData {
		e.empty("MoreData")
	}
	e.close("Item")
}

// meta writes a Meta element, each child in syncml:metinf, children in MetInf DTD order:
// Format, Type, Mark, Size, NextNonce, MaxMsgSize, MaxObjSize. Zero sizes are left out.
func (e *encoder) meta(m *Meta) {
	if m == nil {
		return
	}
	e.open("Meta")
	for _, f := range [...]struct{ tag, val string }{
		{"Format", m.Format}, {"Type", m.Type}, {"Mark", m.Mark},
	} {
		if f.val != "" {
			e.leaf(f.tag, metinfNS, f.val)
		}
	}
	e.number("Size", m.Size)
	if m.NextNonce != "" {
		e.leaf("NextNonce", metinfNS, m.NextNonce)
	}
	e.number("MaxMsgSize", m.MaxMsgSize)
	e.number("MaxObjSize", m.MaxObjSize)
	e.close("Meta")
}

func (e *encoder) number(tag string, n int) {
	switch {
	case n < 0:
		e.fail("Meta %s is negative (%d)", tag, n)
	case n > 0:
		e.leaf(tag, metinfNS, strconv.Itoa(n))
	}
}

var (
	errInvalidUTF8 = errors.New("invalid UTF-8")
	errInvalidChar = errors.New("character not allowed in XML")
)

// appendEscaped appends s as XML character data: &, <, > and CR are escaped (CR so it is
// not normalised away; > so "]]>" cannot appear). Characters XML 1.0 cannot carry are an
// error, never silently replaced.
func appendEscaped(dst []byte, s string) ([]byte, error) {
	// Most values (IDs, codes, LocURIs, URLs) are printable ASCII with nothing to escape:
	// append them at once.
	plain := 0
	for plain < len(s) && plainText[s[plain]] {
		plain++
	}
	if plain == len(s) {
		return append(dst, s...), nil
	}
	last := 0
	for i := plain; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 {
				return dst, fmt.Errorf("%w at byte %d", errInvalidUTF8, i)
			}
			if r == 0xFFFE || r == 0xFFFF {
				return dst, fmt.Errorf("%w: %U at byte %d", errInvalidChar, r, i)
			}
			i += n
			continue
		}
		var esc string
		switch c {
		case '&':
			esc = "&amp;"
		case '<':
			esc = "&lt;"
		case '>':
			esc = "&gt;"
		case '\r':
			esc = "&#xD;"
		case '\t', '\n':
		default:
			if c < 0x20 {
				return dst, fmt.Errorf("%w: %#x at byte %d", errInvalidChar, c, i)
			}
		}
		i++
		if esc != "" {
			dst = append(dst, s[last:i-1]...)
			dst = append(dst, esc...)
			last = i
		}
	}
	return append(dst, s[last:]...), nil
}

// plainText marks the bytes appendEscaped copies as they are without looking further:
// printable ASCII other than &, < and >, tab and LF.
var plainText = func() (t [256]bool) {
	for c := 0x20; c < 0x7f; c++ {
		t[c] = c != '&' && c != '<' && c != '>'
	}
	t['\t'], t['\n'] = true, true
	return t
}()

// checkFragment reports whether s is well-formed element content: balanced, matching tags
// and no undefined entities, so writing it inside <Data> keeps the message well-formed.
func checkFragment(s string) error {
	d := xml.NewDecoder(io.MultiReader(strings.NewReader("<x>"), strings.NewReader(s),
		strings.NewReader("</x>")))
	depth := 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			if depth != 0 {
				return errors.New("unclosed element")
			}
			return nil
		}
		if err != nil {
			return err
		}
		switch tok.(type) {
		case xml.StartElement:
			if depth == 0 && d.InputOffset() > 3 {
				return errors.New("closes the enclosing element")
			}
			depth++
		case xml.EndElement:
			depth--
		}
	}
}
