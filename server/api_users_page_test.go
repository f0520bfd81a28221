package server

import (
	"net/http"
	"net/url"
	"slices"
	"testing"

	"github.com/hellomdm/hellomdm/server/adminapi/wire"
	"github.com/hellomdm/hellomdm/store"
)

// listPage is a paged list answer.
type listPage[T any] struct {
	Value         []T    `json:"value"`
	NextSkipToken string `json:"nextSkipToken"`
}

// The user list searches UPNs and display names, pages in UPN order through skip tokens,
// keeps scoped tokens to their tags and tenants to themselves, and refuses bad parameters.
func TestUserListSearchAndPaging(t *testing.T) {
	ts := startIdentityServer(t)
	users := "/tenants/" + testTenant + "/users"
	for _, u := range []struct{ upn, name, tag, role string }{
		{"zoe@contoso.com", "Zoë Pilot", "Berlin", store.RoleReader},
		{"alice@contoso.com", "Alice Adams", "", store.RoleAdmin},
		{"bob@contoso.com", "Robert Pilot", "Berlin", ""},
		{"carol@contoso.com", "Carol", "Paris", store.RoleOperator},
		{"dave@contoso.com", "Dave Pilot", "", ""},
	} {
		body := wire.UserRequest{UserPrincipalName: u.upn, DisplayName: u.name}
		body.PasswordProfile.Password = "long enough"
		if u.tag != "" {
			body.RoleScopeTagIDs = []string{u.tag}
		}
		var created wire.User
		if st := ts.api(http.MethodPost, users, body, &created); st != http.StatusCreated {
			t.Fatalf("creating %s: HTTP %d", u.upn, st)
		}
		if u.role == "" {
			continue
		}
		if st := ts.api(http.MethodPut, users+"/"+created.ID+"/adminRole", wire.AdminRoleRequest{Role: u.role}, nil); st != http.StatusOK {
			t.Fatalf("granting %s the role %s: HTTP %d", u.upn, u.role, st)
		}
	}
	other := wire.UserRequest{UserPrincipalName: "alice@fabrikam.com", DisplayName: "Alice Pilot"}
	other.PasswordProfile.Password = "long enough"
	if st := ts.api(http.MethodPost, "/tenants/"+tenantB+"/users", other, nil); st != http.StatusCreated {
		t.Fatalf("creating the other tenant's user: HTTP %d", st)
	}
	for _, upn := range []string{"bea@fabrikam.com", "Ann@fabrikam.com", "amy@fabrikam.com"} {
		u := wire.UserRequest{UserPrincipalName: upn, DisplayName: "B " + upn}
		u.PasswordProfile.Password = "long enough"
		if st := ts.api(http.MethodPost, "/tenants/"+tenantB+"/users", u, nil); st != http.StatusCreated {
			t.Fatalf("creating %s: HTTP %d", upn, st)
		}
	}
	berlin := ts.newToken(store.RoleReader, testTenant, "Berlin")
	adminB := ts.newToken(store.RoleAdmin, tenantB)

	// pages follows the skip tokens from query and returns every page's UPNs.
	pages := func(token, tenant, query string) [][]string {
		t.Helper()
		var out [][]string
		q, _ := url.ParseQuery(query)
		for range 20 {
			var p listPage[wire.User]
			if st := ts.apiAs(token, http.MethodGet, "/tenants/"+tenant+"/users?"+q.Encode(), nil, &p); st != http.StatusOK {
				t.Fatalf("GET users?%s: HTTP %d", q.Encode(), st)
			}
			var upns []string
			for _, u := range p.Value {
				upns = append(upns, u.UserPrincipalName)
			}
			out = append(out, upns)
			if p.NextSkipToken == "" {
				return out
			}
			q.Set("skipToken", p.NextSkipToken)
		}
		t.Fatal("the skip tokens never end")
		return nil
	}
	cases := []struct {
		name, token, tenant, query string
		want                       [][]string
	}{
		{"everything in UPN order", testToken, testTenant, "", [][]string{{"alice@contoso.com", "bob@contoso.com", "carol@contoso.com", "dave@contoso.com", "zoe@contoso.com"}}},
		{"pages of two", testToken, testTenant, "top=2", [][]string{{"alice@contoso.com", "bob@contoso.com"}, {"carol@contoso.com", "dave@contoso.com"}, {"zoe@contoso.com"}}},
		{"search by display name, any case", testToken, testTenant, "search=PILOT&top=2", [][]string{{"bob@contoso.com", "dave@contoso.com"}, {"zoe@contoso.com"}}},
		{"search by UPN", testToken, testTenant, "search=alice&top=10", [][]string{{"alice@contoso.com"}}},
		{"search without top", testToken, testTenant, "search=a", [][]string{{"alice@contoso.com", "carol@contoso.com", "dave@contoso.com"}}},
		{"nothing matches", testToken, testTenant, "search=mallory&top=5", [][]string{nil}},
		{"scoped token sees its tag only", berlin, testTenant, "top=1", [][]string{{"bob@contoso.com"}, {"zoe@contoso.com"}}},
		{"the other tenant finds only its own", adminB, tenantB, "search=alice&top=10", [][]string{{"alice@fabrikam.com"}}},
		{"startsWith, any case", testToken, testTenant, "startsWith=CA&top=5", [][]string{{"carol@contoso.com"}}},
		{"startsWith and search", testToken, testTenant, "startsWith=b&search=pilot&top=5", [][]string{{"bob@contoso.com"}}},
		{"startsWith nothing", testToken, testTenant, "startsWith=x&top=3", [][]string{nil}},
		{"startsWith, scoped", berlin, testTenant, "startsWith=z&top=1", [][]string{{"zoe@contoso.com"}}},
		{"startsWith, pages of two", adminB, tenantB, "startsWith=A&top=2", [][]string{{"alice@fabrikam.com", "amy@fabrikam.com"}, {"ann@fabrikam.com"}}},
		{"startsWith, a page of one", adminB, tenantB, "startsWith=am&top=1", [][]string{{"amy@fabrikam.com"}}},
		{"startsWith without top", adminB, tenantB, "startsWith=a", [][]string{{"alice@fabrikam.com", "amy@fabrikam.com", "ann@fabrikam.com"}}},
		{"role holders, pages of two", testToken, testTenant, "hasAdminRole=true&top=2", [][]string{{"alice@contoso.com", "carol@contoso.com"}, {"zoe@contoso.com"}}},
		{"role holders without top", testToken, testTenant, "hasAdminRole=true", [][]string{{"alice@contoso.com", "carol@contoso.com", "zoe@contoso.com"}}},
		{"role holders, scoped", berlin, testTenant, "hasAdminRole=true&top=5", [][]string{{"zoe@contoso.com"}}},
		{"role holders, startsWith", testToken, testTenant, "hasAdminRole=true&startsWith=C&top=1", [][]string{{"carol@contoso.com"}}},
		{"role holders, search", testToken, testTenant, "hasAdminRole=true&search=pilot&top=5", [][]string{{"zoe@contoso.com"}}},
		{"role holders of a tenant with none", adminB, tenantB, "hasAdminRole=true&top=5", [][]string{nil}},
		{"users holding no role", testToken, testTenant, "hasAdminRole=false&top=5", [][]string{{"bob@contoso.com", "dave@contoso.com"}}},
		{"users holding no role, scoped, without top", berlin, testTenant, "hasAdminRole=false", [][]string{{"bob@contoso.com"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := pages(tc.token, tc.tenant, tc.query); !slices.EqualFunc(got, tc.want, slices.Equal) {
				t.Fatalf("pages %v, want %v", got, tc.want)
			}
		})
	}

	errCases := []struct {
		name, token, query string
		status             int
		code               string
	}{
		{"other tenant's token", adminB, "search=alice&top=5", 404, "notFound"},
		{"top 0", testToken, "top=0", 400, "invalidParameter"},
		{"top over 1000", testToken, "top=1001", 400, "invalidParameter"},
		{"top not a number", testToken, "top=ten", 400, "invalidParameter"},
		{"unknown parameter", testToken, "filter=alice", 400, "invalidParameter"},
		{"search twice", testToken, "search=a&search=b", 400, "invalidParameter"},
		{"search with a control character", testToken, "search=a%01", 400, "invalidParameter"},
		{"skipToken not base64url", testToken, "top=2&skipToken=%2A%2A", 400, "invalidParameter"},
		{"skipToken without top", testToken, "skipToken=YWxpY2U", 400, "invalidParameter"},
		{"hasAdminRole not a boolean", testToken, "hasAdminRole=yes", 400, "invalidParameter"},
		{"hasAdminRole twice", testToken, "hasAdminRole=true&hasAdminRole=true", 400, "invalidParameter"},
	}
	for _, tc := range errCases {
		t.Run(tc.name, func(t *testing.T) {
			st, code := ts.raw(tc.token, http.MethodGet, users+"?"+tc.query, "")
			if st != tc.status || code != tc.code {
				t.Fatalf("HTTP %d %s, want %d %s", st, code, tc.status, tc.code)
			}
		})
	}
}

// The group list searches display names and pages in display name order; another tenant's
// groups never show.
func TestGroupListSearchAndPaging(t *testing.T) {
	ts := startIdentityServer(t)
	for _, tn := range []struct{ tenant, name string }{
		{testTenant, "WHfB pilot"}, {testTenant, "all staff"}, {testTenant, "Pilot devices"},
		{testTenant, "Berlin"}, {tenantB, "Fabrikam pilot"},
	} {
		if st := ts.api(http.MethodPost, "/tenants/"+tn.tenant+"/groups", wire.GroupRequest{DisplayName: tn.name}, nil); st != http.StatusCreated {
			t.Fatalf("creating %s: HTTP %d", tn.name, st)
		}
	}
	adminB := ts.newToken(store.RoleAdmin, tenantB)
	reader := ts.newToken(store.RoleReader, testTenant)
	groups := "/tenants/" + testTenant + "/groups"
	names := func(token, path string) ([]string, string) {
		t.Helper()
		var p listPage[wire.Group]
		if st := ts.apiAs(token, http.MethodGet, path, nil, &p); st != http.StatusOK {
			t.Fatalf("GET %s: HTTP %d", path, st)
		}
		var out []string
		for _, g := range p.Value {
			out = append(out, g.DisplayName)
		}
		return out, p.NextSkipToken
	}
	cases := []struct {
		name, token, path string
		want              []string
		more              bool
	}{
		{"everything, case-insensitive order", testToken, groups, []string{"all staff", "Berlin", "Pilot devices", "WHfB pilot"}, false},
		{"first page", reader, groups + "?top=3", []string{"all staff", "Berlin", "Pilot devices"}, true},
		{"search", reader, groups + "?search=pilot&top=1", []string{"Pilot devices"}, true},
		{"other tenant", adminB, "/tenants/" + tenantB + "/groups?search=pilot&top=10", []string{"Fabrikam pilot"}, false},
		{"startsWith", reader, groups + "?startsWith=PI&top=5", []string{"Pilot devices"}, false},
		{"startsWith, a page of it", reader, groups + "?startsWith=b&top=1", []string{"Berlin"}, false},
		{"startsWith no name has", reader, groups + "?startsWith=zz&top=5", nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, next := names(tc.token, tc.path)
			if !slices.Equal(got, tc.want) || (next != "") != tc.more {
				t.Fatalf("%v (next %q), want %v (more %v)", got, next, tc.want, tc.more)
			}
		})
	}
	t.Run("second page follows the token", func(t *testing.T) {
		_, next := names(reader, groups+"?search=pilot&top=1")
		got, more := names(reader, groups+"?search=pilot&top=1&skipToken="+next)
		if !slices.Equal(got, []string{"WHfB pilot"}) || more != "" {
			t.Fatalf("%v (next %q)", got, more)
		}
	})
	// A name is taken case-insensitively within the tenant only.
	for _, tc := range []struct {
		tenant, name string
		status       int
	}{{testTenant, "BERLIN", 409}, {testTenant, "Berlin East", 201}, {tenantB, "berlin", 201}} {
		if st := ts.api(http.MethodPost, "/tenants/"+tc.tenant+"/groups", wire.GroupRequest{DisplayName: tc.name}, nil); st != tc.status {
			t.Errorf("creating %s in %s: HTTP %d, want %d", tc.name, tc.tenant, st, tc.status)
		}
	}
	for _, tc := range []struct {
		name, token, path string
		status            int
	}{
		{"other tenant's token", adminB, groups + "?top=2", 404},
		{"bad top", reader, groups + "?top=-1", 400},
		{"unknown parameter", reader, groups + "?name=x", 400},
		{"hasAdminRole is the user list's", reader, groups + "?hasAdminRole=true", 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if st, _ := ts.raw(tc.token, http.MethodGet, tc.path, ""); st != tc.status {
				t.Fatalf("HTTP %d, want %d", st, tc.status)
			}
		})
	}
}
