// Package xmlx reads etree documents by local name, whatever the prefixes and default
// namespaces a sender chose (docs/protocol.md E.1). The MS-MDE2 codec (enrollment/mde2),
// shared by the enrollment server and the device agent, reads SOAP and provisioning
// documents with it. Every function accepts a nil element.
package xmlx

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/beevik/etree"
)

// Child returns the first child element of e with the given local name, or nil.
func Child(e *etree.Element, local string) *etree.Element {
	if e == nil {
		return nil
	}
	for _, c := range e.ChildElements() {
		if c.Tag == local {
			return c
		}
	}
	return nil
}

// Children returns the child elements of e with the given local name.
func Children(e *etree.Element, local string) []*etree.Element {
	if e == nil {
		return nil
	}
	var out []*etree.Element
	for _, c := range e.ChildElements() {
		if c.Tag == local {
			out = append(out, c)
		}
	}
	return out
}

// Text is the trimmed text of e, "" for nil.
func Text(e *etree.Element) string {
	if e == nil {
		return ""
	}
	return strings.TrimSpace(e.Text())
}

// Attr returns the trimmed value of e's attribute with the given local name, whatever its
// prefix, or "".
func Attr(e *etree.Element, local string) string {
	if e == nil {
		return ""
	}
	for _, a := range e.Attr {
		if a.Key == local {
			return strings.TrimSpace(a.Value)
		}
	}
	return ""
}

// ErrUnsupportedEncoding is what UTF8Only fails with.
var ErrUnsupportedEncoding = errors.New("unsupported encoding: only UTF-8 is accepted")

// UTF8Only is the CharsetReader of every parser of network XML (etree.ReadSettings, and
// through it encoding/xml). encoding/xml calls it only when the XML declaration names an
// encoding other than UTF-8 (compared without case), so a body without a declaration or
// declaring UTF-8/utf-8 never reaches it. Every other declaration is refused instead of
// read as if it were UTF-8 (etree's default CharsetReader passes the bytes through
// unconverted): hellomdm decodes no other encoding, and XML 1.0 §4.3.3 (Character Encoding
// in Entities) makes an encoding the processor cannot process a fatal error.
func UTF8Only(label string, _ io.Reader) (io.Reader, error) {
	return nil, fmt.Errorf("%w (the body declares %q)", ErrUnsupportedEncoding, label)
}
