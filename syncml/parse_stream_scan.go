package syncml

import "encoding/xml"

// scanFast decodes the common case without encoding/xml: a well-formed body of printable
// ASCII, tabs and newlines, with elements and attributes (name="value" or name='value', one
// optional prefix per name) and text free of '&', '>' and '\r', and nothing else (no
// comments, CDATA, processing instructions or declarations). On that subset RawToken
// yields exactly the tokens scanFast feeds to start, charData and endElement: the text is
// the raw bytes (no references to expand, no CR to normalise) and names split at their
// colon. ok is false as soon as the input leaves the subset or is not well-formed or nests
// deeper than the limit; run then starts again from a clean state with RawToken, which
// gives the exact error, so every refusal scanFast returns itself is a semantic one.
//
// The body is copied once into a string, and every name and value is a cut of it: no
// allocation per element or value. A parsed Message therefore keeps that copy alive while
// any of its strings is (the body's size, once).
func (s *streamParser) scanFast() (m *Message, err error, ok bool) {
	s.str = string(s.src)
	b := s.str
	for i := 0; i < len(b); {
		if b[i] != '<' {
			j, ok := scanText(b, i)
			if !ok {
				return nil, nil, false
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
		// Attributes are only read on the root (its namespace); elsewhere they are
		// checked and dropped, as the reference never looks at them.
		attrs, k, empty, ok := scanAttrs(b, k, len(s.stack) == 1)
		if !ok || len(s.stack) > s.limits.MaxDepth {
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

// scanText returns the end of the character data that starts at b[i] (the next '<' or the
// end of b); ok is false if the text holds a byte outside scanFast's subset.
func scanText(b string, i int) (j int, ok bool) {
	for j = i; j < len(b) && b[j] != '<'; j++ {
		if c := b[j]; c != '\t' && c != '\n' && (c < 0x20 || c > 0x7e || c == '&' || c == '>') {
			return j, false
		}
	}
	return j, true
}

// scanAttrs reads the rest of a start tag from b[k], just after its name: the attributes
// and the closing '>' or '/>'. It returns the attributes if keep is set, the index after
// the tag, and whether the tag was an empty-element one; ok is false if the tag is not
// in scanFast's subset.
func scanAttrs(b string, k int, keep bool) (attrs []xml.Attr, end int, empty, ok bool) {
	for {
		if k >= len(b) {
			return nil, k, false, false
		}
		switch b[k] {
		case '>':
			return attrs, k + 1, false, true
		case '/':
			if k+1 >= len(b) || b[k+1] != '>' {
				return nil, k, false, false
			}
			return attrs, k + 2, true, true
		case ' ', '\t', '\n':
		default:
			return nil, k, false, false
		}
		for k < len(b) && (b[k] == ' ' || b[k] == '\t' || b[k] == '\n') {
			k++
		}
		if k < len(b) && (b[k] == '>' || b[k] == '/') {
			continue
		}
		aspace, alocal, e := scanName(b, k)
		if e < 0 || e+1 >= len(b) || b[e] != '=' || (b[e+1] != '"' && b[e+1] != '\'') {
			return nil, k, false, false
		}
		q := b[e+1]
		v := e + 2
		for v < len(b) && b[v] != q {
			if c := b[v]; c < 0x20 || c > 0x7e || c == '<' || c == '&' {
				return nil, k, false, false
			}
			v++
		}
		if v >= len(b) {
			return nil, k, false, false
		}
		if keep {
			attrs = append(attrs, xml.Attr{Name: xml.Name{Space: aspace, Local: alocal}, Value: b[e+2 : v]})
		}
		k = v + 1
	}
}

// scanName reads an ASCII XML name at b[i:] ([A-Za-z_][A-Za-z0-9_.-]*, optionally twice
// joined by one colon: a prefix and a local name) and returns it split as encoding/xml
// splits it, and the index after it; k is -1 if there is no such name.
func scanName(b string, i int) (space, local string, k int) {
	k = namePart(b, i)
	if k < 0 || k >= len(b) || b[k] != ':' {
		return "", b[i:max(k, i)], k
	}
	colon := k
	if k = namePart(b, colon+1); k < 0 {
		return "", "", -1
	}
	return b[i:colon], b[colon+1 : k], k
}

// namePart returns the end of the name part ([A-Za-z_][A-Za-z0-9_.-]*) at b[i:], or -1.
func namePart(b string, i int) int {
	if i >= len(b) || nameByte[b[i]] != nameStartByte {
		return -1
	}
	for i++; i < len(b) && nameByte[b[i]] != 0; i++ {
	}
	return i
}

// nameByte classifies the bytes of scanFast's names: nameStartByte may begin a name part,
// nameRestByte only continue one, 0 neither.
const (
	nameStartByte = 1 + iota
	nameRestByte
)

var nameByte = func() (t [256]uint8) {
	for c := 0; c < 256; c++ {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_':
			t[c] = nameStartByte
		case c >= '0' && c <= '9', c == '.', c == '-':
			t[c] = nameRestByte
		}
	}
	return t
}()
