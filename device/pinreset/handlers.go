package pinreset

import (
	"fmt"

	"github.com/hellomdm/hellomdm/csp"
	"github.com/hellomdm/hellomdm/device/hello"
	"github.com/hellomdm/hellomdm/device/identity"
	"github.com/hellomdm/hellomdm/syncml"
)

// statusHandler answers ./Vendor/MSFT/hellomdm/HelloStatus from the user's Hello
// container (device/hello Status), as dsregcmd /status would show it, and
// ./Vendor/MSFT/hellomdm/DeviceState from the join state (device/identity).
type statusHandler struct{ m *Manager }

// HelloStatusRoot is hellomdm's HelloStatus subtree (csp/table.go).
const HelloStatusRoot = "./Device/Vendor/MSFT/hellomdm/HelloStatus"

func (h statusHandler) Prefix() string { return "./Device/Vendor/MSFT/hellomdm" }

func (h statusHandler) Changed(string, string, bool) error { return nil }

func (h statusHandler) Get(uri string) (string, bool, error) {
	if v, ok := h.m.dev.Join().NodeValue(uri); ok {
		return v, true, nil
	}
	st, err := h.m.HelloState()
	if err != nil {
		return "", false, err
	}
	switch uri {
	case HelloStatusRoot + "/NgcSet":
		return yesNo(st.NgcSet), true, nil
	case HelloStatusRoot + "/CanReset":
		return st.CanReset, st.CanReset != "", nil
	case HelloStatusRoot + "/CanResetReason":
		return st.CanResetReason, st.CanResetReason != "", nil
	case HelloStatusRoot + "/NgcKeyId":
		if st.NgcKeyID == "" {
			return "", false, nil
		}
		return hello.FormatKeyID(st.NgcKeyID), true, nil
	}
	return "", false, nil
}

// HelloState reads the enrolled user's Hello container status (no container before
// enrollment), with CanReset from the support matrix (canreset.go).
func (m *Manager) HelloState() (hello.UserState, error) {
	upn := m.dev.Enrollment().UPN
	if upn == "" {
		return hello.UserState{}, nil
	}
	pol := m.dev.Policy()
	st, err := hello.Status(m.HelloDir(), upn)
	if err != nil {
		return hello.UserState{}, fmt.Errorf("reading Hello status: %w", err)
	}
	return m.withCanReset(st, pol)
}

func yesNo(v bool) string {
	if v {
		return "YES"
	}
	return "NO"
}

// Handlers are the csp.Handlers of hellomdm's reporting subtree ./Device/Vendor/MSFT/hellomdm:
// HelloStatus and DeviceState (read-only, live), and PinResetService, which the server
// Replaces.
func (m *Manager) Handlers() []csp.Handler {
	return []csp.Handler{statusHandler{m: m}, serviceHandler{m: m}}
}

// LiveNodes are the read-only nodes whose values the handlers answer.
var LiveNodes = []string{
	HelloStatusRoot + "/NgcSet", HelloStatusRoot + "/NgcKeyId", HelloStatusRoot + "/CanReset", HelloStatusRoot + "/CanResetReason",
	nodeServiceAvail,
	identity.NodeJoinType, identity.NodeTrustType, identity.NodeAccountType,
}

// Reported are the items package 1 of every session Replaces in hellomdm's reporting
// subtree (the unscoped form, as the server records them like DevInfo): the join state, the
// user's NgcSet and, when the user has a container, CanReset, why not non-destructive, what
// the device believes about its tenant's PIN reset service (which the server corrects) and
// the NgcKeyId.
func (m *Manager) Reported() ([]syncml.Item, error) {
	j := m.dev.Join()
	extra := []syncml.Item{
		{Source: identity.ReportedStateDir + "JoinType", Data: identity.ReportedJoinType(j.Join)},
		{Source: identity.ReportedStateDir + "TrustType", Data: identity.ReportedTrustType(j.Trust)},
		{Source: identity.ReportedStateDir + "AccountType", Data: identity.ReportedAccountType(j.Account)}}
	st, err := m.HelloState()
	if err != nil {
		return nil, err
	}
	extra = append(extra, syncml.Item{Source: "./Vendor/MSFT/hellomdm/HelloStatus/NgcSet", Data: yesNo(st.NgcSet)})
	if st.CanReset != "" {
		extra = append(extra, syncml.Item{Source: "./Vendor/MSFT/hellomdm/HelloStatus/CanReset", Data: st.CanReset})
		// Why not DestructiveAndNonDestructive ("" when it is), and what the device believes
		// about its tenant's PIN reset service, which the server corrects (canreset.go).
		extra = append(extra, syncml.Item{Source: "./Vendor/MSFT/hellomdm/HelloStatus/CanResetReason", Data: st.CanResetReason})
		avail := m.ServiceAvailability()
		if avail == "" {
			avail = serviceUnknown
		}
		extra = append(extra, syncml.Item{Source: "./Vendor/MSFT/hellomdm/PinResetService/Availability", Data: avail})
	}
	if st.NgcKeyID != "" {
		extra = append(extra, syncml.Item{Source: "./Vendor/MSFT/hellomdm/HelloStatus/NgcKeyId", Data: hello.FormatKeyID(st.NgcKeyID)})
	}
	return extra, nil
}
