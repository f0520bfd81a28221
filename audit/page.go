package audit

import "context"

// PageReader is a Reader that also reads a tenant's log a page at a time, newest first: what
// a person browsing the log (the web console's audit page) looks at. Store backends
// implement it.
type PageReader interface {
	// AuditPage returns up to limit events matching f with Seq below before (0: from the
	// newest), newest first. It reads back at most about budget stored events (whole pages
	// of the backend), so a filter that matches little costs a bounded read per call and
	// the caller continues from Page.Next.
	AuditPage(ctx context.Context, tenantID string, f Filter, before uint64, limit, budget int) (Page, error)
}

// Page is a page of a tenant's log read newest first.
type Page struct {
	// Events are the matching events, newest first.
	Events []Event
	// Next is the before of the following, older page: every event older than the page
	// that was not read yet has a Seq below it. 0 when the oldest stored event was read.
	Next uint64
	// Scanned counts the stored events read, matching or not.
	Scanned int
}
