package adminapi

import (
	"errors"
	"net/url"
	"testing"
)

// FuzzParseAuditQuery: any query string either parses into a valid filter and format or
// fails with a *QueryError naming a parameter of the query; it never panics.
func FuzzParseAuditQuery(f *testing.F) {
	f.Add("from=2025-03-01T12:00:00Z&to=2025-03-02T00:00:00.5%2B01:00&kind=command.sent,command.failed&kind=device.alert&format=csv")
	f.Add("device=A1&profile=p1&actor=%3DHYPERLINK(1)&format=NDJSON")
	f.Add("kind=no.such&from=yesterday")
	f.Add("format=json&format=csv")
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		got, err := parseAuditQuery(q)
		if err != nil {
			var qe *QueryError
			if !errors.As(err, &qe) || !q.Has(qe.Param) {
				t.Fatalf("error %v does not name a parameter of %q", err, raw)
			}
			return
		}
		if err := got.Filter.Validate(); err != nil {
			t.Fatalf("parsed filter does not validate: %v", err)
		}
		if got.Format.ContentType() == "application/octet-stream" {
			t.Fatalf("parsed unknown format %q", got.Format)
		}
	})
}
