package console_test

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/internal/consoletest"
)

// A user whose role is limited to scope tag 7 sees, on the overview and in the device list,
// only the devices carrying that tag; another device's page is a 404, as in the API.
func TestScopeTagsLimitPages(t *testing.T) {
	e := consoletest.Start(t)
	var devs []consoletest.SeedDevice
	for i := range 12 {
		d := consoletest.SeedDevice{ID: fmt.Sprintf("dev-%02d", i), Name: fmt.Sprintf("PC-%02d", i), LastSeen: time.Now()}
		if i < 4 {
			d.ScopeTags = []string{"7"}
		}
		devs = append(devs, d)
	}
	e.Seed(devs...)
	scoped := e.User("sam@contoso.com", "reader", "7")
	c := e.HTTPClient()
	if status, _, body := signIn(t, e, c, url.Values{"upn": {scoped.UPN}, "password": {scoped.Password}, "otp": {scoped.Code()}}); status != http.StatusSeeOther {
		t.Fatalf("sign-in: %d\n%s", status, body)
	}
	base := "/console/t/" + consoletest.TenantID
	_, _, body := get(t, e, c, base+"/")
	if m := regexp.MustCompile(`id="enrolled">(\d+)<`).FindStringSubmatch(body); m == nil || m[1] != "4" {
		t.Errorf("overview enrolled: %v, want 4", m)
	}
	_, _, body = get(t, e, c, base+"/devices")
	if n := strings.Count(body, `href="`+base+`/devices/dev-`); n != 4 || strings.Contains(body, "PC-05") {
		t.Errorf("device list: %d devices linked, want PC-00..PC-03 only", n)
	}
	if status, _, _ := get(t, e, c, base+"/devices/dev-05"); status != http.StatusNotFound {
		t.Errorf("another scope's device: %d, want 404", status)
	}
	if status, _, _ := get(t, e, c, "/console/t/00000000-0000-0000-0000-000000000001/"); status != http.StatusNotFound {
		t.Errorf("another tenant's overview: %d, want 404", status)
	}
}
