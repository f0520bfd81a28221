package syncml

import "bytes"

// Limits bound what Parse accepts. A zero field means the default.
type Limits struct {
	MaxBytes int // body length limit; default DefaultMaxMessageBytes
	MaxDepth int // element nesting limit, the root counting as 1; default DefaultMaxDepth
}

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxMessageBytes
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	return l
}

// Parse decodes one SyncML DM message with the default Limits. Every rejection is a
// *ParseError.
func Parse(b []byte) (*Message, error) {
	return ParseWithLimits(b, Limits{})
}

// ParseWithLimits decodes one SyncML DM message (MS-MDM 2.2.1). Elements are matched by
// local name; only the root's namespace is checked. Unknown elements inside the header,
// commands, Items and Meta are ignored; unknown elements directly under SyncBody, Atomic
// or Sequence are rejected. Scalar values are trimmed of XML whitespace; Item Data text is
// kept verbatim. Every rejection is a *ParseError.
//
// It runs the streaming decoder (parseStream): the management endpoint and the device
// agent parse every message with it. The etree-based parseDOM stays as its reference;
// FuzzParseStreamMatchesDOM holds the two to the same messages and the same refusals.
func ParseWithLimits(b []byte, l Limits) (*Message, error) {
	return parseStream(b, l)
}

// precheck applies the checks both decoders make before reading any XML: the size limit,
// an empty body, and the depth pre-scan.
func precheck(b []byte, l Limits) error {
	if err := precheckSize(b, l); err != nil {
		return err
	}
	return precheckDepth(b, l)
}

// precheckSize is the size limit and the empty body.
func precheckSize(b []byte, l Limits) error {
	if len(b) > l.MaxBytes {
		return parseErr(KindTooLarge, "message is %d bytes, limit is %d", len(b), l.MaxBytes)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return parseErr(KindMalformed, "empty body")
	}
	return nil
}

// precheckDepth is the depth pre-scan.
func precheckDepth(b []byte, l Limits) error {
	if depth := maxDepth(b, l.MaxDepth); depth > l.MaxDepth {
		return parseErr(KindTooDeep, "elements nest deeper than %d", l.MaxDepth)
	}
	return nil
}

// maxDepth returns the element nesting depth of b, stopping early once it exceeds limit.
// It is exact for well-formed XML (start tags, end tags, empty-element tags, comments,
// CDATA sections, processing instructions and DOCTYPE declarations are recognised); for
// anything else the XML decoder fails afterwards. It runs before any tree is built so a
// deeply nested body costs one linear scan and no allocation.
func maxDepth(b []byte, limit int) int {
	depth, deepest := 0, 0
	for i := 0; i < len(b); {
		j := bytes.IndexByte(b[i:], '<')
		if j < 0 {
			break
		}
		i += j + 1
		if i >= len(b) {
			break
		}
		switch rest := b[i:]; rest[0] {
		case '!':
			switch {
			case bytes.HasPrefix(rest, []byte("!--")):
				i = skipPast(b, i+3, "-->")
			case bytes.HasPrefix(rest, []byte("![CDATA[")):
				i = skipPast(b, i+8, "]]>")
			default:
				i = skipDirective(b, i+1)
			}
			continue
		case '?':
			i = skipPast(b, i+1, "?>")
			continue
		case '/':
			depth--
			i = skipPast(b, i+1, ">")
			continue
		}
		// A start or empty-element tag.
		end, selfClosing := skipTag(b, i)
		i = end
		if depth+1 > deepest {
			deepest = depth + 1
			if deepest > limit {
				return deepest
			}
		}
		if !selfClosing {
			depth++
		}
	}
	return deepest
}

// skipPast returns the index just after the first occurrence of end at or after i, or
// len(b).
func skipPast(b []byte, i int, end string) int {
	if i > len(b) {
		return len(b)
	}
	k := bytes.Index(b[i:], []byte(end))
	if k < 0 {
		return len(b)
	}
	return i + k + len(end)
}

// skipTag skips a start or empty-element tag whose name begins at i, honouring quoted
// attribute values (which may contain '>').
func skipTag(b []byte, i int) (end int, selfClosing bool) {
	var quote byte
	for ; i < len(b); i++ {
		c := b[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '>':
			return i + 1, i > 0 && b[i-1] == '/'
		}
	}
	return len(b), false
}

// skipDirective skips a <!...> declaration such as DOCTYPE with an internal subset,
// balancing nested angle brackets outside quotes.
func skipDirective(b []byte, i int) int {
	var quote byte
	nest := 1
	for ; i < len(b); i++ {
		c := b[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '<':
			nest++
		case c == '>':
			nest--
			if nest == 0 {
				return i + 1
			}
		}
	}
	return len(b)
}

func isVerb(tag string) bool {
	switch tag {
	case VerbAlert, VerbStatus, VerbResults, VerbGet, VerbAdd, VerbReplace, VerbDelete,
		VerbExec, VerbAtomic, VerbSequence:
		return true
	}
	return false
}

func isContainer(verb string) bool { return verb == VerbAtomic || verb == VerbSequence }

// requiredChildren checks the children a command of this verb must have, once all of them
// are read: Status needs CmdRef, Cmd and Data; Results needs CmdRef; Alert needs Data.
// Both decoders apply it after the CmdID checks.
func requiredChildren(verb, cmdID string, hasCmdRef, hasCmd, hasData bool) error {
	switch verb {
	case VerbStatus:
		switch {
		case !hasCmdRef:
			return parseErr(KindMissingField, "Status %s has no CmdRef", cmdID)
		case !hasCmd:
			return parseErr(KindMissingField, "Status %s has no Cmd", cmdID)
		case !hasData:
			return parseErr(KindMissingField, "Status %s has no Data", cmdID)
		}
	case VerbResults:
		if !hasCmdRef {
			return parseErr(KindMissingField, "Results %s has no CmdRef", cmdID)
		}
	case VerbAlert:
		if !hasData {
			return parseErr(KindMissingField, "Alert %s has no Data", cmdID)
		}
	}
	return nil
}
