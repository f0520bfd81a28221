package policy

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hellomdm/hellomdm/audit"
	"github.com/hellomdm/hellomdm/policy/model"
	"github.com/hellomdm/hellomdm/syncml"
)

// CommandResult is one of the engine's commands as the session engine recorded the device's
// answer: its Status (Delivery and StatusCode) and, for a Get, the Results.
type CommandResult struct {
	ID         string
	Source     string
	Payload    syncml.Command
	Delivery   Delivery
	StatusCode int
	Results    []syncml.Item
}

// Follows reports whether the outcome of c can move a setting state: c is one of the engine's
// commands (Source starts with SourcePrefix) and names a node. The session engine reads the
// device's setting states for Outcome only then.
func Follows(c CommandResult) bool {
	return strings.HasPrefix(c.Source, SourcePrefix) && len(c.Payload.Items) > 0
}

// Outcome plans, when one of the engine's commands got its Status (or, for a Get, its
// Results), the move of the setting it writes, deletes or verifies, among the device's setting
// states:
//
//   - write 200 → succeeded; 202 → stays pending until the verifying Get returns the value;
//     another code → error with that code (the session engine may still retry);
//   - Get with the value → succeeded; with another value → error MismatchCode; an error
//     Status → error with that code, unless the write had already failed;
//   - Delete 200 (or 404: the node is gone already) → removed; another code → error, and the
//     detail tells the admin the device refused removal.
//
// Commands that Follows refuses, and superseded ones, plan nothing.
func (e *Engine) Outcome(states []model.SettingState, c CommandResult, now time.Time) Plan {
	if !Follows(c) {
		return Plan{}
	}
	uri := c.Payload.Items[0].Target
	i := slices.IndexFunc(states, func(s model.SettingState) bool { return s.LocURI == uri })
	if i < 0 {
		return Plan{}
	}
	st := states[i]
	next := st
	switch c.ID {
	case st.WriteCommandID:
		if st.Removing {
			deleteOutcome(&next, c)
		} else {
			writeOutcome(&next, c)
		}
	case st.VerifyCommandID:
		if !verifyOutcome(&next, c) {
			return Plan{}
		}
	default:
		return Plan{} // a superseded command
	}
	p := Plan{Put: []model.SettingState{next}}
	if ev := transition(st, true, &p.Put[0], now, e.newID); ev != nil {
		p.Events = []*audit.Event{ev}
	}
	return p
}

// statusDetail is "<code>: <meaning>", e.g. "404: node not found on this device".
func statusDetail(code int) string {
	if t := syncml.StatusText(code); t != "" {
		return strconv.Itoa(code) + ": " + t
	}
	return strconv.Itoa(code)
}

func writeOutcome(st *model.SettingState, c CommandResult) {
	if st.State != model.SettingPending && st.State != model.SettingError && st.State != model.SettingSucceeded {
		return
	}
	switch c.Delivery {
	case DeliverySucceeded:
		st.State, st.ErrorCode, st.ErrorDetail = model.SettingSucceeded, 0, ""
	case DeliveryAccepted, DeliveryWaiting, DeliveryCancelled:
		// 202 waits for the Get; 418 is resent as Replace by the session engine.
	default: // failed, or retry after an error Status
		st.State, st.ErrorCode, st.ErrorDetail = model.SettingError, c.StatusCode, statusDetail(c.StatusCode)
	}
}

func deleteOutcome(st *model.SettingState, c CommandResult) {
	switch {
	case c.Delivery == DeliverySucceeded, c.StatusCode == syncml.StatusNotFound && !c.Delivery.Open():
		st.State, st.Removing, st.Written, st.ErrorCode, st.ErrorDetail = model.SettingRemoved, false, false, 0, ""
		st.WriteCommandID = ""
	case c.Delivery == DeliveryFailed:
		st.State, st.ErrorCode = model.SettingError, c.StatusCode
		st.ErrorDetail = statusDetail(c.StatusCode) + "; the device refused to remove the node"
	}
}

// verifyOutcome applies a verifying Get; false when there is nothing to record yet.
func verifyOutcome(st *model.SettingState, c CommandResult) bool {
	if st.Removing || st.State != model.SettingPending && st.State != model.SettingSucceeded {
		return false // the write failed: its error stands
	}
	switch c.Delivery {
	case DeliverySucceeded:
		if len(c.Results) == 0 {
			return false // Results follow the Status
		}
		got := c.Results[len(c.Results)-1].Data
		if sameValue(st.Format, st.Value, got) {
			st.State, st.ErrorCode, st.ErrorDetail = model.SettingSucceeded, 0, ""
		} else {
			st.State, st.ErrorCode = model.SettingError, MismatchCode
			st.ErrorDetail = fmt.Sprintf("%s: the device reports %q, %q was written", MismatchDetail, clip(got), clip(st.Value))
		}
		return true
	case DeliveryFailed, DeliveryRetry:
		st.State, st.ErrorCode = model.SettingError, c.StatusCode
		st.ErrorDetail = statusDetail(c.StatusCode) + " (verifying Get)"
		return true
	}
	return false
}

// sameValue compares a written value with what a Get returned: bool case-insensitively,
// lists element by element ignoring white space around elements.
func sameValue(format, want, got string) bool {
	want, got = strings.TrimSpace(want), strings.TrimSpace(got)
	if format == "bool" {
		return strings.EqualFold(want, got)
	}
	if want == got {
		return true
	}
	w, g := strings.Split(want, ";"), strings.Split(got, ";")
	if len(w) != len(g) || len(w) < 2 {
		return false
	}
	for i := range w {
		if strings.TrimSpace(w[i]) != strings.TrimSpace(g[i]) {
			return false
		}
	}
	return true
}
