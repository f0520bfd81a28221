package console

import (
	"net/http"
	"time"

	adminclient "github.com/hellomdm/hellomdm/server/adminapi/client"
)

func init() {
	Register(&Section{Title: "Overview", Path: "/", Order: 10},
		Route{Method: http.MethodGet, Path: "/", Handle: overview})
}

// overviewData is the tenant overview.
type overviewData struct {
	Tenant          adminclient.Tenant
	Enrolled        int
	CheckinsLastHr  int
	Coverage        chart
	ProfilesInTroub []profileTrouble
}

// profileTrouble is a profile with settings in error or conflict on some devices.
type profileTrouble struct {
	ID, Name, Route  string
	Error, Conflict  int
	Succeeded, Total int
}

func overview(c *Ctx) error {
	ctx := c.R.Context()
	t, err := c.API.Tenant(ctx, c.Tenant)
	if err != nil {
		return err
	}
	devs, err := c.API.Devices(ctx, c.Tenant, adminclient.DeviceFilter{})
	if err != nil {
		return err
	}
	d := overviewData{Tenant: t}
	hourAgo := time.Now().Add(-time.Hour)
	counts := map[string]int{}
	for _, dv := range devs {
		if dv.EnrollmentState != "enrolled" {
			continue
		}
		d.Enrolled++
		if dv.LastSeenAt.After(hourAgo) {
			d.CheckinsLastHr++
		}
		counts[dv.CanReset]++
	}
	d.Coverage = canResetChart(counts)
	for _, route := range adminclient.ProfileRoutes {
		ps, err := c.API.Profiles(ctx, c.Tenant, route)
		if err != nil {
			return err
		}
		for _, p := range ps {
			st, err := c.API.ProfileStatus(ctx, c.Tenant, route, p.ID)
			if err != nil {
				return err
			}
			if st.Counts["error"] == 0 && st.Counts["conflict"] == 0 {
				continue
			}
			total := 0
			for _, n := range st.Counts {
				total += n
			}
			d.ProfilesInTroub = append(d.ProfilesInTroub, profileTrouble{ID: p.ID, Name: p.Title(), Route: string(route),
				Error: st.Counts["error"], Conflict: st.Counts["conflict"], Succeeded: st.Counts["succeeded"], Total: total})
		}
	}
	return c.Render("overview.html", d)
}
