package device

import (
	"errors"
	"fmt"

	"github.com/hellomdm/hellomdm/device/hello"
)

// fileJoin keeps how the simulated device is joined (JoinState).
const fileJoin = "join.json"

// JoinState is how the simulated device is joined and which Windows Hello for Business trust
// model its user's Hello container uses: facts of the device, like its edition, that decide
// which PIN resets are possible (device/hello SupportRules). They are chosen at enrollment
// (hellomdm device enroll --join/--trust/--account), persisted, changed with SetJoin
// (hellomdm device join), shown where `dsregcmd /status` shows them (Status) and reported to
// the server at every check-in (see joinNodes).
type JoinState struct {
	Join    hello.JoinType
	Trust   hello.TrustType
	Account hello.AccountType // the kind of account the enrolled user signs in with
}

// DefaultJoinState is the join state of a device that was never given one: Microsoft Entra
// joined, key trust, a work account.
var DefaultJoinState = JoinState{Join: hello.AzureADJoined, Trust: hello.KeyTrust, Account: hello.Enterprise}

// ErrJoinState is wrapped by every invalid JoinState.
var ErrJoinState = errors.New("invalid join state")

// Validate checks the three facts. A Microsoft account is possible only on an Entra
// registered device: Entra joined, hybrid joined and domain joined devices sign their users
// in with work or school accounts (Learn "PIN reset" lists Microsoft accounts apart from the
// join types).
func (j JoinState) Validate() error {
	switch {
	case j.Join < hello.AzureADJoined || j.Join > hello.EntraRegistered:
		return fmt.Errorf("%w: unknown join type %d", ErrJoinState, int(j.Join))
	case j.Trust < hello.CertTrust || j.Trust > hello.CloudTrust:
		return fmt.Errorf("%w: unknown trust type %d", ErrJoinState, int(j.Trust))
	case j.Account != hello.Enterprise && j.Account != hello.MicrosoftAccount:
		return fmt.Errorf("%w: unknown account type %d", ErrJoinState, int(j.Account))
	case j.Account == hello.MicrosoftAccount && j.Join != hello.EntraRegistered:
		return fmt.Errorf("%w: a Microsoft account signs in only on an Entra registered device, not on a %s device", ErrJoinState, j.Join)
	}
	return nil
}

// joinFile is the JSON form of JoinState: the short names of hello's Parse functions.
type joinFile struct {
	Join    string `json:"join"`
	Trust   string `json:"trust"`
	Account string `json:"account"`
}

func (a *Agent) loadJoin() error {
	var f joinFile
	ok, err := readJSON(a.path(fileJoin), &f)
	if err != nil {
		return fmt.Errorf("opening device state: %w", err)
	}
	if !ok {
		a.join = DefaultJoinState
		return nil
	}
	var j JoinState
	var errs []error
	var e error
	j.Join, e = hello.ParseJoinType(f.Join)
	errs = append(errs, e)
	j.Trust, e = hello.ParseTrustType(f.Trust)
	errs = append(errs, e)
	j.Account, e = hello.ParseAccountType(f.Account)
	errs = append(errs, e)
	if err := errors.Join(append(errs, j.Validate())...); err != nil {
		return fmt.Errorf("opening device state: %s: %w", fileJoin, err)
	}
	a.join = j
	return nil
}

// Join returns the device's join state (DefaultJoinState until SetJoin).
func (a *Agent) Join() JoinState {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.join
}

// SetJoin changes the device's join state; it is persisted at once, Status and the PIN
// reset flow use it from now on, and the server learns it at the next check-in.
func (a *Agent) SetJoin(j JoinState) error {
	if err := j.Validate(); err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := writeJSON(a.path(fileJoin), joinFile{Join: j.Join.Name(), Trust: j.Trust.Name(), Account: j.Account.Name()}); err != nil {
		return err
	}
	a.join = j
	a.log.Info("join state changed", "join", j.Join.String(), "trust", j.Trust.String(), "account", j.Account.String())
	return nil
}

// How the device reports its join state to the server. Windows has no CSP node for the join
// type or the Hello trust model (an MDM learns them from the directory, which hellomdm does
// not simulate), so the agent reports them in hellomdm's own reporting subtree, next to
// HelloStatus, in the same way: Replace items of package 1 (recorded by the server like
// DevInfo, MS-MDM 2.2.7.6) and Get-able nodes (csp/table.go). The values are those of
// Microsoft Graph's Intune joinType enum (azureADJoined, hybridAzureADJoined,
// azureADRegistered), plus domainJoined for on-premises domain join; the trust type is key,
// certificate or cloudKerberos; the account type workOrSchool or microsoftAccount.
const (
	deviceStateRoot  = "./Device/Vendor/MSFT/hellomdm/DeviceState"
	nodeJoinType     = deviceStateRoot + "/JoinType"
	nodeTrustType    = deviceStateRoot + "/TrustType"
	nodeAccountType  = deviceStateRoot + "/AccountType"
	reportedStateDir = "./Vendor/MSFT/hellomdm/DeviceState/" // package 1 uses the unscoped form, like HelloStatus
)

// reportedJoinType is the JoinType value of the DeviceState node.
func reportedJoinType(j hello.JoinType) string {
	switch j {
	case hello.AzureADJoined:
		return "azureADJoined"
	case hello.HybridJoined:
		return "hybridAzureADJoined"
	case hello.EntraRegistered:
		return "azureADRegistered"
	case hello.OnPremises:
		return "domainJoined"
	}
	return ""
}

func reportedTrustType(t hello.TrustType) string {
	switch t {
	case hello.KeyTrust:
		return "key"
	case hello.CertTrust:
		return "certificate"
	case hello.CloudTrust:
		return "cloudKerberos"
	}
	return ""
}

func reportedAccountType(a hello.AccountType) string {
	if a == hello.MicrosoftAccount {
		return "microsoftAccount"
	}
	return "workOrSchool"
}

// joinNodeValue is the live value of a DeviceState node.
func (a *Agent) joinNodeValue(uri string) (string, bool) {
	j := a.Join()
	switch uri {
	case nodeJoinType:
		return reportedJoinType(j.Join), true
	case nodeTrustType:
		return reportedTrustType(j.Trust), true
	case nodeAccountType:
		return reportedAccountType(j.Account), true
	}
	return "", false
}
