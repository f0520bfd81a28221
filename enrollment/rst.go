package enrollment

import (
	"fmt"

	"github.com/hellomdm/hellomdm/enrollment/mde2"
)

// rstRequest is a decoded RequestSecurityToken body.
type rstRequest struct {
	Renew bool
	CSR   []byte // DER PKCS#10
	Ctx   mde2.DeviceContext
}

// parseRST reads the RequestSecurityToken operation, unwraps a PKCS#7 renewal request and,
// for an initial enrollment, checks the context items it cannot do without.
func parseRST(env *mde2.Envelope) (rstRequest, error) {
	var r rstRequest
	rst, err := env.RequestSecurityToken()
	if err != nil {
		return r, decodeFault(err)
	}
	r.Renew, r.CSR, r.Ctx = rst.Renew(), rst.Request, rst.DeviceContext()
	if rst.ValueType == mde2.ValueTypePKCS7 {
		if r.CSR, err = mde2.UnwrapRenewal(rst.Request); err != nil {
			return r, senderFault(mde2.SubcodeCertificateRequest, "malformed PKCS#7 renewal request", fmt.Errorf("%w: %w", ErrBadCSR, err))
		}
	}
	if !r.Renew {
		if err := validateIssue(&r.Ctx); err != nil {
			return r, err
		}
	}
	return r, checkDeviceText(&r.Ctx)
}

// MaxDeviceNameLen bounds the DeviceName an enrollment or a renewal may carry, in bytes: the
// store keys its device index with it and refuses a longer one (store.MaxDeviceTextLen, which
// this must not exceed). Windows sends the computer name, at most 63 characters.
const MaxDeviceNameLen = 256

// maxOSVersionLen bounds OSVersion (Windows sends e.g. 10.0.26100.2605).
const maxOSVersionLen = 64

// checkDeviceText refuses, as invalid enrollment data, a DeviceName or OSVersion too long
// for the device record, on an enrollment and on a renewal (which updates both).
func checkDeviceText(c *mde2.DeviceContext) error {
	if len(c.DeviceName) > MaxDeviceNameLen {
		return dataFault(fmt.Sprintf("DeviceName longer than %d bytes", MaxDeviceNameLen), nil)
	}
	if len(c.OSVersion) > maxOSVersionLen {
		return dataFault("missing or invalid OSVersion", nil)
	}
	return nil
}

// validateIssue checks the items an initial enrollment cannot do without (MS-MDE2
// 3.4.4.1.1.1 AdditionalContext).
func validateIssue(c *mde2.DeviceContext) error {
	if err := checkDeviceID(c.DeviceID); err != nil {
		return err
	}
	if c.HWDevID == "" || len(c.HWDevID) > 128 || !isIDChars(c.HWDevID) {
		return dataFault("missing or invalid HWDevID", nil)
	}
	if c.EnrollmentType != mde2.EnrollmentTypeFull && c.EnrollmentType != mde2.EnrollmentTypeDevice {
		return dataFault("EnrollmentType must be Full or Device", fmt.Errorf("enrollment type %.64q", c.EnrollmentType))
	}
	if c.OSVersion == "" || len(c.OSVersion) > maxOSVersionLen {
		return dataFault("missing or invalid OSVersion", nil)
	}
	return checkRequestVersion(c)
}

func checkRequestVersion(c *mde2.DeviceContext) error {
	if c.RequestVersion != "" && !supportedVersions[c.RequestVersion] {
		f := dataFault("unsupported RequestVersion", fmt.Errorf("version %.16q", c.RequestVersion))
		f.ErrorType = mde2.ErrorTypeDeviceNotSupported
		return f
	}
	return nil
}

// checkDeviceID accepts the 32-hex DeviceID Windows sends and the GUID forms
// other clients use: 1–64 characters of [A-Za-z0-9-{}]. The value becomes the
// certificate CN and the SyncML Source LocURI, so nothing else is allowed.
func checkDeviceID(id string) error {
	if id == "" || len(id) > 64 || !isIDChars(id) {
		return dataFault("missing or invalid DeviceID", nil)
	}
	return nil
}

func isIDChars(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '{' || c == '}') {
			return false
		}
	}
	return true
}
