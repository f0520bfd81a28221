package csp

import (
	"errors"
	"slices"
	"strings"

	"github.com/hellomdm/hellomdm/syncml"
)

// Outcome is the result of one command, or of one Item of a command with several Items: the
// Status to send (CmdRef CmdID, Cmd Verb, Data Status, TargetRef) and, for Get, the Results
// items.
type Outcome struct {
	CmdID     string
	Verb      string
	Status    int
	TargetRef string
	Results   []syncml.Item
}

// change is one journaled mutation of the tree, so a command or an Atomic can be undone.
type change struct {
	uri      string
	interior bool
	hadOld   bool
	old      string
	notified bool // the handler has seen the change and must see its undo
	child    int  // index of the Atomic child that made it
}

type journal struct {
	changes []change
	child   int
}

func (t *Tree) setValue(j *journal, uri, v string) {
	old, had := t.values[uri]
	j.changes = append(j.changes, change{uri: uri, hadOld: had, old: old, child: j.child})
	t.values[uri] = v
}

func (t *Tree) deleteValue(j *journal, uri string) {
	old, had := t.values[uri]
	j.changes = append(j.changes, change{uri: uri, hadOld: had, old: old, child: j.child})
	delete(t.values, uri)
}

func (t *Tree) addNode(j *journal, uri string) {
	j.changes = append(j.changes, change{uri: uri, interior: true, hadOld: t.nodes[uri], child: j.child})
	t.nodes[uri] = true
}

func (t *Tree) deleteNode(j *journal, uri string) {
	j.changes = append(j.changes, change{uri: uri, interior: true, hadOld: t.nodes[uri], child: j.child})
	delete(t.nodes, uri)
}

// current returns the state a journaled URI has now, for Changed.
func (t *Tree) current(c change) (string, bool) {
	if c.interior {
		return "", t.nodes[c.uri]
	}
	v, ok := t.values[c.uri]
	return v, ok
}

// notify tells the handlers about the changes from index from on.
func (t *Tree) notify(j *journal, from int) error {
	for i := from; i < len(j.changes); i++ {
		c := &j.changes[i]
		if h := t.handler(c.uri); h != nil {
			v, exists := t.current(*c)
			if err := h.Changed(c.uri, v, !exists); err != nil {
				return err
			}
		}
		c.notified = true
	}
	return nil
}

// undo reverts the changes from index from on, newest first, telling handlers that saw a
// change about its reversal. It returns the Atomic children whose reversal a handler refused.
func (t *Tree) undo(j *journal, from int) map[int]bool {
	var failed map[int]bool
	for i := len(j.changes) - 1; i >= from; i-- {
		c := j.changes[i]
		switch {
		case c.interior && c.hadOld:
			t.nodes[c.uri] = true
		case c.interior:
			delete(t.nodes, c.uri)
		case c.hadOld:
			t.values[c.uri] = c.old
		default:
			delete(t.values, c.uri)
		}
		if !c.notified {
			continue
		}
		if h := t.handler(c.uri); h != nil {
			v := c.old
			if c.interior {
				v = ""
			}
			if err := h.Changed(c.uri, v, !c.hadOld); err != nil {
				if failed == nil {
					failed = make(map[int]bool)
				}
				failed[c.child] = true
			}
		}
	}
	j.changes = j.changes[:from]
	return failed
}

// Execute runs one SyncBody command (Get, Add, Replace, Delete, Exec, Atomic, Sequence) and
// returns the outcomes to report, the command's own first, then its children's. Status and
// Results are responses and produce nothing; other verbs answer 400. Any change is saved
// before Execute returns; if saving fails the change is undone and reported as failed, so a
// success is only reported for what is durable.
func (t *Tree) Execute(cmd syncml.Command) []Outcome {
	t.mu.Lock()
	defer t.mu.Unlock()
	var j journal
	outs := t.run(cmd, &j, false)
	if len(j.changes) == 0 || t.path == "" {
		return outs
	}
	if err := t.save(); err != nil {
		t.undo(&j, 0)
		for i := range outs {
			switch {
			case i == 0 && outs[i].Verb == syncml.VerbAtomic:
				outs[i].Status = syncml.StatusAtomicFailed
			case !success(outs[i].Status):
			case cmd.Verb == syncml.VerbAtomic:
				outs[i].Status = syncml.StatusAtomicRollbackOK
			default:
				outs[i].Status = syncml.StatusCommandFailed
			}
		}
	}
	return outs
}

func success(code int) bool { return code == syncml.StatusOK || code == syncml.StatusAccepted }

func anyFailed(outs []Outcome) bool {
	for _, o := range outs {
		if !success(o.Status) {
			return true
		}
	}
	return false
}

func (t *Tree) run(cmd syncml.Command, j *journal, inAtomic bool) []Outcome {
	switch cmd.Verb {
	case syncml.VerbGet, syncml.VerbAdd, syncml.VerbReplace, syncml.VerbDelete, syncml.VerbExec:
		if len(cmd.Items) == 0 {
			return []Outcome{{CmdID: cmd.CmdID, Verb: cmd.Verb, Status: syncml.StatusBadRequest}}
		}
		outs := make([]Outcome, 0, len(cmd.Items))
		for _, it := range cmd.Items {
			o := Outcome{CmdID: cmd.CmdID, Verb: cmd.Verb, TargetRef: it.Target}
			if inAtomic && cmd.Verb == syncml.VerbGet {
				// Get is not allowed inside Atomic (OMA DM; docs/protocol.md B.6).
				o.Status = syncml.StatusCommandFailed
			} else {
				o.Status, o.Results = t.item(cmd, it, j)
			}
			outs = append(outs, o)
		}
		return outs
	case syncml.VerbAtomic:
		if inAtomic {
			// Nested Atomic: inner 500, the outer one fails (docs/protocol.md B.6).
			outs := []Outcome{{CmdID: cmd.CmdID, Verb: cmd.Verb, Status: syncml.StatusCommandFailed}}
			for _, ch := range cmd.Commands {
				outs = append(outs, notRun(ch, syncml.StatusAtomicRollbackOK)...)
			}
			return outs
		}
		return t.atomic(cmd, j)
	case syncml.VerbSequence:
		return t.sequence(cmd, j, inAtomic)
	case syncml.VerbStatus, syncml.VerbResults:
		return nil
	}
	// Anything else is not a command the tree executes (OMA DM: 400 for an element that is
	// not a command under SyncBody, Atomic or Sequence; docs/protocol.md C.6).
	return []Outcome{{CmdID: cmd.CmdID, Verb: cmd.Verb, Status: syncml.StatusBadRequest}}
}

// notRun reports a command and its children as not executed with the given code.
func notRun(cmd syncml.Command, code int) []Outcome {
	if cmd.Verb == syncml.VerbStatus || cmd.Verb == syncml.VerbResults {
		return nil
	}
	var outs []Outcome
	if len(cmd.Items) == 0 {
		outs = append(outs, Outcome{CmdID: cmd.CmdID, Verb: cmd.Verb, Status: code})
	}
	for _, it := range cmd.Items {
		outs = append(outs, Outcome{CmdID: cmd.CmdID, Verb: cmd.Verb, Status: code, TargetRef: it.Target})
	}
	for _, ch := range cmd.Commands {
		outs = append(outs, notRun(ch, code)...)
	}
	return outs
}

// atomic runs an Atomic all-or-nothing (OMA DM Atomic; docs/protocol.md B.6): on the first failure
// execution stops and everything is rolled back; the Atomic answers 507, the failing command
// its own error, every other command 216 — or, if a handler refuses to undo a change, that
// command and the Atomic answer 516.
func (t *Tree) atomic(cmd syncml.Command, parent *journal) []Outcome {
	outs := []Outcome{{CmdID: cmd.CmdID, Verb: cmd.Verb, Status: syncml.StatusOK}}
	childOf := []int{-1}
	var aj journal
	failed := false
	for i, ch := range cmd.Commands {
		var co []Outcome
		if failed {
			co = notRun(ch, syncml.StatusAtomicRollbackOK)
		} else {
			aj.child = i
			co = t.run(ch, &aj, true)
			failed = anyFailed(co)
		}
		for range co {
			childOf = append(childOf, i)
		}
		outs = append(outs, co...)
	}
	if !failed {
		for _, c := range aj.changes {
			c.child = parent.child
			parent.changes = append(parent.changes, c)
		}
		return outs
	}
	bad := t.undo(&aj, 0)
	outs[0].Status = syncml.StatusAtomicFailed
	if len(bad) > 0 {
		outs[0].Status = syncml.StatusAtomicRollbackFailed
	}
	for k := 1; k < len(outs); k++ {
		switch {
		case bad[childOf[k]]:
			outs[k].Status = syncml.StatusAtomicRollbackFailed
		case success(outs[k].Status):
			outs[k].Status = syncml.StatusAtomicRollbackOK
		}
	}
	return outs
}

// sequence runs children in order (docs/protocol.md B.6). Outside an Atomic a failure does not
// stop the rest: each child gets its own status, as hellomdm wants every setting applied on
// its own (docs/protocol.md E.3); Windows' behaviour here is not confirmed (docs/protocol.md
// G). Inside an Atomic the first failure stops execution and the rest are reported 216.
func (t *Tree) sequence(cmd syncml.Command, j *journal, inAtomic bool) []Outcome {
	outs := []Outcome{{CmdID: cmd.CmdID, Verb: cmd.Verb, Status: syncml.StatusOK}}
	failed := false
	for _, ch := range cmd.Commands {
		if failed {
			outs = append(outs, notRun(ch, syncml.StatusAtomicRollbackOK)...)
			continue
		}
		co := t.run(ch, j, inAtomic)
		failed = inAtomic && anyFailed(co)
		outs = append(outs, co...)
	}
	return outs
}

// item runs one Item of a Get, Add, Replace, Delete or Exec.
func (t *Tree) item(cmd syncml.Command, it syncml.Item, j *journal) (int, []syncml.Item) {
	if strings.TrimSpace(it.Target) == "" {
		return syncml.StatusBadRequest, nil
	}
	if it.MoreData {
		// Chunked objects are reassembled by the session layer before they reach the tree
		// (OMA DM large objects; docs/protocol.md B.10).
		return syncml.StatusOptionalNotSupported, nil
	}
	m, ok := t.resolve(it.Target)
	if !ok {
		return syncml.StatusNotFound, nil
	}
	format, typ := "", ""
	if cmd.Meta != nil {
		format, typ = cmd.Meta.Format, cmd.Meta.Type
	}
	if it.Meta != nil {
		if it.Meta.Format != "" {
			format = it.Meta.Format
		}
		if it.Meta.Type != "" {
			typ = it.Meta.Type
		}
	}
	data := it.Data
	if it.DataXML != "" {
		data = it.DataXML
	}
	switch cmd.Verb {
	case syncml.VerbGet:
		return t.get(m, it.Target)
	case syncml.VerbAdd:
		return t.add(m, Format(strings.ToLower(format)), data, j), nil
	case syncml.VerbReplace:
		return t.replace(m, Format(strings.ToLower(format)), data, j), nil
	case syncml.VerbDelete:
		return t.remove(m, j), nil
	default: // Exec
		return t.exec(m, Op{Verb: cmd.Verb, URI: m.URI, Format: format, Type: typ, Data: data}), nil
	}
}

func (t *Tree) get(m Match, target string) (int, []syncml.Item) {
	n := m.Node
	if n.Interior() && !t.interiorExists(m.URI, n) {
		return syncml.StatusNotFound, nil
	}
	if !n.Access.Has(AccessGet) {
		return syncml.StatusCommandNotAllowed, nil
	}
	var value string
	if n.Interior() {
		names, err := t.childNames(m)
		if err != nil {
			return syncml.StatusCommandFailed, nil
		}
		value = strings.Join(names, "/")
	} else {
		v, ok, err := t.leafValue(m)
		if err != nil {
			return syncml.StatusCommandFailed, nil
		}
		if !ok {
			return syncml.StatusNotFound, nil
		}
		value = v
	}
	return syncml.StatusOK, []syncml.Item{{
		Source: target,
		Meta:   &syncml.Meta{Format: string(n.Format), Type: "text/plain"},
		Data:   value,
	}}
}

// valueStatus maps a validation error to its status: 415 for a wrong format or data that does
// not parse, 400 for a parsed value that is not allowed (docs/protocol.md C.6 "Agent defaults").
func valueStatus(err error) int {
	if errors.Is(err, ErrFormat) {
		return syncml.StatusUnsupportedMediaType
	}
	return syncml.StatusBadRequest
}

// createParents adds the missing creatable ancestors of m, top down (implicit creation of
// interior nodes on Add; docs/protocol.md B.6).
func (t *Tree) createParents(j *journal, m Match) {
	type anc struct {
		uri  string
		node *Node
	}
	var chain []anc
	uri, n := m.URI, m.Node
	for {
		pu, pn, ok := t.parentOf(uri, n)
		if !ok {
			break
		}
		chain = append(chain, anc{pu, pn})
		uri, n = pu, pn
	}
	for i := len(chain) - 1; i >= 0; i-- {
		if a := chain[i]; a.node.creatable() && !t.nodes[a.uri] {
			t.addNode(j, a.uri)
		}
	}
}

// commit notifies handlers of the changes from index from on; on error it undoes them and
// answers 500.
func (t *Tree) commit(j *journal, from int) int {
	if err := t.notify(j, from); err != nil {
		t.undo(j, from)
		return syncml.StatusCommandFailed
	}
	return syncml.StatusOK
}

func (t *Tree) add(m Match, format Format, data string, j *journal) int {
	n := m.Node
	if !n.Access.Has(AccessAdd) {
		return syncml.StatusCommandNotAllowed
	}
	from := len(j.changes)
	if n.Interior() {
		if format != "" && format != FormatNode {
			return syncml.StatusUnsupportedMediaType
		}
		if t.interiorExists(m.URI, n) {
			return syncml.StatusAlreadyExists
		}
		t.createParents(j, m)
		t.addNode(j, m.URI)
		return t.commit(j, from)
	}
	if _, ok := t.values[m.URI]; ok {
		return syncml.StatusAlreadyExists
	}
	norm, err := validateFormatted(m, format, data)
	if err != nil {
		return valueStatus(err)
	}
	t.createParents(j, m)
	t.setValue(j, m.URI, norm)
	return t.commit(j, from)
}

func (t *Tree) replace(m Match, format Format, data string, j *journal) int {
	n := m.Node
	if n.Interior() && !t.interiorExists(m.URI, n) {
		return syncml.StatusNotFound
	}
	if !n.Access.Has(AccessReplace) {
		return syncml.StatusCommandNotAllowed
	}
	if !t.dynamicAncestorsExist(m.URI, n) {
		// Replace under a dynamic parent that was never added (fleet#49134; docs/protocol.md B.6).
		return syncml.StatusCommandNotAllowed
	}
	norm, err := validateFormatted(m, format, data)
	if err != nil {
		return valueStatus(err)
	}
	from := len(j.changes)
	// Static interior nodes below an existing dynamic one (PassportForWork's Policies,
	// PINComplexity, Biometrics...) come into being with the leaf, as on Windows.
	t.createParents(j, m)
	t.setValue(j, m.URI, norm)
	return t.commit(j, from)
}

func (t *Tree) remove(m Match, j *journal) int {
	n := m.Node
	from := len(j.changes)
	if n.Interior() {
		if !t.interiorExists(m.URI, n) {
			return syncml.StatusNotFound
		}
		if !n.Access.Has(AccessDelete) {
			return syncml.StatusCommandNotAllowed
		}
		// Delete removes the node and its subtree (docs/protocol.md B.6), leaves first.
		prefix := m.URI + "/"
		var leaves, interiors []string
		for k := range t.values {
			if strings.HasPrefix(k, prefix) {
				leaves = append(leaves, k)
			}
		}
		for k := range t.nodes {
			if strings.HasPrefix(k, prefix) {
				interiors = append(interiors, k)
			}
		}
		sortDeepestFirst(leaves)
		sortDeepestFirst(interiors)
		for _, k := range leaves {
			t.deleteValue(j, k)
		}
		for _, k := range interiors {
			t.deleteNode(j, k)
		}
		if t.nodes[m.URI] {
			t.deleteNode(j, m.URI)
		}
		return t.commit(j, from)
	}
	if !n.Access.Has(AccessDelete) {
		return syncml.StatusCommandNotAllowed
	}
	if _, ok := t.values[m.URI]; !ok {
		return syncml.StatusNotFound
	}
	// A deleted policy reverts to its default: the handler sees deleted=true and applies it;
	// a later Get answers 404 as Windows does for an unconfigured policy.
	t.deleteValue(j, m.URI)
	return t.commit(j, from)
}

// sortDeepestFirst orders URIs so that descendants come before their ancestors.
func sortDeepestFirst(uris []string) {
	slices.SortFunc(uris, func(a, b string) int {
		if da, db := strings.Count(a, "/"), strings.Count(b, "/"); da != db {
			return db - da
		}
		return strings.Compare(a, b)
	})
}

func (t *Tree) exec(m Match, op Op) int {
	if !m.Node.Access.Has(AccessExec) {
		return syncml.StatusCommandNotAllowed
	}
	ex, ok := t.handler(m.URI).(Execer)
	if !ok {
		// The node allows Exec but nothing on this device implements it.
		return syncml.StatusCommandFailed
	}
	async, err := ex.Exec(op)
	switch {
	case err != nil:
		return syncml.StatusCommandFailed
	case async:
		return syncml.StatusAccepted
	}
	return syncml.StatusOK
}
