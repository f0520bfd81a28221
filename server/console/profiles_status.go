package console

import (
	"encoding/csv"
	"errors"
	"net/http"
	"net/url"
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
// row per device × setting of the API's deviceStatuses report, a page at a time from the
// profile status index (by device ID, then LocURI; a skip token goes on), counts by state as
// a chart, a filter by state, each row linking to its device, and every row as CSV, read a
// page at a time.

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

// statusRowsPerPage bounds a page of the status table; statusCSVPage is the page size the
// CSV reads with.
const (
	statusRowsPerPage = 100
	statusCSVPage     = 1000
)

// statusRow is one device × setting.
type statusRow struct {
	DeviceID, DeviceName, User string
	Setting, LocURI, Value     string
	State, Detail              string
	ErrorCode                  int
	Removing                   bool
	LastChanged                time.Time
}

// stateOption is one choice of the state filter.
type stateOption struct {
	State, Label string
	Count        int
	Selected     bool
}

type statusView struct {
	ID, Name, Route string
	Deleted         bool
	Chart           chart
	States          []stateOption
	State           string // the filter ("" all)
	Rows            []statusRow
	Total           int    // rows in the filter
	First, Next     string // pager addresses ("" none)
}

// settingTitle is a setting's display name from its LocURI's last segment, as the settings
// picker names it ("Enable Pin Recovery").
func settingTitle(locURI string) string { return csp.SettingName(path.Base(locURI)) }

// statusRows flattens a report into device × setting rows.
func statusRows(st wire.ProfileStatus) []statusRow {
	var out []statusRow
	for _, d := range st.Devices {
		for _, s := range d.Settings {
			out = append(out, statusRow{DeviceID: d.DeviceID, DeviceName: d.DeviceName, User: d.UserPrincipalName, Setting: settingTitle(s.LocURI),
				LocURI: s.LocURI, Value: s.Value, State: s.State, Detail: s.ErrorDetail, ErrorCode: s.ErrorCode, Removing: s.Removing,
				LastChanged: s.LastChanged})
		}
	}
	return out
}

// loadStatus reads a page of the report and the profile (a deleted profile has none left).
func loadStatus(c *Ctx, q adminclient.ProfileStatusQuery) (adminclient.ProfileRoute, adminclient.Profile, wire.ProfileStatus, error) {
	route, err := profileRoute(c.Var("route"))
	if err != nil {
		return "", adminclient.Profile{}, wire.ProfileStatus{}, err
	}
	ctx := c.R.Context()
	st, err := c.API.ProfileStatusPage(ctx, c.Tenant, route, c.Var("pid"), q)
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

// statusState is the request's state filter: one of settingStates, else all.
func statusState(c *Ctx) string {
	v := c.R.URL.Query().Get("state")
	for _, s := range settingStates {
		if s.State == v {
			return v
		}
	}
	return ""
}

func profileStatusPage(c *Ctx) error {
	q := adminclient.ProfileStatusQuery{State: statusState(c), Top: statusRowsPerPage, SkipToken: c.R.URL.Query().Get("after")}
	route, p, st, err := loadStatus(c, q)
	if ae, ok := errors.AsType[*adminclient.Error](err); ok && ae.Status == http.StatusUnprocessableEntity && q.SkipToken != "" {
		// A skip token of another listing (or a forged one): start from the first page.
		q.SkipToken = ""
		route, p, st, err = loadStatus(c, q)
	}
	if err != nil {
		return err
	}
	v := statusView{ID: st.ProfileID, Name: cmpOr(p.Title(), st.ProfileID), Route: string(route), Deleted: st.Deleted, State: q.State,
		Rows: statusRows(st)}
	var bars []bar
	for _, s := range settingStates {
		n := st.Counts[s.State]
		bars = append(bars, bar{Label: s.Label, Class: s.Class, Count: n})
		v.States = append(v.States, stateOption{State: s.State, Label: s.Label, Count: n, Selected: s.State == q.State})
		if q.State == "" || q.State == s.State {
			v.Total += n
		}
	}
	v.Chart = newChart("Device settings by state", "State", "device settings", bars)
	base := url.Values{}
	if q.State != "" {
		base.Set("state", q.State)
	}
	self := c.Path("/profiles", string(route), st.ProfileID, "status") + "?"
	if q.SkipToken != "" {
		v.First = self + base.Encode()
	}
	if st.NextSkipToken != "" {
		base.Set("after", st.NextSkipToken)
		v.Next = self + base.Encode()
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
	q := adminclient.ProfileStatusQuery{State: statusState(c), Top: statusCSVPage}
	route, p, st, err := loadStatus(c, q)
	if err != nil {
		return err
	}
	c.W.Header().Set("Content-Type", "text/csv; charset=utf-8")
	c.W.Header().Set("Content-Disposition", `attachment; filename="`+attachmentName(cmpOr(p.Title(), st.ProfileID))+` status.csv"`)
	w := csv.NewWriter(c.W)
	w.UseCRLF = true
	_ = w.Write([]string{"deviceId", "setting", "locUri", "value", "state", "removing", "errorCode", "errorDetail", "lastChanged"})
	for {
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
		if st.NextSkipToken == "" {
			break
		}
		// The rows so far go out before the next page is read; a failure after the first
		// page can only cut the download short.
		w.Flush()
		q.SkipToken = st.NextSkipToken
		if st, err = c.API.ProfileStatusPage(c.R.Context(), c.Tenant, route, c.Var("pid"), q); err != nil {
			c.c.log.Error("reading the next page of a profile status CSV failed", "profile", c.Var("pid"), "err", err)
			return nil
		}
	}
	w.Flush()
	return w.Error()
}
