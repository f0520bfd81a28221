package csp

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
)

// Env describes the simulated device, for node applicability (Catalog.Applicable).
type Env struct {
	OSVersion string // e.g. "10.0.19045.3803"; "" skips minimum-OS checks
	Edition   int    // OSEdition product type, e.g. EditionPro; 0 skips edition checks
}

// Op is one Item of a command, as a handler sees it.
type Op struct {
	Verb   string
	URI    string // canonical
	Format string
	Type   string
	Data   string
}

// Handler owns a CSP subtree of the device: it supplies live values for read-only nodes and
// applies side effects after writes. Its methods run while the tree is locked: they must not
// call back into the Tree.
type Handler interface {
	// Prefix is the canonical URI of the subtree the handler owns, e.g.
	// "./Device/Vendor/MSFT/PassportForWork/". The longest matching prefix wins.
	Prefix() string
	// Get returns a live value for a read-only node (DevInfo, DevDetail, HelloStatus);
	// ok=false falls back to the stored value. An error answers 500.
	Get(uri string) (value string, ok bool, err error)
	// Changed is called after a write or delete commits in the tree (value "" and
	// deleted=true on Delete, so the handler can apply the node's default; value "" for an
	// interior node). An error answers 500 and undoes the change.
	Changed(uri string, value string, deleted bool) error
}

// Execer is implemented by handlers that own action nodes (Format null, Exec access), such as
// DMClient/Unenroll or CertificateStore WSTEP Renew/RenewNow.
type Execer interface {
	// Exec runs the action. async=true answers 202 (accepted, the result comes later, as
	// Windows does for some actions); an error answers 500.
	Exec(op Op) (async bool, err error)
}

// NodeValue is one stored entry of the tree, for listing (the agent's `device nodes`).
type NodeValue struct {
	URI    string
	Format Format
	Value  string
}

// Tree is the device-side CSP tree: node values by canonical URI, persisted to a JSON state
// file, executing SyncML commands. It is safe for concurrent use.
type Tree struct {
	mu       sync.Mutex
	cat      *Catalog
	path     string
	env      Env
	handlers []Handler // sorted by prefix length, longest first
	prefixes []string  // canonical prefixes, parallel to handlers
	values   map[string]string
	nodes    map[string]bool // interior nodes created by Add (explicitly or implicitly)
}

// stateVersion is the version of the JSON state file layout.
const stateVersion = 1

type stateFile struct {
	Version int               `json:"version"`
	Values  map[string]string `json:"values"`
	Nodes   []string          `json:"nodes"`
}

// NewTree opens a tree. path is the JSON state file ("" keeps state in memory only); a
// missing file starts empty. Stored entries the catalog no longer knows are dropped.
func NewTree(cat *Catalog, path string, env Env, handlers ...Handler) (*Tree, error) {
	if cat == nil {
		return nil, errors.New("opening CSP tree: nil catalog")
	}
	if env.OSVersion != "" {
		if _, err := parseVersion(env.OSVersion); err != nil {
			return nil, fmt.Errorf("opening CSP tree: %w", err)
		}
	}
	t := &Tree{cat: cat, path: path, env: env, values: make(map[string]string), nodes: make(map[string]bool)}
	for _, h := range handlers {
		if h == nil {
			return nil, errors.New("opening CSP tree: nil handler")
		}
		p := Canonical(h.Prefix())
		if _, _, ok := splitScope(p); !ok {
			return nil, fmt.Errorf("opening CSP tree: handler prefix %q is not a LocURI", h.Prefix())
		}
		t.handlers = append(t.handlers, h)
		t.prefixes = append(t.prefixes, p)
	}
	idx := make([]int, len(t.handlers))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return len(t.prefixes[b]) - len(t.prefixes[a]) })
	hs, ps := make([]Handler, len(idx)), make([]string, len(idx))
	for i, j := range idx {
		hs[i], ps[i] = t.handlers[j], t.prefixes[j]
	}
	t.handlers, t.prefixes = hs, ps
	if path != "" {
		if err := t.load(); err != nil {
			return nil, fmt.Errorf("opening CSP tree: %w", err)
		}
	}
	return t, nil
}

func (t *Tree) load() error {
	raw, err := os.ReadFile(t.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading state: %w", err)
	}
	var st stateFile
	if err := json.Unmarshal(raw, &st); err != nil {
		return fmt.Errorf("decoding state %s: %w", t.path, err)
	}
	if st.Version != stateVersion {
		return fmt.Errorf("decoding state %s: unsupported version %d", t.path, st.Version)
	}
	for uri, v := range st.Values {
		if m, ok := t.cat.Lookup(uri); ok && !m.Node.Interior() {
			t.values[m.URI] = v
		}
	}
	for _, uri := range st.Nodes {
		if m, ok := t.cat.Lookup(uri); ok && m.Node.creatable() {
			t.nodes[m.URI] = true
		}
	}
	return nil
}

// save writes the state atomically: a temporary file in the same directory, fsync, rename,
// fsync of the directory. The file mode is 0600.
func (t *Tree) save() error {
	st := stateFile{Version: stateVersion, Values: t.values, Nodes: make([]string, 0, len(t.nodes))}
	for uri := range t.nodes {
		st.Nodes = append(st.Nodes, uri)
	}
	slices.Sort(st.Nodes)
	raw, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding state: %w", err)
	}
	dir := filepath.Dir(t.path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(t.path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("writing state: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after the rename
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("writing state: %w", err)
	}
	if _, err := f.Write(raw); err != nil {
		f.Close()
		return fmt.Errorf("writing state: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("syncing state: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing state: %w", err)
	}
	if err := os.Rename(tmp, t.path); err != nil {
		return fmt.Errorf("replacing state: %w", err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("syncing state directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("syncing state directory: %w", err)
	}
	return nil
}

// handler returns the handler owning uri, or nil.
func (t *Tree) handler(uri string) Handler {
	for i, p := range t.prefixes {
		if uri == p || strings.HasPrefix(uri, p+"/") {
			return t.handlers[i]
		}
	}
	return nil
}

// resolve looks a URI up and checks applicability; a node that does not apply to this device
// is treated as absent, 404 (docs/protocol.md C.6: Windows' status for an edition that
// excludes the node is not confirmed).
func (t *Tree) resolve(uri string) (Match, bool) {
	m, ok := t.cat.Lookup(uri)
	if !ok {
		return Match{}, false
	}
	if err := t.cat.Applicable(m, t.env.OSVersion, t.env.Edition); err != nil {
		return Match{}, false
	}
	return m, true
}

// parentOf returns the parent URI and node of m, or ok=false at the top.
func (t *Tree) parentOf(uri string, n *Node) (string, *Node, bool) {
	if topLevel(n.Parent()) {
		return "", nil, false
	}
	return parentPath(uri), t.cat.byPath[n.Parent()], true
}

// interiorExists: a creatable interior node exists once added; any other interior node exists
// whenever its parent does.
func (t *Tree) interiorExists(uri string, n *Node) bool {
	for {
		if n.creatable() {
			return t.nodes[uri]
		}
		pu, pn, ok := t.parentOf(uri, n)
		if !ok {
			return true
		}
		uri, n = pu, pn
	}
}

// dynamicAncestorsExist reports whether every dynamic ancestor of the node (a {TenantId}
// node, a {ProviderID}...) has been added. A Replace of a leaf needs those; the static
// interior nodes between them and the leaf are created implicitly.
func (t *Tree) dynamicAncestorsExist(uri string, n *Node) bool {
	for {
		pu, pn, ok := t.parentOf(uri, n)
		if !ok {
			return true
		}
		if pn.Dynamic && pn.creatable() && !t.nodes[pu] {
			return false
		}
		uri, n = pu, pn
	}
}

// leafValue returns the current value of a leaf: for Policy Result nodes the effective value
// of the Config twin (set value, else default); for read-only nodes the handler's live value
// if it has one; otherwise the stored value.
func (t *Tree) leafValue(m Match) (string, bool, error) {
	n := m.Node
	if cfg, ok := configPath(m.URI); ok && n.ReadOnly {
		cm, ok := t.cat.Lookup(cfg)
		if !ok {
			return "", false, nil
		}
		if v, ok := t.values[cm.URI]; ok {
			return v, true, nil
		}
		return cm.Node.Default, cm.Node.Default != "", nil
	}
	if n.ReadOnly {
		if h := t.handler(m.URI); h != nil {
			v, ok, err := h.Get(m.URI)
			if err != nil {
				return "", false, fmt.Errorf("reading %s: %w", m.URI, err)
			}
			if ok {
				return v, true, nil
			}
		}
	}
	v, ok := t.values[m.URI]
	return v, ok, nil
}

// childNames lists the existing children of an interior node, sorted and URI-escaped
// (Get on an interior node, OMA DM; docs/protocol.md B.6).
func (t *Tree) childNames(m Match) ([]string, error) {
	set := make(map[string]bool)
	for _, ch := range t.cat.children[m.Node.Path] {
		if ch.Dynamic || !ch.InScope(m.Scope) {
			continue
		}
		cm := Match{Node: ch, Scope: m.Scope, URI: m.URI + "/" + ch.Name()}
		if t.cat.Applicable(cm, t.env.OSVersion, t.env.Edition) != nil {
			continue
		}
		if ch.Interior() {
			if t.interiorExists(cm.URI, ch) {
				set[ch.Name()] = true
			}
			continue
		}
		if _, ok, err := t.leafValue(cm); err != nil {
			return nil, err
		} else if ok {
			set[ch.Name()] = true
		}
	}
	prefix := m.URI + "/"
	add := func(k string) {
		if rest, ok := strings.CutPrefix(k, prefix); ok {
			name, _, _ := strings.Cut(rest, "/")
			set[name] = true
		}
	}
	for k := range t.values {
		add(k)
	}
	for k := range t.nodes {
		add(k)
	}
	names := make([]string, 0, len(set))
	for k := range set {
		names = append(names, url.PathEscape(k))
	}
	slices.Sort(names)
	return names, nil
}

// Value returns the current value of a node, as a Get would see it: for an interior node the
// child names joined by "/". ok is false if the node is unknown, not applicable or unset.
func (t *Tree) Value(uri string) (string, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	m, ok := t.resolve(uri)
	if !ok {
		return "", false
	}
	if m.Node.Interior() {
		if !t.interiorExists(m.URI, m.Node) {
			return "", false
		}
		names, err := t.childNames(m)
		if err != nil {
			return "", false
		}
		return strings.Join(names, "/"), true
	}
	v, ok, err := t.leafValue(m)
	if err != nil {
		return "", false
	}
	return v, ok
}

// Nodes lists the stored entries (leaf values and created interior nodes), sorted by URI.
// Live values of read-only nodes and Policy Result values are not stored and not listed.
func (t *Tree) Nodes() []NodeValue {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]NodeValue, 0, len(t.values)+len(t.nodes))
	for uri, v := range t.values {
		f := FormatChr
		if m, ok := t.cat.Lookup(uri); ok {
			f = m.Node.Format
		}
		out = append(out, NodeValue{URI: uri, Format: f, Value: v})
	}
	for uri := range t.nodes {
		out = append(out, NodeValue{URI: uri, Format: FormatNode})
	}
	slices.SortFunc(out, func(a, b NodeValue) int { return strings.Compare(a.URI, b.URI) })
	return out
}

// Set stores a value locally, as the device itself does when it applies its provisioning
// document or records its own state: access types are not checked, handlers are not called,
// missing interior parents are created, and the state is saved. The value must be valid for
// the node's format; for an interior node value must be "" and the node is created.
func (t *Tree) Set(uri, value string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	m, ok := t.cat.Lookup(uri)
	if !ok {
		return &NodeError{URI: Canonical(uri), Err: ErrUnknownNode, Reason: "no such node in the catalog"}
	}
	if err := t.cat.Applicable(m, t.env.OSVersion, t.env.Edition); err != nil {
		return fmt.Errorf("setting %s: %w", m.URI, err)
	}
	norm, err := validateFormatted(m, m.Node.Format, value)
	if err != nil {
		return fmt.Errorf("setting %s: %w", m.URI, err)
	}
	var j journal
	t.createParents(&j, m)
	if m.Node.Interior() {
		if m.Node.creatable() && !t.nodes[m.URI] {
			t.addNode(&j, m.URI)
		}
	} else {
		t.setValue(&j, m.URI, norm)
	}
	if len(j.changes) == 0 || t.path == "" {
		return nil
	}
	if err := t.save(); err != nil {
		t.undo(&j, 0)
		return fmt.Errorf("setting %s: %w", m.URI, err)
	}
	return nil
}
