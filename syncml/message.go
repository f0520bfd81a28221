package syncml

import (
	"fmt"
	"strconv"
)

// Commands returns the top-level commands with the given verb, in wire order. Children of
// Atomic and Sequence are not included.
func (m *Message) Commands(verb string) []Command {
	var out []Command
	for _, c := range m.Body {
		if c.Verb == verb {
			out = append(out, c)
		}
	}
	return out
}

// MaxMsgSize is the largest message the sender accepts (SyncHdr/Meta/MaxMsgSize,
// OMA-TS-DM_Protocol §6.1), 0 if it gave none.
func (m *Message) MaxMsgSize() int {
	if m.Header.Meta == nil {
		return 0
	}
	return m.Header.Meta.MaxMsgSize
}

// MaxObjSize is the largest object the sender accepts (SyncHdr/Meta/MaxObjSize,
// OMA-TS-DM_Protocol §7), 0 if it gave none.
func (m *Message) MaxObjSize() int {
	if m.Header.Meta == nil {
		return 0
	}
	return m.Header.Meta.MaxObjSize
}

// AlertCode returns the code of an Alert (its Data, e.g. 1201).
func (c Command) AlertCode() (int, error) {
	return c.code(VerbAlert)
}

// StatusCode returns the code of a Status (its Data, e.g. 200).
func (c Command) StatusCode() (int, error) {
	return c.code(VerbStatus)
}

func (c Command) code(verb string) (int, error) {
	if c.Verb != verb {
		return 0, fmt.Errorf("reading %s code: command %s is a %s", verb, c.CmdID, c.Verb)
	}
	n, err := strconv.Atoi(c.Data)
	if err != nil {
		return 0, fmt.Errorf("reading %s %s code %q: %w", verb, c.CmdID, c.Data, err)
	}
	return n, nil
}

// AlertType is the Meta/Type of an alert's first item, which names generic alerts and
// client events (e.g. TypeLoginStatus, TypeUnenrollUser; MS-MDM 2.2.7.2); "" if none.
func (c Command) AlertType() string {
	if len(c.Items) == 0 || c.Items[0].Meta == nil {
		return ""
	}
	return c.Items[0].Meta.Type
}
