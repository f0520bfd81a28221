package adminclient

import (
	"context"
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
	"net/url"
	"strconv"
)

// ListQuery searches and pages a user or group list; zero fields are absent.
type ListQuery struct {
	// Search is text the user's UPN or display name (a group's display name) contains,
	// case-insensitive.
	Search string
	// StartsWith is the start of the user's UPN (a group's display name), case-insensitive:
	// a page of users then reads only the users with that start.
	StartsWith string
	// Top is the page size (1 to 1000); 0 asks for every match at once.
	Top int
	// SkipToken is the previous page's NextSkipToken.
	SkipToken string
}

func (q ListQuery) values() url.Values {
	v := url.Values{}
	if q.Search != "" {
		v.Set("search", q.Search)
	}
	if q.StartsWith != "" {
		v.Set("startsWith", q.StartsWith)
	}
	if q.Top > 0 {
		v.Set("top", strconv.Itoa(q.Top))
	}
	if q.SkipToken != "" {
		v.Set("skipToken", q.SkipToken)
	}
	return v
}

// Page is a page of a list: its items and, when more follow, the token of the next page.
type Page[T any] struct {
	Value         []T    `json:"value"`
	NextSkipToken string `json:"nextSkipToken,omitempty"`
}

// SearchUsers is GET /tenants/{tid}/users with search, top and skipToken: a page of the
// tenant's users in UPN order.
func (c *Client) SearchUsers(ctx context.Context, tid string, q ListQuery) (Page[wire.User], error) {
	var out Page[wire.User]
	err := c.get(ctx, tenantPath(tid, "users"), q.values(), &out)
	return out, err
}

// AdminRoleHolders is GET /tenants/{tid}/users?hasAdminRole=true with search, startsWith,
// top and skipToken: a page of the tenant's users who hold an admin role, in UPN order, read
// through the server's index of them (the console's Admin roles page). Top 0 asks for every
// holder at once.
func (c *Client) AdminRoleHolders(ctx context.Context, tid string, q ListQuery) (Page[wire.User], error) {
	var out Page[wire.User]
	v := q.values()
	v.Set("hasAdminRole", "true")
	err := c.get(ctx, tenantPath(tid, "users"), v, &out)
	return out, err
}

// SearchGroups is GET /tenants/{tid}/groups with search, top and skipToken: a page of the
// tenant's groups in display name order.
func (c *Client) SearchGroups(ctx context.Context, tid string, q ListQuery) (Page[wire.Group], error) {
	var out Page[wire.Group]
	err := c.get(ctx, tenantPath(tid, "groups"), q.values(), &out)
	return out, err
}

// AuditPageQuery selects a page of the audit log: the export's filters (Format is not used),
// the page size and where the page starts.
type AuditPageQuery struct {
	AuditQuery
	Top    int    // 1 to 500; 0: the server's 50
	Before uint64 // the previous page's NextBefore; 0: the newest events
}

// AuditEvents is GET /tenants/{tid}/audit/events: a page of the tenant's audit events,
// newest first.
func (c *Client) AuditEvents(ctx context.Context, tid string, q AuditPageQuery) (wire.AuditPage, error) {
	v := q.AuditQuery.values()
	v.Del("format")
	if q.Top > 0 {
		v.Set("top", strconv.Itoa(q.Top))
	}
	if q.Before > 0 {
		v.Set("before", strconv.FormatUint(q.Before, 10))
	}
	var out wire.AuditPage
	err := c.get(ctx, tenantPath(tid, "audit", "events"), v, &out)
	return out, err
}
