package csp

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Format is a node's DDF format, the value of Meta/Format on the wire (OMA DM TND; MS-MDM 2.2;
// docs/protocol.md B.7).
type Format string

// Formats Windows CSPs use (docs/protocol.md B.7).
const (
	FormatBool Format = "bool"
	FormatInt  Format = "int"
	FormatChr  Format = "chr"
	FormatB64  Format = "b64"
	FormatNode Format = "node" // interior node
	FormatXML  Format = "xml"
	FormatNull Format = "null" // action nodes (Exec)
)

func (f Format) valid() bool {
	switch f {
	case FormatBool, FormatInt, FormatChr, FormatB64, FormatNode, FormatXML, FormatNull:
		return true
	}
	return false
}

// Access is the set of DDF AccessType verbs a node allows (OMA DM TND; each CSP DDF).
type Access uint8

// Access bits.
const (
	AccessAdd Access = 1 << iota
	AccessDelete
	AccessGet
	AccessReplace
	AccessExec
)

// Has reports whether every bit of want is in a.
func (a Access) Has(want Access) bool { return a&want == want }

// String lists the verbs, e.g. "Add,Delete,Get,Replace".
func (a Access) String() string {
	var parts []string
	for _, v := range []struct {
		bit  Access
		name string
	}{{AccessAdd, "Add"}, {AccessDelete, "Delete"}, {AccessGet, "Get"}, {AccessReplace, "Replace"}, {AccessExec, "Exec"}} {
		if a&v.bit != 0 {
			parts = append(parts, v.name)
		}
	}
	return strings.Join(parts, ",")
}

// Scope says under which prefix a node exists (docs/protocol.md C: "./Device" or "./User";
// DevInfo and DevDetail have no scope prefix).
type Scope int

// Scopes.
const (
	ScopeDevice Scope = iota + 1
	ScopeUser
	ScopeUnscoped
)

// String names the scope.
func (s Scope) String() string {
	switch s {
	case ScopeDevice:
		return "device"
	case ScopeUser:
		return "user"
	case ScopeUnscoped:
		return "unscoped"
	}
	return "scope(" + strconv.Itoa(int(s)) + ")"
}

// prefix is the canonical LocURI prefix of the scope.
func (s Scope) prefix() string {
	switch s {
	case ScopeDevice:
		return "./Device/"
	case ScopeUser:
		return "./User/"
	}
	return "./"
}

// Syntax is an extra check on chr values beyond the format.
type Syntax int

// Syntaxes.
const (
	SyntaxNone Syntax = iota
	// SyntaxDomain: each (list) element is a host name without scheme, port or path, e.g.
	// ConfigureWebSignInAllowedUrls (policy-csp-authentication).
	SyntaxDomain
	// SyntaxURL: an absolute https URL, e.g. CertificateStore WSTEP Renew/ServerURL.
	SyntaxURL
)

// Node is one catalog entry: a node of a CSP tree, named by a path pattern.
type Node struct {
	// Path is the pattern without scope prefix, e.g.
	// "Vendor/MSFT/PassportForWork/{TenantId}/Policies/EnablePinRecovery" or "DevInfo/DevId".
	// A segment in braces is dynamic (a name chosen by whoever adds the node).
	Path     string
	Scopes   []Scope // where the node exists
	Format   Format
	Access   Access
	Default  string   // "" if none
	Allowed  []string // enumerated values, if any
	Min, Max *int     // int range, if any
	ListSep  string   // list separator for chr lists, e.g. ";"
	Syntax   Syntax   // extra chr check applied to each list element
	MinOS    string   // minimum OS build, e.g. "10.0.15063"; "" = any
	Editions []int    // allowed OSEdition product types; nil = all
	Dynamic  bool     // the last segment is a dynamic name
	ReadOnly bool     // Access is Get only
	// Description is a short note in hellomdm's words.
	Description string
	// SettingDefinitionIDs are the Intune settings-catalog ids that map onto this node, e.g.
	// "device_vendor_msft_passportforwork_{tenantid}_policies_enablepinrecovery".
	SettingDefinitionIDs []string
}

// Interior reports whether the node is an interior node (Format node).
func (n *Node) Interior() bool { return n.Format == FormatNode }

// Name is the last segment of the pattern.
func (n *Node) Name() string { return lastSegment(n.Path) }

// Parent is the pattern of the parent node ("" for a top-level node).
func (n *Node) Parent() string { return parentPath(n.Path) }

// InScope reports whether the node exists in scope s.
func (n *Node) InScope(s Scope) bool { return slices.Contains(n.Scopes, s) }

// creatable reports whether the interior node exists only after an Add (explicit or
// implicit); interior nodes without Add access exist whenever their parent does.
func (n *Node) creatable() bool { return n.Interior() && n.Access.Has(AccessAdd) }

// Match is the result of resolving a concrete LocURI against the catalog.
type Match struct {
	Node  *Node
	Scope Scope
	Vars  map[string]string // dynamic segment values, e.g. "TenantId" → GUID
	URI   string            // canonical concrete URI
}

type settingRef struct {
	node  *Node
	scope Scope
}

// Catalog is an immutable, validated set of nodes. It is safe for concurrent use.
type Catalog struct {
	nodes     []*Node // sorted by Path
	byPath    map[string]*Node
	children  map[string][]*Node // parent pattern → children, sorted by Path
	dynChild  map[string]*Node   // parent pattern → its dynamic child
	bySetting map[string]settingRef
	roots     []string // coverage roots for InKnownCSP
}

// ErrCatalog is returned by New for an ill-formed table.
var ErrCatalog = errors.New("invalid catalog")

// New validates nodes and builds a catalog. roots are the patterns of the CSP subtrees the
// catalog covers completely (see InKnownCSP); each must be a node of the table.
func New(nodes []Node, roots []string) (*Catalog, error) {
	c := &Catalog{
		byPath:    make(map[string]*Node, len(nodes)),
		children:  make(map[string][]*Node),
		dynChild:  make(map[string]*Node),
		bySetting: make(map[string]settingRef),
	}
	for i := range nodes {
		n := nodes[i] // copy: the catalog owns its nodes
		n.Scopes = slices.Clone(n.Scopes)
		n.Allowed = slices.Clone(n.Allowed)
		n.Editions = slices.Clone(n.Editions)
		n.SettingDefinitionIDs = slices.Clone(n.SettingDefinitionIDs)
		if _, dup := c.byPath[n.Path]; dup {
			return nil, fmt.Errorf("%w: duplicate node %s", ErrCatalog, n.Path)
		}
		c.byPath[n.Path] = &n
		c.nodes = append(c.nodes, &n)
	}
	slices.SortFunc(c.nodes, func(a, b *Node) int { return strings.Compare(a.Path, b.Path) })
	for _, n := range c.nodes {
		if err := c.check(n); err != nil {
			return nil, fmt.Errorf("%w: node %s: %w", ErrCatalog, n.Path, err)
		}
		p := n.Parent()
		c.children[p] = append(c.children[p], n)
		if n.Dynamic {
			if other, ok := c.dynChild[p]; ok {
				return nil, fmt.Errorf("%w: %s and %s are both dynamic children of %s", ErrCatalog, other.Path, n.Path, p)
			}
			c.dynChild[p] = n
		}
		for _, id := range n.SettingDefinitionIDs {
			s, ok := settingScope(id)
			if !ok || !n.InScope(s) {
				return nil, fmt.Errorf("%w: node %s: setting id %q does not name one of its scopes", ErrCatalog, n.Path, id)
			}
			if _, dup := c.bySetting[id]; dup {
				return nil, fmt.Errorf("%w: duplicate setting id %q", ErrCatalog, id)
			}
			c.bySetting[id] = settingRef{node: n, scope: s}
		}
	}
	for _, r := range roots {
		if _, ok := c.byPath[r]; !ok {
			return nil, fmt.Errorf("%w: coverage root %s is not a node", ErrCatalog, r)
		}
	}
	c.roots = slices.Clone(roots)
	return c, nil
}

// check validates one node against the rest of the table.
func (c *Catalog) check(n *Node) error {
	segs, err := checkSegments(n)
	if err != nil {
		return err
	}
	if err := checkAccessAndScopes(n, segs); err != nil {
		return err
	}
	if err := c.checkParent(n); err != nil {
		return err
	}
	if err := checkValueRules(n); err != nil {
		return err
	}
	if strings.TrimSpace(n.Description) == "" {
		return errors.New("no description")
	}
	return nil
}

// checkSegments checks n's path and returns its segments: none empty or padded, {Name}
// segments well formed, and Dynamic set exactly when the last one is {Name}.
func checkSegments(n *Node) ([]string, error) {
	segs := strings.Split(n.Path, "/")
	for _, s := range segs {
		if s == "" || strings.TrimSpace(s) != s {
			return nil, errors.New("empty or padded path segment")
		}
	}
	if n.Dynamic != isDynamicSegment(segs[len(segs)-1]) {
		return nil, errors.New("Dynamic must be set exactly when the last segment is {Name}")
	}
	for _, s := range segs[:len(segs)-1] {
		if strings.ContainsAny(s, "{}") && !isDynamicSegment(s) {
			return nil, fmt.Errorf("malformed segment %q", s)
		}
	}
	return segs, nil
}

// checkAccessAndScopes checks n's format, access and scopes: ReadOnly exactly when Access
// is Get only; nodes outside Vendor/ unscoped, nodes under it device or user.
func checkAccessAndScopes(n *Node, segs []string) error {
	if !n.Format.valid() {
		return fmt.Errorf("invalid format %q", n.Format)
	}
	if n.Access == 0 || n.Access >= AccessExec<<1 {
		return fmt.Errorf("invalid access %d", n.Access)
	}
	if n.ReadOnly != (n.Access == AccessGet) {
		return errors.New("ReadOnly must be set exactly when Access is Get only")
	}
	if len(n.Scopes) == 0 {
		return errors.New("no scope")
	}
	for _, s := range n.Scopes {
		if s != ScopeDevice && s != ScopeUser && s != ScopeUnscoped {
			return fmt.Errorf("invalid scope %d", s)
		}
	}
	if n.InScope(ScopeUnscoped) != (segs[0] != "Vendor") || (n.InScope(ScopeUnscoped) && len(n.Scopes) > 1) {
		return errors.New("nodes outside Vendor/ are unscoped, nodes under Vendor/ are device or user")
	}
	return nil
}

// checkParent checks that a node below the top level has an interior parent in the
// catalog that has every scope of n.
func (c *Catalog) checkParent(n *Node) error {
	p := n.Parent()
	if topLevel(p) {
		return nil
	}
	parent, ok := c.byPath[p]
	if !ok {
		return fmt.Errorf("parent %s missing", p)
	}
	if !parent.Interior() {
		return fmt.Errorf("parent %s is not an interior node", p)
	}
	for _, s := range n.Scopes {
		if !parent.InScope(s) {
			return fmt.Errorf("scope %s not a scope of parent %s", s, p)
		}
	}
	return nil
}

// checkValueRules checks that n's value constraints fit its kind and format (none on an
// interior node, a range only on int, a list separator or syntax only on chr), and that
// its allowed values and default are valid values of it.
func checkValueRules(n *Node) error {
	if n.Interior() && (n.Default != "" || n.Allowed != nil || n.Min != nil || n.Max != nil || n.ListSep != "") {
		return errors.New("interior node with value constraints")
	}
	if n.Format == FormatNull && n.Access&^(AccessExec|AccessGet) != 0 {
		return errors.New("null node must be Exec/Get only")
	}
	if (n.Min != nil || n.Max != nil) && n.Format != FormatInt {
		return errors.New("range on a non-int node")
	}
	if n.Min != nil && n.Max != nil && *n.Min > *n.Max {
		return errors.New("Min > Max")
	}
	if (n.ListSep != "" || n.Syntax != SyntaxNone) && n.Format != FormatChr {
		return errors.New("list separator or syntax on a non-chr node")
	}
	if n.MinOS != "" {
		if _, err := parseVersion(n.MinOS); err != nil {
			return err
		}
	}
	probe := Match{Node: n, Scope: n.Scopes[0], URI: n.Path}
	for _, v := range n.Allowed {
		if _, err := validateFormatted(probe, n.Format, v); err != nil {
			return fmt.Errorf("allowed value %q: %w", v, err)
		}
	}
	if n.Default != "" {
		if _, err := validateFormatted(probe, n.Format, n.Default); err != nil {
			return fmt.Errorf("default %q: %w", n.Default, err)
		}
	}
	return nil
}

// topLevel reports whether a parent pattern is above the catalog: "" (DevInfo, DevDetail) or
// Vendor/MSFT (each CSP root).
func topLevel(parent string) bool { return parent == "" || parent == "Vendor/MSFT" }

// settingScope reads the scope from a settings-catalog id prefix.
func settingScope(id string) (Scope, bool) {
	switch {
	case strings.HasPrefix(id, "device_"):
		return ScopeDevice, true
	case strings.HasPrefix(id, "user_"):
		return ScopeUser, true
	}
	return 0, false
}

// Nodes returns every node, sorted by path. The nodes are shared: do not modify them.
func (c *Catalog) Nodes() []*Node { return slices.Clone(c.nodes) }

// Node returns the node with the given pattern.
func (c *Catalog) Node(pattern string) (*Node, bool) {
	n, ok := c.byPath[pattern]
	return n, ok
}

// Children returns the direct children of a pattern (e.g.
// "Vendor/MSFT/PassportForWork/{TenantId}/Policies"), sorted by path.
func (c *Catalog) Children(pattern string) []*Node {
	return slices.Clone(c.children[strings.TrimSuffix(pattern, "/")])
}

// BySettingDefinitionID finds the node and scope an Intune settings-catalog id maps onto.
// Ids are compared case-insensitively.
func (c *Catalog) BySettingDefinitionID(id string) (*Node, Scope, bool) {
	r, ok := c.bySetting[strings.ToLower(strings.TrimSpace(id))]
	return r.node, r.scope, ok
}

// Lookup resolves a concrete LocURI (any accepted spelling, see Canonical) to its node.
// Dynamic segments match any valid name; {TenantId} must be a GUID without braces and
// {CertHash} a SHA-1 thumbprint in hex.
func (c *Catalog) Lookup(locURI string) (Match, bool) {
	uri := Canonical(locURI)
	scope, rest, ok := splitScope(uri)
	if !ok {
		return Match{}, false
	}
	segs := strings.Split(rest, "/")
	pattern, start := "", 0
	if segs[0] == "Vendor" {
		// Vendor/MSFT is not a node: CSP roots are its static children.
		if len(segs) < 3 || segs[1] != "MSFT" {
			return Match{}, false
		}
		pattern, start = "Vendor/MSFT", 2
	}
	var (
		node *Node
		vars map[string]string
	)
	for _, s := range segs[start:] {
		if s == "" {
			return Match{}, false
		}
		next := s
		if pattern != "" {
			next = pattern + "/" + s
		}
		if n, ok := c.byPath[next]; ok && !n.Dynamic {
			pattern, node = next, n
			continue
		}
		if node == nil {
			return Match{}, false // CSP roots are static
		}
		d, ok := c.dynChild[pattern]
		if !ok || !validVar(d.Name(), s) {
			return Match{}, false
		}
		if vars == nil {
			vars = make(map[string]string)
		}
		vars[varName(d.Name())] = s
		pattern, node = d.Path, d
	}
	if node == nil || !node.InScope(scope) {
		return Match{}, false
	}
	return Match{Node: node, Scope: scope, Vars: vars, URI: uri}, true
}

// InKnownCSP reports whether the LocURI lies under a CSP subtree the catalog covers
// completely (PassportForWork, the Policy Authentication and FederatedAuthentication areas,
// DevInfo, DevDetail, DMClient, CertificateStore, hellomdm). A server uses it to decide
// whether a custom OMA-URI can be validated against the catalog: a URI under a covered root
// that Lookup cannot resolve is a mistake, one outside is simply unknown to hellomdm.
func (c *Catalog) InKnownCSP(locURI string) bool {
	scope, rest, ok := splitScope(Canonical(locURI))
	if !ok {
		return false
	}
	for _, r := range c.roots {
		if (rest == r || strings.HasPrefix(rest, r+"/")) && c.byPath[r].InScope(scope) {
			return true
		}
	}
	return false
}

// Concrete builds the canonical URI of a pattern in a scope with the given dynamic values.
func (c *Catalog) Concrete(pattern string, scope Scope, vars map[string]string) (string, error) {
	segs := strings.Split(pattern, "/")
	for i, s := range segs {
		if isDynamicSegment(s) {
			v, ok := vars[varName(s)]
			if !ok || !validVar(s, v) {
				return "", fmt.Errorf("building %s: %w: missing or invalid value for %s", pattern, ErrUnknownNode, s)
			}
			segs[i] = v
		}
	}
	uri := scope.prefix() + strings.Join(segs, "/")
	if _, ok := c.Lookup(uri); !ok {
		return "", fmt.Errorf("building %s in scope %s: %w", pattern, scope, ErrUnknownNode)
	}
	return uri, nil
}
