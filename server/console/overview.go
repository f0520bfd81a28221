package console

import (
	"net/http"

	"github.com/hellomdm/hellomdm/server/adminapi/wire"
)

func init() {
	Register(&Section{Title: "Overview", Path: "/", Order: 10},
		Route{Method: http.MethodGet, Path: "/", Handle: overview})
}

// overviewData is the tenant overview: the API's figures (GET .../overview, counts the store
// keeps, so the page costs no scan of the devices) and the chart drawn from them.
type overviewData struct {
	Tenant   wire.Tenant
	Figures  wire.Overview
	Enrolled int
	Coverage chart
}

func overview(c *Ctx) error {
	ctx := c.R.Context()
	t, err := c.API.Tenant(ctx, c.Tenant)
	if err != nil {
		return err
	}
	o, err := c.API.Overview(ctx, c.Tenant)
	if err != nil {
		return err
	}
	return c.Render("overview.html", overviewData{Tenant: t, Figures: o, Enrolled: o.DevicesByState["enrolled"], Coverage: canResetChart(o.CanReset)})
}
