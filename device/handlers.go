package device

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hellomdm/hellomdm/csp"
	"github.com/hellomdm/hellomdm/device/hello"
)

// handlers returns the CSP handlers of the agent (csp.Handler): the policy subtrees, live
// DevInfo/DevDetail values, DMClient (poll schedule, HWDevID, Unenroll), the MDM
// certificate's CertificateStore My/WSTEP/Renew and hellomdm's HelloStatus.
func (a *Agent) handlers() []csp.Handler {
	return []csp.Handler{
		policyHandler{prefix: passportDevice, state: a.pol},
		policyHandler{prefix: passportUser, state: a.pol},
		policyHandler{prefix: authenticationArea, state: a.pol},
		devInfoHandler{a: a, prefix: "./DevInfo"},
		devInfoHandler{a: a, prefix: "./DevDetail"},
		dmClientHandler{a: a},
		certStoreHandler{a: a},
		helloStatusHandler{a: a},
		pinResetServiceHandler{a: a},
	}
}

// devInfoHandler answers DevInfo (devinfo-csp) and DevDetail (devdetail-csp) from the
// identity; nodes a wired desktop lacks (cellular, Wi-Fi) have no value and answer 404.
type devInfoHandler struct {
	a      *Agent
	prefix string
}

func (h devInfoHandler) Prefix() string { return h.prefix }

// Changed accepts the few writable nodes (DNSComputerName); the tree stores the value.
func (h devInfoHandler) Changed(string, string, bool) error { return nil }

func (h devInfoHandler) Get(uri string) (string, bool, error) {
	id := h.a.Identity()
	v, ok := devInfoValue(id, uri, h.a.opts.Now)
	return v, ok, nil
}

// devInfoValue is the live value of a DevInfo or DevDetail node (docs/protocol.md C.3).
func devInfoValue(id Identity, uri string, now func() time.Time) (string, bool) {
	switch strings.TrimPrefix(uri, "./") {
	case "DevInfo/DevId":
		return id.DeviceID, true
	case "DevInfo/Man", "DevDetail/OEM":
		return id.Manufacturer, true
	case "DevInfo/Mod", "DevDetail/DevTyp":
		return id.Model, true
	case "DevInfo/DmV":
		return "1.3", true // Windows 10/11 (captures; docs/protocol.md C.3)
	case "DevInfo/Lang":
		return id.Locale, true
	case "DevDetail/SwV":
		return id.OSVersion, true
	case "DevDetail/FwV", "DevDetail/HwV":
		return "Hyper-V UEFI Release v4.1", true
	case "DevDetail/LrgObj":
		return "false", true // the agent does not reassemble chunked objects
	case "DevDetail/URI/MaxDepth", "DevDetail/URI/MaxTotLen", "DevDetail/URI/MaxSegLen":
		return "0", true // 0 = unlimited
	case "DevDetail/Ext/Microsoft/OSPlatform":
		return id.OSPlatform(), true
	case "DevDetail/Ext/Microsoft/DeviceName":
		return id.DeviceName, true
	case "DevDetail/Ext/Microsoft/LocalTime":
		return now().Format("2006-01-02T15:04:05.0000000-07:00"), true
	case "DevDetail/Ext/Microsoft/Resolution":
		return "1920x1080", true
	case "DevDetail/Ext/Microsoft/ProcessorArchitecture":
		return "9", true // PROCESSOR_ARCHITECTURE_AMD64
	case "DevDetail/Ext/Microsoft/ProcessorType":
		return "8664", true // PROCESSOR_AMD_X8664
	case "DevDetail/Ext/Microsoft/TotalStorage":
		return "130048", true
	case "DevDetail/Ext/Microsoft/FreeStorage":
		return "81920", true
	case "DevDetail/Ext/Microsoft/TotalRAM":
		return "8192", true
	case "DevDetail/Ext/Microsoft/SMBIOSSerialNumber":
		return id.DeviceID[:16], true
	case "DevDetail/Ext/Microsoft/SMBIOSVersion":
		return "Hyper-V UEFI Release v4.1", true
	case "DevDetail/Ext/Microsoft/SystemSKU":
		return "None", true
	}
	return "", false
}

// dmClientHandler owns ./Device/Vendor/MSFT/DMClient (dmclient-csp): HWDevID is live, Poll
// nodes update the poll schedule, and Exec of Unenroll with our ProviderID unenrolls the
// device at the end of the session.
type dmClientHandler struct{ a *Agent }

const dmClientRoot = "./Device/Vendor/MSFT/DMClient"

func (h dmClientHandler) Prefix() string { return dmClientRoot }

func (h dmClientHandler) Get(uri string) (string, bool, error) {
	if uri == dmClientRoot+"/HWDevID" {
		return h.a.Identity().HWDevID, true, nil
	}
	return "", false, nil
}

func (h dmClientHandler) Changed(uri, value string, deleted bool) error {
	rest, ok := strings.CutPrefix(uri, dmClientRoot+"/Provider/")
	if !ok {
		return nil
	}
	provider, leaf, _ := strings.Cut(rest, "/")
	a := h.a
	a.mu.Lock()
	defer a.mu.Unlock()
	if provider != a.enr.ProviderID {
		return nil
	}
	var dst *int
	p := &a.dm.Poll
	switch leaf {
	case "Poll/NumberOfFirstRetries":
		dst = &p.NumberOfFirstRetries
	case "Poll/IntervalForFirstSetOfRetries":
		dst = &p.IntervalForFirstSetOfRetries
	case "Poll/NumberOfSecondRetries":
		dst = &p.NumberOfSecondRetries
	case "Poll/IntervalForSecondSetOfRetries":
		dst = &p.IntervalForSecondSetOfRetries
	case "Poll/NumberOfRemainingScheduledRetries":
		dst = &p.NumberOfRemainingScheduledRetries
	case "Poll/IntervalForRemainingScheduledRetries":
		dst = &p.IntervalForRemainingScheduledRetries
	case "Poll/PollOnLogin":
		old := p.PollOnLogin
		p.PollOnLogin = !deleted && value == "true"
		if err := a.saveDMClientLocked(); err != nil {
			p.PollOnLogin = old
			return err
		}
		return nil
	default:
		return nil
	}
	n := 0
	if !deleted && value != "" {
		v, err := strconv.Atoi(value)
		if err != nil {
			return fmt.Errorf("DMClient %s: %q is not an integer", leaf, value)
		}
		n = v
	}
	old := *dst
	*dst = n
	if err := a.saveDMClientLocked(); err != nil {
		*dst = old
		return err
	}
	return nil
}

// Exec handles DMClient/Unenroll (MS-MDM B.9 server-initiated unenrollment): the data must
// name our provider.
func (h dmClientHandler) Exec(op csp.Op) (bool, error) {
	if op.URI != dmClientRoot+"/Unenroll" {
		return false, fmt.Errorf("no action at %s", op.URI)
	}
	a := h.a
	a.mu.Lock()
	defer a.mu.Unlock()
	if strings.TrimSpace(op.Data) != a.enr.ProviderID {
		return false, fmt.Errorf("unenroll: provider %q is not %q", op.Data, a.enr.ProviderID)
	}
	a.unenroll = true
	return false, nil
}

// helloStatusHandler answers ./Vendor/MSFT/hellomdm/HelloStatus from the user's Hello
// container (device/hello Status), as dsregcmd /status would show it, and
// ./Vendor/MSFT/hellomdm/DeviceState from the join state (join.go).
type helloStatusHandler struct{ a *Agent }

const helloStatusRoot = "./Device/Vendor/MSFT/hellomdm/HelloStatus"

func (h helloStatusHandler) Prefix() string { return "./Device/Vendor/MSFT/hellomdm" }

func (h helloStatusHandler) Changed(string, string, bool) error { return nil }

func (h helloStatusHandler) Get(uri string) (string, bool, error) {
	if v, ok := h.a.joinNodeValue(uri); ok {
		return v, true, nil
	}
	st, err := h.a.helloState()
	if err != nil {
		return "", false, err
	}
	switch uri {
	case helloStatusRoot + "/NgcSet":
		return yesNo(st.NgcSet), true, nil
	case helloStatusRoot + "/CanReset":
		return st.CanReset, st.CanReset != "", nil
	case helloStatusRoot + "/CanResetReason":
		return st.CanResetReason, st.CanResetReason != "", nil
	case helloStatusRoot + "/NgcKeyId":
		if st.NgcKeyID == "" {
			return "", false, nil
		}
		return hello.FormatKeyID(st.NgcKeyID), true, nil
	}
	return "", false, nil
}

// helloState reads the enrolled user's Hello container status (no container before
// enrollment), with CanReset from the support matrix (canreset.go).
func (a *Agent) helloState() (hello.UserState, error) {
	upn := a.Enrollment().UPN
	if upn == "" {
		return hello.UserState{}, nil
	}
	pol := a.Policy()
	st, err := hello.Status(a.HelloDir(), upn)
	if err != nil {
		return hello.UserState{}, fmt.Errorf("reading Hello status: %w", err)
	}
	return a.withCanReset(st, pol)
}

func yesNo(v bool) string {
	if v {
		return "YES"
	}
	return "NO"
}

// liveNodes are the read-only nodes whose values come from handlers, listed by Nodes.
var liveNodes = []string{
	"./DevInfo/DevId", "./DevInfo/Man", "./DevInfo/Mod", "./DevInfo/DmV", "./DevInfo/Lang",
	"./DevDetail/SwV", "./DevDetail/Ext/Microsoft/OSPlatform", "./DevDetail/Ext/Microsoft/DeviceName",
	dmClientRoot + "/HWDevID",
	helloStatusRoot + "/NgcSet", helloStatusRoot + "/NgcKeyId", helloStatusRoot + "/CanReset", helloStatusRoot + "/CanResetReason",
	nodeServiceAvail,
	nodeJoinType, nodeTrustType, nodeAccountType,
}

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
