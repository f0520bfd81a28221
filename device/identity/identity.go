// Package identity holds the facts of the simulated Windows device: what it says about
// itself (Identity: in the MS-MDE2 AdditionalContext, DevInfo/DevDetail and every SyncHdr)
// and how it is joined (JoinState: join type, Hello trust model, account type), which decide
// which PIN resets are possible.
package identity

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Identity is what the simulated Windows device says about itself: in the MS-MDE2
// AdditionalContext (docs/protocol.md A.7), in DevInfo/DevDetail (C.3) and in every SyncHdr.
type Identity struct {
	DeviceID     string   `json:"deviceId"`     // 32 upper-case hex digits: ./DevInfo/DevId
	HWDevID      string   `json:"hwDevId"`      // 64 upper-case hex digits: DMClient/HWDevID
	DeviceName   string   `json:"deviceName"`   // NetBIOS name, e.g. DESKTOP-28FGAI6
	Manufacturer string   `json:"manufacturer"` // ./DevInfo/Man
	Model        string   `json:"model"`        // ./DevInfo/Mod
	OSVersion    string   `json:"osVersion"`    // Major.Minor.Build.QFE, e.g. 10.0.22631.2428
	OSEdition    int      `json:"osEdition"`    // GetProductInfo type: 4 Enterprise, 48 Pro, 101 Home
	Locale       string   `json:"locale"`       // e.g. en-US
	MACs         []string `json:"macs"`         // 00-0C-29-51-60-9D form, one per adapter
}

// Windows product types used by the presets (MS-MDE2 DiscoveryRequest OSEdition;
// docs/protocol.md A.2).
const (
	EditionEnterprise = 4
	EditionPro        = 48
	EditionHome       = 101
	EditionEducation  = 121
)

// Presets for tests and the CLI: a Windows 10 1709 Enterprise and a Windows 11 23H2 Pro.
const (
	OSVersionWindows10v1709 = "10.0.16299.2166"
	OSVersionWindows11v23H2 = "10.0.22631.2428"
)

// New returns a fresh identity of a Windows 11 Pro virtual machine with random
// DeviceID, HWDevID, name and MAC addresses drawn from rnd (crypto/rand when nil).
func New(rnd io.Reader) (Identity, error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	buf := make([]byte, 16+32+4+6)
	if _, err := io.ReadFull(rnd, buf); err != nil {
		return Identity{}, fmt.Errorf("generating device identity: %w", err)
	}
	mac := buf[52:58]
	mac[0] = mac[0]&0xfc | 0x02 // locally administered, unicast
	macParts := make([]string, len(mac))
	for i, b := range mac {
		macParts[i] = fmt.Sprintf("%02X", b)
	}
	return Identity{
		DeviceID:     strings.ToUpper(hex.EncodeToString(buf[:16])),
		HWDevID:      strings.ToUpper(hex.EncodeToString(buf[16:48])),
		DeviceName:   "DESKTOP-" + strings.ToUpper(hex.EncodeToString(buf[48:52]))[:7],
		Manufacturer: "Microsoft Corporation",
		Model:        "Virtual Machine",
		OSVersion:    OSVersionWindows11v23H2,
		OSEdition:    EditionPro,
		Locale:       "en-US",
		MACs:         []string{strings.Join(macParts, "-")},
	}, nil
}

// ErrIdentity is wrapped by every identity validation failure.
var ErrIdentity = errors.New("invalid device identity")

// Validate checks the identity against the shapes Windows uses (docs/protocol.md A.2, A.7).
func (id Identity) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrIdentity, fmt.Sprintf(format, args...))
	}
	if len(id.DeviceID) != 32 || !isUpperHex(id.DeviceID) {
		return bad("DeviceID %q is not 32 upper-case hex digits", id.DeviceID)
	}
	if len(id.HWDevID) != 64 || !isUpperHex(id.HWDevID) {
		return bad("HWDevID %q is not 64 upper-case hex digits", id.HWDevID)
	}
	if id.DeviceName == "" || len(id.DeviceName) > 63 || strings.ContainsAny(id.DeviceName, " \t\r\n<>&\"'") {
		return bad("DeviceName %q is empty, too long or holds spaces or markup", id.DeviceName)
	}
	if _, err := parseOSVersion(id.OSVersion); err != nil {
		return bad("%v", err)
	}
	if id.OSEdition <= 0 || id.OSEdition > 0xffff {
		return bad("OSEdition %d is not a product type", id.OSEdition)
	}
	if id.Manufacturer == "" || id.Model == "" || id.Locale == "" {
		return bad("Manufacturer, Model and Locale are required")
	}
	for _, m := range id.MACs {
		if len(m) != 17 || strings.Count(m, "-") != 5 {
			return bad("MAC %q is not in 00-0C-29-51-60-9D form", m)
		}
	}
	return nil
}

func isUpperHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// parseOSVersion parses Major.Minor.Build[.QFE].
func parseOSVersion(s string) ([4]int, error) {
	var v [4]int
	parts := strings.Split(s, ".")
	if len(parts) < 3 || len(parts) > 4 {
		return v, fmt.Errorf("OS version %q is not Major.Minor.Build.QFE", s)
	}
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || len(p) > 6 {
			return v, fmt.Errorf("OS version %q is not Major.Minor.Build.QFE", s)
		}
		v[i] = n
	}
	return v, nil
}

// OSPlatform is the product name DevDetail/Ext/Microsoft/OSPlatform reports, e.g.
// "Windows 11 Pro": builds from 22000 on are Windows 11 (devdetail-csp; docs/protocol.md C.3).
func (id Identity) OSPlatform() string {
	product := "Windows 10"
	if v, err := parseOSVersion(id.OSVersion); err == nil && v[0] == 10 && v[2] >= 22000 {
		product = "Windows 11"
	}
	return product + " " + editionName(id.OSEdition)
}

func editionName(e int) string {
	switch e {
	case EditionEnterprise:
		return "Enterprise"
	case EditionPro:
		return "Pro"
	case 72:
		return "Enterprise Evaluation"
	case EditionHome:
		return "Home"
	case EditionEducation:
		return "Education"
	}
	return "Edition " + strconv.Itoa(e)
}
