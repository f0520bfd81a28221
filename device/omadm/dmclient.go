package omadm

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hellomdm/hellomdm/csp"
	"github.com/hellomdm/hellomdm/device/identity"
)

// PollSchedule is the DMClient Provider/{ProviderID}/Poll configuration (dmclient-csp;
// intervals in minutes, a remaining count of 0 means forever).
type PollSchedule struct {
	NumberOfFirstRetries                 int  `json:"numberOfFirstRetries"`
	IntervalForFirstSetOfRetries         int  `json:"intervalForFirstSetOfRetries"`
	NumberOfSecondRetries                int  `json:"numberOfSecondRetries"`
	IntervalForSecondSetOfRetries        int  `json:"intervalForSecondSetOfRetries"`
	NumberOfRemainingScheduledRetries    int  `json:"numberOfRemainingScheduledRetries"`
	IntervalForRemainingScheduledRetries int  `json:"intervalForRemainingScheduledRetries"`
	PollOnLogin                          bool `json:"pollOnLogin"`
}

// ClientState is the DMClient's own bookkeeping (dmclient.json): poll schedule and session
// counter.
type ClientState struct {
	Poll PollSchedule `json:"poll"`
	// SessionCounter is the SessionID of the last session started (MS-MDM: decimal, +1 per
	// session, as captures show; the server treats it as opaque).
	SessionCounter int `json:"sessionCounter"`
	// PushPFN is the Push/PFN the server set for our provider ("" none).
	PushPFN string `json:"pushPfn,omitempty"`
}

// Next returns the wait before poll number n (0-based, after the first session) under
// the DMClient schedule (dmclient-csp Poll): NumberOfFirstRetries at the first interval, then
// NumberOfSecondRetries at the second, then NumberOfRemainingScheduledRetries (0 = forever)
// at the third. ok=false when the schedule is spent. Intervals below one minute count as one
// (docs/protocol.md A.9).
func (p PollSchedule) Next(n int) (minutes int, ok bool) {
	steps := []struct{ count, interval int }{
		{p.NumberOfFirstRetries, p.IntervalForFirstSetOfRetries},
		{p.NumberOfSecondRetries, p.IntervalForSecondSetOfRetries},
		{p.NumberOfRemainingScheduledRetries, p.IntervalForRemainingScheduledRetries},
	}
	for i, st := range steps {
		if i == len(steps)-1 && st.count == 0 {
			return max(st.interval, 1), true
		}
		if n < st.count {
			return max(st.interval, 1), true
		}
		n -= st.count
	}
	return 0, false
}

// DMClientHandler owns ./Device/Vendor/MSFT/DMClient (dmclient-csp): HWDevID is live, Poll
// nodes update the poll schedule, and Exec of Unenroll with our ProviderID unenrolls the
// device at the end of the session.
type DMClientHandler struct {
	// HWDevID returns the device's HWDevID.
	HWDevID func() string
	// UpdatePoll runs f on the poll schedule under the agent's lock when provider is the
	// enrollment's ProviderID (otherwise it does nothing), and persists the schedule when f
	// reports a change; when f or the save fails the schedule is left as it was.
	UpdatePoll func(provider string, f func(*PollSchedule) (bool, error)) error
	// Unenroll records the server's Exec of Unenroll with data, which must name the
	// enrollment's provider (surrounding spaces aside); it fails otherwise.
	Unenroll func(provider string) error
	// SetPushPFN records a Replace, Add or Delete (pfn "") of provider's Push/PFN; it
	// does nothing for another provider. nil ignores it (the tree keeps the value).
	SetPushPFN func(provider, pfn string) error
	// Push returns provider's push state; ok false for another provider. nil: no push.
	Push func(provider string) (PushState, bool)
}

// DMClientRoot is the DMClient CSP's root.
const DMClientRoot = "./Device/Vendor/MSFT/DMClient"

// Prefix is the subtree the handler owns.
func (h DMClientHandler) Prefix() string { return DMClientRoot }

// Get answers HWDevID and the Push nodes (dmclient_push.go).
func (h DMClientHandler) Get(uri string) (string, bool, error) {
	if uri == DMClientRoot+"/HWDevID" {
		return h.HWDevID(), true, nil
	}
	v, ok := h.pushGet(uri)
	return v, ok, nil
}

// Changed applies a change of a Poll node of our provider to the poll schedule, and of
// Push/PFN to the push state.
func (h DMClientHandler) Changed(uri, value string, deleted bool) error {
	if provider, leaf, ok := pushLeaf(uri); ok && leaf == "PFN" {
		if h.SetPushPFN == nil {
			return nil
		}
		if deleted {
			value = ""
		}
		return h.SetPushPFN(provider, value)
	}
	rest, ok := strings.CutPrefix(uri, DMClientRoot+"/Provider/")
	if !ok {
		return nil
	}
	provider, leaf, _ := strings.Cut(rest, "/")
	return h.UpdatePoll(provider, func(p *PollSchedule) (bool, error) { return setPoll(p, leaf, value, deleted) })
}

// setPoll sets the Poll node leaf of p; changed is false for a node that is not part of
// the schedule.
func setPoll(p *PollSchedule, leaf, value string, deleted bool) (changed bool, err error) {
	var dst *int
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
		p.PollOnLogin = !deleted && value == "true"
		return true, nil
	default:
		return false, nil
	}
	n := 0
	if !deleted && value != "" {
		v, err := strconv.Atoi(value)
		if err != nil {
			return false, fmt.Errorf("DMClient %s: %q is not an integer", leaf, value)
		}
		n = v
	}
	*dst = n
	return true, nil
}

// Exec handles DMClient/Unenroll (MS-MDM B.9 server-initiated unenrollment): the data must
// name our provider.
func (h DMClientHandler) Exec(op csp.Op) (bool, error) {
	if op.URI != DMClientRoot+"/Unenroll" {
		return false, fmt.Errorf("no action at %s", op.URI)
	}
	return false, h.Unenroll(op.Data)
}

// DevInfoHandler answers DevInfo (devinfo-csp) and DevDetail (devdetail-csp) from the
// identity; nodes a wired desktop lacks (cellular, Wi-Fi) have no value and answer 404.
type DevInfoHandler struct {
	Root     string // ./DevInfo or ./DevDetail
	Identity func() identity.Identity
	Now      func() time.Time
}

// Prefix is the subtree the handler owns.
func (h DevInfoHandler) Prefix() string { return h.Root }

// Changed accepts the few writable nodes (DNSComputerName); the tree stores the value.
func (h DevInfoHandler) Changed(string, string, bool) error { return nil }

// Get answers a node's live value.
func (h DevInfoHandler) Get(uri string) (string, bool, error) {
	v, ok := DevInfoValue(h.Identity(), uri, h.Now)
	return v, ok, nil
}

// DevInfoValue is the live value of a DevInfo or DevDetail node (docs/protocol.md C.3).
func DevInfoValue(id identity.Identity, uri string, now func() time.Time) (string, bool) {
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
