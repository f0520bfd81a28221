package identity

import (
	"errors"
	"fmt"

	"github.com/hellomdm/hellomdm/device/hello"
)

// JoinState is how the simulated device is joined and which Windows Hello for Business trust
// model its user's Hello container uses: facts of the device, like its edition, that decide
// which PIN resets are possible (device/hello SupportRules). They are chosen at enrollment
// (hellomdm device enroll --join/--trust/--account), persisted, changed with SetJoin
// (hellomdm device join), shown where `dsregcmd /status` shows them (device status) and reported to
// the server at every check-in (NodeValue).
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

// How the device reports its join state to the server. Windows has no CSP node for the join
// type or the Hello trust model (an MDM learns them from the directory, which hellomdm does
// not simulate), so the agent reports them in hellomdm's own reporting subtree, next to
// HelloStatus, in the same way: Replace items of package 1 (recorded by the server like
// DevInfo, MS-MDM 2.2.7.6) and Get-able nodes (csp/table.go). The values are those of
// Microsoft Graph's Intune joinType enum (azureADJoined, hybridAzureADJoined,
// azureADRegistered), plus domainJoined for on-premises domain join; the trust type is key,
// certificate or cloudKerberos; the account type workOrSchool or microsoftAccount.
const (
	DeviceStateRoot  = "./Device/Vendor/MSFT/hellomdm/DeviceState"
	NodeJoinType     = DeviceStateRoot + "/JoinType"
	NodeTrustType    = DeviceStateRoot + "/TrustType"
	NodeAccountType  = DeviceStateRoot + "/AccountType"
	ReportedStateDir = "./Vendor/MSFT/hellomdm/DeviceState/" // package 1 uses the unscoped form, like HelloStatus
)

// ReportedJoinType is the JoinType value of the DeviceState node.
func ReportedJoinType(j hello.JoinType) string {
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

// ReportedTrustType is the TrustType value of the DeviceState node.
func ReportedTrustType(t hello.TrustType) string {
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

// ReportedAccountType is the AccountType value of the DeviceState node.
func ReportedAccountType(a hello.AccountType) string {
	if a == hello.MicrosoftAccount {
		return "microsoftAccount"
	}
	return "workOrSchool"
}

// NodeValue is the live value of a DeviceState node for j.
func (j JoinState) NodeValue(uri string) (string, bool) {
	switch uri {
	case NodeJoinType:
		return ReportedJoinType(j.Join), true
	case NodeTrustType:
		return ReportedTrustType(j.Trust), true
	case NodeAccountType:
		return ReportedAccountType(j.Account), true
	}
	return "", false
}
