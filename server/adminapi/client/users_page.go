package adminclient

import (
	"context"
	"encoding/json"
	"net/url"
	"strconv"
	"time"
)

// ListQuery searches and pages a user or group list; zero fields are absent.
type ListQuery struct {
	// Search is text the user's UPN or display name (a group's display name) contains,
	// case-insensitive.
	Search string
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
func (c *Client) SearchUsers(ctx context.Context, tid string, q ListQuery) (Page[User], error) {
	var out Page[User]
	err := c.get(ctx, tenantPath(tid, "users"), q.values(), &out)
	return out, err
}

// SearchGroups is GET /tenants/{tid}/groups with search, top and skipToken: a page of the
// tenant's groups in display name order.
func (c *Client) SearchGroups(ctx context.Context, tid string, q ListQuery) (Page[Group], error) {
	var out Page[Group]
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
func (c *Client) AuditEvents(ctx context.Context, tid string, q AuditPageQuery) (AuditPage, error) {
	v := q.AuditQuery.values()
	v.Del("format")
	if q.Top > 0 {
		v.Set("top", strconv.Itoa(q.Top))
	}
	if q.Before > 0 {
		v.Set("before", strconv.FormatUint(q.Before, 10))
	}
	var out AuditPage
	err := c.get(ctx, tenantPath(tid, "audit", "events"), v, &out)
	return out, err
}

// AuditPage is a page of the audit log (adminapi.AuditPageView).
type AuditPage struct {
	Value []AuditEvent `json:"value"`
	// NextBefore is the Before of the next, older page; 0 when there is none.
	NextBefore uint64        `json:"nextBefore,omitempty"`
	Unsealed   AuditUnsealed `json:"unsealed"`
}

// AuditEvent is one event of a tenant's audit log (audit.Event, as exported in JSON).
type AuditEvent struct {
	ID        string          `json:"id"`
	Seq       uint64          `json:"seq"`
	Time      time.Time       `json:"time"`
	TenantID  string          `json:"tenant_id"`
	Kind      string          `json:"kind"`
	Actor     AuditActor      `json:"actor"`
	Subject   AuditSubject    `json:"subject"`
	DeviceID  string          `json:"device_id,omitempty"`
	ProfileID string          `json:"profile_id,omitempty"`
	Action    string          `json:"action,omitempty"`
	Details   json.RawMessage `json:"details,omitempty"`
	PrevHash  string          `json:"prev_hash"`
	Hash      string          `json:"hash"`
}

// AuditActor is who did what an audit event records (audit.Actor).
type AuditActor struct {
	Type       string `json:"type"`
	ID         string `json:"id,omitempty"`
	TokenID    string `json:"token_id,omitempty"`
	Role       string `json:"role,omitempty"`
	SourceAddr string `json:"source_addr,omitempty"`
}

// AuditSubject is what an audit event's action was done to (audit.Subject).
type AuditSubject struct {
	Type string `json:"type,omitempty"`
	ID   string `json:"id,omitempty"`
}
