package device

import (
	"fmt"
	"slices"
	"strings"

	"github.com/hellomdm/hellomdm/csp"
	"github.com/hellomdm/hellomdm/device/omadm"
	"github.com/hellomdm/hellomdm/device/pinreset"
)

// handlers returns the CSP handlers of the agent (csp.Handler): the policy subtrees
// (device/resetpolicy), live DevInfo/DevDetail values and DMClient (poll schedule, HWDevID,
// Unenroll; device/omadm), the MDM certificate's CertificateStore My/WSTEP/Renew
// (device/certs) and hellomdm's HelloStatus, DeviceState and PinResetService
// (device/pinreset).
func (a *Agent) handlers() []csp.Handler {
	hs := a.pol.Handlers()
	identity := a.Identity
	hs = append(hs,
		omadm.DevInfoHandler{Root: "./DevInfo", Identity: identity, Now: a.opts.Now},
		omadm.DevInfoHandler{Root: "./DevDetail", Identity: identity, Now: a.opts.Now},
		omadm.DMClientHandler{HWDevID: func() string { return a.Identity().HWDevID }, UpdatePoll: a.updatePoll, Unenroll: a.unenrollRequested,
			SetPushPFN: a.setPushPFN, Push: a.pushState},
		a.certStoreHandler(),
	)
	return append(hs, a.hm.Handlers()...)
}

// updatePoll applies f to the poll schedule of our provider and persists a change.
func (a *Agent) updatePoll(provider string, f func(*omadm.PollSchedule) (bool, error)) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if provider != a.enr.ProviderID {
		return nil
	}
	old := a.dm.Poll
	changed, err := f(&a.dm.Poll)
	if err != nil || !changed {
		a.dm.Poll = old
		return err
	}
	if err := a.saveDMClientLocked(); err != nil {
		a.dm.Poll = old
		return err
	}
	return nil
}

// unenrollRequested records the server's Exec of DMClient/Unenroll, whose data must name our
// provider: the device unenrolls at the end of the session.
func (a *Agent) unenrollRequested(data string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if strings.TrimSpace(data) != a.enr.ProviderID {
		return fmt.Errorf("unenroll: provider %q is not %q", data, a.enr.ProviderID)
	}
	a.unenroll = true
	return nil
}

// liveNodes are the read-only nodes whose values come from handlers, listed by Nodes.
var liveNodes = slices.Concat([]string{
	"./DevInfo/DevId", "./DevInfo/Man", "./DevInfo/Mod", "./DevInfo/DmV", "./DevInfo/Lang",
	"./DevDetail/SwV", "./DevDetail/Ext/Microsoft/OSPlatform", "./DevDetail/Ext/Microsoft/DeviceName",
	omadm.DMClientRoot + "/HWDevID",
}, pinreset.LiveNodes)

func (a *Agent) nodes() []csp.NodeValue {
	out := a.tree.Nodes()
	for _, uri := range liveNodes {
		if v, ok := a.tree.Value(uri); ok {
			f := csp.FormatChr
			if m, ok := a.cat.Lookup(uri); ok {
				f = m.Node.Format
			}
			out = append(out, csp.NodeValue{URI: uri, Format: f, Value: v})
		}
	}
	slices.SortFunc(out, func(x, y csp.NodeValue) int { return strings.Compare(x.URI, y.URI) })
	return out
}

// setPushPFN records the PFN the server set for our provider (Push/PFN) and persists it.
func (a *Agent) setPushPFN(provider, pfn string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if provider != a.enr.ProviderID || a.dm.PushPFN == pfn {
		return nil
	}
	old := a.dm.PushPFN
	a.dm.PushPFN = pfn
	if err := a.saveDMClientLocked(); err != nil {
		a.dm.PushPFN = old
		return err
	}
	return nil
}

// pushState is our provider's push state: the PFN, and the channel URI Options.WNSChannel
// (the device's WNS client) obtained for it.
func (a *Agent) pushState(provider string) (omadm.PushState, bool) {
	a.mu.Lock()
	pfn, ours := a.dm.PushPFN, provider == a.enr.ProviderID
	a.mu.Unlock()
	if !ours {
		return omadm.PushState{}, false
	}
	st := omadm.PushState{PFN: pfn}
	if pfn != "" && a.opts.WNSChannel != nil {
		st.ChannelURI = a.opts.WNSChannel(pfn)
	}
	return st, true
}
