package console

import (
	"encoding/csv"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/hellomdm/hellomdm/audit"
	"github.com/hellomdm/hellomdm/csp"
	adminclient "github.com/hellomdm/hellomdm/server/adminapi/client"
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
)

// A profile's status (Intune's Device and user check-in status and per-setting status): one
// row per device × setting of the API's deviceStatuses report, counts by state as a chart,
// each row linking to its device, and the same rows as CSV.

// settingStates are the states of a device's setting, in the chart's order, with the bar
// class that colours them.
var settingStates = []struct{ State, Label, Class string }{
	{"succeeded", "Succeeded", "good"},
	{"error", "Error", "bad"},
	{"conflict", "Conflict", "warn"},
	{"notApplicable", "Not applicable", "none"},
	{"pending", "Pending", "info"},
	{"removed", "Removed", "none"},
}

// statusRowsPerPage bounds a page of the status table (the CSV has every row).
const statusRowsPerPage = 100

// statusRow is one device × setting.
type statusRow struct {
	DeviceID, DeviceName, User string
	Setting, LocURI, Value     string
	State, Detail              string
	ErrorCode                  int
	Removing                   bool
	LastChanged                time.Time
}

type statusView struct {
	ID, Name, Route string
	Deleted         bool
	Chart           chart
	Rows            []statusRow
	Page, Pages     int
	Total           int
}

// settingTitle is a setting's display name from its LocURI's last segment, as the settings
// picker names it ("Enable Pin Recovery").
func settingTitle(locURI string) string { return csp.SettingName(path.Base(locURI)) }

// statusRows flattens a report into device × setting rows.
func statusRows(st wire.ProfileStatus) []statusRow {
	var out []statusRow
	for _, d := range st.Devices {
		for _, s := range d.Settings {
			out = append(out, statusRow{DeviceID: d.DeviceID, Setting: settingTitle(s.LocURI), LocURI: s.LocURI, Value: s.Value,
				State: s.State, Detail: s.ErrorDetail, ErrorCode: s.ErrorCode, Removing: s.Removing, LastChanged: s.LastChanged})
		}
	}
	return out
}

func loadStatus(c *Ctx) (adminclient.ProfileRoute, adminclient.Profile, wire.ProfileStatus, error) {
	route, err := profileRoute(c.Var("route"))
	if err != nil {
		return "", adminclient.Profile{}, wire.ProfileStatus{}, err
	}
	ctx := c.R.Context()
	st, err := c.API.ProfileStatus(ctx, c.Tenant, route, c.Var("pid"))
	if err != nil {
		return "", adminclient.Profile{}, wire.ProfileStatus{}, err
	}
	p := adminclient.Profile{ID: st.ProfileID}
	if !st.Deleted {
		if p, err = c.API.Profile(ctx, c.Tenant, route, c.Var("pid")); err != nil {
			return "", adminclient.Profile{}, wire.ProfileStatus{}, err
		}
	}
	return route, p, st, nil
}

func profileStatusPage(c *Ctx) error {
	route, p, st, err := loadStatus(c)
	if err != nil {
		return err
	}
	v := statusView{ID: st.ProfileID, Name: cmpOr(p.Title(), st.ProfileID), Route: string(route), Deleted: st.Deleted}
	var bars []bar
	for _, s := range settingStates {
		bars = append(bars, bar{Label: s.Label, Class: s.Class, Count: st.Counts[s.State]})
	}
	v.Chart = newChart("Device settings by state", "State", "device settings", bars)
	rows := statusRows(st)
	v.Total = len(rows)
	v.Pages = max(1, (len(rows)+statusRowsPerPage-1)/statusRowsPerPage)
	v.Page = 1
	if n, err := strconv.Atoi(c.R.URL.Query().Get("page")); err == nil && n >= 1 && n <= v.Pages {
		v.Page = n
	}
	lo := (v.Page - 1) * statusRowsPerPage
	v.Rows = rows[lo:min(len(rows), lo+statusRowsPerPage)]
	// Device names for the rows shown (one read each, at most a page's worth).
	names := map[string]wire.Device{}
	for i := range v.Rows {
		r := &v.Rows[i]
		dv, ok := names[r.DeviceID]
		if !ok {
			if dv, err = c.API.Device(c.R.Context(), c.Tenant, r.DeviceID); err != nil && !adminclient.IsStatus(err, http.StatusNotFound) {
				return err
			}
			names[r.DeviceID] = dv
		}
		r.DeviceName, r.User = dv.DeviceName, dv.UserPrincipalName
	}
	return c.Render("profiles_status.html", v)
}

// attachmentName is a profile's name as a download's file name: printable ASCII without
// quotes, slashes or backslashes (each other character becomes _).
func attachmentName(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == '"' || r == '\\' || r == '/' || r > 0x7e {
			return '_'
		}
		return r
	}, s)
}

// profileStatusCSV is the report as CSV (RFC 4180, a header row; cells a spreadsheet would
// run as a formula are neutralised as the audit export does, audit.NeutraliseCell).
func profileStatusCSV(c *Ctx) error {
	_, p, st, err := loadStatus(c)
	if err != nil {
		return err
	}
	c.W.Header().Set("Content-Type", "text/csv; charset=utf-8")
	c.W.Header().Set("Content-Disposition", `attachment; filename="`+attachmentName(cmpOr(p.Title(), st.ProfileID))+` status.csv"`)
	w := csv.NewWriter(c.W)
	w.UseCRLF = true
	_ = w.Write([]string{"deviceId", "setting", "locUri", "value", "state", "removing", "errorCode", "errorDetail", "lastChanged"})
	for _, r := range statusRows(st) {
		changed := ""
		if !r.LastChanged.IsZero() {
			changed = r.LastChanged.UTC().Format(time.RFC3339)
		}
		cells := []string{r.DeviceID, r.Setting, r.LocURI, r.Value, r.State, strconv.FormatBool(r.Removing),
			strconv.Itoa(r.ErrorCode), r.Detail, changed}
		for i := range cells {
			cells[i] = audit.NeutraliseCell(cells[i])
		}
		_ = w.Write(cells)
	}
	w.Flush()
	return w.Error()
}
