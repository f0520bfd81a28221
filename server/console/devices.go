package console

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	adminclient "github.com/hellomdm/hellomdm/server/adminapi/client"
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
)

func init() {
	Register(&Section{Title: "Devices", Path: "/devices", Order: 20},
		Route{Method: http.MethodGet, Path: "/devices", Handle: devicesPage},
		Route{Method: http.MethodGet, Path: "/devices/{did}", Handle: devicePage},
		Route{Method: http.MethodPost, Path: "/devices/{did}/retire", Handle: deviceRetire},
		Route{Method: http.MethodPost, Path: "/devices/{did}/resend-failed", Handle: deviceResendFailed},
		Route{Method: http.MethodPost, Path: "/devices/{did}/sync", Handle: deviceSync},
		Route{Method: http.MethodPost, Path: "/devices/{did}/commands", Handle: deviceQueueCommand},
	)
}

// Device list filters: the form's fields, as the page's address carries them.
type deviceFilters struct {
	Q, CanReset, State, OS, Edition, Seen string
}

// seenChoices are the last check-in filter's options: label, and the window (negative: not
// seen for that long).
var seenChoices = []struct {
	Value, Label string
	Window       time.Duration
}{
	{"", "Any time", 0},
	{"1h", "In the last hour", time.Hour},
	{"24h", "In the last 24 hours", 24 * time.Hour},
	{"7d", "In the last 7 days", 7 * 24 * time.Hour},
	{"not7d", "Not in the last 7 days", -7 * 24 * time.Hour},
	{"not30d", "Not in the last 30 days", -30 * 24 * time.Hour},
}

// devicesData is the device list page.
type devicesData struct {
	F       deviceFilters
	Seen    []struct{ Value, Label string }
	Devices []wire.Device
	// Next is the address of the next page ("" at the end); First the first page's, when
	// this is not it.
	Next, First string
	Error       string
}

// query turns the filters into the API's page query.
func (f deviceFilters) query(now time.Time) (adminclient.DevicePageQuery, string) {
	q := adminclient.DevicePageQuery{Top: 50, Search: f.Q, EnrollmentState: f.State, OSVersion: f.OS}
	switch f.CanReset {
	case "":
	case "notReported":
		empty := ""
		q.CanReset = &empty
	default:
		cr := f.CanReset
		q.CanReset = &cr
	}
	if f.Edition != "" {
		n, err := strconv.Atoi(f.Edition)
		if err != nil || n <= 0 {
			return q, "The edition is a number (the SKU: 4 Enterprise, 48 Pro, 121 Education, …)."
		}
		q.OSEdition = n
	}
	for _, c := range seenChoices {
		if c.Value == f.Seen && c.Window > 0 {
			q.SeenSince = now.Add(-c.Window)
		} else if c.Value == f.Seen && c.Window < 0 {
			q.NotSeenSince = now.Add(c.Window)
		}
	}
	return q, ""
}

// values is the filters as a query string (for the next page's link).
func (f deviceFilters) values() url.Values {
	v := url.Values{}
	for k, x := range map[string]string{"q": f.Q, "canReset": f.CanReset, "state": f.State, "os": f.OS, "edition": f.Edition, "seen": f.Seen} {
		if x != "" {
			v.Set(k, x)
		}
	}
	return v
}

func devicesPage(c *Ctx) error {
	in := c.R.URL.Query()
	f := deviceFilters{Q: strings.TrimSpace(in.Get("q")), CanReset: in.Get("canReset"), State: in.Get("state"),
		OS: strings.TrimSpace(in.Get("os")), Edition: strings.TrimSpace(in.Get("edition")), Seen: in.Get("seen")}
	d := devicesData{F: f}
	for _, s := range seenChoices {
		d.Seen = append(d.Seen, struct{ Value, Label string }{s.Value, s.Label})
	}
	q, msg := f.query(time.Now())
	if msg != "" {
		d.Error = msg
		return c.RenderStatus(http.StatusUnprocessableEntity, "devices.html", d)
	}
	q.SkipToken = in.Get("page")
	page, err := c.API.DevicePage(c.R.Context(), c.Tenant, q)
	if ae, ok := err.(*adminclient.Error); ok && ae.Status == http.StatusUnprocessableEntity {
		d.Error = ae.Message
		return c.RenderStatus(http.StatusUnprocessableEntity, "devices.html", d)
	}
	if err != nil {
		return err
	}
	d.Devices = page.Value
	v := f.values()
	if q.SkipToken != "" {
		d.First = c.Path("/devices") + "?" + v.Encode()
	}
	if page.NextSkipToken != "" {
		v.Set("page", page.NextSkipToken)
		d.Next = c.Path("/devices") + "?" + v.Encode()
	}
	return c.Render("devices.html", d)
}
