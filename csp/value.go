package csp

import (
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// Errors reported about nodes and values. They are wrapped in *NodeError, which names the node;
// test with errors.Is.
var (
	// ErrUnknownNode: the LocURI matches no node of the catalog.
	ErrUnknownNode = errors.New("node not in catalog")
	// ErrFormat: the format is not the node's, or the data does not parse as it (SyncML 415).
	ErrFormat = errors.New("wrong format")
	// ErrValue: the data parses but is out of range or not allowed (SyncML 400 on the agent).
	ErrValue = errors.New("value not allowed")
	// ErrNotApplicable: the node needs a later OS build or another edition.
	ErrNotApplicable = errors.New("node not applicable")
	// ErrVersion: an OS version string is not dotted decimal numbers.
	ErrVersion = errors.New("invalid OS version")
)

// NodeError says which node a value or applicability problem concerns.
type NodeError struct {
	URI    string // the concrete URI, or the pattern when no URI is known
	Err    error  // one of the Err* sentinels
	Reason string // what exactly is wrong, for admins
}

func (e *NodeError) Error() string {
	return fmt.Sprintf("node %s: %v: %s", e.URI, e.Err, e.Reason)
}

func (e *NodeError) Unwrap() error { return e.Err }

func nodeErr(m Match, err error, format string, args ...any) error {
	uri := m.URI
	if uri == "" && m.Node != nil {
		uri = m.Node.Path
	}
	return &NodeError{URI: uri, Err: err, Reason: fmt.Sprintf(format, args...)}
}

// ValidateValue checks value, sent with Meta Format format ("" means chr, the OMA DM default),
// against the node of m and returns it normalized:
//
//   - the format must be the node's, else ErrFormat;
//   - bool accepts true/false in any letter case and normalizes to lower case (docs/protocol.md
//     B.7); anything else, including 1/0, is ErrFormat;
//   - int must be decimal (ErrFormat otherwise) and within the node's range and allowed values
//     (ErrValue);
//   - chr must be an allowed value if the node enumerates them; list nodes are split on their
//     separator, each element trimmed and non-empty, and domain lists such as
//     ConfigureWebSignInAllowedUrls accept host names only: no scheme, port or path (ErrValue);
//   - b64 must decode (white space is removed), xml must be well formed (ErrFormat).
func (c *Catalog) ValidateValue(m Match, format Format, value string) (string, error) {
	if m.Node == nil {
		return "", &NodeError{URI: m.URI, Err: ErrUnknownNode, Reason: "no node"}
	}
	return validateFormatted(m, format, value)
}

func validateFormatted(m Match, format Format, value string) (string, error) {
	n := m.Node
	if format == "" {
		format = FormatChr
	}
	format = Format(strings.ToLower(string(format)))
	if format != n.Format {
		return "", nodeErr(m, ErrFormat, "node format is %s, got %s", n.Format, format)
	}
	switch n.Format {
	case FormatBool:
		switch {
		case strings.EqualFold(value, "true"):
			return "true", nil
		case strings.EqualFold(value, "false"):
			return "false", nil
		}
		return "", nodeErr(m, ErrFormat, "bool must be true or false, got %q", clip(value))
	case FormatInt:
		return validateInt(m, value)
	case FormatChr:
		return validateChr(m, value)
	case FormatB64:
		clean := strings.Map(func(r rune) rune {
			if r == ' ' || r == '\t' || r == '\r' || r == '\n' {
				return -1
			}
			return r
		}, value)
		if clean == "" {
			return "", nodeErr(m, ErrValue, "empty b64 value")
		}
		if _, err := base64.StdEncoding.DecodeString(clean); err != nil {
			return "", nodeErr(m, ErrFormat, "not base64: %v", err)
		}
		return clean, nil
	case FormatXML:
		if err := wellFormed(value); err != nil {
			return "", nodeErr(m, ErrFormat, "not well-formed XML: %v", err)
		}
		return value, nil
	case FormatNull:
		return "", nil
	case FormatNode:
		if value != "" {
			return "", nodeErr(m, ErrValue, "an interior node takes no data")
		}
		return "", nil
	}
	return "", nodeErr(m, ErrFormat, "unsupported format %s", n.Format)
}

func validateInt(m Match, value string) (string, error) {
	n := m.Node
	v, err := strconv.Atoi(value)
	if err != nil {
		return "", nodeErr(m, ErrFormat, "int must be a decimal number, got %q", clip(value))
	}
	norm := strconv.Itoa(v)
	if n.Allowed != nil && !slices.Contains(n.Allowed, norm) {
		return "", nodeErr(m, ErrValue, "%d is not one of %s", v, strings.Join(n.Allowed, ", "))
	}
	if n.Min != nil && v < *n.Min || n.Max != nil && v > *n.Max {
		return "", nodeErr(m, ErrValue, "%d is outside %s", v, rangeText(n))
	}
	return norm, nil
}

func rangeText(n *Node) string {
	switch {
	case n.Min != nil && n.Max != nil:
		return fmt.Sprintf("%d–%d", *n.Min, *n.Max)
	case n.Min != nil:
		return fmt.Sprintf("%d or more", *n.Min)
	case n.Max != nil:
		return fmt.Sprintf("%d or less", *n.Max)
	}
	return "any"
}

func validateChr(m Match, value string) (string, error) {
	n := m.Node
	if n.Allowed != nil {
		if !slices.Contains(n.Allowed, value) {
			return "", nodeErr(m, ErrValue, "%q is not one of %s", clip(value), strings.Join(n.Allowed, ", "))
		}
		return value, nil
	}
	if n.ListSep == "" {
		if n.Syntax == SyntaxNone {
			return value, nil
		}
		return checkSyntax(m, strings.TrimSpace(value))
	}
	parts := strings.Split(value, n.ListSep)
	out := make([]string, 0, len(parts))
	for i, p := range parts {
		p = strings.TrimSpace(p)
		if p == "" {
			if i == len(parts)-1 && i > 0 {
				continue // tolerate one trailing separator
			}
			return "", nodeErr(m, ErrValue, "element %d of the %q-separated list is empty", i+1, n.ListSep)
		}
		norm, err := checkSyntax(m, p)
		if err != nil {
			return "", err
		}
		out = append(out, norm)
	}
	return strings.Join(out, n.ListSep), nil
}

func checkSyntax(m Match, v string) (string, error) {
	switch m.Node.Syntax {
	case SyntaxDomain:
		if reason := domainProblem(v); reason != "" {
			return "", nodeErr(m, ErrValue, "%q is not a host name: %s", clip(v), reason)
		}
		return strings.ToLower(v), nil
	case SyntaxURL:
		u, err := url.Parse(v)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			return "", nodeErr(m, ErrValue, "%q is not an absolute https URL", clip(v))
		}
		return v, nil
	}
	if v == "" {
		return "", nodeErr(m, ErrValue, "empty value")
	}
	return v, nil
}

// domainProblem says why s is not a plain DNS host name, or "" if it is one.
// ConfigureWebSignInAllowedUrls takes domains such as signin.contoso.com
// (policy-csp-authentication).
func domainProblem(s string) string {
	switch {
	case strings.Contains(s, "://"):
		return "remove the scheme (https://)"
	case strings.ContainsAny(s, "/?#"):
		return "remove the path"
	case strings.Contains(s, ":"):
		return "remove the port"
	case len(s) > 253:
		return "longer than 253 characters"
	}
	for _, label := range strings.Split(strings.TrimSuffix(s, "."), ".") {
		if label == "" || len(label) > 63 {
			return "empty or over-long label"
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return "label starts or ends with a hyphen"
		}
		for i := 0; i < len(label); i++ {
			b := label[i]
			if !('a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || b == '-') {
				return fmt.Sprintf("character %q not allowed", b)
			}
		}
	}
	return ""
}

// wellFormed reports whether s is well-formed XML with at least one element.
func wellFormed(s string) error {
	d := xml.NewDecoder(strings.NewReader(s))
	elements := 0
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if _, ok := tok.(xml.StartElement); ok {
			elements++
		}
	}
	if elements == 0 {
		return errors.New("no element")
	}
	return nil
}

// clip shortens a value quoted in an error message.
func clip(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}

// Applicable checks the node of m, and its ancestors, against the device's OS version (e.g.
// "10.0.19045.3803"; compared numerically part by part) and OSEdition product type (e.g. 101
// Home, 48 Pro, 4 Enterprise). An empty osVersion or edition 0 skips that check. It returns a
// *NodeError wrapping ErrNotApplicable with the reason, or ErrVersion for a malformed version.
func (c *Catalog) Applicable(m Match, osVersion string, edition int) error {
	if m.Node == nil {
		return &NodeError{URI: m.URI, Err: ErrUnknownNode, Reason: "no node"}
	}
	var have []int
	if osVersion != "" {
		v, err := parseVersion(osVersion)
		if err != nil {
			return fmt.Errorf("checking %s: %w", m.URI, err)
		}
		have = v
	}
	for p := m.Node.Path; p != ""; p = parentPath(p) {
		n, ok := c.byPath[p]
		if !ok {
			continue
		}
		if have != nil && n.MinOS != "" {
			need, err := parseVersion(n.MinOS)
			if err != nil {
				return fmt.Errorf("checking %s: %w", m.URI, err)
			}
			if compareVersions(have, need) < 0 {
				return nodeErr(m, ErrNotApplicable, "needs Windows %s or later, device runs %s", n.MinOS, osVersion)
			}
		}
		if edition != 0 && n.Editions != nil && !slices.Contains(n.Editions, edition) {
			return nodeErr(m, ErrNotApplicable, "not available on edition %d (%s)", edition, EditionName(edition))
		}
	}
	return nil
}

// parseVersion parses a dotted decimal version such as "10.0.17134.2145".
func parseVersion(s string) ([]int, error) {
	parts := strings.Split(s, ".")
	if len(parts) > 8 {
		return nil, fmt.Errorf("%w: %q", ErrVersion, clip(s))
	}
	out := make([]int, len(parts))
	for i, p := range parts {
		v, err := strconv.Atoi(p)
		if err != nil || v < 0 || p == "" || p[0] == '+' {
			return nil, fmt.Errorf("%w: %q", ErrVersion, clip(s))
		}
		out[i] = v
	}
	return out, nil
}

// compareVersions compares part by part; missing parts count as 0.
func compareVersions(a, b []int) int {
	for i := 0; i < max(len(a), len(b)); i++ {
		var x, y int
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}

// CompareVersions compares two dotted OS versions numerically ("10.0.9" < "10.0.10").
func CompareVersions(a, b string) (int, error) {
	x, err := parseVersion(a)
	if err != nil {
		return 0, err
	}
	y, err := parseVersion(b)
	if err != nil {
		return 0, err
	}
	return compareVersions(x, y), nil
}
