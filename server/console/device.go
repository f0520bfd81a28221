package console

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	adminclient "github.com/hellomdm/hellomdm/server/adminapi/client"
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
)

// deviceData is the device page.
type deviceData struct {
	Device   wire.Device
	Facts    []factGroup
	Settings []settingRow
	Counts   map[string]int
	Commands []wire.Command
	// Form is the queue-a-command form as sent, and FormError why the API refused it.
	Form      wire.CommandRequest
	FormError string
	// CanRetire: only the admin role retires devices (as in the API).
	CanRetire bool
}

// factGroup is a block of dsregcmd /status: its heading and name : value lines.
type factGroup struct {
	Title string
	Facts []fact
}

type fact struct{ Name, Value string }

// settingRow is one setting of the device with its state and why.
type settingRow struct {
	wire.SettingState
	// Title is the setting's name as the settings picker shows it ("Enable Pin Recovery").
	Title    string
	Profiles []string
	Reason   string
}

func devicePage(c *Ctx) error {
	return showDevice(c, http.StatusOK, wire.CommandRequest{Verb: "Get", Format: "chr"}, "")
}

func showDevice(c *Ctx, status int, form wire.CommandRequest, formErr string) error {
	ctx := c.R.Context()
	did := c.Var("did")
	d, err := c.API.Device(ctx, c.Tenant, did)
	if err != nil {
		return err
	}
	prof, err := c.API.DeviceProfiles(ctx, c.Tenant, did)
	if err != nil {
		return err
	}
	cmds, err := c.API.Commands(ctx, c.Tenant, did)
	if err != nil {
		return err
	}
	names, err := profileNames(c, prof.Profiles)
	if err != nil {
		return err
	}
	data := deviceData{Device: d, Facts: dsregFacts(d), Counts: prof.Counts, Form: form, FormError: formErr,
		CanRetire: c.Principal.Role == "admin" && d.EnrollmentState != "retired"}
	for _, s := range prof.Settings {
		row := settingRow{SettingState: s, Title: settingTitle(s.LocURI), Reason: settingReason(s)}
		for _, id := range s.Sources {
			row.Profiles = append(row.Profiles, firstNonEmpty(names[id], id))
		}
		data.Settings = append(data.Settings, row)
	}
	// Newest first: the history reads from the latest command down.
	for i := len(cmds) - 1; i >= 0; i-- {
		data.Commands = append(data.Commands, cmds[i])
	}
	return c.RenderStatus(status, "device.html", data)
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// profileNames maps the IDs of the profiles a device's settings come from to their names,
// looking up those profiles only (under either route), never the tenant's whole profile
// list. A profile deleted since, or not visible to the signed-in person, has no name.
func profileNames(c *Ctx, ids []string) (map[string]string, error) {
	out := map[string]string{}
	for _, id := range ids {
		for _, route := range adminclient.ProfileRoutes {
			p, err := c.API.Profile(c.R.Context(), c.Tenant, route, id)
			if adminclient.IsStatus(err, http.StatusNotFound) {
				continue
			}
			if err != nil {
				return nil, err
			}
			out[id] = p.Title()
			break
		}
	}
	return out, nil
}

// settingReason says why a setting stands where it does, in the words of the states.
func settingReason(s wire.SettingState) string {
	switch {
	case s.ErrorDetail != "":
		if s.ErrorCode != 0 {
			return fmt.Sprintf("%s (status %d)", s.ErrorDetail, s.ErrorCode)
		}
		return s.ErrorDetail
	case s.State == "error" && s.ErrorCode != 0:
		return fmt.Sprintf("the device answered status %d", s.ErrorCode)
	case s.State == "succeeded":
		return "the device applied the value and reads it back"
	case s.State == "conflict":
		return "profiles " + strings.Join(s.Sources, ", ") + " ask for different values: nothing is sent until one changes"
	case s.State == "pending" && s.Removing:
		return "no longer assigned: the Delete goes out at the next check-in"
	case s.State == "pending":
		return "sent, or to be sent, at the next check-in"
	case s.State == "notApplicable":
		return "does not apply to this device (its OS version or edition)"
	case s.State == "removed":
		return "no longer assigned, and deleted on the device"
	}
	return ""
}

// dsregFacts shows the device as `dsregcmd /status` would, from what it reported.
func dsregFacts(d wire.Device) []factGroup {
	yes := func(b bool) string {
		if b {
			return "YES"
		}
		return "NO"
	}
	aad := d.JoinType == "azureADJoined" || d.JoinType == "hybridAzureADJoined"
	dom := d.JoinType == "domainJoined" || d.JoinType == "hybridAzureADJoined"
	reported := d.JoinType != ""
	join := []fact{
		{"AzureAdJoined", yesOr(reported, yes(aad))},
		{"EnterpriseJoined", yesOr(reported, "NO")},
		{"DomainJoined", yesOr(reported, yes(dom))},
		{"DeviceName", d.DeviceName},
	}
	details := []fact{{"DeviceId", d.ID}, {"OSVersion", d.OSVersion}, {"EnrollmentType", d.EnrollmentType},
		{"DeviceCertificateSerial", d.CertSerial}, {"DeviceCertificateValidity", "until " + when(d.CertNotAfter)}}
	user := []fact{
		{"WorkplaceJoined", yesOr(reported, yes(d.JoinType == "azureADRegistered"))},
		{"UserPrincipalName", d.UserPrincipalName},
		{"AccountType", d.AccountType},
		{"TrustType", d.TrustType},
		{"CanReset", firstNonEmpty(d.CanReset, "(not reported yet)")},
	}
	if d.CanResetReason != "" {
		user = append(user, fact{"CanResetReason", d.CanResetReason})
	}
	mdm := []fact{{"EnrollmentState", d.EnrollmentState}, {"EnrolledAt", when(d.EnrolledAt)}, {"LastCheckIn", when(d.LastSeenAt)}}
	return []factGroup{{"Device State", join}, {"Device Details", details}, {"User State", user}, {"Management", mdm}}
}

func yesOr(reported bool, v string) string {
	if !reported {
		return "(not reported yet)"
	}
	return v
}

func deviceRetire(c *Ctx) error {
	d, err := c.API.RetireDevice(c.R.Context(), c.Tenant, c.Var("did"))
	if err != nil {
		return err
	}
	return c.Redirect(c.Path("/devices", d.ID), "Retired "+firstNonEmpty(d.DeviceName, d.ID)+": its check-ins are refused from now on.")
}

func deviceResendFailed(c *Ctx) error {
	out, err := c.API.ResendFailed(c.R.Context(), c.Tenant, c.Var("did"))
	if ae, ok := errors.AsType[*adminclient.Error](err); ok && ae.Status == http.StatusConflict {
		return c.Redirect(c.Path("/devices", c.Var("did")), "No setting of this device is in error: nothing to send again.")
	}
	if err != nil {
		return err
	}
	msg := fmt.Sprintf("%d failed settings go out again at the device's next check-in.", len(out.Settings))
	if len(out.Settings) == 1 {
		msg = "1 failed setting goes out again at the device's next check-in."
	}
	return c.Redirect(c.Path("/devices", out.DeviceID), msg)
}

func deviceQueueCommand(c *Ctx) error {
	f := c.R.PostForm
	req := wire.CommandRequest{Verb: f.Get("verb"), LocURI: strings.TrimSpace(f.Get("locUri")), Format: f.Get("format"), Data: f.Get("data")}
	if req.Verb == "Get" || req.Verb == "Delete" {
		req.Format, req.Data = "", ""
	}
	cmd, err := c.API.QueueCommand(c.R.Context(), c.Tenant, c.Var("did"), req)
	if ae, ok := errors.AsType[*adminclient.Error](err); ok && (ae.Status == http.StatusUnprocessableEntity || ae.Status == http.StatusBadRequest) {
		return showDevice(c, http.StatusUnprocessableEntity, req, ae.Message)
	}
	if err != nil {
		return err
	}
	return c.Redirect(c.Path("/devices", c.Var("did")), "Queued "+cmd.Verb+" "+cmd.LocURI+": it goes out at the device's next check-in.")
}

// deviceSync is "Sync now" (the API's syncDevice): the device is asked to check in at once,
// and the notice says what the server could do.
func deviceSync(c *Ctx) error {
	out, err := c.API.SyncDevice(c.R.Context(), c.Tenant, c.Var("did"))
	if ae, ok := errors.AsType[*adminclient.Error](err); ok && ae.Status == http.StatusConflict {
		return c.Redirect(c.Path("/devices", c.Var("did")), "Not synced: "+ae.Message+".")
	}
	if err != nil {
		return err
	}
	msg := "Sync requested: "
	switch out.Wake {
	case "delivered":
		msg += "the device was woken up and checks in now."
	case "forwarded":
		msg += "the device is connected to another server or reached through WNS; it was asked to check in."
	default:
		msg += "the device holds no push channel the server can reach; it checks in at its next scheduled poll."
	}
	return c.Redirect(c.Path("/devices", c.Var("did")), msg)
}
