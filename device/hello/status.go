package hello

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// CanReset values of the dsregcmd /status User State block (Learn page "PIN reset",
// "Confirm that PIN Recovery policy is enforced on the devices").
const (
	CanResetDestructiveOnly              = "DestructiveOnly"
	CanResetDestructiveAndNonDestructive = "DestructiveAndNonDestructive"
)

// UserState is the Hello part of the dsregcmd /status User State block, plus the PIN
// lockout state dsregcmd does not show.
type UserState struct {
	NgcSet   bool   // a container exists
	NgcKeyID string // canonical GUID without braces; empty when !NgcSet
	CanReset string // CanReset* constant; empty when !NgcSet
	// CanResetReason says why CanReset is DestructiveOnly: the support matrix refusal
	// ("PIN reset not supported (row): reason; suggestion"). The device agent fills it (see
	// NonDestructiveRefusal); Status leaves it empty. Not a dsregcmd line.
	CanResetReason string
	// FailedPINAttempts counts wrong PINs since the last correct or new PIN.
	FailedPINAttempts int
	// PINLocked: FailedPINAttempts reached the limit; Unlock returns ErrPINLocked until the
	// PIN is reset.
	PINLocked bool
}

// Status reads the user's Hello state from dir without the PIN. CanReset is
// DestructiveAndNonDestructive only while a PIN reset protector the service can decrypt
// exists (one not ProtectorOutdated): the agent creates the protector when
// EnablePinRecovery is true and destroys it when false (docs/protocol.md D.5).
// That is only the container's part of the answer: the device agent replaces CanReset with
// the whole support matrix's (NonDestructiveRefusal: edition, version, join, trust,
// account, tenant). PINLocked follows the limit of WithMaxPINAttempts, if given.
func Status(dir, user string, opts ...Option) (UserState, error) {
	c, err := Open(dir, user, opts...)
	if errors.Is(err, ErrNoContainer) {
		return UserState{}, nil
	}
	if err != nil {
		return UserState{}, fmt.Errorf("reading Hello status: %w", err)
	}
	s := UserState{
		NgcSet: true, NgcKeyID: c.NgcKeyID(), CanReset: CanResetDestructiveOnly,
		FailedPINAttempts: c.FailedPINAttempts(), PINLocked: c.PINLocked(),
	}
	if c.HasProtector() && !c.ProtectorOutdated() {
		s.CanReset = CanResetDestructiveAndNonDestructive
	}
	return s, nil
}

// FormatKeyID renders a GUID the way dsregcmd shows NgcKeyId: upper case, in braces.
func FormatKeyID(id string) string {
	return "{" + strings.ToUpper(id) + "}"
}

// UserStateReport is everything FormatUserState prints. The Hello fields come from Status;
// the rest is filled by the agent from its join and token state.
type UserStateReport struct {
	UserState
	WorkplaceJoined     bool
	WamDefaultSet       bool
	WamDefaultAuthority string // e.g. "organizations"; omitted when empty
	WamDefaultID        string // e.g. "https://login.microsoft.com"; omitted when empty
	WamDefaultGUID      string // printed as given; omitted when empty
	// SSO, when set, adds the SSO State block in which dsregcmd reports AzureAdPrt.
	SSO *SSOState
}

// SSOState is the part of the dsregcmd SSO State block the agent simulates.
type SSOState struct {
	AzureAdPrt          bool
	AzureAdPrtAuthority string // omitted when empty
}

const boxWidth = 70 // dashes between the corners of a dsregcmd section border

// FormatUserState renders r as the User State section of `dsregcmd /status` (and, when
// r.SSO is set, the SSO State section): a boxed title, then "Name : value" lines with the
// names right-aligned so the colons line up, as on the Learn page "PIN reset". While wrong
// PINs are recorded it adds PinFailedAttempts and PinLocked after CanReset; these are
// hellomdm's lines, not dsregcmd's.
func FormatUserState(r UserStateReport) string {
	var b strings.Builder
	fields := [][2]string{{"NgcSet", yesNo(r.NgcSet)}}
	if r.NgcSet {
		fields = append(fields, [2]string{"NgcKeyId", FormatKeyID(r.NgcKeyID)})
		if r.CanReset != "" {
			fields = append(fields, [2]string{"CanReset", r.CanReset})
		}
		if r.FailedPINAttempts > 0 || r.PINLocked {
			fields = append(fields,
				[2]string{"PinFailedAttempts", strconv.Itoa(r.FailedPINAttempts)},
				[2]string{"PinLocked", yesNo(r.PINLocked)})
		}
	}
	fields = append(fields,
		[2]string{"WorkplaceJoined", yesNo(r.WorkplaceJoined)},
		[2]string{"WamDefaultSet", yesNo(r.WamDefaultSet)})
	for _, f := range [][2]string{
		{"WamDefaultAuthority", r.WamDefaultAuthority},
		{"WamDefaultId", r.WamDefaultID},
		{"WamDefaultGUID", r.WamDefaultGUID},
	} {
		if f[1] != "" {
			fields = append(fields, f)
		}
	}
	writeSection(&b, "User State", fields)
	if r.SSO != nil {
		sso := [][2]string{{"AzureAdPrt", yesNo(r.SSO.AzureAdPrt)}}
		if r.SSO.AzureAdPrtAuthority != "" {
			sso = append(sso, [2]string{"AzureAdPrtAuthority", r.SSO.AzureAdPrtAuthority})
		}
		writeSection(&b, "SSO State", sso)
	}
	return b.String()
}

// labelWidth is the column in which dsregcmd right-aligns field names.
const labelWidth = 26

func writeSection(b *strings.Builder, title string, fields [][2]string) {
	border := "+" + strings.Repeat("-", boxWidth) + "+\n"
	b.WriteString(border)
	fmt.Fprintf(b, "| %-*s|\n", boxWidth-1, title)
	b.WriteString(border)
	b.WriteString("\n")
	for _, f := range fields {
		fmt.Fprintf(b, "%*s : %s\n", labelWidth, f[0], f[1])
	}
	b.WriteString("\n")
	b.WriteString(border)
}

func yesNo(v bool) string {
	if v {
		return "YES"
	}
	return "NO"
}
