package console_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/internal/consoletest"
	"github.com/hellomdm/hellomdm/store"
)

// benchDevices is the fleet BenchmarkConsolePages signs in to (HELLOMDM_BENCH_DEVICES, default
// 100,000, the figure).
func benchDevices(b *testing.B) int {
	if v := os.Getenv("HELLOMDM_BENCH_DEVICES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			b.Fatalf("HELLOMDM_BENCH_DEVICES=%q", v)
		}
		return n
	}
	return 100_000
}

// benchSeenSpread is the stretch of time the seeded check-ins are spread over, in minutes
// (HELLOMDM_BENCH_SEEN_MINUTES, default 11,520: 8 days). 60 puts every device's last check-in
// in the last hour: the worst case for the overview's "checked in during the last hour",
// which reads the device index's check-in entries of that hour.
func benchSeenSpread(b *testing.B) int {
	if v := os.Getenv("HELLOMDM_BENCH_SEEN_MINUTES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			b.Fatalf("HELLOMDM_BENCH_SEEN_MINUTES=%q", v)
		}
		return n
	}
	return 11520
}

// seedBench writes n enrolled devices in transactions of 1,000: names PC-000000..., users
// user00000..user19999, CanReset by thirds, three OS builds, check-ins spread over 8 days
// (benchSeenSpread).
func seedBench(b *testing.B, st store.Store, n int) {
	now := time.Now()
	spread := benchSeenSpread(b)
	builds := []string{"10.0.26100.1742", "10.0.22631.4037", "10.0.19045.5011"}
	for start := 0; start < n; start += 1000 {
		err := st.Write(context.Background(), func(tx store.Writer) error {
			for i := start; i < min(start+1000, n); i++ {
				d := store.Device{ID: fmt.Sprintf("dev-%06d", i), TenantID: consoletest.TenantID, HWDevID: fmt.Sprintf("hw-%06d", i),
					DeviceName: fmt.Sprintf("PC-%06d", i), UPN: fmt.Sprintf("user%05d@contoso.com", i%20000), OSVersion: builds[i%3], OSEdition: 4,
					State: store.DeviceEnrolled, CertSerial: fmt.Sprintf("%08X", i+1), CertThumbprint: fmt.Sprintf("%040X", i+1),
					CertNotAfter: now.AddDate(1, 0, 0), EnrolledAt: now.AddDate(0, -1, 0), LastSeenAt: now.Add(-time.Duration(i%spread) * time.Minute),
					Nodes: map[string]string{}}
				switch i % 3 {
				case 0:
					d.Nodes[store.CanResetNode] = "DestructiveAndNonDestructive"
				case 1:
					d.Nodes[store.CanResetNode] = "DestructiveOnly"
				}
				if _, err := tx.RegisterDevice(d); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatalf("seeding: %v", err)
		}
	}
}

// BenchmarkConsolePages measures the server time of console pages (the handler, in process,
// from request to the last byte of HTML; no network) over a tenant of 100,000 devices:
//
//	HELLOMDM_BENCH_DEVICES=100000 go test -run '^$' -bench ConsolePages -benchtime 200x ./server/console/
func BenchmarkConsolePages(b *testing.B) {
	e := consoletest.Start(b)
	n := benchDevices(b)
	t0 := time.Now()
	seedBench(b, e.App.Store, n)
	b.Logf("seeded %d devices in %s (%s backend)", n, time.Since(t0).Round(time.Second), e.App.Store.Backend())
	t0 = time.Now()
	pid := seedStatusBench(b, e, n)
	b.Logf("seeded a profile's setting state on each in %s", time.Since(t0).Round(time.Second))
	c := e.HTTPClient()
	resp, err := c.Get(e.URL + "/console/login")
	if err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
	m := csrfField.FindStringSubmatch(readAll(b, c, "/console/login", e))
	resp, err = c.PostForm(e.URL+"/console/login", url.Values{"token": {consoletest.Token}, "csrf": {m[1]}})
	if err != nil || resp.StatusCode != http.StatusSeeOther {
		b.Fatalf("sign-in: %v %v", resp, err)
	}
	resp.Body.Close()
	u, _ := url.Parse(e.URL)
	cookies := c.Jar.Cookies(u)
	base := "/console/t/" + consoletest.TenantID
	// The second page's address, from the first page's link.
	next := nextLink(b, e, cookies, base+"/devices")
	status := base + "/profiles/configurationPolicies/" + pid + "/status"
	statusNext := nextLink(b, e, cookies, status)
	statusLater := statusNext
	for range max(0, min(499, n/100-2)) { // the 500th page of 100 rows (or the last but one)
		statusLater = nextLink(b, e, cookies, statusLater)
	}
	pages := []struct{ name, path string }{
		{"overview", base + "/"},
		{"devices", base + "/devices"},
		{"devices-page2", next},
		{"devices-search-name", base + "/devices?q=PC-0999"},
		{"devices-search-user", base + "/devices?q=user1234"},
		{"devices-canreset-seen24h", base + "/devices?canReset=DestructiveOnly&seen=24h"},
		{"devices-os-notseen7d", base + "/devices?os=10.0.19045&seen=not7d"},
		{"device", base + "/devices/" + fmt.Sprintf("dev-%06d", n/2)},
		{"profile-status", status},
		{"profile-status-page2", statusNext},
		{"profile-status-page500", statusLater},
		{"profile-status-error", status + "?state=error"},
		{"profile-status-error-page2", nextLink(b, e, cookies, status+"?state=error")},
	}
	for _, p := range pages {
		b.Run(p.name, func(b *testing.B) {
			for b.Loop() {
				w := httptest.NewRecorder()
				req := httptest.NewRequest(http.MethodGet, p.path, nil)
				for _, ck := range cookies {
					req.AddCookie(ck)
				}
				e.App.Server.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Fatalf("%s: %d\n%s", p.path, w.Code, w.Body.String())
				}
			}
		})
	}
	benchStatusAPI(b, e, pid)
}

// benchStatusAPI measures the profile status reads beneath the page: the counts the chart
// shows (the store's count rows) and one page of the admin API's deviceStatuses (JSON).
func benchStatusAPI(b *testing.B, e *consoletest.Env, pid string) {
	b.Run("profile-status-counts-store", func(b *testing.B) {
		for b.Loop() {
			c, err := e.App.Store.ProfileStatusCounts(context.Background(), consoletest.TenantID, pid)
			if err != nil || c[store.SettingSucceeded] == 0 {
				b.Fatalf("ProfileStatusCounts: %v %v", c, err)
			}
		}
	})
	b.Run("profile-status-api-top100", func(b *testing.B) {
		for b.Loop() {
			w := httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodGet, "/api/v1/tenants/"+consoletest.TenantID+"/configurationPolicies/"+pid+"/deviceStatuses?top=100", nil)
			req.Header.Set("Authorization", "Bearer "+consoletest.Token)
			e.App.Server.ServeHTTP(w, req)
			if w.Code != http.StatusOK {
				b.Fatalf("deviceStatuses: %d\n%.2000s", w.Code, w.Body.String())
			}
		}
	})
}

func readAll(b *testing.B, c *http.Client, path string, e *consoletest.Env) string {
	resp, err := c.Get(e.URL + path)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, 1<<20)
	n, _ := resp.Body.Read(buf)
	return string(buf[:n])
}

// nextLink returns the "Next page" address of a device list page.
func nextLink(b *testing.B, e *consoletest.Env, cookies []*http.Cookie, path string) string {
	w := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	for _, ck := range cookies {
		req.AddCookie(ck)
	}
	e.App.Server.ServeHTTP(w, req)
	m := nextHref.FindStringSubmatch(w.Body.String())
	if m == nil {
		b.Fatalf("%s has no next page link", path)
	}
	return htmlUnescape(m[1])
}
