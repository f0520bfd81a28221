package csp

import (
	"strings"
)

// Canonical returns the one spelling hellomdm uses for a LocURI, so that URIs can be compared,
// stored and reported consistently (docs/protocol.md C: "./Vendor/MSFT/Policy/Config/X"
// and "./Device/Vendor/MSFT/Policy/Config/X" are the same node):
//
//   - surrounding white space and trailing "/" are removed;
//   - "./Vendor/..." becomes "./Device/Vendor/..." (no prefix means device scope);
//   - "./Device/...", "./User/...", "./DevInfo/..." and "./DevDetail/..." stay as they are.
//
// Nothing else is rewritten: segments are case-sensitive and empty segments are kept, so an
// invalid LocURI (one not starting with "./", e.g. "/Vendor/...") stays invalid and Lookup
// rejects it.
func Canonical(locURI string) string {
	u := strings.TrimSpace(locURI)
	for len(u) > 2 && strings.HasSuffix(u, "/") {
		u = u[:len(u)-1]
	}
	if u == "./Vendor" || strings.HasPrefix(u, "./Vendor/") {
		return "./Device" + u[1:]
	}
	return u
}

// splitScope splits a canonical URI into its scope and the path below the scope prefix.
func splitScope(uri string) (Scope, string, bool) {
	switch {
	case strings.HasPrefix(uri, "./Device/"):
		return ScopeDevice, uri[len("./Device/"):], true
	case strings.HasPrefix(uri, "./User/"):
		return ScopeUser, uri[len("./User/"):], true
	case strings.HasPrefix(uri, "./") && len(uri) > 2:
		return ScopeUnscoped, uri[2:], true
	}
	return 0, "", false
}

func lastSegment(path string) string {
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		return path[i+1:]
	}
	return path
}

func parentPath(path string) string {
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		return path[:i]
	}
	return ""
}

func isDynamicSegment(s string) bool {
	return len(s) > 2 && s[0] == '{' && s[len(s)-1] == '}' && !strings.ContainsAny(s[1:len(s)-1], "{}/")
}

// varName strips the braces of a dynamic segment: "{TenantId}" → "TenantId".
func varName(seg string) string { return strings.TrimSuffix(strings.TrimPrefix(seg, "{"), "}") }

// validVar checks a concrete value for a dynamic segment pattern such as "{TenantId}".
func validVar(pattern, v string) bool {
	switch varName(pattern) {
	case "TenantId":
		// PassportForWork: the Entra tenant GUID without braces (passportforwork-csp).
		return isGUID(v)
	case "CertHash":
		// CertificateStore: SHA-1 thumbprint in hex (certificatestore-csp).
		return len(v) == 40 && isHex(v)
	}
	if v == "" || len(v) > 255 {
		return false
	}
	for _, r := range v {
		if r <= ' ' || r == 0x7f || strings.ContainsRune("/?#{}", r) {
			return false
		}
	}
	return true
}

// isGUID reports whether s is a GUID in 8-4-4-4-12 hex form without braces.
func isGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch i {
		case 8, 13, 18, 23:
			if s[i] != '-' {
				return false
			}
		default:
			if !isHexByte(s[i]) {
				return false
			}
		}
	}
	return true
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isHexByte(s[i]) {
			return false
		}
	}
	return true
}

func isHexByte(b byte) bool {
	return '0' <= b && b <= '9' || 'a' <= b && b <= 'f' || 'A' <= b && b <= 'F'
}

// Costs of the segment edit distance used by Suggest.
const (
	costCase     = 0.25 // same segment in another letter case
	costBraces   = 0.25 // a dynamic value wrapped in braces, e.g. {GUID} for {TenantId}
	costTypo     = 0.5  // a segment within two character edits of the expected one
	costEdit     = 1.0  // a segment of the input deleted or replaced
	costInsert   = 0.75 // a segment missing from the input: cheaper than dropping the caller's
	suggestLimit = 2.0  // the worst total cost still worth suggesting

	maxSuggestLen      = 1024 // longer input is not worth comparing
	maxSuggestSegments = 24
)

// Suggest proposes the LocURI the caller probably meant when locURI matches no node ("did you
// mean"). It compares segments with an edit distance in which an extra or different segment
// costs 1, a missing one 0.75 (keeping the caller's segments is preferred), a typo (at most two character edits) 0.5 and a letter-case difference
// 0.25, and returns the closest node within a total cost of 2, keeping the caller's values for
// dynamic segments. Example: the PIN reset page prints
// "./Vendor/MSFT/Policy/PassportForWork/<tenant>/Policies/EnablePinRecovery", for which Suggest
// returns "./Device/Vendor/MSFT/PassportForWork/<tenant>/Policies/EnablePinRecovery".
// It returns false if locURI already resolves or nothing is close.
func (c *Catalog) Suggest(locURI string) (string, bool) {
	if _, ok := c.Lookup(locURI); ok {
		return "", false
	}
	if len(locURI) > maxSuggestLen {
		return "", false
	}
	in := suggestSegments(Canonical(locURI))
	if len(in) == 0 || len(in) > maxSuggestSegments {
		return "", false
	}
	best, bestCost := "", suggestLimit+0.001
	for _, n := range c.nodes {
		for _, s := range n.Scopes {
			pat := strings.Split(n.Path, "/")
			if s != ScopeUnscoped {
				pat = append([]string{scopeSegment(s)}, pat...)
			}
			cost, out, ok := alignSegments(in, pat)
			if !ok || cost >= bestCost {
				continue
			}
			cand := "./" + strings.Join(out, "/")
			if _, ok := c.Lookup(cand); !ok {
				continue
			}
			best, bestCost = cand, cost
		}
	}
	return best, best != ""
}

func scopeSegment(s Scope) string {
	if s == ScopeUser {
		return "User"
	}
	return "Device"
}

// suggestSegments splits a LocURI for Suggest, tolerating a missing "./" and a missing scope.
func suggestSegments(uri string) []string {
	uri = strings.TrimPrefix(strings.TrimPrefix(uri, "."), "/")
	if uri == "" {
		return nil
	}
	segs := strings.Split(uri, "/")
	if strings.EqualFold(segs[0], "Vendor") {
		segs = append([]string{"Device"}, segs...)
	}
	return segs
}

// alignSegments computes the segment edit distance between the input and a node pattern and
// returns the input rewritten to the pattern. Patterns' dynamic segments take the input's value;
// a dynamic segment cannot be invented, so inserting one is not allowed.
func alignSegments(in, pat []string) (float64, []string, bool) {
	const inf = 1e9
	n, m := len(in), len(pat)
	d := make([][]float64, n+1)
	for i := range d {
		d[i] = make([]float64, m+1)
	}
	for i := 1; i <= n; i++ {
		d[i][0] = float64(i) * costEdit
	}
	for j := 1; j <= m; j++ {
		d[0][j] = d[0][j-1] + insertCost(pat[j-1])
	}
	for i := 1; i <= n; i++ {
		for j := 1; j <= m; j++ {
			sub, _ := segmentCost(in[i-1], pat[j-1])
			d[i][j] = min(d[i-1][j-1]+sub, d[i-1][j]+costEdit, d[i][j-1]+insertCost(pat[j-1]))
		}
	}
	if d[n][m] >= inf {
		return 0, nil, false
	}
	// Walk back to rebuild the input in the pattern's shape.
	out := make([]string, 0, m)
	for i, j := n, m; j > 0 || i > 0; {
		switch {
		case i > 0 && j > 0 && d[i][j] == d[i-1][j-1]+first(segmentCost(in[i-1], pat[j-1])):
			_, v := segmentCost(in[i-1], pat[j-1])
			out = append(out, v)
			i, j = i-1, j-1
		case i > 0 && d[i][j] == d[i-1][j]+costEdit:
			i--
		default:
			out = append(out, pat[j-1])
			j--
		}
	}
	for l, r := 0, len(out)-1; l < r; l, r = l+1, r-1 {
		out[l], out[r] = out[r], out[l]
	}
	return d[n][m], out, true
}

func first(f float64, _ string) float64 { return f }

func insertCost(pat string) float64 {
	if isDynamicSegment(pat) {
		return 1e9
	}
	return costInsert
}

// segmentCost compares one input segment with one pattern segment and returns the cost and
// the segment to put in the suggestion.
func segmentCost(in, pat string) (float64, string) {
	if isDynamicSegment(pat) {
		switch {
		case validVar(pat, in):
			return 0, in
		case len(in) > 2 && in[0] == '{' && in[len(in)-1] == '}' && validVar(pat, in[1:len(in)-1]):
			return costBraces, in[1 : len(in)-1]
		}
		return 1e9, in
	}
	switch {
	case in == pat:
		return 0, pat
	case strings.EqualFold(in, pat):
		return costCase, pat
	case len(pat) > 3 && abs(len(in)-len(pat)) <= 2 && levenshteinFold(in, pat) <= 2:
		return costTypo, pat
	}
	return costEdit, pat
}

// levenshteinFold is the edit distance between two short strings, comparing bytes with ASCII
// letters folded to lower case. Inputs longer than 62 bytes count as far apart: no catalog
// segment is that long.
func levenshteinFold(a, b string) int {
	const limit = 62
	if len(a) > limit || len(b) > limit {
		return limit
	}
	var prevBuf, curBuf [limit + 1]int
	prev, cur := prevBuf[:len(b)+1], curBuf[:len(b)+1]
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := 1
			if lowerASCII(a[i-1]) == lowerASCII(b[j-1]) {
				c = 0
			}
			cur[j] = min(prev[j-1]+c, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func lowerASCII(b byte) byte {
	if 'A' <= b && b <= 'Z' {
		return b + 'a' - 'A'
	}
	return b
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
