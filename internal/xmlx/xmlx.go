// Package xmlx reads etree documents by local name, whatever the prefixes and default
// namespaces a sender chose (protocol.md: "Parse every incoming XML by local name"). The
// enrollment server and the device agent read MS-MDE2 SOAP and provisioning documents with
// it. Every function accepts a nil element.
package xmlx

import (
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
