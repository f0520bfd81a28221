package console_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/hellomdm/hellomdm/audit"
	"github.com/hellomdm/hellomdm/internal/consoletest"
	"github.com/hellomdm/hellomdm/store"
)

// adminBenchSize reads a size of BenchmarkConsoleAdminPages from the environment.
func adminBenchSize(b *testing.B, name string, def int) int {
	if v := os.Getenv(name); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			b.Fatalf("%s=%q", name, v)
		}
		return n
	}
	return def
}

// roleHolderEvery: one user in that many holds an admin role (the reader role) in the
// seed of BenchmarkConsoleAdminPages: 100 of 100,000.
const roleHolderEvery = 1000

// seedAdminBench writes groups groups ("All pilots", then "Site 00001"...), users
// user000000@contoso.com... (every tenth named "... Pilot", every roleHolderEvery-th holding
// the reader role), the first 1,000 of them members of "All pilots" and all of them of
// "All users", and an audit log of
// events events, each about one of 100,000 devices, in transactions of 1,000.
func seedAdminBench(b *testing.B, st store.Store, groups, users, events int) (bigGroup, allUsers string) {
	ctx := context.Background()
	now := time.Now().UTC()
	bigGroup = uuid.NewString()
	for start := 0; start < groups; start += 1000 {
		err := st.Write(ctx, func(tx store.Writer) error {
			for i := start; i < min(start+1000, groups); i++ {
				g := store.Group{TenantID: consoletest.TenantID, ID: uuid.NewString(), DisplayName: fmt.Sprintf("Site %05d", i), CreatedAt: now, UpdatedAt: now}
				if i == 0 {
					g.ID, g.DisplayName = bigGroup, "All pilots"
				}
				if _, err := tx.CreateGroup(g); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatalf("seeding groups: %v", err)
		}
	}
	allUsers = uuid.NewString()
	if err := st.CreateGroup(ctx, store.Group{TenantID: consoletest.TenantID, ID: allUsers, DisplayName: "All users", CreatedAt: now, UpdatedAt: now}); err != nil {
		b.Fatalf("seeding groups: %v", err)
	}
	for start := 0; start < users; start += 1000 {
		err := st.Write(ctx, func(tx store.Writer) error {
			var everyone []store.Member
			for i := start; i < min(start+1000, users); i++ {
				name := fmt.Sprintf("User %06d", i)
				if i%10 == 0 {
					name += " Pilot"
				}
				u := store.User{TenantID: consoletest.TenantID, ID: fmt.Sprintf("u-%06d", i), UPN: fmt.Sprintf("user%06d@contoso.com", i),
					DisplayName: name, PasswordHash: "$argon2id$bench", CreatedAt: now}
				if i%roleHolderEvery == 7 {
					u.AdminRole = store.RoleReader
				}
				if _, err := tx.CreateUser(u); err != nil {
					return err
				}
				if i < 1000 {
					if err := tx.AddMembers(consoletest.TenantID, bigGroup, store.Member{Kind: store.MemberUser, ID: u.ID}); err != nil {
						return err
					}
				}
				everyone = append(everyone, store.Member{Kind: store.MemberUser, ID: u.ID})
			}
			return tx.AddMembers(consoletest.TenantID, allUsers, everyone...)
		})
		if err != nil {
			b.Fatalf("seeding users: %v", err)
		}
	}
	kinds := []audit.Kind{audit.KindCommandSent, audit.KindCommandDelivered, audit.KindSettingState, audit.KindSignIn}
	for start := 0; start < events; start += 1000 {
		batch := make([]*audit.Event, 0, 1000)
		for i := start; i < min(start+1000, events); i++ {
			dev := fmt.Sprintf("dev-%06d", i%100000)
			batch = append(batch, &audit.Event{ID: uuid.NewString(), Time: now.Add(time.Duration(i-events) * time.Second).Truncate(time.Microsecond),
				TenantID: consoletest.TenantID, Kind: kinds[i%len(kinds)], DeviceID: dev,
				Actor:   audit.Actor{Type: audit.ActorDevice, ID: dev},
				Subject: audit.Subject{Type: audit.SubjectDevice, ID: dev}, Action: "bench", Details: json.RawMessage(`{"n":1}`)})
		}
		if err := st.AppendAudit(ctx, batch...); err != nil {
			b.Fatalf("seeding the audit log: %v", err)
		}
	}
	return bigGroup, allUsers
}

var adminBenchCSRF = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// BenchmarkConsoleAdminPages measures the server time of the groups, users, PIN reset and
// audit pages, the Admin roles page and a profile's page with its assignment (the handler,
// in process, from request to the last byte of HTML; no network) over a tenant of 20,000
// groups, 500 profiles, 100,000 users and an audit log of 1,000,000 events about 100,000
// devices:
//
//	go test -run '^$' -bench ConsoleAdminPages -benchtime 100x ./server/console/
//
// HELLOMDM_BENCH_GROUPS, HELLOMDM_BENCH_PROFILES, HELLOMDM_BENCH_USERS and
// HELLOMDM_BENCH_AUDIT change the sizes.
func BenchmarkConsoleAdminPages(b *testing.B) {
	e := consoletest.Start(b)
	users, events := adminBenchSize(b, "HELLOMDM_BENCH_USERS", 100_000), adminBenchSize(b, "HELLOMDM_BENCH_AUDIT", 1_000_000)
	groups := adminBenchSize(b, "HELLOMDM_BENCH_GROUPS", 20_000)
	t0 := time.Now()
	big, all := seedAdminBench(b, e.App.Store, groups, users, events)
	b.Logf("seeded %d groups, %d users and %d audit events in %s (%s backend)", groups, users, events, time.Since(t0).Round(time.Second), e.App.Store.Backend())
	pid := seedAssignedProfile(b, e, big)
	profiles := adminBenchSize(b, "HELLOMDM_BENCH_PROFILES", 500)
	for i := 1; i < profiles; i++ { // the assigned one is the first
		api(b, e, "/configurationPolicies", strings.Replace(benchPinRecovery, `"WHfB PIN recovery"`, fmt.Sprintf(`"Profile %04d"`, i), 1), http.StatusCreated)
	}
	c := e.HTTPClient()
	resp, err := c.Get(e.URL + "/console/login")
	if err != nil {
		b.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := adminBenchCSRF.FindSubmatch(page)
	if m == nil {
		b.Fatal("no CSRF field on the sign-in page")
	}
	resp, err = c.PostForm(e.URL+"/console/login", url.Values{"token": {consoletest.Token}, "csrf": {string(m[1])}})
	if err != nil || resp.StatusCode != http.StatusSeeOther {
		b.Fatalf("sign-in: %v %v", resp, err)
	}
	resp.Body.Close()
	u, _ := url.Parse(e.URL)
	cookies := c.Jar.Cookies(u)
	base := "/console/t/" + consoletest.TenantID
	pages := []struct{ name, path string }{
		{"users", base + "/users"},
		{"users-search-pilot", base + "/users?search=pilot"},
		{"users-search-one", base + "/users?search=user099999"},
		{"user", base + "/users/" + fmt.Sprintf("u-%06d", users/2)},
		{"groups", base + "/groups"},
		{"groups-search", base + "/groups?search=site+4"},
		{"groups-search-one", base + "/groups?search=" + url.QueryEscape(fmt.Sprintf("site %05d", groups-1))},
		{"group-1000-members", base + "/groups/" + big},
		{"group-all-users", base + "/groups/" + all},
		{"group-find-members", base + "/groups/" + big + "?find=user0012"},
		{"group-find-groups", base + "/groups/" + big + "?find=site+0001"},
		{"profile-assigned", base + "/profiles/configurationPolicies/" + pid},
		{"profiles", base + "/profiles"},
		{"pinreset", base + "/pinreset"},
		{"audit", base + "/audit"},
		{"audit-kind", base + "/audit?kind=auth.signin"},
		{"audit-device", base + "/audit?device=dev-050000"},
		{"roles", base + "/roles"},
	}
	if holders := (users + roleHolderEvery - 8) / roleHolderEvery; holders > 50 {
		// The second page of holders goes on after the 50th (user049007 of 100,000).
		after := fmt.Sprintf("user%06d@contoso.com", 49*roleHolderEvery+7)
		pages = append(pages, struct{ name, path string }{"roles-page-2", base + "/roles?skip=" + base64.RawURLEncoding.EncodeToString([]byte(after))})
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
					b.Fatalf("%s: %d\n%.2000s", p.path, w.Code, w.Body.String())
				}
			}
		})
	}
}

// seedAssignedProfile imports the seed's PIN recovery profile through the admin API and
// assigns it to the group gid; it returns the profile's ID.
func seedAssignedProfile(b *testing.B, e *consoletest.Env, gid string) string {
	var prof struct{ ID string }
	if err := json.Unmarshal(api(b, e, "/configurationPolicies", benchPinRecovery, http.StatusCreated), &prof); err != nil || prof.ID == "" {
		b.Fatalf("importing the profile: %v", err)
	}
	api(b, e, "/configurationPolicies/"+prof.ID+"/assign",
		`{"assignments":[{"target":{"@odata.type":"#microsoft.graph.groupAssignmentTarget","groupId":"`+gid+`"}}]}`, http.StatusOK)
	return prof.ID
}

// api POSTs body to path under the bench tenant with the bootstrap token and returns the
// answer, which must have status want.
func api(b *testing.B, e *consoletest.Env, path, body string, want int) []byte {
	req, _ := http.NewRequest(http.MethodPost, e.URL+"/api/v1/tenants/"+consoletest.TenantID+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+consoletest.Token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.HTTPClient().Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		b.Fatalf("POST %s: %d %s", path, resp.StatusCode, out)
	}
	return out
}
