package policy

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hellomdm/hellomdm/audit"
	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/syncml"
)

// Outcome runs inside the check-in transaction when one of the engine's commands got its
// Status (or, for a Get, its Results), and moves the setting it writes, deletes or verifies:
//
//   - write 200 → succeeded; 202 → stays pending until the verifying Get returns the value;
//     another code → error with that code (the session engine may still retry);
//   - Get with the value → succeeded; with another value → error MismatchCode; an error
//     Status → error with that code, unless the write had already failed;
//   - Delete 200 (or 404: the node is gone already) → removed; another code → error, and the
//     detail tells the admin the device refused removal.
//
// Commands of other sources are ignored.
func (e *Engine) Outcome(tx store.DeviceTx, dev *store.Device, cmd *store.Command, now time.Time) ([]*audit.Event, error) {
	if !strings.HasPrefix(cmd.Source, SourcePrefix) || len(cmd.Payload.Items) == 0 {
		return nil, nil
	}
	uri := cmd.Payload.Items[0].Target
	list, err := tx.SettingStates()
	if err != nil {
		return nil, fmt.Errorf("loading setting states: %w", err)
	}
	var (
		st    store.SettingState
		found bool
	)
	for _, s := range list {
		if s.LocURI == uri {
			st, found = s, true
			break
		}
	}
	if !found {
		return nil, nil
	}
	next := st
	switch cmd.ID {
	case st.WriteCommandID:
		if st.Removing {
			deleteOutcome(&next, cmd)
		} else {
			writeOutcome(&next, cmd)
		}
	case st.VerifyCommandID:
		if !verifyOutcome(&next, cmd) {
			return nil, nil
		}
	default:
		return nil, nil // a superseded command
	}
	ev := transition(st, true, &next, now, e.newID)
	if err := tx.PutSettingState(next); err != nil {
		return nil, fmt.Errorf("saving setting state %s: %w", uri, err)
	}
	if ev == nil {
		return nil, nil
	}
	return []*audit.Event{ev}, nil
}

// statusDetail is "<code>: <meaning>", e.g. "404: node not found on this device".
func statusDetail(code int) string {
	if t := syncml.StatusText(code); t != "" {
		return strconv.Itoa(code) + ": " + t
	}
	return strconv.Itoa(code)
}

func writeOutcome(st *store.SettingState, cmd *store.Command) {
	if st.State != store.SettingPending && st.State != store.SettingError && st.State != store.SettingSucceeded {
		return
	}
	switch cmd.State {
	case store.CommandSucceeded:
		st.State, st.ErrorCode, st.ErrorDetail = store.SettingSucceeded, 0, ""
	case store.CommandAccepted, store.CommandQueued, store.CommandSent, store.CommandCancelled:
		// 202 waits for the Get; 418 is resent as Replace by the session engine.
	default: // failed, or retry after an error Status
		st.State, st.ErrorCode, st.ErrorDetail = store.SettingError, cmd.StatusCode, statusDetail(cmd.StatusCode)
	}
}

func deleteOutcome(st *store.SettingState, cmd *store.Command) {
	switch {
	case cmd.State == store.CommandSucceeded, cmd.StatusCode == syncml.StatusNotFound && !cmd.State.Open():
		st.State, st.Removing, st.Written, st.ErrorCode, st.ErrorDetail = store.SettingRemoved, false, false, 0, ""
		st.WriteCommandID = ""
	case cmd.State == store.CommandFailed:
		st.State, st.ErrorCode = store.SettingError, cmd.StatusCode
		st.ErrorDetail = statusDetail(cmd.StatusCode) + "; the device refused to remove the node"
	}
}

// verifyOutcome applies a verifying Get; false when there is nothing to record yet.
func verifyOutcome(st *store.SettingState, cmd *store.Command) bool {
	if st.Removing || st.State != store.SettingPending && st.State != store.SettingSucceeded {
		return false // the write failed: its error stands
	}
	switch cmd.State {
	case store.CommandSucceeded:
		if len(cmd.Results) == 0 {
			return false // Results follow the Status
		}
		got := cmd.Results[len(cmd.Results)-1].Data
		if sameValue(st.Format, st.Value, got) {
			st.State, st.ErrorCode, st.ErrorDetail = store.SettingSucceeded, 0, ""
		} else {
			st.State, st.ErrorCode = store.SettingError, MismatchCode
			st.ErrorDetail = fmt.Sprintf("%s: the device reports %q, %q was written", MismatchDetail, clip(got), clip(st.Value))
		}
		return true
	case store.CommandFailed, store.CommandRetry:
		st.State, st.ErrorCode = store.SettingError, cmd.StatusCode
		st.ErrorDetail = statusDetail(cmd.StatusCode) + " (verifying Get)"
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
