package adminclient

import (
	"context"
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
	"net/url"
)

// AuditQuery selects the events of an audit export; empty fields are absent.
type AuditQuery struct {
	Format  string   // csv, json or ndjson (the server's default: json)
	From    string   // first event time, RFC 3339 (inclusive)
	To      string   // end of the period, RFC 3339 (exclusive)
	Kinds   []string // event kinds
	Device  string   // only this device's events (ID)
	Profile string   // only this profile's events (ID)
	Actor   string   // only events by this actor
}

func (q AuditQuery) values() url.Values {
	v := url.Values{}
	for name, s := range map[string]string{"format": q.Format, "from": q.From, "to": q.To, "device": q.Device, "profile": q.Profile, "actor": q.Actor} {
		if s != "" {
			v.Set(name, s)
		}
	}
	for _, k := range q.Kinds {
		v.Add("kind", k)
	}
	return v
}

// ExportAudit is GET /tenants/{tid}/audit: the tenant's audit events, streamed.
func (c *Client) ExportAudit(ctx context.Context, tid string, q AuditQuery) (*Download, error) {
	return c.download(ctx, tenantPath(tid, "audit"), q.values())
}

// VerifyAudit is GET /tenants/{tid}/audit/verify: the check of the tenant's audit chain.
func (c *Client) VerifyAudit(ctx context.Context, tid string) (wire.AuditVerification, error) {
	var out wire.AuditVerification
	err := c.get(ctx, tenantPath(tid, "audit", "verify"), nil, &out)
	return out, err
}

// ExportCompliance is GET /tenants/{tid}/reports/compliance: one row per profile × device ×
// setting with its state, streamed in format (csv, json or ndjson; "" is the server's json).
func (c *Client) ExportCompliance(ctx context.Context, tid, format string) (*Download, error) {
	var q url.Values
	if format != "" {
		q = url.Values{"format": {format}}
	}
	return c.download(ctx, tenantPath(tid, "reports", "compliance"), q)
}
